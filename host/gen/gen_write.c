/* The generator's writers: CSV for LOAD DATA, JSON lines, SQL literals,
 * a multi-threaded file writer and a pull stream.
 *
 * CSV matches fmh_gen_load_data_sql, whose clause is fmhost.pool's
 * FMH_CSV_CLAUSE: CHARACTER SET utf8mb4 FIELDS TERMINATED BY ','
 * OPTIONALLY ENCLOSED BY '"' ESCAPED BY '\\' LINES TERMINATED BY '\n'. The
 * server reads bytes that form no valid UTF-8 sequence one by one, so BLOB
 * bytes pass through unchanged.
 * NULL is \N (unenclosed); every string, byte string, JSON, ENUM and SET
 * value is enclosed (so the words NULL and \N inside data stay data), with
 * \\, \", \0, \n, \r and \Z escaped; numbers and temporal values are bare.
 *
 * JSON lines: one object per row, keys the column names. Integers and
 * DOUBLE/FLOAT are JSON numbers (shortest round-trip text; BIGINT UNSIGNED
 * past 2^63 too); DECIMAL an exact number literal (or a string on request);
 * BOOLEAN true/false; strings JSON strings; BINARY/BLOB base64 strings;
 * DATE "YYYY-MM-DD", TIME "[-]HH:MM:SS[.f]", DATETIME "YYYY-MM-DD
 * HH:MM:SS[.f]" (SQL style, as Flink's json format reads by default),
 * TIMESTAMP the same in UTC followed by "Z"; JSON columns as a string holding
 * the document (or the document itself on request); NULL null.
 *
 * SQL: one parenthesised tuple per row, tuples separated by ",\n", ready
 * to follow INSERT INTO t VALUES; doubles always carry an exponent so they
 * are DOUBLE literals (not DECIMAL), bytes are X'..' literals, TIMESTAMP
 * text is in the generator's session time zone.
 *
 * Files and streams are cut into chunks of rows; chunk k always holds the
 * same rows, so the bytes do not depend on how many threads produce them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen_int.h"

/* ---- temporal text ------------------------------------------------------- */

static char *put2(char *p, unsigned v) {
  memcpy(p, fmh_two_digits + 2 * v, 2);
  return p + 2;
}

static char *frac(char *p, int64_t us, int fsp) {
  if (fsp <= 0) return p;
  *p++ = '.';
  if (fsp == 6) {
    unsigned u = (unsigned)us;
    p = put2(p, u / 10000);
    p = put2(p, u / 100 % 100);
    return put2(p, u % 100);
  }
  int64_t div = 1;
  for (int k = fsp; k < 6; k++) div *= 10;
  return fmh_fmt_digits(p, (uint64_t)(us / div), fsp);
}

static char *ymd(char *p, int64_t days) {
  int64_t y;
  int m, d;
  fmh_civil_from_days(days, &y, &m, &d);
  if (y < 0) { *p++ = '-'; y = -y; }
  if (y > 9999) p = fmh_fmt_u64(p, (uint64_t)y);
  else { p = put2(p, (unsigned)(y / 100)); p = put2(p, (unsigned)(y % 100)); }
  *p++ = '-';
  p = put2(p, (unsigned)m);
  *p++ = '-';
  return put2(p, (unsigned)d);
}

static char *hms(char *p, int64_t secs) {
  int64_t h = secs / 3600;
  p = h >= 100 ? fmh_fmt_digits(p, (uint64_t)h, 3) : put2(p, (unsigned)h);
  *p++ = ':';
  p = put2(p, (unsigned)(secs / 60 % 60));
  *p++ = ':';
  return put2(p, (unsigned)(secs % 60));
}

size_t fmh_gen_fmt_temporal(const fmh_gen *g, fmh_gen_vkind kind, int64_t v, int fsp, char *out, int utc_z) {
  char *p = out;
  const int64_t M = 1000000;
  switch (kind) {
    case FMH_GV_DATE: p = ymd(p, v); break;
    case FMH_GV_TIME: {
      if (v < 0) { *p++ = '-'; v = -v; }
      p = hms(p, v / M);
      p = frac(p, v % M, fsp);
      break;
    }
    case FMH_GV_TIMESTAMP:
      if (!utc_z && g) {
        int64_t sec = v >= 0 ? v / M : (v - M + 1) / M;
        v += (int64_t)fmh_tz_offset_at(&g->tz, sec) * M;
      }
      /* fall through */
    case FMH_GV_DATETIME: {
      int64_t sec = v >= 0 ? v / M : (v - M + 1) / M;
      int64_t us = v - sec * M;
      int64_t days = sec >= 0 ? sec / 86400 : (sec - 86399) / 86400;
      p = ymd(p, days);
      *p++ = ' ';
      p = hms(p, sec - days * 86400);
      p = frac(p, us, fsp);
      if (kind == FMH_GV_TIMESTAMP && utc_z) *p++ = 'Z';
      break;
    }
    default: break;
  }
  *p = 0;
  return (size_t)(p - out);
}

size_t fmh_gen_format_temporal(const fmh_gen *g, fmh_gen_vkind kind, int64_t v, int fsp, char *out) {
  return fmh_gen_fmt_temporal(g, kind, v, fsp, out, 0);
}

char *fmh_gen_format_double(char *p, double v) { return fmh_gen_fmt_double(p, v); }
char *fmh_gen_format_float(char *p, float v) { return fmh_gen_fmt_float(p, v); }

/* ---- escaping ------------------------------------------------------------ */

/* bytes the writers escape, and the letter after the backslash (SQL
 * doubles its quote instead) */
static const unsigned char csv_special[256] = {
    [0] = '0', ['\n'] = 'n', ['\r'] = 'r', [0x1a] = 'Z', ['"'] = '"', ['\\'] = '\\'};
static const unsigned char sql_special[256] = {
    [0] = '0', ['\n'] = 'n', ['\r'] = 'r', [0x1a] = 'Z', ['\''] = '\'', ['\\'] = '\\'};

/* 8 bytes at a time: none below 0x20, none equal to `a` or `b` (then no
 * byte of the word needs escaping in either table) */
static int plain8(uint64_t x, uint64_t a, uint64_t b) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t low = (x - ones * 0x20) & ~x & highs; /* a byte < 0x20 (or >= 0xa0 false positives: fine) */
  uint64_t xa = x ^ a, xb = x ^ b;
  uint64_t za = (xa - ones) & ~xa & highs, zb = (xb - ones) & ~xb & highs;
  return (low | za | zb) == 0;
}

static int escaped(fmh_buf *b, const char *s, size_t n, char quote, const unsigned char *table) {
  if (fmh_buf_reserve(b, 2 * n + 2) != 0) return -1;
  char *o = b->p + b->len;
  *o++ = quote;
  const unsigned char *u = (const unsigned char *)s;
  size_t k = 0;
  const uint64_t q1 = 0x0101010101010101ull * (unsigned char)'\\';
  const uint64_t q2 = 0x0101010101010101ull * (unsigned char)(quote == '"' ? '"' : '\'');
  while (k < n) {
    /* copy the plain run, a word at a time while it lasts */
    size_t run = k;
    while (run + 8 <= n) {
      uint64_t x;
      memcpy(&x, s + run, 8);
      if (!plain8(x, q1, q2)) break;
      run += 8;
    }
    while (run < n && !table[u[run]]) run++;
    memcpy(o, s + k, run - k);
    o += run - k;
    k = run;
    if (k < n) {
      *o++ = u[k] == '\'' ? '\'' : '\\'; /* SQL doubles its quote */
      *o++ = (char)table[u[k]];
      k++;
    }
  }
  *o++ = quote;
  b->len = (size_t)(o - b->p);
  return 0;
}

static int base64(fmh_buf *b, const unsigned char *s, size_t n) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (fmh_buf_reserve(b, (n + 2) / 3 * 4 + 2) != 0) return -1;
  char *o = b->p + b->len;
  *o++ = '"';
  size_t k = 0;
  for (; k + 3 <= n; k += 3) {
    uint32_t x = ((uint32_t)s[k] << 16) | ((uint32_t)s[k + 1] << 8) | s[k + 2];
    *o++ = al[x >> 18]; *o++ = al[(x >> 12) & 63]; *o++ = al[(x >> 6) & 63]; *o++ = al[x & 63];
  }
  if (n - k == 1) {
    uint32_t x = (uint32_t)s[k] << 16;
    *o++ = al[x >> 18]; *o++ = al[(x >> 12) & 63]; *o++ = '='; *o++ = '=';
  } else if (n - k == 2) {
    uint32_t x = ((uint32_t)s[k] << 16) | ((uint32_t)s[k + 1] << 8);
    *o++ = al[x >> 18]; *o++ = al[(x >> 12) & 63]; *o++ = al[(x >> 6) & 63]; *o++ = '=';
  }
  *o++ = '"';
  b->len = (size_t)(o - b->p);
  return 0;
}

static int hexlit(fmh_buf *b, const unsigned char *s, size_t n) {
  static const char hx[] = "0123456789ABCDEF";
  if (fmh_buf_reserve(b, 2 * n + 3) != 0) return -1;
  char *o = b->p + b->len;
  *o++ = 'X';
  *o++ = '\'';
  for (size_t k = 0; k < n; k++) { *o++ = hx[s[k] >> 4]; *o++ = hx[s[k] & 15]; }
  *o++ = '\'';
  b->len = (size_t)(o - b->p);
  return 0;
}

static int raw(fmh_buf *b, const char *s, size_t n) {
  if (fmh_buf_reserve(b, n) != 0) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

/* RFC 4180: the bytes as they are between double quotes, a quote doubled */
static int quoted4180(fmh_buf *b, const char *s, size_t n) {
  if (fmh_buf_reserve(b, 2 * n + 2) != 0) return -1;
  char *o = b->p + b->len;
  *o++ = '"';
  for (size_t k = 0; k < n; k++) {
    const char *q = memchr(s + k, '"', n - k);
    size_t run = q ? (size_t)(q - (s + k)) : n - k;
    memcpy(o, s + k, run);
    o += run;
    k += run;
    if (k < n) { *o++ = '"'; *o++ = '"'; }
  }
  *o++ = '"';
  b->len = (size_t)(o - b->p);
  return 0;
}

/* ---- one value ------------------------------------------------------------ */

int fmh_gen_format_value(const fmh_gen *g, size_t col, const fmh_gen_value *v, const fmh_gen_out *o, fmh_buf *b) {
  const gcol *c = &g->cols[col];
  fmh_gen_format f = o->format;
  if (fmh_buf_reserve(b, 64) != 0) return -1;
  char *p = b->p + b->len;
  switch (v->kind) {
    case FMH_GV_NULL:
      return f == FMH_GEN_CSV ? raw(b, "\\N", 2) : f == FMH_GEN_JSONL ? raw(b, "null", 4) : raw(b, "NULL", 4);
    case FMH_GV_INT: b->len = (size_t)(fmh_fmt_i64(p, v->n.i) - b->p); return 0;
    case FMH_GV_UINT: b->len = (size_t)(fmh_fmt_u64(p, v->n.u) - b->p); return 0;
    case FMH_GV_DOUBLE: b->len = (size_t)(fmh_gen_fmt_double_style(p, v->n.d, f == FMH_GEN_SQL) - b->p); return 0;
    case FMH_GV_FLOAT: b->len = (size_t)(fmh_gen_fmt_float_style(p, (float)v->n.d, f == FMH_GEN_SQL) - b->p); return 0;
    case FMH_GV_BOOL:
      if (f == FMH_GEN_CSV) return raw(b, v->n.i ? "1" : "0", 1);
      if (f == FMH_GEN_JSONL) return v->n.i ? raw(b, "true", 4) : raw(b, "false", 5);
      return v->n.i ? raw(b, "TRUE", 4) : raw(b, "FALSE", 5);
    case FMH_GV_DECIMAL:
      if (f == FMH_GEN_JSONL && o->decimal_as_string) return fmh_gen_json_string(b, v->s, v->len);
      return raw(b, v->s, v->len);
    case FMH_GV_TEXT:
      if (f == FMH_GEN_CSV && o->rfc4180) return quoted4180(b, v->s, v->len);
      if (f == FMH_GEN_CSV) return escaped(b, v->s, v->len, '"', csv_special);
      if (f == FMH_GEN_JSONL) return fmh_gen_json_string(b, v->s, v->len);
      return escaped(b, v->s, v->len, '\'', sql_special);
    case FMH_GV_JSON:
      if (f == FMH_GEN_CSV && o->rfc4180) return quoted4180(b, v->s, v->len);
      if (f == FMH_GEN_CSV) return escaped(b, v->s, v->len, '"', csv_special);
      if (f == FMH_GEN_JSONL) return o->json_as_value ? raw(b, v->s, v->len) : fmh_gen_json_string(b, v->s, v->len);
      return escaped(b, v->s, v->len, '\'', sql_special);
    case FMH_GV_BYTES:
      if (f == FMH_GEN_CSV && o->rfc4180) return quoted4180(b, v->s, v->len);
      if (f == FMH_GEN_CSV) return escaped(b, v->s, v->len, '"', csv_special);
      if (f == FMH_GEN_JSONL) return base64(b, (const unsigned char *)v->s, v->len);
      return hexlit(b, (const unsigned char *)v->s, v->len);
    case FMH_GV_DATE: case FMH_GV_TIME: case FMH_GV_DATETIME: case FMH_GV_TIMESTAMP: {
      int quote = f != FMH_GEN_CSV;
      char *q = p;
      if (quote) *q++ = f == FMH_GEN_JSONL ? '"' : '\'';
      q += fmh_gen_fmt_temporal(g, v->kind, v->n.i, c->fsp, q, f == FMH_GEN_JSONL);
      if (quote) *q++ = f == FMH_GEN_JSONL ? '"' : '\'';
      b->len = (size_t)(q - b->p);
      return 0;
    }
  }
  return 0;
}

/* ---- rows ----------------------------------------------------------------- */

int fmh_gen_append(fmh_gen_cursor *cur, const fmh_gen_out *o, int64_t from, int64_t to, fmh_buf *b,
                   fmh_error *err) {
  const fmh_gen *g = cur->g;
  size_t nc = g->ncols;
  fmh_gen_value vals[64];
  fmh_gen_value *v = nc <= 64 ? vals : malloc(nc * sizeof *v);
  fmh_buf keys = {0};
  size_t *koff = NULL;
  int rc = 0;
  if (!v) goto oom;
  if (o->format == FMH_GEN_JSONL) {
    /* the keys, encoded once: "name": */
    koff = malloc((nc + 1) * sizeof *koff);
    if (!koff) goto oom;
    for (size_t k = 0; k < nc; k++) {
      koff[k] = keys.len;
      if (raw(&keys, k ? "," : "{", 1) || fmh_gen_json_string(&keys, g->cols[k].name, strlen(g->cols[k].name)) ||
          raw(&keys, ":", 1))
        goto oom;
    }
    koff[nc] = keys.len;
  }
  for (int64_t row = from; row < to; row++) {
    if (fmh_gen_row(cur, row, o->plain, v, err) != 0) { rc = -1; goto done; }
    if (o->format == FMH_GEN_SQL && raw(b, "(", 1)) goto oom;
    for (size_t k = 0; k < nc; k++) {
      if (o->format == FMH_GEN_JSONL) {
        if (raw(b, keys.p + koff[k], koff[k + 1] - koff[k])) goto oom;
      } else if (k && raw(b, ",", 1)) {
        goto oom;
      }
      if (fmh_gen_format_value(g, k, &v[k], o, b) != 0) goto oom;
    }
    int last = row + 1 == to;
    if (o->format == FMH_GEN_JSONL) { if (raw(b, "}\n", 2)) goto oom; }
    else if (o->format == FMH_GEN_CSV) { if (raw(b, "\n", 1)) goto oom; }
    else if (raw(b, last ? ")" : "),\n", last ? 1 : 3)) goto oom;
  }
  goto done;
oom:
  fmh_error_set(err, "os", ENOMEM, 0, "out of memory writing rows");
  rc = -1;
done:
  if (v != vals) free(v);
  free(koff);
  fmh_buf_free(&keys);
  return rc;
}

/* ---- chunk pipeline (file writer and stream) ------------------------------- */

#define CHUNK_ROWS 4096
#define MAX_THREADS 64

typedef struct pipe_s {
  const fmh_gen *g;
  fmh_gen_out o;
  int64_t from, to, nchunks;
  int nthreads, nslots;
  pthread_t th[MAX_THREADS];
  int started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t next;       /* next chunk to claim */
  int64_t taken;      /* chunks the consumer has finished with */
  int stop, failed;
  fmh_error err;
  fmh_buf *bufs;  /* nslots */
  int *ready;         /* per slot: chunk index ready in it, or -1 */
  fmh_gen_cursor *solo; /* single-threaded production */
} pipe_s;

static int produce(const pipe_s *p, fmh_gen_cursor *cur, int64_t k, fmh_buf *b, fmh_error *err) {
  int64_t a = p->from + k * CHUNK_ROWS;
  int64_t z = a + CHUNK_ROWS < p->to ? a + CHUNK_ROWS : p->to;
  b->len = 0;
  /* SQL tuples are separated across chunk boundaries too */
  if (p->o.format == FMH_GEN_SQL && k > 0 && raw(b, ",\n", 2)) {
    fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
    return -1;
  }
  return fmh_gen_append(cur, &p->o, a, z, b, err);
}

static void *worker(void *arg) {
  pipe_s *p = arg;
  fmh_gen_cursor *cur = fmh_gen_cursor_new(p->g);
  fmh_error err = {0};
  pthread_mutex_lock(&p->mu);
  if (!cur) {
    p->failed = 1;
    fmh_error_set(&p->err, "os", ENOMEM, 0, "out of memory");
    pthread_cond_broadcast(&p->cv);
  }
  while (cur && !p->stop && !p->failed && p->next < p->nchunks) {
    if (p->next >= p->taken + p->nslots) {
      pthread_cond_wait(&p->cv, &p->mu);
      continue;
    }
    int64_t k = p->next++;
    int slot = (int)(k % p->nslots);
    pthread_mutex_unlock(&p->mu);
    int rc = produce(p, cur, k, &p->bufs[slot], &err);
    pthread_mutex_lock(&p->mu);
    if (rc != 0) {
      if (!p->failed) p->err = err;
      p->failed = 1;
    } else {
      p->ready[slot] = (int)(k & 0x7fffffff);
    }
    pthread_cond_broadcast(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  fmh_gen_cursor_free(cur);
  return NULL;
}

static void pipe_free(pipe_s *p) {
  if (!p) return;
  if (p->started) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->started; t++) pthread_join(p->th[t], NULL);
  }
  if (p->bufs)
    for (int s = 0; s < p->nslots; s++) fmh_buf_free(&p->bufs[s]);
  free(p->bufs);
  free(p->ready);
  fmh_gen_cursor_free(p->solo);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

static pipe_s *pipe_new(const fmh_gen *g, const fmh_gen_out *o, int64_t from, int64_t to, int threads, fmh_error *err) {
  if (from < 0 || to < from) {
    fmh_error_set(err, "range", 0, 0, "bad row range [%lld, %lld)", (long long)from, (long long)to);
    return NULL;
  }
  if (to > fmh_gen_row_limit(g)) {
    fmh_error_set(err, "range", 0, 0, "rows up to %lld asked, but a unique column has values for rows below %lld only",
                  (long long)to, (long long)fmh_gen_row_limit(g));
    return NULL;
  }
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  pipe_s *p = calloc(1, sizeof *p);
  if (!p) { fmh_error_set(err, "os", ENOMEM, 0, "out of memory"); return NULL; }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->g = g;
  p->o = *o;
  p->from = from;
  p->to = to;
  p->nchunks = (to - from + CHUNK_ROWS - 1) / CHUNK_ROWS;
  p->nthreads = threads;
  p->nslots = threads > 1 ? 2 * threads : 1;
  p->bufs = calloc((size_t)p->nslots, sizeof *p->bufs);
  p->ready = malloc((size_t)p->nslots * sizeof *p->ready);
  if (!p->bufs || !p->ready) goto oom;
  for (int s = 0; s < p->nslots; s++) p->ready[s] = -1;
  if (threads == 1) {
    p->solo = fmh_gen_cursor_new(g);
    if (!p->solo) goto oom;
    return p;
  }
  for (int t = 0; t < threads; t++) {
    if (pthread_create(&p->th[t], NULL, worker, p) != 0) {
      fmh_error_set(err, "os", errno, 0, "cannot start a generator thread");
      pipe_free(p);
      return NULL;
    }
    p->started = t + 1;
  }
  return p;
oom:
  fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
  pipe_free(p);
  return NULL;
}

/* The next chunk (in order) or NULL at the end / on failure (err set, *failed). */
static fmh_buf *pipe_take(pipe_s *p, int *failed, fmh_error *err) {
  *failed = 0;
  if (p->taken >= p->nchunks) return NULL;
  if (p->solo) {
    if (produce(p, p->solo, p->taken, &p->bufs[0], err) != 0) { *failed = 1; return NULL; }
    return &p->bufs[0];
  }
  int slot = (int)(p->taken % p->nslots);
  pthread_mutex_lock(&p->mu);
  while (!p->failed && p->ready[slot] != (int)(p->taken & 0x7fffffff)) pthread_cond_wait(&p->cv, &p->mu);
  if (p->failed) {
    *err = p->err;
    *failed = 1;
    pthread_mutex_unlock(&p->mu);
    return NULL;
  }
  pthread_mutex_unlock(&p->mu);
  return &p->bufs[slot];
}

static void pipe_done(pipe_s *p) {
  if (p->solo) { p->taken++; return; }
  pthread_mutex_lock(&p->mu);
  p->ready[p->taken % p->nslots] = -1;
  p->taken++;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

int64_t fmh_gen_write_file(const fmh_gen *g, const fmh_gen_out *o, const char *path, int64_t from, int64_t to,
                           int threads, fmh_error *err) {
  pipe_s *p = pipe_new(g, o, from, to, threads, err);
  if (!p) return -1;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fmh_error_set(err, "os", errno, 0, "cannot write %s: %s", path, strerror(errno));
    pipe_free(p);
    return -1;
  }
  int64_t total = 0;
  int failed = 0;
  fmh_buf *b;
  while ((b = pipe_take(p, &failed, err)) != NULL) {
    size_t off = 0;
    while (off < b->len) {
      ssize_t w = write(fd, b->p + off, b->len - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        fmh_error_set(err, "os", errno, 0, "writing %s: %s", path, strerror(errno));
        failed = 1;
        break;
      }
      off += (size_t)w;
    }
    if (failed) break;
    total += (int64_t)b->len;
    pipe_done(p);
  }
  pipe_free(p);
  if (close(fd) != 0 && !failed) {
    fmh_error_set(err, "os", errno, 0, "closing %s: %s", path, strerror(errno));
    failed = 1;
  }
  if (failed) {
    unlink(path); /* nothing half-written stays behind */
    return -1;
  }
  return total;
}

/* ---- stream --------------------------------------------------------------- */

struct fmh_gen_stream {
  pipe_s *p;
  fmh_buf *cur;
  size_t off;
  int64_t rows_done;
  int ended;
};

fmh_gen_stream *fmh_gen_stream_new(const fmh_gen *g, const fmh_gen_out *o, int64_t from, int64_t to, int threads,
                                   fmh_error *err) {
  fmh_gen_stream *st = calloc(1, sizeof *st);
  if (!st) { fmh_error_set(err, "os", ENOMEM, 0, "out of memory"); return NULL; }
  st->p = pipe_new(g, o, from, to, threads, err);
  if (!st->p) { free(st); return NULL; }
  return st;
}

long fmh_gen_stream_read(fmh_gen_stream *st, char *buf, size_t cap, fmh_error *err) {
  size_t n = 0;
  while (n < cap && !st->ended) {
    if (!st->cur) {
      int failed;
      st->cur = pipe_take(st->p, &failed, err);
      st->off = 0;
      if (!st->cur) {
        if (failed) return -1;
        st->ended = 1;
        break;
      }
    }
    size_t m = st->cur->len - st->off;
    if (m > cap - n) m = cap - n;
    memcpy(buf + n, st->cur->p + st->off, m);
    n += m;
    st->off += m;
    if (st->off == st->cur->len) {
      int64_t a = st->p->from + st->p->taken * CHUNK_ROWS;
      st->rows_done = (a + CHUNK_ROWS < st->p->to ? a + CHUNK_ROWS : st->p->to) - st->p->from;
      pipe_done(st->p);
      st->cur = NULL;
    }
  }
  return (long)n;
}

int64_t fmh_gen_stream_rows(const fmh_gen_stream *st) { return st->rows_done; }

void fmh_gen_stream_free(fmh_gen_stream *st) {
  if (!st) return;
  pipe_free(st->p);
  free(st);
}
