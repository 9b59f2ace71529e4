/* fmhost.pool, bulk work: LOAD DATA LOCAL INFILE fed from a row producer by
 * a libmariadb callback (no file), batched multi-row INSERTs under
 * max_allowed_packet, both across C worker threads on disjoint key ranges;
 * the built-in producer of the 7-column benchmark table; file writers for
 * baselines; and the concurrency stress driver. */
#include <errmsg.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmhost/pool.h"
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

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil(int64_t z, int *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yoe + era * 400 + (*m <= 2));
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
  int y;
  unsigned mo, d;
  civil((int64_t)(secs / 86400), &y, &mo, &d);
  unsigned sod = (unsigned)(secs % 86400);
  p = r->ts;
  p = put_u64(p, (uint64_t)y, 4);
  *p++ = '-';
  p = put2(p, mo);
  *p++ = '-';
  p = put2(p, d);
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

/* --- bulk load ------------------------------------------------------------ */

typedef struct load_shared {
  fmh_pool *pool;
  const fmh_row_source *src;
  const fmh_bulk_opts *o;
  atomic_int stop;
  pthread_mutex_t mu;
  int failed;
  fmh_error err;              /* the first failure */
  fmh_bulk_result total;
} load_shared;

typedef struct load_job {
  load_shared *sh;
  uint64_t first, count;
  fmh_bulk_result r;
  pthread_t th;
} load_job;

static void load_fail(load_shared *sh, fmh_error *e) {
  pthread_mutex_lock(&sh->mu);
  if (!sh->failed) {
    sh->failed = 1;
    sh->err = *e;
    e->detail = NULL;         /* moved */
  }
  pthread_mutex_unlock(&sh->mu);
  atomic_store(&sh->stop, 1);
}

typedef struct infile_ctx {
  fmh_row_producer prod;
  load_shared *sh;
  char *row;                  /* a row bigger than the callback's buffer */
  size_t rowcap, rowlen, rowoff;
  int eof, failed;
  char err[256];
  uint64_t bytes;
} infile_ctx;

static int infile_init(void **ptr, const char *filename, void *userdata) {
  (void)filename;
  *ptr = userdata;
  return 0;
}

static int infile_read(void *ptr, char *buf, unsigned int buf_len) {
  infile_ctx *x = ptr;
  size_t n = 0;
  if (atomic_load(&x->sh->stop)) {
    snprintf(x->err, sizeof x->err, "stopped: another loader thread failed");
    x->failed = 1;
    return -1;
  }
  while (n < buf_len) {
    if (x->rowoff < x->rowlen) {
      size_t k = x->rowlen - x->rowoff;
      if (k > buf_len - n) k = buf_len - n;
      memcpy(buf + n, x->row + x->rowoff, k);
      x->rowoff += k;
      n += k;
      continue;
    }
    if (x->eof) break;
    size_t r = x->prod.next(x->prod.ctx, FMH_ROW_CSV, buf + n, buf_len - n, x->err);
    if (r == (size_t)-1) {
      x->failed = 1;
      return -1;
    }
    if (r == 0) { x->eof = 1; break; }
    if (r <= buf_len - n) { n += r; continue; }
    if (n > 0) break; /* the row goes first into the next call */
    /* a row larger than the whole buffer: stage it */
    if (r > x->rowcap) {
      char *nr = realloc(x->row, r);
      if (!nr) {
        snprintf(x->err, sizeof x->err, "out of memory");
        x->failed = 1;
        return -1;
      }
      x->row = nr;
      x->rowcap = r;
    }
    r = x->prod.next(x->prod.ctx, FMH_ROW_CSV, x->row, x->rowcap, x->err);
    if (r == (size_t)-1 || r > x->rowcap) {
      x->failed = 1;
      return -1;
    }
    x->rowlen = r;
    x->rowoff = 0;
  }
  x->bytes += n;
  return (int)n;
}

static void infile_end(void *ptr) { (void)ptr; }

static int infile_error(void *ptr, char *msg, unsigned int len) {
  infile_ctx *x = ptr;
  snprintf(msg, len, "%s", x->err[0] ? x->err : "row producer failed");
  return CR_UNKNOWN_ERROR;
}

static int load_infile_range(fmh_conn *c, load_job *j, uint64_t first, uint64_t count, fmh_error *e) {
  load_shared *sh = j->sh;
  infile_ctx x;
  memset(&x, 0, sizeof x);
  x.sh = sh;
  if (sh->src->open(sh->src->ctx, first, count, &x.prod, e) != 0) return -1;
  char sql[1024];
  int len = snprintf(sql, sizeof sql, "LOAD DATA LOCAL INFILE 'fmhost-stream' INTO TABLE %s %s %s",
                     sh->o->table, FMH_CSV_CLAUSE, sh->src->columns ? sh->src->columns : "");
  if (len < 0 || (size_t)len >= sizeof sql) {
    fmh_error_set(e, "usage", 0, 0, "load: table name too long");
    x.prod.close(x.prod.ctx);
    return -1;
  }
  mysql_set_local_infile_handler(c->my, infile_init, infile_read, infile_end, infile_error, &x);
  int rc = mysql_real_query(c->my, sql, (unsigned long)len);
  mysql_set_local_infile_default(c->my);
  x.prod.close(x.prod.ctx);
  free(x.row);
  if (rc != 0) {
    if (x.failed) {
      fmh_error_set(e, "producer", 0, 0, "load %s: %s", sh->o->table, x.err);
      /* the server may still be reading: the session's state is unknown */
      c->broken = 1;
    } else {
      fmh_conn_error(c, e, "load data");
    }
    return -1;
  }
  j->r.rows += mysql_affected_rows(c->my);
  j->r.warnings += mysql_warning_count(c->my);
  j->r.statements++;
  j->r.bytes += x.bytes;
  return 0;
}

static int load_infile(fmh_conn *c, load_job *j, fmh_error *e) {
  uint64_t chunk = j->sh->o->chunk_rows ? j->sh->o->chunk_rows : j->count;
  for (uint64_t at = 0; at < j->count; at += chunk) {
    if (atomic_load(&j->sh->stop)) return 0;
    uint64_t n = j->count - at < chunk ? j->count - at : chunk;
    if (load_infile_range(c, j, j->first + at, n, e) != 0) return -1;
  }
  return 0;
}

static int load_insert(fmh_conn *c, load_job *j, fmh_error *e) {
  load_shared *sh = j->sh;
  if (mysql_query(c->my, "SELECT @@max_allowed_packet") != 0) return fmh_conn_error(c, e, "load");
  MYSQL_RES *res = mysql_store_result(c->my);
  MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
  uint64_t maxp = row && row[0] ? strtoull(row[0], NULL, 10) : 1 << 20;
  if (res) mysql_free_result(res);
  size_t limit = (size_t)(maxp > 4096 ? maxp - 1024 : maxp);
  if (sh->o->batch_bytes && sh->o->batch_bytes < limit) limit = sh->o->batch_bytes;
  char head[1024];
  int hl = snprintf(head, sizeof head, "INSERT INTO %s %s VALUES ", sh->o->table,
                    sh->src->columns ? sh->src->columns : "");
  if (hl < 0 || (size_t)hl >= sizeof head || (size_t)hl + 64 > limit) {
    fmh_error_set(e, "usage", 0, 0, "load: table name too long for the batch size");
    return -1;
  }
  char *sql = malloc(limit);
  if (!sql) {
    fmh_error_set(e, "os", ENOMEM, 0, "load: out of memory");
    return -1;
  }
  fmh_row_producer p;
  if (sh->src->open(sh->src->ctx, j->first, j->count, &p, e) != 0) {
    free(sql);
    return -1;
  }
  memcpy(sql, head, (size_t)hl);
  size_t len = (size_t)hl;
  uint64_t in_batch = 0;
  char err[256] = "";
  int rc = 0;
  for (;;) {
    if (atomic_load(&sh->stop)) break;
    size_t at = in_batch ? len + 1 : len;
    size_t r = at < limit ? p.next(p.ctx, FMH_ROW_SQL, sql + at, limit - at, err) : limit;
    if (r == (size_t)-1) {
      fmh_error_set(e, "producer", 0, 0, "load %s: row producer failed: %s", sh->o->table, err);
      rc = -1;
      break;
    }
    int flush = 0, eof = r == 0;
    if (!eof && r > limit - (at < limit ? at : limit)) {
      if (in_batch == 0) {
        fmh_error_set(e, "usage", 0, 0, "load %s: one row needs %zu bytes, more than the batch limit %zu",
                      sh->o->table, r, limit);
        rc = -1;
        break;
      }
      flush = 1; /* the producer did not advance: the row goes into the next batch */
    } else if (!eof) {
      if (in_batch) sql[len] = ',';
      len = at + r;
      in_batch++;
      if (sh->o->batch_rows && in_batch >= sh->o->batch_rows) flush = 1;
    }
    if ((flush || eof) && in_batch > 0) {
      if (mysql_real_query(c->my, sql, (unsigned long)len) != 0) {
        fmh_conn_error(c, e, "insert batch");
        rc = -1;
        break;
      }
      j->r.rows += mysql_affected_rows(c->my);
      j->r.warnings += mysql_warning_count(c->my);
      j->r.statements++;
      j->r.bytes += len;
      len = (size_t)hl;
      in_batch = 0;
    }
    if (eof) break;
  }
  p.close(p.ctx);
  free(sql);
  return rc;
}

static void *load_thread(void *arg) {
  load_job *j = arg;
  load_shared *sh = j->sh;
  fmh_error e = {0};
  fmh_conn *c;
  if (fmh_pool_acquire(sh->pool, -1, &c, &e) != 0) {
    load_fail(sh, &e);
    fmh_error_clear(&e);
    return NULL;
  }
  int rc = sh->o->method == FMH_BULK_INFILE ? load_infile(c, j, &e) : load_insert(c, j, &e);
  fmh_pool_release(c);
  if (rc != 0) load_fail(sh, &e);
  fmh_error_clear(&e);
  return NULL;
}

int fmh_pool_load(fmh_pool *p, const fmh_row_source *src, const fmh_bulk_opts *o, fmh_bulk_result *r,
                  fmh_error *e) {
  memset(r, 0, sizeof *r);
  if (!o->table || !*o->table) {
    fmh_error_set(e, "usage", 0, 0, "load: no table");
    return -1;
  }
  if (o->method != FMH_BULK_INFILE && o->method != FMH_BULK_INSERT) {
    fmh_error_set(e, "usage", 0, 0, "load: method must be infile or insert");
    return -1;
  }
  int threads = o->threads < 1 ? 1 : o->threads;
  if ((uint64_t)threads > o->rows && o->rows > 0) threads = (int)o->rows;
  if (threads > 256) threads = 256;
  load_shared sh;
  memset(&sh, 0, sizeof sh);
  sh.pool = p;
  sh.src = src;
  sh.o = o;
  atomic_init(&sh.stop, 0);
  pthread_mutex_init(&sh.mu, NULL);
  load_job *jobs = calloc((size_t)threads, sizeof *jobs);
  if (!jobs) {
    pthread_mutex_destroy(&sh.mu);
    fmh_error_set(e, "os", ENOMEM, 0, "load: out of memory");
    return -1;
  }
  double t0 = fmh_pool_now_ms();
  uint64_t share = o->rows / (uint64_t)threads, extra = o->rows % (uint64_t)threads, at = o->first;
  for (int i = 0; i < threads; i++) {
    jobs[i].sh = &sh;
    jobs[i].first = at;
    jobs[i].count = share + ((uint64_t)i < extra ? 1 : 0);
    at += jobs[i].count;
  }
  int started = 0;
  if (threads == 1) {
    load_thread(&jobs[0]);
  } else {
    for (; started < threads; started++) {
      if (pthread_create(&jobs[started].th, NULL, load_thread, &jobs[started]) != 0) {
        fmh_error te = {0};
        fmh_error_set(&te, "os", errno, 0, "load: cannot start a thread");
        load_fail(&sh, &te);
        break;
      }
    }
    for (int i = 0; i < started; i++) pthread_join(jobs[i].th, NULL);
  }
  for (int i = 0; i < threads; i++) {
    r->rows += jobs[i].r.rows;
    r->statements += jobs[i].r.statements;
    r->bytes += jobs[i].r.bytes;
    r->warnings += jobs[i].r.warnings;
  }
  r->threads = threads;
  r->wall_s = (fmh_pool_now_ms() - t0) / 1000.0;
  free(jobs);
  pthread_mutex_destroy(&sh.mu);
  if (sh.failed) {
    *e = sh.err;
    return -1;
  }
  return 0;
}

/* --- stress --------------------------------------------------------------- */

typedef struct stress_shared {
  fmh_pool *pool;
  const fmh_stress_opts *o;
  atomic_int in_use, max_in_use;
  atomic_uint_fast64_t acquired, timeouts, errors, queries;
  pthread_mutex_t mu;
  char first_error[256];
} stress_shared;

typedef struct {
  stress_shared *sh;
  int index;
  pthread_t th;
} stress_job;

static void stress_note_error(stress_shared *sh, const char *msg) {
  pthread_mutex_lock(&sh->mu);
  if (!sh->first_error[0]) snprintf(sh->first_error, sizeof sh->first_error, "%.255s", msg);
  pthread_mutex_unlock(&sh->mu);
}

static void *stress_thread(void *arg) {
  stress_job *j = arg;
  stress_shared *sh = j->sh;
  uint64_t rng = sh->o->seed ^ ((uint64_t)(j->index + 1) * 0x9E3779B97F4A7C15ULL);
  for (int a = 0; a < sh->o->acquires; a++) {
    fmh_error e = {0};
    fmh_conn *c;
    if (fmh_pool_acquire(sh->pool, sh->o->timeout_ms, &c, &e) != 0) {
      if (e.kind && strcmp(e.kind, "timeout") == 0) atomic_fetch_add(&sh->timeouts, 1);
      else atomic_fetch_add(&sh->errors, 1);
      stress_note_error(sh, e.msg);
      fmh_error_clear(&e);
      continue;
    }
    atomic_fetch_add(&sh->acquired, 1);
    int now = atomic_fetch_add(&sh->in_use, 1) + 1;
    int seen = atomic_load(&sh->max_in_use);
    while (now > seen && !atomic_compare_exchange_weak(&sh->max_in_use, &seen, now)) {
    }
    if (sh->o->query) {
      if (fmh_conn_exec(c, "SELECT 1", 8, &e) != 0) {
        atomic_fetch_add(&sh->errors, 1);
        stress_note_error(sh, e.msg);
        fmh_error_clear(&e);
      } else {
        atomic_fetch_add(&sh->queries, 1);
      }
    }
    if (sh->o->hold_us_max > 0) {
      long us = (long)(fmh_retry_rand(&rng) % (uint64_t)(sh->o->hold_us_max + 1));
      struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
    atomic_fetch_sub(&sh->in_use, 1);
    fmh_pool_release(c);
  }
  return NULL;
}

int fmh_pool_stress(fmh_pool *p, const fmh_stress_opts *o, fmh_stress_result *r, fmh_error *e) {
  memset(r, 0, sizeof *r);
  if (o->threads < 1 || o->threads > 1024 || o->acquires < 0 || o->hold_us_max < 0) {
    fmh_error_set(e, "usage", 0, 0, "stress: threads must be 1..1024, acquires and hold_us_max >= 0");
    return -1;
  }
  stress_shared sh;
  memset(&sh, 0, sizeof sh);
  sh.pool = p;
  sh.o = o;
  pthread_mutex_init(&sh.mu, NULL);
  stress_job *jobs = calloc((size_t)o->threads, sizeof *jobs);
  if (!jobs) {
    pthread_mutex_destroy(&sh.mu);
    fmh_error_set(e, "os", ENOMEM, 0, "stress: out of memory");
    return -1;
  }
  double t0 = fmh_pool_now_ms();
  int started = 0;
  for (; started < o->threads; started++) {
    jobs[started].sh = &sh;
    jobs[started].index = started;
    if (pthread_create(&jobs[started].th, NULL, stress_thread, &jobs[started]) != 0) break;
  }
  for (int i = 0; i < started; i++) pthread_join(jobs[i].th, NULL);
  r->wall_s = (fmh_pool_now_ms() - t0) / 1000.0;
  r->acquired = atomic_load(&sh.acquired);
  r->timeouts = atomic_load(&sh.timeouts);
  r->errors = atomic_load(&sh.errors);
  r->queries = atomic_load(&sh.queries);
  r->max_in_use = atomic_load(&sh.max_in_use);
  snprintf(r->first_error, sizeof r->first_error, "%s", sh.first_error);
  free(jobs);
  pthread_mutex_destroy(&sh.mu);
  if (started < o->threads) {
    fmh_error_set(e, "os", errno, 0, "stress: could only start %d of %d threads", started, o->threads);
    return -1;
  }
  return 0;
}

/* --- FIFO probe -------------------------------------------------------- */

typedef struct {
  fmh_pool *pool;
  int index;
  uint64_t base;      /* hand-outs before the waiters queued */
  int n;
  int *served;        /* served[k] = index of the k-th waiter served */
  int failed;
  pthread_t th;
} fifo_job;

static void *fifo_thread(void *arg) {
  fifo_job *j = arg;
  fmh_error e = {0};
  fmh_conn *c;
  if (fmh_pool_acquire(j->pool, 30000, &c, &e) != 0) {
    j->failed = 1;
    fmh_error_clear(&e);
    return NULL;
  }
  /* the hand-out number, taken under the pool's lock, orders the waiters
   * however the threads are scheduled afterwards */
  uint64_t k = c->grant - j->base - 1;
  if (k < (uint64_t)j->n) j->served[k] = j->index;
  else j->failed = 1;
  fmh_pool_release(c);
  return NULL;
}

static int wait_waiting(fmh_pool *p, int n) {
  for (int i = 0; i < 30000; i++) {
    fmh_pool_stats s;
    fmh_pool_stats_get(p, &s);
    if (s.waiting >= n) return 0;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  return -1;
}

int fmh_pool_fifo_probe(fmh_pool *p, int n, int *served, fmh_error *e) {
  fmh_pool_stats s;
  fmh_pool_stats_get(p, &s);
  if (n < 1 || n > 256) {
    fmh_error_set(e, "usage", 0, 0, "fifo probe: 1..256 waiters");
    return -1;
  }
  /* hold every connection the pool may open, so the waiters must queue */
  fmh_conn **held = calloc((size_t)s.size, sizeof *held);
  fifo_job *jobs = calloc((size_t)n, sizeof *jobs);
  int nheld = 0, started = 0, rc = 0;
  if (!held || !jobs) {
    fmh_error_set(e, "os", ENOMEM, 0, "fifo probe: out of memory");
    rc = -1;
    goto done;
  }
  for (; nheld < s.size; nheld++) {
    if (fmh_pool_acquire(p, -1, &held[nheld], e) != 0) { rc = -1; goto done; }
  }
  pthread_mutex_lock(&p->mu);
  uint64_t base = p->grants;
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < n; i++) served[i] = 0;
  for (; started < n; started++) {
    jobs[started] = (fifo_job){p, started + 1, base, n, served, 0, 0};
    if (pthread_create(&jobs[started].th, NULL, fifo_thread, &jobs[started]) != 0) {
      fmh_error_set(e, "os", errno, 0, "fifo probe: cannot start a thread");
      rc = -1;
      break;
    }
    /* the next waiter starts only once this one is queued */
    if (wait_waiting(p, started + 1) != 0) {
      fmh_error_set(e, "timeout", 0, 0, "fifo probe: waiter %d never queued", started + 1);
      rc = -1;
      started++;
      break;
    }
  }
done:
  while (nheld > 0) fmh_pool_release(held[--nheld]);
  for (int i = 0; i < started; i++) {
    pthread_join(jobs[i].th, NULL);
    if (jobs[i].failed && rc == 0) {
      fmh_error_set(e, "timeout", 0, 0, "fifo probe: waiter %d was not served", i + 1);
      rc = -1;
    }
  }
  free(held);
  free(jobs);
  return rc;
}
