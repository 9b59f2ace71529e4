/* fmhost.pool, the benchmark table's rows: the built-in row producer of the
 * 7-column benchmark table (rows formatted by hand, no printf) and the file
 * writers that dump any row source as baselines. */
#include <errmsg.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmhost/calendar.h"
#include "fmhost/pool.h"
#include "fmhost/progress.h"
#include "fmhost/retry.h"
#include "pool_internal.h"

/* --- the benchmark table's rows ---------------------------------------- */

/* Per-row work is the load's own cost on a 2-core machine, so rows are
 * formatted by hand: no printf, no gmtime. */

static const char alphabet[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,\"\\'";
#define ALPHABET_LEN (sizeof alphabet - 1)

static uint64_t lane(uint64_t seed, uint64_t k, uint64_t n) {
  uint64_t s = seed ^ (k * 0x9E3779B97F4A7C15ULL) ^ ((n + 1) * 0xD1B54A32D192ED03ULL);
  fmh_retry_rand(&s);
  return fmh_retry_rand(&s);
}

/* Digits of v, right-aligned to width (0-padded) when width > 0. */
static char *put_u64(char *p, uint64_t v, int width) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n < width) tmp[n++] = '0';
  while (n) *p++ = tmp[--n];
  return p;
}

static char *put_i64(char *p, int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return put_u64(p, (uint64_t)0 - (uint64_t)v, 0);
  }
  return put_u64(p, (uint64_t)v, 0);
}

static char *put2(char *p, unsigned v) {
  p[0] = (char)('0' + v / 10 % 10);
  p[1] = (char)('0' + v % 10);
  return p + 2;
}

void fmh_bench_row_make(uint64_t seed, uint64_t k, fmh_bench_row *r) {
  r->id = (int64_t)k;
  r->i = (int32_t)(uint32_t)(lane(seed, k, 1) >> 32);
  /* DECIMAL(22,9): up to 13 integer digits and 9 decimals */
  uint64_t h = lane(seed, k, 2);
  uint64_t ip = (h >> 1) % 10000000000000ULL;
  uint64_t fr = lane(seed, k, 3) % 1000000000ULL;
  char *p = r->d;
  if ((h & 1) && (ip || fr)) *p++ = '-';
  p = put_u64(p, ip, 0);
  *p++ = '.';
  p = put_u64(p, fr, 9);
  *p = '\0';
  /* a DOUBLE that is a multiple of 1/1024 below 2^30: exact in binary and
   * in at most 10 decimals, so its text needs no float formatting */
  int64_t m = (int64_t)(lane(seed, k, 4) >> 23) - ((int64_t)1 << 40);
  r->f = (double)m / 1024.0;
  uint64_t hs = lane(seed, k, 5);
  r->s_null = hs % 50 == 0;
  r->s_len = 0;
  if (!r->s_null) {
    size_t len = (size_t)((hs >> 8) % 65);
    uint64_t st = lane(seed, k, 6), bits = 0;
    for (size_t j = 0; j < len; j++) {
      if (j % 8 == 0) bits = fmh_retry_rand(&st);
      r->s[j] = alphabet[(bits & 0xff) % ALPHABET_LEN];
      bits >>= 8;
    }
    r->s_len = len;
  }
  r->s[r->s_len] = '\0';
  /* DATETIME(6) from 2000-01-01 over 37 years */
  uint64_t secs = 946684800ULL + lane(seed, k, 7) % (37ULL * 365 * 86400);
  int64_t y;
  int mo, d;
  fmh_civil_from_days((int64_t)(secs / 86400), &y, &mo, &d);
  unsigned sod = (unsigned)(secs % 86400);
  p = r->ts;
  p = put_u64(p, (uint64_t)y, 4);
  *p++ = '-';
  p = put2(p, (unsigned)mo);
  *p++ = '-';
  p = put2(p, (unsigned)d);
  *p++ = ' ';
  p = put2(p, sod / 3600);
  *p++ = ':';
  p = put2(p, sod / 60 % 60);
  *p++ = ':';
  p = put2(p, sod % 60);
  *p++ = '.';
  p = put_u64(p, lane(seed, k, 8) % 1000000, 6);
  *p = '\0';
  r->b = (int)(lane(seed, k, 9) & 1);
}

/* The exact decimal text of f (a multiple of 1/1024). */
static char *put_f(char *p, double f) {
  int64_t m = (int64_t)(f * 1024.0);
  if (m < 0) { *p++ = '-'; m = -m; }
  p = put_u64(p, (uint64_t)m >> 10, 0);
  uint64_t frac = ((uint64_t)m & 1023) * 9765625ULL; /* 10^10 / 1024 */
  if (frac) {
    char digits[10];
    int n = 10;
    for (int i = 9; i >= 0; i--) { digits[i] = (char)('0' + frac % 10); frac /= 10; }
    while (n > 0 && digits[n - 1] == '0') n--;
    *p++ = '.';
    memcpy(p, digits, (size_t)n);
    p += n;
  }
  return p;
}

#define BENCH_ROW_MAX 320

static size_t format_into(const fmh_bench_row *r, int format, char *out) {
  char *p = out;
  int csv = format == FMH_ROW_CSV;
  char sep = ',';
  if (!csv) *p++ = '(';
  p = put_i64(p, r->id);
  *p++ = sep;
  p = put_i64(p, r->i);
  *p++ = sep;
  size_t dl = strlen(r->d);
  memcpy(p, r->d, dl);
  p += dl;
  *p++ = sep;
  p = put_f(p, r->f);
  *p++ = sep;
  if (r->s_null) {
    if (csv) { memcpy(p, "\\N", 2); p += 2; }
    else { memcpy(p, "NULL", 4); p += 4; }
  } else {
    char q = csv ? '"' : '\'';
    *p++ = q;
    for (size_t j = 0; j < r->s_len; j++) {
      char ch = r->s[j];
      if (ch == '\\' || ch == q) *p++ = '\\';
      *p++ = ch;
    }
    *p++ = q;
  }
  *p++ = sep;
  if (!csv) *p++ = '\'';
  memcpy(p, r->ts, 26);
  p += 26;
  if (!csv) *p++ = '\'';
  *p++ = sep;
  *p++ = (char)('0' + (r->b ? 1 : 0));
  *p++ = csv ? '\n' : ')';
  return (size_t)(p - out);
}

size_t fmh_bench_row_format(const fmh_bench_row *r, int format, char *buf, size_t cap) {
  if (cap >= BENCH_ROW_MAX) return format_into(r, format, buf);
  char t[BENCH_ROW_MAX];
  size_t n = format_into(r, format, t);
  if (n > cap) return n;
  memcpy(buf, t, n);
  return n;
}

typedef struct {
  uint64_t seed, next, end;
} bench_prod;

static size_t bench_next(void *ctx, int format, char *buf, size_t cap, char *err) {
  bench_prod *b = ctx;
  (void)err;
  if (b->next >= b->end) return 0;
  fmh_bench_row r;
  fmh_bench_row_make(b->seed, b->next, &r);
  size_t n = fmh_bench_row_format(&r, format, buf, cap);
  if (n <= cap) b->next++;
  return n;
}

static void bench_close(void *ctx) { free(ctx); }

static int bench_open(void *ctx, uint64_t first, uint64_t count, fmh_row_producer *out, fmh_error *e) {
  bench_prod *b = malloc(sizeof *b);
  if (!b) {
    fmh_error_set(e, "os", ENOMEM, 0, "bench source: out of memory");
    return -1;
  }
  b->seed = *(uint64_t *)ctx;
  b->next = first;
  b->end = first + count;
  out->ctx = b;
  out->next = bench_next;
  out->close = bench_close;
  return 0;
}

void fmh_bench_source_init(fmh_row_source *s, uint64_t *seed) {
  s->ctx = seed;
  s->columns = "(id,i,d,f,s,ts,b)";
  s->open = bench_open;
}

/* --- file writers (baselines) ------------------------------------------- */

int fmh_source_write_file(const fmh_row_source *src, int format, const char *path, const char *table,
                          uint64_t first, uint64_t count, uint64_t batch_rows, fmh_error *e) {
  fmh_row_producer p;
  if (src->open(src->ctx, first, count, &p, e) != 0) return -1;
  FILE *f = fopen(path, "wb");
  if (!f) {
    fmh_error_set(e, "os", errno, 0, "cannot write %s: %s", path, strerror(errno));
    p.close(p.ctx);
    return -1;
  }
  static char iobuf[1 << 20];
  setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
  size_t cap = 4096;
  char *row = malloc(cap);
  char err[256] = "";
  uint64_t in_batch = 0;
  int rc = 0;
  if (!batch_rows) batch_rows = 1000;
  for (;;) {
    size_t n = row ? p.next(p.ctx, format, row, cap, err) : (size_t)-1;
    if (n == (size_t)-1) {
      fmh_error_set(e, "producer", 0, 0, "row producer failed: %s", row ? err : "out of memory");
      rc = -1;
      break;
    }
    if (n > cap) {
      char *nr = realloc(row, n);
      if (!nr) { free(row); row = NULL; continue; }
      row = nr;
      cap = n;
      continue;
    }
    if (n == 0) break;
    if (format == FMH_ROW_SQL) {
      if (in_batch == 0) fprintf(f, "INSERT INTO %s %s VALUES ", table, src->columns ? src->columns : "");
      else fputc(',', f);
      fwrite(row, 1, n, f);
      if (++in_batch == batch_rows) { fputs(";\n", f); in_batch = 0; }
    } else {
      fwrite(row, 1, n, f);
    }
  }
  if (format == FMH_ROW_SQL && in_batch > 0) fputs(";\n", f);
  free(row);
  p.close(p.ctx);
  if (fclose(f) != 0 && rc == 0) {
    fmh_error_set(e, "os", errno, 0, "cannot write %s: %s", path, strerror(errno));
    rc = -1;
  }
  return rc;
}
