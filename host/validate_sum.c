/* fmhost.validate, checksum mode: two tables compared by chunk checksums
 * that the servers compute, for tables too large to stream.
 *
 * The key space is cut into chunks of about chunk_rows rows (integer keys:
 * equal-width ranges between the smallest and largest key of both tables,
 * the width from the table's row estimate; other keys: boundaries found by
 * walking side a's key index chunk_rows rows at a time). Each side answers
 * per chunk
 *   SELECT COUNT(*), BIT_XOR(CRC32(<row encoding>) * (CRC32(key) | 1)) FROM t WHERE key in range
 * and a chunk whose pair differs is halved and checked again until a range
 * holds at most leaf_rows rows; those ranges are compared row by row by the
 * streaming comparator, which gives the verdict its keys and fields.
 *
 * The row encoding cannot make different rows collide by construction:
 * columns are joined by '#'; a numeric or temporal column is its text (no
 * '#' in it) or 'N' for NULL; a string or binary column is
 * LENGTH(c) ':' c, or 'N' for NULL (the length tells where it ends, so a '#'
 * inside a value and NULL vs '' cannot be confused); a FLOAT/DOUBLE column
 * is its binary exponent and an integer mantissa computed with exact power-
 * of-two arithmetic (x = m * 2^(e-54)), which is cheaper for the server
 * than printing a double and loses nothing.
 * CRC32 is linear over GF(2), and so is XOR: the same bit flip at the same
 * distance from the end of two rows' encodings (one microsecond off in the
 * same column of two rows, say) changes both CRCs by the same value, and
 * the two changes would cancel in a plain BIT_XOR of CRCs. Each row's CRC
 * is therefore multiplied (exactly, in 64 bits) by an odd weight drawn from
 * its key (CRC32 of the key), so equal CRC changes of two rows become
 * unrelated 64-bit changes that cancel only by coincidence. COUNT(*)
 * catches a row that appears twice (its two equal terms do cancel). A
 * differing chunk thus escapes with a chance of the order of 2^-32.
 * The two sides run on two threads, each on its own connection. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fmhost/log.h"
#include "fmhost/validate.h"
#include "validate_int.h"

typedef struct scol {
  char *name;
  char *data_type;
  int nullable;
} scol;

typedef struct sside {
  const char *role;
  fmh_vsource src;
  fmh_conn *conn;
  int tz_set;
  scol *cols;
  int ncols;
  vbuf hash;           /* the row hash expression */
  vbuf q;              /* scratch for statements */
  /* one job at a time for the worker */
  const fmh_vrange *job;
  uint64_t count, x;
  int rc;
  fmh_error err;
} sside;

typedef struct sctx {
  const fmh_vchecksum_opts *o;
  fmh_verdict *v;
  sside a, b;
  int key_int;          /* integer key: equal-width ranges */
  int key_binary;
  fmh_vcmp *cmp;
  fmh_vcompare_opts co;
  const char *keys[1];
  /* worker thread for side b */
  pthread_t th;
  int th_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int pending, done, quit;
} sctx;

static int oom(fmh_error *e) {
  fmh_error_set(e, "os", ENOMEM, 0, "validate.checksum: out of memory");
  return -1;
}

/* --- metadata ------------------------------------------------------------ */

static int load_columns(sside *s, fmh_error *e) {
  fmh_cursor *q;
  if (fmh_vmeta_query(s->conn, "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
                      "WHERE TABLE_SCHEMA = ", " AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", s->src.table, &q,
                      e) != 0)
    return -1;
  const fmh_value *row;
  int rc;
  while ((rc = fmh_cursor_fetch(q, &row, e)) == 1) {
    scol *nc = realloc(s->cols, (size_t)(s->ncols + 1) * sizeof *nc);
    if (!nc) {
      fmh_cursor_close(q);
      return oom(e);
    }
    s->cols = nc;
    scol *c = &nc[s->ncols++];
    c->name = strndup(row[0].s, row[0].len);
    c->data_type = strndup(row[1].s, row[1].len);
    c->nullable = row[2].len == 3 && memcmp(row[2].s, "YES", 3) == 0;
    if (!c->name || !c->data_type) {
      fmh_cursor_close(q);
      return oom(e);
    }
  }
  fmh_cursor_close(q);
  if (rc < 0) return -1;
  if (s->ncols == 0) {
    fmh_error_set(e, "validate", 1146, 0, "validate.checksum: side %s: table '%s' not found (or it has no columns)",
                  s->role, s->src.table);
    return -1;
  }
  return 0;
}

static int find_scol(const sside *s, const char *name) {
  for (int i = 0; i < s->ncols; i++)
    if (strcasecmp(s->cols[i].name, name) == 0) return i;
  return -1;
}

static int is_one_of(const char *t, const char *const *list) {
  for (; *list; list++)
    if (strcasecmp(t, *list) == 0) return 1;
  return 0;
}

static const char *const INT_TYPES[] = {"tinyint", "smallint", "mediumint", "int", "bigint", "year", NULL};
static const char *const PLAIN_TYPES[] = {"tinyint", "smallint", "mediumint", "int", "bigint", "year", "decimal",
                                          "date", "time", "datetime", "timestamp", NULL};

/* The encoding of one column (see the file comment). */
static void column_piece(vbuf *b, const scol *c) {
  vbuf id = {0};
  fmh_vbuf_ident(&id, c->name, 0);
  const char *x = id.p;
  if (is_one_of(c->data_type, PLAIN_TYPES)) {
    if (c->nullable) fmh_vbuf_printf(b, "IFNULL(%s,'N')", x);
    else fmh_vbuf_puts(b, x);
  } else if (!strcasecmp(c->data_type, "bit")) {
    fmh_vbuf_printf(b, "IFNULL(CAST(%s AS UNSIGNED),'N')", x);
  } else if (!strcasecmp(c->data_type, "double") || !strcasecmp(c->data_type, "float") ||
             !strcasecmp(c->data_type, "real")) {
    /* e = FLOOR(LOG2(|x|)) (off by one at worst); x / 2^(e-54) is then an
     * integer below 2^56, exact; subnormal corners fall back to text */
    fmh_vbuf_printf(b,
                    "IF(%s IS NULL,'N',IF(%s=0,'0',IFNULL(CONCAT(FLOOR(LOG2(ABS(%s))),':',CAST(%s/POW(2,FLOOR(LOG2("
                    "ABS(%s)))-54) AS SIGNED)),CONCAT('t',%s))))",
                    x, x, x, x, x, x);
  } else {
    if (c->nullable) fmh_vbuf_printf(b, "IFNULL(CONCAT(LENGTH(%s),':',%s),'N')", x, x);
    else fmh_vbuf_printf(b, "CONCAT(LENGTH(%s),':',%s)", x, x);
  }
  fmh_vbuf_free(&id);
}

static int ignored(const fmh_vchecksum_opts *o, const char *name) {
  for (int i = 0; i < o->nignore; i++)
    if (strcasecmp(o->ignore[i], name) == 0) return 1;
  for (int i = 0; i < o->ncols; i++)
    if (o->cols[i].name && o->cols[i].ignore && strcasecmp(o->cols[i].name, name) == 0) return 1;
  return 0;
}

/* The hash over the columns both sides have, in side a's order. */
static int build_hash(sctx *x, sside *s, fmh_error *e) {
  vbuf *b = &s->hash;
  fmh_vbuf_puts(b, "CRC32(CONCAT(");
  int n = 0;
  for (int i = 0; i < x->a.ncols; i++) {
    const char *name = x->a.cols[i].name;
    int j = find_scol(s, name);
    if (j < 0 || find_scol(&x->b, name) < 0 || ignored(x->o, name)) continue;
    if (n++) fmh_vbuf_puts(b, ",'#',");
    column_piece(b, &s->cols[j]);
  }
  fmh_vbuf_puts(b, "))");
  if (!b->p) return oom(e);
  if (n == 0) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: the tables have no column in common");
    return -1;
  }
  return 0;
}

/* --- queries ---------------------------------------------------------- */

static int side_checksum(sctx *x, sside *s, const fmh_vrange *r, uint64_t *count, uint64_t *xr, fmh_error *e) {
  s->q.len = 0;
  fmh_vbuf_puts(&s->q, "SELECT COUNT(*), BIT_XOR(");
  fmh_vbuf_put(&s->q, s->hash.p, s->hash.len);
  fmh_vbuf_puts(&s->q, " * (CRC32(");
  fmh_vbuf_ident(&s->q, x->o->key, 0);
  fmh_vbuf_puts(&s->q, ") | 1)) FROM ");
  fmh_vbuf_ident(&s->q, s->src.table, 1);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(&s->q, x->o->key, s->src.where, r, x->key_binary, p, &np) != 0) return oom(e);
  fmh_cursor *q;
  fmh_exec_result res;
  if (fmh_conn_run(s->conn, s->q.p, s->q.len, p, np, 1, &q, &res, e) != 0) return -1;
  const fmh_value *row;
  int rc = fmh_cursor_fetch(q, &row, e);
  if (rc == 1) {
    *count = row[0].t == FMH_V_UINT ? row[0].u : (uint64_t)row[0].i;
    *xr = row[1].t == FMH_V_UINT ? row[1].u : row[1].t == FMH_V_INT ? (uint64_t)row[1].i : 0;
  }
  fmh_cursor_close(q);
  if (rc != 1) {
    if (rc == 0) fmh_error_set(e, "validate", 0, 0, "validate.checksum: no answer to the checksum query");
    return -1;
  }
  return 0;
}

static void *worker(void *arg) {
  sctx *x = arg;
  pthread_mutex_lock(&x->mu);
  for (;;) {
    while (!x->pending && !x->quit) pthread_cond_wait(&x->cv, &x->mu);
    if (x->quit) break;
    const fmh_vrange *r = x->b.job;
    pthread_mutex_unlock(&x->mu);
    uint64_t c = 0, v = 0;
    fmh_error_clear(&x->b.err);
    int rc = side_checksum(x, &x->b, r, &c, &v, &x->b.err);
    pthread_mutex_lock(&x->mu);
    x->b.count = c;
    x->b.x = v;
    x->b.rc = rc;
    x->pending = 0;
    x->done = 1;
    pthread_cond_broadcast(&x->cv);
  }
  pthread_mutex_unlock(&x->mu);
  return NULL;
}

/* Both sides' (count, xor) of a range; the two queries run at once. */
static int checksum_pair(sctx *x, const fmh_vrange *r, uint64_t *ca, uint64_t *xa, uint64_t *cb, uint64_t *xb,
                         fmh_error *e) {
  x->v->checksum_queries += 2;
  if (!x->th_started) {
    if (side_checksum(x, &x->a, r, ca, xa, e) != 0) return -1;
    if (side_checksum(x, &x->b, r, cb, xb, e) != 0) return -1;
    return 0;
  }
  pthread_mutex_lock(&x->mu);
  x->b.job = r;
  x->done = 0;
  x->pending = 1;
  pthread_cond_broadcast(&x->cv);
  pthread_mutex_unlock(&x->mu);
  int rc = side_checksum(x, &x->a, r, ca, xa, e);
  pthread_mutex_lock(&x->mu);
  while (!x->done) pthread_cond_wait(&x->cv, &x->mu);
  pthread_mutex_unlock(&x->mu);
  if (rc != 0) return -1;
  if (x->b.rc != 0) {
    *e = x->b.err;
    memset(&x->b.err, 0, sizeof x->b.err);
    return -1;
  }
  *cb = x->b.count;
  *xb = x->b.x;
  return 0;
}

/* --- connections --------------------------------------------------------- */

static int side_acquire(sctx *x, sside *s, fmh_error *e) {
  if (fmh_pool_acquire(s->src.pool, -1, &s->conn, e) != 0) return -1;
  if (fmh_vsession_tz(s->conn, x->o->time_zone ? x->o->time_zone : "+00:00", e) != 0) return -1;
  s->tz_set = 1;
  return 0;
}

static void side_release(sside *s) {
  if (!s->conn) return;
  if (s->tz_set && !fmh_conn_is_broken(s->conn)) fmh_vsession_restore(s->conn);
  fmh_pool_release(s->conn);
  s->conn = NULL;
  s->tz_set = 0;
}

/* --- ranges ------------------------------------------------------------ */

static void part_clear(fmh_vkey_part *p) {
  if (p->kind == FMH_VK_TEXT) free(p->s);
  memset(p, 0, sizeof *p);
}

static int part_copy(const fmh_vkey_part *src, fmh_vkey_part *dst) {
  *dst = *src;
  if (src->kind == FMH_VK_TEXT) {
    dst->s = malloc(src->len + 1);
    if (!dst->s) return -1;
    memcpy(dst->s, src->s, src->len);
    dst->s[src->len] = '\0';
  }
  return 0;
}

static void range_clear(fmh_vrange *r) {
  part_clear(&r->lo);
  part_clear(&r->hi);
  r->has_lo = r->has_hi = r->lo_incl = 0;
}

/* One key value of a side: "SELECT key FROM t WHERE range ORDER BY key LIMIT 1 OFFSET n".
 * Returns 1 with *out set, 0 when there is none, -1 on error. */
static int key_at(sctx *x, sside *s, const fmh_vrange *r, uint64_t offset, fmh_vkey_part *out, fmh_error *e) {
  s->q.len = 0;
  fmh_vbuf_puts(&s->q, "SELECT ");
  fmh_vbuf_ident(&s->q, x->o->key, 0);
  fmh_vbuf_puts(&s->q, " FROM ");
  fmh_vbuf_ident(&s->q, s->src.table, 1);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(&s->q, x->o->key, s->src.where, r, x->key_binary, p, &np) != 0) return oom(e);
  fmh_vbuf_puts(&s->q, " ORDER BY ");
  fmh_vbuf_ident(&s->q, x->o->key, 0);
  fmh_vbuf_printf(&s->q, " LIMIT 1 OFFSET %" PRIu64, offset);
  if (!s->q.p) return oom(e);
  fmh_cursor *q;
  fmh_exec_result res;
  x->v->checksum_queries++;
  if (fmh_conn_run(s->conn, s->q.p, s->q.len, p, np, 1, &q, &res, e) != 0) return -1;
  const fmh_value *row;
  int rc = fmh_cursor_fetch(q, &row, e);
  if (rc == 1 && fmh_vkey_part_from_value(&row[0], out) != 0) rc = oom(e);
  fmh_cursor_close(q);
  return rc;
}

/* MIN and MAX of the key on one side: 1 when the side has rows. */
static int min_max(sctx *x, sside *s, int64_t *lo, int64_t *hi, uint64_t *est, fmh_error *e) {
  s->q.len = 0;
  fmh_vbuf_puts(&s->q, "SELECT MIN(");
  fmh_vbuf_ident(&s->q, x->o->key, 0);
  fmh_vbuf_puts(&s->q, "), MAX(");
  fmh_vbuf_ident(&s->q, x->o->key, 0);
  fmh_vbuf_puts(&s->q, ") FROM ");
  fmh_vbuf_ident(&s->q, s->src.table, 1);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(&s->q, x->o->key, s->src.where, NULL, 0, p, &np) != 0) return oom(e);
  fmh_cursor *q;
  fmh_exec_result res;
  x->v->checksum_queries++;
  if (fmh_conn_run(s->conn, s->q.p, s->q.len, NULL, 0, 1, &q, &res, e) != 0) return -1;
  const fmh_value *row;
  int rc = fmh_cursor_fetch(q, &row, e), have = 0;
  if (rc == 1 && row[0].t != FMH_V_NULL) {
    if (row[0].t == FMH_V_UINT || row[1].t == FMH_V_UINT) {
      have = -2; /* past INT64_MAX: walk the index instead */
    } else {
      *lo = row[0].i;
      *hi = row[1].i;
      have = 1;
    }
  }
  fmh_cursor_close(q);
  if (rc < 0) return -1;
  if (have != 1) return have;
  /* the row estimate of the table's statistics (0 when unknown) */
  if (fmh_vmeta_query(s->conn, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ",
                      " AND TABLE_NAME = ?", s->src.table, &q, e) != 0)
    return -1;
  *est = 0;
  rc = fmh_cursor_fetch(q, &row, e);
  if (rc == 1 && row[0].t == FMH_V_INT && row[0].i > 0) *est = (uint64_t)row[0].i;
  if (rc == 1 && row[0].t == FMH_V_UINT) *est = row[0].u;
  fmh_cursor_close(q);
  if (rc < 0) return -1;
  if (*est == 0) {
    /* no statistics yet: count, or sparse keys would make countless chunks */
    s->q.len = 0;
    fmh_vbuf_puts(&s->q, "SELECT COUNT(*) FROM ");
    fmh_vbuf_ident(&s->q, s->src.table, 1);
    if (fmh_vrange_sql(&s->q, x->o->key, s->src.where, NULL, 0, p, &np) != 0) return oom(e);
    x->v->checksum_queries++;
    if (fmh_conn_run(s->conn, s->q.p, s->q.len, NULL, 0, 1, &q, &res, e) != 0) return -1;
    rc = fmh_cursor_fetch(q, &row, e);
    if (rc == 1 && row[0].t == FMH_V_INT && row[0].i > 0) *est = (uint64_t)row[0].i;
    fmh_cursor_close(q);
    if (rc < 0) return -1;
  }
  return 1;
}

/* --- bisection ----------------------------------------------------------- */

static int stream_range(sctx *x, const fmh_vrange *r, fmh_error *e) {
  /* the comparator takes connections of its own: give ours back meanwhile */
  side_release(&x->a);
  side_release(&x->b);
  fmh_verdict *v = x->v;
  uint64_t t0 = v->target, e0 = v->expected;
  int rc = fmh_vcmp_run(x->cmp, r, e);
  v->rows_streamed += (v->target - t0) + (v->expected - e0);
  v->target = t0;
  v->expected = e0;
  if (rc != 0) return -1;
  if (side_acquire(x, &x->a, e) != 0 || side_acquire(x, &x->b, e) != 0) return -1;
  return 0;
}

/* Split r at a key that halves it: an integer midpoint, or the median key of
 * the side with more rows. 0 with lo/hi halves, 1 when r cannot be split. */
static int split(sctx *x, const fmh_vrange *r, uint64_t ca, uint64_t cb, fmh_vrange *h1, fmh_vrange *h2,
                 fmh_error *e) {
  fmh_vkey_part mid;
  memset(&mid, 0, sizeof mid);
  if (x->key_int) {
    int64_t lo = r->lo.i, hi = r->hi.i;
    if (!r->lo_incl) lo++; /* integer ranges are always [lo, hi] or (lo, hi] with both ends set */
    if (lo >= hi) return 1;
    uint64_t diff = (uint64_t)hi - (uint64_t)lo;
    mid.kind = FMH_VK_INT;
    mid.i = (int64_t)((uint64_t)lo + diff / 2);
  } else {
    sside *s = ca >= cb ? &x->a : &x->b;
    uint64_t n = ca >= cb ? ca : cb;
    int rc = key_at(x, s, r, n / 2 - (n >= 2 ? 1 : 0), &mid, e);
    if (rc < 0) return -1;
    if (rc == 0) return 1;
    /* the upper half must not be empty of keys below hi on the larger side: a
     * range of one repeated key cannot be split */
    if (r->has_hi && r->hi.kind == FMH_VK_TEXT && mid.kind == FMH_VK_TEXT && mid.len == r->hi.len &&
        memcmp(mid.s, r->hi.s, mid.len) == 0) {
      part_clear(&mid);
      return 1;
    }
    if (r->has_lo && r->lo.kind == FMH_VK_TEXT && mid.kind == FMH_VK_TEXT && mid.len == r->lo.len &&
        memcmp(mid.s, r->lo.s, mid.len) == 0) {
      part_clear(&mid);
      return 1;
    }
  }
  memset(h1, 0, sizeof *h1);
  memset(h2, 0, sizeof *h2);
  h1->has_lo = r->has_lo;
  h1->lo_incl = r->lo_incl;
  if (r->has_lo && part_copy(&r->lo, &h1->lo) != 0) goto fail;
  h1->has_hi = 1;
  if (part_copy(&mid, &h1->hi) != 0) goto fail;
  h2->has_lo = 1;
  h2->lo_incl = 0;
  if (part_copy(&mid, &h2->lo) != 0) goto fail;
  h2->has_hi = r->has_hi;
  if (r->has_hi && part_copy(&r->hi, &h2->hi) != 0) goto fail;
  part_clear(&mid);
  return 0;
fail:
  part_clear(&mid);
  range_clear(h1);
  range_clear(h2);
  return oom(e);
}

/* A range whose checksums differ: halve it until it is small, then stream. */
static int bisect(sctx *x, const fmh_vrange *r, uint64_t ca, uint64_t cb, int depth, fmh_error *e) {
  uint64_t n = ca > cb ? ca : cb;
  if (n <= x->o->leaf_rows || depth > 64) return stream_range(x, r, e);
  fmh_vrange h[2];
  int s = split(x, r, ca, cb, &h[0], &h[1], e);
  if (s < 0) return -1;
  if (s == 1) return stream_range(x, r, e);
  int rc = 0;
  for (int i = 0; i < 2 && rc == 0; i++) {
    uint64_t a, xa, b, xb;
    rc = checksum_pair(x, &h[i], &a, &xa, &b, &xb, e);
    if (rc != 0) break;
    if (a == b && xa == xb) {
      x->v->matched += a;
      continue;
    }
    rc = bisect(x, &h[i], a, b, depth + 1, e);
  }
  range_clear(&h[0]);
  range_clear(&h[1]);
  return rc;
}

static int do_chunk(sctx *x, const fmh_vrange *r, fmh_error *e) {
  uint64_t ca, xa, cb, xb;
  if (checksum_pair(x, r, &ca, &xa, &cb, &xb, e) != 0) return -1;
  x->v->chunks++;
  x->v->target += ca;
  x->v->expected += cb;
  if (ca == cb && xa == xb) {
    x->v->matched += ca;
    return 0;
  }
  x->v->chunks_differing++;
  return bisect(x, r, ca, cb, 0, e);
}

static int run_chunks(sctx *x, fmh_error *e) {
  const fmh_vchecksum_opts *o = x->o;
  if (x->key_int) {
    int64_t alo = 0, ahi = 0, blo = 0, bhi = 0;
    uint64_t est_a = 0, est_b = 0;
    int ha = min_max(x, &x->a, &alo, &ahi, &est_a, e);
    if (ha < 0 && ha != -2) return -1;
    int hb = min_max(x, &x->b, &blo, &bhi, &est_b, e);
    if (hb < 0 && hb != -2) return -1;
    if (ha == -2 || hb == -2) {
      x->key_int = 0; /* unsigned keys past INT64_MAX: walk the index */
    } else {
      if (!ha && !hb) return 0;
      int64_t lo = !ha ? blo : !hb ? alo : (alo < blo ? alo : blo);
      int64_t hi = !ha ? bhi : !hb ? ahi : (ahi > bhi ? ahi : bhi);
      uint64_t est = est_a > est_b ? est_a : est_b;
      uint64_t span = (uint64_t)hi - (uint64_t)lo; /* + 1 */
      uint64_t width = o->chunk_rows;
      if (est > 0) {
        double w = ((double)span + 1.0) * (double)o->chunk_rows / (double)est;
        width = w < 1 ? 1 : w > 9e18 ? (uint64_t)9e18 : (uint64_t)w;
      }
      fmh_vrange r;
      memset(&r, 0, sizeof r);
      r.has_lo = r.has_hi = 1;
      r.lo.kind = r.hi.kind = FMH_VK_INT;
      int64_t start = lo;
      for (;;) {
        uint64_t room = (uint64_t)hi - (uint64_t)start;
        int64_t end = room < width ? hi : (int64_t)((uint64_t)start + width - 1);
        r.lo_incl = 1;
        r.lo.i = start;
        r.hi.i = end;
        if (do_chunk(x, &r, e) != 0) return -1;
        if (end == hi) break;
        start = end + 1;
      }
      return 0;
    }
  }
  /* walk side a's key index: (prev, boundary] */
  fmh_vrange r;
  memset(&r, 0, sizeof r);
  fmh_vkey_part prev;
  int have_prev = 0;
  for (;;) {
    fmh_vrange w;
    memset(&w, 0, sizeof w);
    if (have_prev) {
      w.has_lo = 1;
      w.lo = prev;
    }
    fmh_vkey_part b;
    int rc = key_at(x, &x->a, &w, o->chunk_rows - 1, &b, e);
    if (rc < 0) {
      if (have_prev) part_clear(&prev);
      return -1;
    }
    memset(&r, 0, sizeof r);
    if (have_prev) {
      r.has_lo = 1;
      r.lo = prev;
    }
    if (rc == 1) {
      r.has_hi = 1;
      r.hi = b;
    }
    int crc = do_chunk(x, &r, e);
    if (have_prev) part_clear(&prev);
    if (crc != 0) {
      if (rc == 1) part_clear(&b);
      return -1;
    }
    if (rc == 0) return 0;
    prev = b;
    have_prev = 1;
  }
}

/* --- entry ---------------------------------------------------------------- */

void fmh_vchecksum_opts_default(fmh_vchecksum_opts *o) {
  memset(o, 0, sizeof *o);
  o->chunk_rows = 10000;
  o->leaf_rows = 1000;
  o->parallel = 1;
  o->max_samples = 20;
  o->max_value_len = 256;
  o->time_zone = "+00:00";
}

static void side_free(sside *s) {
  side_release(s);
  for (int i = 0; i < s->ncols; i++) {
    free(s->cols[i].name);
    free(s->cols[i].data_type);
  }
  free(s->cols);
  fmh_vbuf_free(&s->hash);
  fmh_vbuf_free(&s->q);
  fmh_error_clear(&s->err);
}

static int check_side(const fmh_vsource *s, const char *role, fmh_error *e) {
  if (!s->pool || !s->table || s->query || s->gen) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: side %s must be {pool=, table=}", role);
    return -1;
  }
  return 0;
}

/* Columns on one side only (checksums cover the common ones). */
static int column_lists(sctx *x, fmh_error *e) {
  fmh_verdict *v = x->v;
  for (int pass = 0; pass < 2; pass++) {
    sside *s = pass ? &x->a : &x->b, *other = pass ? &x->b : &x->a;
    for (int i = 0; i < s->ncols; i++) {
      if (find_scol(other, s->cols[i].name) >= 0 || ignored(x->o, s->cols[i].name)) continue;
      char ***list = pass ? &v->extra_columns : &v->missing_columns;
      size_t *n = pass ? &v->nextra_columns : &v->nmissing_columns;
      char **nl = realloc(*list, (*n + 1) * sizeof *nl);
      if (!nl) return oom(e);
      *list = nl;
      if (!(nl[*n] = strdup(s->cols[i].name))) return oom(e);
      (*n)++;
    }
  }
  return 0;
}

int fmh_validate_checksum(const fmh_vchecksum_opts *o, fmh_verdict *v, fmh_error *e) {
  memset(v, 0, sizeof *v);
  if (check_side(&o->a, "a", e) != 0 || check_side(&o->b, "b", e) != 0) return -1;
  if (!o->key || !o->key[0]) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: 'key' (one column) is required");
    return -1;
  }
  if (o->chunk_rows < 1 || o->leaf_rows < 1) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: chunk_rows and leaf_rows must be >= 1");
    return -1;
  }
  double t0 = fmh_vnow();
  sctx x;
  memset(&x, 0, sizeof x);
  x.o = o;
  x.v = v;
  x.a.role = "a";
  x.a.src = o->a;
  x.b.role = "b";
  x.b.src = o->b;
  v->mode = "checksum";
  int rc = -1;
  if (side_acquire(&x, &x.a, e) != 0 || side_acquire(&x, &x.b, e) != 0) goto out;
  if (load_columns(&x.a, e) != 0 || load_columns(&x.b, e) != 0) goto out;
  int ka = find_scol(&x.a, o->key), kb = find_scol(&x.b, o->key);
  if (ka < 0 || kb < 0) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: key column '%s' is not in table %s", o->key,
                  ka < 0 ? o->a.table : o->b.table);
    goto out;
  }
  x.key_int = is_one_of(x.a.cols[ka].data_type, INT_TYPES) && is_one_of(x.b.cols[kb].data_type, INT_TYPES);
  x.key_binary = is_one_of(x.a.cols[ka].data_type, (const char *const[]){"binary", "varbinary", "tinyblob", "blob",
                                                                       "mediumblob", "longblob", NULL});
  if (build_hash(&x, &x.a, e) != 0 || build_hash(&x, &x.b, e) != 0) goto out;
  v->checksum_function = strdup(x.a.hash.p);
  /* the streaming comparator for the small differing ranges */
  fmh_vcompare_opts_default(&x.co);
  x.co.target = o->a;
  x.co.expected = o->b;
  x.keys[0] = o->key;
  x.co.key = x.keys;
  x.co.nkey = 1;
  x.co.cols = o->cols;
  x.co.ncols = o->ncols;
  x.co.max_samples = o->max_samples;
  x.co.max_value_len = o->max_value_len;
  x.co.time_zone = o->time_zone;
  x.co.log = o->log;
  x.co.label = o->a.table;
  /* ignore lists: pass them to the comparator as column options */
  fmh_vcolopt *cols = NULL;
  if (o->nignore > 0) {
    cols = calloc((size_t)(o->ncols + o->nignore), sizeof *cols);
    if (!cols) {
      oom(e);
      goto out;
    }
    for (int i = 0; i < o->ncols; i++) cols[i] = o->cols[i];
    for (int i = 0; i < o->nignore; i++) {
      cols[o->ncols + i].name = o->ignore[i];
      cols[o->ncols + i].ignore = 1;
      cols[o->ncols + i].fsp = -1;
    }
    x.co.cols = cols;
    x.co.ncols = o->ncols + o->nignore;
  }
  if (fmh_vcmp_begin(&x.co, v, &x.cmp, e) != 0) {
    free(cols);
    goto out;
  }
  v->mode = "checksum";
  v->has_seed = v->has_range = 0;
  if (o->parallel) {
    pthread_mutex_init(&x.mu, NULL);
    pthread_cond_init(&x.cv, NULL);
    if (pthread_create(&x.th, NULL, worker, &x) == 0) x.th_started = 1;
  }
  rc = run_chunks(&x, e);
  if (x.th_started) {
    pthread_mutex_lock(&x.mu);
    x.quit = 1;
    pthread_cond_broadcast(&x.cv);
    pthread_mutex_unlock(&x.mu);
    pthread_join(x.th, NULL);
    pthread_mutex_destroy(&x.mu);
    pthread_cond_destroy(&x.cv);
  }
  if (rc == 0 && !fmh_vcmp_resolved(x.cmp)) rc = column_lists(&x, e);
  fmh_vcmp_end(x.cmp, fmh_vnow() - t0);
  free(cols);
  if (o->log) {
    fmh_log_field f[] = {FMH_LS("a", o->a.table), FMH_LS("b", o->b.table), FMH_LI("chunks", v->chunks),
                         FMH_LI("differing", v->chunks_differing), FMH_LI("queries", v->checksum_queries),
                         FMH_LI("rows_streamed", v->rows_streamed)};
    fmh_log_emit(FMH_LOG_INFO, "validate.checksum", NULL, NULL, f, sizeof f / sizeof *f);
  }
out:
  side_free(&x.a);
  side_free(&x.b);
  return rc;
}
