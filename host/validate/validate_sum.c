/* fmhost.validate, checksum mode: a table compared with another table (on
 * the same or another server) or with a generator, by key-range segment
 * checksums computed where the rows are, for tables too large to stream.
 *
 * The key space is cut into segments of about chunk_rows rows (integer keys:
 * equal-width ranges between the smallest and largest key of both tables,
 * the width from the table's row estimate; other keys: boundaries found by
 * walking side a's key index chunk_rows rows at a time; a generator: row
 * ranges, their keys computed). `threads` workers take segments in turn,
 * each on connections of its own from the sides' pools, and each side
 * answers per segment
 *   SELECT COUNT(*), SUM(CRC32(h) << 32 | CRC32C(h))
 *     FROM (SELECT SHA1(<row text>) AS h FROM t WHERE key in range LIMIT 2^64-1) AS x
 * (a generator side computes the same in C with the same row text). The
 * LIMIT keeps the server from merging the derived table into the outer
 * query, so SHA1 runs once per row, not once per CRC. The worker that finds
 * a segment's pair differing halves it and checks again until a range holds
 * at most leaf_rows rows (in parallel with the other segments); those ranges
 * are then compared row by row by the streaming comparator, which gives the
 * verdict its keys and fields.
 *
 * The row text: columns (those both sides have, in side a's order) joined
 * by '#'; NULL is 'N'; an integer, DECIMAL or temporal column is its text
 * (DECIMAL with the column's scale, temporal with the column's fraction
 * digits, TIMESTAMP in the session zone +00:00); a string or binary column
 * is LENGTH(c) ':' c (the length tells where it ends, so '#' inside a value
 * and NULL vs '' cannot be confused); a FLOAT/DOUBLE is '0' when zero (-0 and
 * 0 alike), else its binary exponent and an integer mantissa computed with
 * exact power-of-two arithmetic (x = m * 2^(e-54)), which loses nothing.
 * The text is injective: two rows that differ in any compared column have
 * different texts.
 *
 * Strength: a row's hash is a 64-bit value drawn from the SHA-1 of its
 * text: the CRC-32 and the CRC-32C (two different polynomials) of the
 * 40-digit hex digest, side by side. A segment's checksum is its row count
 * and the sum of its rows' hashes modulo 2^64. The CRCs are linear, but they
 * only ever see SHA-1 output: a change anywhere in a row's text gives it an
 * unrelated digest, whose CRC pair is (for a digest that behaves as random)
 * a uniform 64-bit value independent of every other row's. So structured
 * differences cannot cancel (the same bit flip in two rows, which cancels
 * in a XOR of CRC32s of the rows, or a +1/-1 pair, which cancels in a sum of
 * values): for a differing segment the sums agree only if the hashes of the
 * differing rows happen to sum alike, probability 2^-64 per differing
 * segment (a segment with two rows swapped between keys differs in its row
 * texts, since the key is hashed with its row). A sum rather than a XOR: a
 * row held twice (a key that is not unique) adds its hash twice instead of
 * cancelling it. Nobody relies on SHA-1 against an adversary here: the rows
 * are not chosen to collide. (Why not MD5 or CONV of the digest: in
 * MariaDB 10.11 MD5() costs about 5 times SHA1() per row, and turning 16 hex
 * digits into an integer with CONV about 3 times the two CRCs.)
 *
 * A hash that differs only because two servers print a value differently
 * (a DECIMAL of another scale, a DOUBLE as FLOAT) costs time, never the
 * verdict: the segment is bisected and its rows compared by the streaming
 * comparator's type-aware rules.
 *
 * A segment whose query fails is retried `retries` times on a fresh
 * connection; one that still fails, and the segments a budget left unstarted,
 * make the verdict partial: ok is false and partial_detail names the
 * segments verified and those not checked, and why. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fmhost/log.h"
#include "fmhost/validate.h"
#include "validate_int.h"

typedef struct scol {
  char *name;
  char *data_type;
  int nullable;
  int scale, fsp;
} scol;

typedef struct sside {
  const char *role;
  fmh_vsource src;
  scol *cols;
  int ncols;
  fmh_buf hash;           /* the row hash expression (SQL side) */
} sside;

/* segment states */
enum { SEG_PENDING = 0, SEG_EQUAL, SEG_DIFFER, SEG_FAILED, SEG_SKIPPED };

/* a range left to stream after bisection */
typedef struct leaf {
  fmh_vrange r;
  int64_t row0, row1;
} leaf;

typedef struct seg {
  fmh_vrange r;
  int64_t row0, row1;  /* generator rows [row0, row1) */
  unsigned char state;
  unsigned char bisected; /* a worker bisected it: leaves and bmatched hold the outcome */
  uint64_t ca, cb, sa, sb;
  leaf *leaves;
  size_t nleaves;
  uint64_t bmatched;   /* rows of the halves found equal */
} seg;

/* One worker's connections and scratch. */
typedef struct wstate {
  struct sctx *x;
  fmh_conn *ca, *cb;
  int tza, tzb;
  fmh_buf q, row;
  EVP_MD_CTX *md;
  EVP_MD *sha1;
  fmh_gen_cursor *gc;
  fmh_gen_value *gv;
  fmh_error err;
  pthread_t th;
  int started;
} wstate;

typedef struct sctx {
  const fmh_vchecksum_opts *o;
  fmh_verdict *v;
  sside a, b;
  int key_int;          /* integer key: equal-width ranges */
  int key_binary;
  int gkey;             /* generator: the key's column */
  int *gmap;            /* generator: for each hashed column of a, its generator column */
  int nhash;
  int *amap;            /* the hashed columns of a (indexes into a.cols) */
  fmh_vcmp *cmp;
  fmh_vcompare_opts co;
  const char *keys[1];
  seg *segs;
  size_t nsegs, capsegs;
  /* the parallel pass */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t next, ndone;
  int running;
  int consecutive_failures, stop;
  const char *stop_reason;
  double t0, deadline;
  uint64_t rows_claimed, rows_done;
  fmh_error first_err;
  int have_err;
  uint64_t queries;
} sctx;

static int oom(fmh_error *e) {
  fmh_error_set(e, "os", ENOMEM, 0, "validate.checksum: out of memory");
  return -1;
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

/* --- metadata ------------------------------------------------------------ */

static int load_columns(sside *s, fmh_conn *conn, fmh_error *e) {
  fmh_cursor *q;
  if (fmh_vmeta_query(conn, "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, NUMERIC_SCALE, DATETIME_PRECISION "
                      "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ",
                      " AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", s->src.table, &q, e) != 0)
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
    memset(c, 0, sizeof *c);
    c->name = strndup(row[0].s, row[0].len);
    c->data_type = strndup(row[1].s, row[1].len);
    c->nullable = row[2].len == 3 && memcmp(row[2].s, "YES", 3) == 0;
    c->scale = row[3].t == FMH_V_INT ? (int)row[3].i : row[3].t == FMH_V_UINT ? (int)row[3].u : 0;
    c->fsp = row[4].t == FMH_V_INT ? (int)row[4].i : row[4].t == FMH_V_UINT ? (int)row[4].u : 0;
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

static int find_gcol(const fmh_gen *g, const char *name) {
  size_t n = fmh_gen_ncols(g);
  for (size_t i = 0; i < n; i++)
    if (strcasecmp(fmh_gen_column_name(g, i), name) == 0) return (int)i;
  return -1;
}

/* side b has the column (a table's or a generator's) */
static int b_has(const sctx *x, const char *name) {
  return x->b.src.gen ? find_gcol(x->b.src.gen, name) >= 0 : find_scol(&x->b, name) >= 0;
}

static int is_one_of(const char *t, const char *const *list) {
  for (; *list; list++)
    if (strcasecmp(t, *list) == 0) return 1;
  return 0;
}

static const char *const INT_TYPES[] = {"tinyint", "smallint", "mediumint", "int", "bigint", "year", NULL};
static const char *const PLAIN_TYPES[] = {"tinyint", "smallint", "mediumint", "int", "bigint", "year", "decimal",
                                          "date", "time", "datetime", "timestamp", NULL};
static const char *const BINARY_TYPES[] = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", NULL};

/* The text of one column (see the file comment). */
static void column_piece(fmh_buf *b, const scol *c) {
  fmh_buf id = {0};
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
     * integer below 2^56, exact; subnormal corners fall back to text. e is
     * printed as an integer: the text of a DOUBLE costs the server far more */
    fmh_vbuf_printf(b,
                    "IF(%s IS NULL,'N',IF(%s=0,'0',IFNULL(CONCAT(CAST(FLOOR(LOG2(ABS(%s))) AS SIGNED),':',CAST(%s/POW(2,FLOOR(LOG2("
                    "ABS(%s)))-54) AS SIGNED)),CONCAT('t',%s))))",
                    x, x, x, x, x, x);
  } else {
    if (c->nullable) fmh_vbuf_printf(b, "IFNULL(CONCAT(LENGTH(%s),':',%s),'N')", x, x);
    else fmh_vbuf_printf(b, "CONCAT(LENGTH(%s),':',%s)", x, x);
  }
  fmh_buf_free(&id);
}

static int ignored(const fmh_vchecksum_opts *o, const char *name) {
  for (int i = 0; i < o->nignore; i++)
    if (strcasecmp(o->ignore[i], name) == 0) return 1;
  for (int i = 0; i < o->ncols; i++)
    if (o->cols[i].name && o->cols[i].ignore && strcasecmp(o->cols[i].name, name) == 0) return 1;
  return 0;
}

/* The hashed columns: those both sides have, in side a's order. */
static int hashed_columns(sctx *x, fmh_error *e) {
  x->amap = calloc((size_t)x->a.ncols + 1, sizeof *x->amap);
  x->gmap = calloc((size_t)x->a.ncols + 1, sizeof *x->gmap);
  if (!x->amap || !x->gmap) return oom(e);
  for (int i = 0; i < x->a.ncols; i++) {
    const char *name = x->a.cols[i].name;
    if (!b_has(x, name) || ignored(x->o, name)) continue;
    x->amap[x->nhash] = i;
    if (x->b.src.gen) x->gmap[x->nhash] = find_gcol(x->b.src.gen, name);
    x->nhash++;
  }
  if (x->nhash == 0) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: the two sides have no column in common");
    return -1;
  }
  return 0;
}

/* The SQL hash of a row of side s. */
static int build_hash(sctx *x, sside *s, fmh_error *e) {
  fmh_buf *b = &s->hash;
  fmh_vbuf_puts(b, "SHA1(CONCAT(");
  for (int k = 0; k < x->nhash; k++) {
    int j = find_scol(s, x->a.cols[x->amap[k]].name);
    if (k) fmh_vbuf_puts(b, ",'#',");
    column_piece(b, &s->cols[j]);
  }
  fmh_vbuf_puts(b, "))");
  if (!b->p) return oom(e);
  return 0;
}

/* --- the generator's side in C ------------------------------------------ */

/* Append the row text of a generated value as the server would print it in
 * side a's column c. */
static void gen_piece(fmh_buf *b, const fmh_gen *g, const scol *c, const fmh_gen_value *v) {
  char t[96];
  switch (v->kind) {
    case FMH_GV_NULL: fmh_buf_put(b, "N", 1); return;
    case FMH_GV_INT: case FMH_GV_BOOL: fmh_vbuf_printf(b, "%" PRId64, v->n.i); return;
    case FMH_GV_UINT: fmh_vbuf_printf(b, "%" PRIu64, v->n.u); return;
    case FMH_GV_DOUBLE: case FMH_GV_FLOAT: {
      double d = v->n.d;
      if (d == 0) {
        fmh_buf_put(b, "0", 1);
        return;
      }
      double e2 = floor(log(fabs(d)) / M_LN2);
      double p = pow(2.0, e2 - 54);
      double q = p != 0 ? d / p : NAN;
      if (p == 0 || !isfinite(q)) {
        char *end = fmh_gen_format_double(t + 1, d);
        t[0] = 't';
        fmh_buf_put(b, t, (size_t)(end - t));
        return;
      }
      fmh_vbuf_printf(b, "%.0f:%lld", e2, (long long)q);
      return;
    }
    case FMH_GV_DECIMAL: {
      /* the column's scale: pad or cut the fraction */
      const char *dot = memchr(v->s, '.', v->len);
      size_t ilen = dot ? (size_t)(dot - v->s) : v->len;
      size_t flen = dot ? v->len - ilen - 1 : 0;
      fmh_buf_put(b, v->s, ilen);
      if (c->scale > 0) {
        fmh_buf_put(b, ".", 1);
        size_t sc = (size_t)c->scale;
        fmh_buf_put(b, dot ? dot + 1 : "", flen < sc ? flen : sc);
        for (size_t k = flen; k < sc; k++) fmh_buf_put(b, "0", 1);
      }
      return;
    }
    case FMH_GV_DATE: case FMH_GV_TIME: case FMH_GV_DATETIME: case FMH_GV_TIMESTAMP: {
      fmh_gen_vkind k = v->kind == FMH_GV_TIMESTAMP ? FMH_GV_DATETIME : v->kind; /* UTC wall clock */
      size_t n = fmh_gen_format_temporal(g, k, v->n.i, v->kind == FMH_GV_DATE ? 0 : c->fsp, t);
      fmh_buf_put(b, t, n);
      return;
    }
    case FMH_GV_TEXT: case FMH_GV_BYTES: case FMH_GV_JSON: {
      size_t n = v->len;
      if (!strcasecmp(c->data_type, "char"))
        while (n > 0 && v->s[n - 1] == ' ') n--; /* CHAR drops trailing spaces */
      fmh_vbuf_printf(b, "%zu:", n);
      fmh_buf_put(b, v->s, n);
      return;
    }
  }
}

/* CRC-32 (zlib's, as MariaDB's CRC32()) and CRC-32C (Castagnoli, as
 * CRC32C()), reflected, bit by bit over a table built once. */
static uint32_t crc_tab[2][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  const uint32_t poly[2] = {0xEDB88320u, 0x82F63B78u};
  for (int t = 0; t < 2; t++)
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? poly[t] ^ (c >> 1) : c >> 1;
      crc_tab[t][i] = c;
    }
}

static uint32_t crc_run(int t, const unsigned char *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = crc_tab[t][(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/* The row hash of a row text, as the server computes
 * CRC32(SHA1(text)) << 32 | CRC32C(SHA1(text)). */
static uint64_t row_hash(wstate *w, const char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  unsigned char d[EVP_MAX_MD_SIZE], t[2 * EVP_MAX_MD_SIZE];
  unsigned int dn = 0;
  EVP_DigestInit_ex(w->md, w->sha1, NULL);
  EVP_DigestUpdate(w->md, p, n);
  EVP_DigestFinal_ex(w->md, d, &dn);
  for (unsigned int i = 0; i < dn; i++) {
    t[2 * i] = (unsigned char)hex[d[i] >> 4];
    t[2 * i + 1] = (unsigned char)hex[d[i] & 15];
  }
  return (uint64_t)crc_run(0, t, 2 * (size_t)dn) << 32 | crc_run(1, t, 2 * (size_t)dn);
}

static int gen_checksum(sctx *x, wstate *w, int64_t row0, int64_t row1, uint64_t *count, uint64_t *sum,
                        fmh_error *e) {
  const fmh_gen *g = x->b.src.gen;
  uint64_t s = 0;
  for (int64_t r = row0; r < row1; r++) {
    if (fmh_gen_row(w->gc, r, NULL, w->gv, e) != 0) return -1;
    w->row.len = 0;
    for (int k = 0; k < x->nhash; k++) {
      if (k) fmh_buf_put(&w->row, "#", 1);
      gen_piece(&w->row, g, &x->a.cols[x->amap[k]], &w->gv[x->gmap[k]]);
    }
    if (!w->row.p && x->nhash) return oom(e);
    s += row_hash(w, w->row.p, w->row.len);
  }
  *count = (uint64_t)(row1 - row0);
  *sum = s;
  return 0;
}

/* The key of generated row r. */
static int gen_key(sctx *x, wstate *w, int64_t r, fmh_vkey_part *out, fmh_error *e) {
  if (fmh_gen_row(w->gc, r, NULL, w->gv, e) != 0) return -1;
  const fmh_gen_value *v = &w->gv[x->gkey];
  memset(out, 0, sizeof *out);
  switch (v->kind) {
    case FMH_GV_INT: out->kind = FMH_VK_INT; out->i = v->n.i; return 0;
    case FMH_GV_UINT: out->kind = FMH_VK_UINT; out->u = v->n.u; return 0;
    case FMH_GV_TEXT: case FMH_GV_BYTES:
      out->kind = FMH_VK_TEXT;
      out->s = malloc(v->len + 1);
      if (!out->s) return oom(e);
      memcpy(out->s, v->s, v->len);
      out->s[v->len] = 0;
      out->len = v->len;
      return 0;
    default:
      fmh_error_set(e, "usage", 0, 0, "validate.checksum: the generator's key column '%s' must be an integer or a string",
                    x->o->key);
      return -1;
  }
}

static int part_cmp(const fmh_vkey_part *a, const fmh_vkey_part *b) {
  if (a->kind == FMH_VK_TEXT && b->kind == FMH_VK_TEXT) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    return c ? c : a->len < b->len ? -1 : a->len > b->len;
  }
  if (a->kind == FMH_VK_UINT || b->kind == FMH_VK_UINT) {
    if (a->kind == FMH_VK_INT && a->i < 0) return -1;
    if (b->kind == FMH_VK_INT && b->i < 0) return 1;
    uint64_t ua = a->kind == FMH_VK_UINT ? a->u : (uint64_t)a->i, ub = b->kind == FMH_VK_UINT ? b->u : (uint64_t)b->i;
    return ua < ub ? -1 : ua > ub;
  }
  return a->i < b->i ? -1 : a->i > b->i;
}

/* --- queries ---------------------------------------------------------- */

static uint64_t dec_mod64(const fmh_value *v) {
  if (v->t == FMH_V_UINT) return v->u;
  if (v->t == FMH_V_INT) return (uint64_t)v->i;
  if (v->t == FMH_V_DOUBLE) return (uint64_t)v->d;
  if (v->t != FMH_V_DECIMAL && v->t != FMH_V_STRING) return 0;
  uint64_t s = 0;
  for (size_t i = 0; i < v->len && v->s[i] != '.'; i++)
    if (v->s[i] >= '0' && v->s[i] <= '9') s = s * 10 + (uint64_t)(v->s[i] - '0'); /* modulo 2^64 */
  return s;
}

/* A row's 64-bit hash from its digest h (see the file comment). */
#define ROW_HASH_OF_H "CRC32(h) << 32 | CRC32C(h)"

static int sql_checksum(sctx *x, sside *s, fmh_conn *conn, fmh_buf *q, const fmh_vrange *r, uint64_t *count,
                        uint64_t *sum, fmh_error *e) {
  q->len = 0;
  fmh_vbuf_puts(q, "SELECT COUNT(*), SUM(" ROW_HASH_OF_H ") FROM (SELECT ");
  fmh_buf_put(q, s->hash.p, s->hash.len);
  fmh_vbuf_puts(q, " AS h FROM ");
  fmh_vbuf_ident(q, s->src.table, 1);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(q, x->o->key, s->src.where, r, x->key_binary, p, &np) != 0) return oom(e);
  fmh_vbuf_puts(q, " LIMIT 18446744073709551615) AS x"); /* not merged: SHA1 once per row */
  if (!q->p) return oom(e);
  fmh_cursor *c;
  fmh_exec_result res;
  __atomic_add_fetch(&x->queries, 1, __ATOMIC_RELAXED);
  if (fmh_conn_run(conn, q->p, q->len, p, np, 1, &c, &res, e) != 0) return -1;
  const fmh_value *row;
  int rc = fmh_cursor_fetch(c, &row, e);
  if (rc == 1) {
    *count = row[0].t == FMH_V_UINT ? row[0].u : (uint64_t)row[0].i;
    *sum = dec_mod64(&row[1]);
  }
  fmh_cursor_close(c);
  if (rc != 1) {
    if (rc == 0) fmh_error_set(e, "validate", 0, 0, "validate.checksum: no answer to the checksum query");
    return -1;
  }
  return 0;
}

/* --- connections --------------------------------------------------------- */

static int conn_get(sctx *x, sside *s, fmh_conn **c, int *tz, fmh_error *e) {
  if (*c) return 0;
  if (fmh_pool_acquire(s->src.pool, -1, c, e) != 0) {
    *c = NULL;
    return -1;
  }
  if (fmh_vsession_tz(*c, x->o->time_zone ? x->o->time_zone : "+00:00", e) != 0) {
    fmh_pool_release(*c);
    *c = NULL;
    return -1;
  }
  *tz = 1;
  return 0;
}

static void conn_put(fmh_conn **c, int *tz) {
  if (!*c) return;
  if (*tz && !fmh_conn_is_broken(*c)) fmh_vsession_restore(*c);
  fmh_pool_release(*c);
  *c = NULL;
  *tz = 0;
}

static int wstate_init(sctx *x, wstate *w, fmh_error *e) {
  memset(w, 0, sizeof *w);
  w->x = x;
  pthread_once(&crc_once, crc_init);
  w->md = EVP_MD_CTX_new();
  w->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
  if (!w->md || !w->sha1) return oom(e);
  if (x->b.src.gen) {
    w->gc = fmh_gen_cursor_new(x->b.src.gen);
    size_t n = fmh_gen_ncols(x->b.src.gen);
    w->gv = calloc(n ? n : 1, sizeof *w->gv);
    if (!w->gc || !w->gv) return oom(e);
  }
  return 0;
}

static void wstate_free(wstate *w) {
  conn_put(&w->ca, &w->tza);
  conn_put(&w->cb, &w->tzb);
  fmh_buf_free(&w->q);
  fmh_buf_free(&w->row);
  if (w->md) EVP_MD_CTX_free(w->md);
  if (w->sha1) EVP_MD_free(w->sha1);
  if (w->gc) fmh_gen_cursor_free(w->gc);
  free(w->gv);
  fmh_error_clear(&w->err);
}

/* Both sides' (count, sum) of a range (rows [row0, row1) of a generator),
 * retried on fresh connections. */
static int checksum_pair(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, uint64_t *ca,
                         uint64_t *sa, uint64_t *cb, uint64_t *sb, fmh_error *e) {
  int tries = x->o->retries < 0 ? 0 : x->o->retries;
  for (int attempt = 0;; attempt++) {
    fmh_error_clear(e);
    int rc = conn_get(x, &x->a, &w->ca, &w->tza, e);
    if (rc == 0) rc = sql_checksum(x, &x->a, w->ca, &w->q, r, ca, sa, e);
    if (rc == 0) {
      if (x->b.src.gen) {
        rc = gen_checksum(x, w, row0, row1, cb, sb, e);
        if (rc != 0) return -1; /* not a server's failure: no retry */
      } else {
        rc = conn_get(x, &x->b, &w->cb, &w->tzb, e);
        if (rc == 0) rc = sql_checksum(x, &x->b, w->cb, &w->q, r, cb, sb, e);
      }
    }
    if (rc == 0) return 0;
    if (e->kind && !strcmp(e->kind, "usage")) return -1;
    /* drop the connections (a broken one is discarded by the pool) and retry */
    conn_put(&w->ca, &w->tza);
    conn_put(&w->cb, &w->tzb);
    if (attempt >= tries) return -1;
    sleep_s(0.2 * (attempt + 1));
  }
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

/* One key value of side a: "SELECT key FROM t WHERE range ORDER BY key LIMIT 1 OFFSET n".
 * Returns 1 with *out set, 0 when there is none, -1 on error. */
static int key_at(sctx *x, sside *s, fmh_conn *conn, fmh_buf *q, const fmh_vrange *r, uint64_t offset,
                  fmh_vkey_part *out, fmh_error *e) {
  q->len = 0;
  fmh_vbuf_puts(q, "SELECT ");
  fmh_vbuf_ident(q, x->o->key, 0);
  fmh_vbuf_puts(q, " FROM ");
  fmh_vbuf_ident(q, s->src.table, 1);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(q, x->o->key, s->src.where, r, x->key_binary, p, &np) != 0) return oom(e);
  fmh_vbuf_puts(q, " ORDER BY ");
  fmh_vbuf_ident(q, x->o->key, 0);
  fmh_vbuf_printf(q, " LIMIT 1 OFFSET %" PRIu64, offset);
  if (!q->p) return oom(e);
  fmh_cursor *c;
  fmh_exec_result res;
  __atomic_add_fetch(&x->queries, 1, __ATOMIC_RELAXED);
  if (fmh_conn_run(conn, q->p, q->len, p, np, 1, &c, &res, e) != 0) return -1;
  const fmh_value *row;
  int rc = fmh_cursor_fetch(c, &row, e);
  if (rc == 1 && fmh_vkey_part_from_value(&row[0], out) != 0) rc = oom(e);
  fmh_cursor_close(c);
  return rc;
}

/* MIN and MAX of the key on one side: 1 when the side has rows, 0 when
 * not, -2 when keys pass INT64_MAX. */
static int min_max(sctx *x, sside *s, fmh_conn *conn, fmh_buf *q, int64_t *lo, int64_t *hi, uint64_t *est,
                   fmh_error *e) {
  q->len = 0;
  fmh_vbuf_puts(q, "SELECT MIN(");
  fmh_vbuf_ident(q, x->o->key, 0);
  fmh_vbuf_puts(q, "), MAX(");
  fmh_vbuf_ident(q, x->o->key, 0);
  fmh_vbuf_puts(q, ") FROM ");
  fmh_vbuf_ident(q, s->src.table, 1);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(q, x->o->key, s->src.where, NULL, 0, p, &np) != 0) return oom(e);
  fmh_cursor *c;
  fmh_exec_result res;
  x->queries++;
  if (fmh_conn_run(conn, q->p, q->len, NULL, 0, 1, &c, &res, e) != 0) return -1;
  const fmh_value *row;
  int rc = fmh_cursor_fetch(c, &row, e), have = 0;
  if (rc == 1 && row[0].t != FMH_V_NULL) {
    if (row[0].t == FMH_V_UINT || row[1].t == FMH_V_UINT) {
      have = -2;
    } else {
      *lo = row[0].i;
      *hi = row[1].i;
      have = 1;
    }
  }
  fmh_cursor_close(c);
  if (rc < 0) return -1;
  if (have != 1) return have;
  if (fmh_vmeta_query(conn, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ",
                      " AND TABLE_NAME = ?", s->src.table, &c, e) != 0)
    return -1;
  *est = 0;
  rc = fmh_cursor_fetch(c, &row, e);
  if (rc == 1 && row[0].t == FMH_V_INT && row[0].i > 0) *est = (uint64_t)row[0].i;
  if (rc == 1 && row[0].t == FMH_V_UINT) *est = row[0].u;
  fmh_cursor_close(c);
  if (rc < 0) return -1;
  if (*est == 0) {
    q->len = 0;
    fmh_vbuf_puts(q, "SELECT COUNT(*) FROM ");
    fmh_vbuf_ident(q, s->src.table, 1);
    if (fmh_vrange_sql(q, x->o->key, s->src.where, NULL, 0, p, &np) != 0) return oom(e);
    x->queries++;
    if (fmh_conn_run(conn, q->p, q->len, NULL, 0, 1, &c, &res, e) != 0) return -1;
    rc = fmh_cursor_fetch(c, &row, e);
    if (rc == 1 && row[0].t == FMH_V_INT && row[0].i > 0) *est = (uint64_t)row[0].i;
    fmh_cursor_close(c);
    if (rc < 0) return -1;
  }
  return 1;
}

static seg *seg_add(sctx *x, fmh_error *e) {
  if (x->nsegs == x->capsegs) {
    size_t n = x->capsegs ? 2 * x->capsegs : 64;
    seg *ns = realloc(x->segs, n * sizeof *ns);
    if (!ns) {
      oom(e);
      return NULL;
    }
    x->segs = ns;
    x->capsegs = n;
  }
  seg *s = &x->segs[x->nsegs++];
  memset(s, 0, sizeof *s);
  return s;
}

/* Cut the key space into segments (on w's connections). */
static int plan(sctx *x, wstate *w, fmh_error *e) {
  const fmh_vchecksum_opts *o = x->o;
  if (x->b.src.gen) {
    int64_t first = o->b.first, end = o->b.first + o->b.count;
    fmh_vkey_part prev;
    int have_prev = 0;
    for (int64_t r0 = first; r0 < end || (r0 == first && end == first);) {
      int64_t r1 = (uint64_t)(end - r0) <= o->chunk_rows ? end : r0 + (int64_t)o->chunk_rows;
      seg *s = seg_add(x, e);
      if (!s) goto fail;
      s->row0 = r0;
      s->row1 = r1;
      if (have_prev) {
        s->r.has_lo = 1;
        if (part_copy(&prev, &s->r.lo) != 0) goto oomfail;
      }
      if (r1 < end) {
        fmh_vkey_part k;
        if (gen_key(x, w, r1 - 1, &k, e) != 0) goto fail;
        if (have_prev && part_cmp(&prev, &k) >= 0) {
          part_clear(&k);
          fmh_error_set(e, "usage", 0, 0,
                        "validate.checksum: the generator's key '%s' does not increase with the row (row %" PRId64
                        "); checksum mode needs it in key order",
                        o->key, r1 - 1);
          goto fail;
        }
        s->r.has_hi = 1;
        if (part_copy(&k, &s->r.hi) != 0) {
          part_clear(&k);
          goto oomfail;
        }
        if (have_prev) part_clear(&prev);
        prev = k;
        have_prev = 1;
      }
      if (r1 == end) break;
      r0 = r1;
    }
    if (have_prev) part_clear(&prev);
    return 0;
  oomfail:
    oom(e);
  fail:
    if (have_prev) part_clear(&prev);
    return -1;
  }
  if (conn_get(x, &x->a, &w->ca, &w->tza, e) != 0) return -1;
  if (x->key_int) {
    int64_t alo = 0, ahi = 0, blo = 0, bhi = 0;
    uint64_t est_a = 0, est_b = 0;
    int ha = min_max(x, &x->a, w->ca, &w->q, &alo, &ahi, &est_a, e);
    if (ha == -1) return -1;
    if (conn_get(x, &x->b, &w->cb, &w->tzb, e) != 0) return -1;
    int hb = min_max(x, &x->b, w->cb, &w->q, &blo, &bhi, &est_b, e);
    if (hb == -1) return -1;
    if (ha == -2 || hb == -2) {
      x->key_int = 0; /* unsigned keys past INT64_MAX: walk the index */
    } else {
      if (!ha && !hb) {
        seg *s = seg_add(x, e); /* both empty: one segment over everything */
        return s ? 0 : -1;
      }
      int64_t lo = !ha ? blo : !hb ? alo : (alo < blo ? alo : blo);
      int64_t hi = !ha ? bhi : !hb ? ahi : (ahi > bhi ? ahi : bhi);
      uint64_t est = est_a > est_b ? est_a : est_b;
      uint64_t span = (uint64_t)hi - (uint64_t)lo;
      uint64_t width = o->chunk_rows;
      if (est > 0) {
        double wd = ((double)span + 1.0) * (double)o->chunk_rows / (double)est;
        width = wd < 1 ? 1 : wd > 9e18 ? (uint64_t)9e18 : (uint64_t)wd;
      }
      int64_t start = lo;
      for (;;) {
        uint64_t room = (uint64_t)hi - (uint64_t)start;
        int64_t end = room < width ? hi : (int64_t)((uint64_t)start + width - 1);
        seg *s = seg_add(x, e);
        if (!s) return -1;
        s->r.lo.kind = s->r.hi.kind = FMH_VK_INT;
        /* the first and last segments are open: rows a concurrent writer
         * adds beyond MIN/MAX are not silently left out */
        s->r.has_lo = start != lo;
        s->r.lo_incl = 1;
        s->r.lo.i = start;
        s->r.has_hi = end != hi;
        s->r.hi.i = end;
        if (end == hi) break;
        start = end + 1;
      }
      return 0;
    }
  }
  /* walk side a's key index: (prev, boundary] */
  fmh_vkey_part prev;
  int have_prev = 0;
  for (;;) {
    fmh_vrange wr;
    memset(&wr, 0, sizeof wr);
    if (have_prev) {
      wr.has_lo = 1;
      wr.lo = prev;
    }
    fmh_vkey_part b;
    int rc = key_at(x, &x->a, w->ca, &w->q, &wr, o->chunk_rows - 1, &b, e);
    seg *s = rc >= 0 ? seg_add(x, e) : NULL;
    if (!s) {
      if (have_prev) part_clear(&prev);
      if (rc == 1) part_clear(&b);
      return -1;
    }
    if (have_prev) {
      s->r.has_lo = 1;
      s->r.lo = prev; /* moves */
    }
    if (rc == 0) return 0;
    s->r.has_hi = 1;
    s->r.hi = b;
    if (part_copy(&b, &prev) != 0) return oom(e);
    have_prev = 1;
  }
}

/* --- the parallel pass ---------------------------------------------------- */

static int bisect(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, uint64_t ca, uint64_t sa,
                  uint64_t cb, uint64_t sb, int depth, seg *into, fmh_error *e);
static void seg_leaves_clear(seg *s);

static void *worker(void *arg) {
  wstate *w = arg;
  sctx *x = w->x;
  const fmh_vchecksum_opts *o = x->o;
  pthread_mutex_lock(&x->mu);
  for (;;) {
    if (x->stop || x->next >= x->nsegs) break;
    double now = fmh_vnow();
    if (x->deadline > 0 && now >= x->deadline) {
      x->stop = 1;
      x->stop_reason = "the time budget ran out";
      break;
    }
    size_t i = x->next++;
    seg *s = &x->segs[i];
    uint64_t est = s->row1 > s->row0 ? (uint64_t)(s->row1 - s->row0) : o->chunk_rows;
    double wait = 0;
    if (o->max_rows_per_s > 0) {
      double due = x->t0 + (double)x->rows_claimed / o->max_rows_per_s;
      wait = due - now;
      x->rows_claimed += est;
    }
    pthread_mutex_unlock(&x->mu);
    sleep_s(wait);
    uint64_t ca = 0, sa = 0, cb = 0, sb = 0;
    fmh_error_clear(&w->err);
    int rc = checksum_pair(x, w, &s->r, s->row0, s->row1, &ca, &sa, &cb, &sb, &w->err);
    if (rc == 0 && (ca != cb || sa != sb) && !(x->deadline > 0 && fmh_vnow() >= x->deadline)) {
      /* narrow it down here, in parallel, to the leaves the main thread
       * streams; if that fails, the main thread bisects it again */
      fmh_error be = {0};
      if (bisect(x, w, &s->r, s->row0, s->row1, ca, sa, cb, sb, 0, s, &be) == 0) s->bisected = 1;
      else seg_leaves_clear(s);
      fmh_error_clear(&be);
    }
    pthread_mutex_lock(&x->mu);
    x->ndone++;
    if (rc == 0) {
      s->ca = ca;
      s->cb = cb;
      s->sa = sa;
      s->sb = sb;
      s->state = ca == cb && sa == sb ? SEG_EQUAL : SEG_DIFFER;
      x->rows_done += ca > cb ? ca : cb;
      x->consecutive_failures = 0;
    } else {
      s->state = SEG_FAILED;
      if (!x->have_err) {
        x->first_err = w->err;
        memset(&w->err, 0, sizeof w->err);
        x->have_err = 1;
      }
      if (++x->consecutive_failures >= 3 || (x->first_err.kind && !strcmp(x->first_err.kind, "usage"))) {
        x->stop = 1;
        x->stop_reason = "the queries kept failing";
      }
    }
    pthread_cond_broadcast(&x->cv);
  }
  x->running--;
  pthread_cond_broadcast(&x->cv);
  pthread_mutex_unlock(&x->mu);
  conn_put(&w->ca, &w->tza);
  conn_put(&w->cb, &w->tzb);
  return NULL;
}

static void progress(sctx *x) {
  double el = fmh_vnow() - x->t0;
  double rate = el > 0 ? (double)x->rows_done / el : 0;
  double frac = x->nsegs ? (double)x->ndone / (double)x->nsegs : 1;
  double eta = frac > 0 ? el / frac - el : 0;
  fmh_log_field f[] = {FMH_LS("a", x->o->a.table), FMH_LI("segments_done", x->ndone),
                       FMH_LI("segments", x->nsegs), FMH_LN("rows_per_s", rate), FMH_LN("eta_s", eta)};
  fmh_log_emit(FMH_LOG_INFO, "validate.checksum.progress", NULL, NULL, f, sizeof f / sizeof *f);
}

static int run_parallel(sctx *x, wstate *ws, int nw, fmh_error *e) {
  pthread_mutex_init(&x->mu, NULL);
  pthread_cond_init(&x->cv, NULL);
  x->running = 0;
  for (int i = 0; i < nw; i++) {
    if (pthread_create(&ws[i].th, NULL, worker, &ws[i]) == 0) {
      ws[i].started = 1;
      pthread_mutex_lock(&x->mu);
      x->running++;
      pthread_mutex_unlock(&x->mu);
    }
  }
  int started = 0;
  for (int i = 0; i < nw; i++) started += ws[i].started;
  if (!started) worker(&ws[0]); /* no thread: do it here */
  pthread_mutex_lock(&x->mu);
  double last = fmh_vnow();
  while (x->running > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    pthread_cond_timedwait(&x->cv, &x->mu, &ts);
    if (x->o->progress_s > 0 && fmh_vnow() - last >= x->o->progress_s) {
      progress(x);
      last = fmh_vnow();
    }
  }
  pthread_mutex_unlock(&x->mu);
  for (int i = 0; i < nw; i++)
    if (ws[i].started) pthread_join(ws[i].th, NULL);
  pthread_mutex_destroy(&x->mu);
  pthread_cond_destroy(&x->cv);
  (void)e;
  return 0;
}

/* --- bisection ----------------------------------------------------------- */

static int stream_range(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, fmh_error *e) {
  conn_put(&w->ca, &w->tza); /* the comparator takes connections of its own */
  conn_put(&w->cb, &w->tzb);
  fmh_verdict *v = x->v;
  uint64_t t0 = v->target, e0 = v->expected;
  int rc = x->b.src.gen ? fmh_vcmp_run_rows(x->cmp, r, row0, row1 - row0, e) : fmh_vcmp_run(x->cmp, r, e);
  v->rows_streamed += (v->target - t0) + (v->expected - e0);
  v->target = t0;
  v->expected = e0;
  return rc;
}

/* Split r (rows [row0, row1) of a generator) at a key that halves it. 0
 * with the halves, 1 when it cannot be split. */
static int split(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, uint64_t ca, uint64_t cb,
                 fmh_vrange *h1, fmh_vrange *h2, int64_t *rmid, fmh_error *e) {
  fmh_vkey_part mid;
  memset(&mid, 0, sizeof mid);
  if (x->b.src.gen) {
    if (row1 - row0 < 2) return 1;
    *rmid = row0 + (row1 - row0) / 2;
    if (gen_key(x, w, *rmid - 1, &mid, e) != 0) return -1;
  } else if (x->key_int && r->has_lo && r->has_hi) {
    int64_t lo = r->lo.i, hi = r->hi.i;
    if (!r->lo_incl) lo++;
    if (lo >= hi) return 1;
    uint64_t diff = (uint64_t)hi - (uint64_t)lo;
    mid.kind = FMH_VK_INT;
    mid.i = (int64_t)((uint64_t)lo + diff / 2);
  } else {
    int use_a = ca >= cb;
    sside *s = use_a ? &x->a : &x->b;
    fmh_conn **c = use_a ? &w->ca : &w->cb;
    int *tz = use_a ? &w->tza : &w->tzb;
    if (conn_get(x, s, c, tz, e) != 0) return -1;
    uint64_t n = use_a ? ca : cb;
    int rc = key_at(x, s, *c, &w->q, r, n / 2 - (n >= 2 ? 1 : 0), &mid, e);
    if (rc < 0) return -1;
    if (rc == 0) return 1;
    if ((r->has_hi && part_cmp(&mid, &r->hi) >= 0) || (r->has_lo && part_cmp(&mid, &r->lo) <= 0)) {
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

static void seg_leaves_clear(seg *s) {
  for (size_t i = 0; i < s->nleaves; i++) range_clear(&s->leaves[i].r);
  free(s->leaves);
  s->leaves = NULL;
  s->nleaves = 0;
  s->bmatched = 0;
}

/* A range of at most leaf_rows rows: streamed now, or (into) kept for later. */
static int leaf_range(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, seg *into, fmh_error *e) {
  if (!into) return stream_range(x, w, r, row0, row1, e);
  leaf *nl = realloc(into->leaves, (into->nleaves + 1) * sizeof *nl);
  if (!nl) return oom(e);
  into->leaves = nl;
  leaf *l = &nl[into->nleaves];
  memset(l, 0, sizeof *l);
  l->r.has_lo = r->has_lo;
  l->r.has_hi = r->has_hi;
  l->r.lo_incl = r->lo_incl;
  if ((r->has_lo && part_copy(&r->lo, &l->r.lo) != 0) || (r->has_hi && part_copy(&r->hi, &l->r.hi) != 0)) {
    range_clear(&l->r);
    return oom(e);
  }
  l->row0 = row0;
  l->row1 = row1;
  into->nleaves++;
  return 0;
}

/* Counts and sums add up (modulo 2^64): a range's second half is the
 * whole minus its first half, so each level hashes only one half. The
 * ranges of at most leaf_rows rows that still differ are streamed, or with
 * into (a worker's bisection) collected in into->leaves, the rows of equal
 * halves counted in into->bmatched. */
static int bisect(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, uint64_t ca, uint64_t sa,
                  uint64_t cb, uint64_t sb, int depth, seg *into, fmh_error *e) {
  uint64_t n = ca > cb ? ca : cb;
  if (n <= x->o->leaf_rows || depth > 64) return leaf_range(x, w, r, row0, row1, into, e);
  fmh_vrange h[2];
  int64_t rmid = 0;
  int s = split(x, w, r, row0, row1, ca, cb, &h[0], &h[1], &rmid, e);
  if (s < 0) return -1;
  if (s == 1) return leaf_range(x, w, r, row0, row1, into, e);
  int rc = 0;
  int64_t rr[2][2] = {{row0, rmid}, {rmid, row1}};
  uint64_t a1 = 0, sa1 = 0, b1 = 0, sb1 = 0;
  for (int i = 0; i < 2 && rc == 0; i++) {
    uint64_t a, xa, b, xb;
    if (i == 0) {
      rc = checksum_pair(x, w, &h[0], rr[0][0], rr[0][1], &a, &xa, &b, &xb, e);
      if (rc != 0) break;
      a1 = a, sa1 = xa, b1 = b, sb1 = xb;
    } else {
      a = ca - a1, xa = sa - sa1, b = cb - b1, xb = sb - sb1;
    }
    if (a == b && xa == xb) {
      if (into) into->bmatched += a;
      else x->v->matched += a;
      continue;
    }
    rc = bisect(x, w, &h[i], rr[i][0], rr[i][1], a, xa, b, xb, depth + 1, into, e);
  }
  range_clear(&h[0]);
  range_clear(&h[1]);
  return rc;
}

/* --- the verdict's account of segments ----------------------------------- */

static void key_text(const fmh_vkey_part *p, fmh_buf *b) {
  fmh_vkey k = {1, (fmh_vkey_part *)p};
  fmh_vkey_text(&k, b);
}

static void seg_keys(const sctx *x, size_t i, size_t j, fmh_buf *b) {
  const seg *s = &x->segs[i], *t = &x->segs[j];
  fmh_vbuf_puts(b, "keys ");
  if (s->r.has_lo) {
    fmh_vbuf_puts(b, s->r.lo_incl ? ">= " : "> ");
    key_text(&s->r.lo, b);
  } else {
    fmh_vbuf_puts(b, "from the first");
  }
  fmh_vbuf_puts(b, t->r.has_hi ? " to <= " : " to the last");
  if (t->r.has_hi) key_text(&t->r.hi, b);
}

/* "segments 1-812 of 2000 verified; not checked: segments 813-2000 (keys ...): why" */
static char *partial_text(const sctx *x, const char *why_failed) {
  fmh_buf b = {0};
  uint64_t ok = 0;
  for (size_t i = 0; i < x->nsegs; i++) ok += x->segs[i].state == SEG_EQUAL || x->segs[i].state == SEG_DIFFER;
  fmh_vbuf_printf(&b, "%" PRIu64 " of %zu segments verified", ok, x->nsegs);
  const char *sep = " (";
  for (size_t i = 0; i < x->nsegs;) {
    size_t j = i;
    int st = x->segs[i].state == SEG_DIFFER ? SEG_EQUAL : x->segs[i].state;
    while (j + 1 < x->nsegs && (x->segs[j + 1].state == SEG_DIFFER ? SEG_EQUAL : x->segs[j + 1].state) == st) j++;
    if (st == SEG_EQUAL) {
      fmh_vbuf_printf(&b, "%s%zu-%zu", sep, i + 1, j + 1);
      sep = ", ";
    }
    i = j + 1;
  }
  if (sep[0] == ',') fmh_vbuf_puts(&b, ")");
  fmh_vbuf_puts(&b, "; not checked:");
  int n = 0;
  for (size_t i = 0; i < x->nsegs && n < 20;) {
    size_t j = i;
    int st = x->segs[i].state;
    while (j + 1 < x->nsegs && x->segs[j + 1].state == st) j++;
    if (st == SEG_FAILED || st == SEG_SKIPPED || st == SEG_PENDING) {
      fmh_vbuf_printf(&b, "%s segments %zu-%zu (", n ? ";" : "", i + 1, j + 1);
      seg_keys(x, i, j, &b);
      fmh_vbuf_printf(&b, "): %s", st == SEG_FAILED ? (why_failed ? why_failed : "the query failed")
                                                      : x->stop_reason ? x->stop_reason : "not started");
      n++;
    }
    i = j + 1;
  }
  return b.p;
}

/* --- entry ---------------------------------------------------------------- */

void fmh_vchecksum_opts_default(fmh_vchecksum_opts *o) {
  memset(o, 0, sizeof *o);
  o->chunk_rows = 10000;
  o->leaf_rows = 500;
  o->parallel = 1;
  o->threads = 2;
  o->retries = 2;
  o->progress_s = 10;
  o->max_samples = 20;
  o->max_value_len = 256;
  o->time_zone = "+00:00";
}

static void side_free(sside *s) {
  for (int i = 0; i < s->ncols; i++) {
    free(s->cols[i].name);
    free(s->cols[i].data_type);
  }
  free(s->cols);
  fmh_buf_free(&s->hash);
}

static int check_side(const fmh_vsource *s, const char *role, int allow_gen, fmh_error *e) {
  if (allow_gen && s->gen && !s->table && !s->query) {
    if (s->first < 0 || s->count < 0 || (s->count > 0 && s->first + s->count > fmh_gen_row_limit(s->gen))) {
      fmh_error_set(e, "usage", 0, 0, "validate.checksum: side %s: bad generator row range", role);
      return -1;
    }
    return 0;
  }
  if (!s->pool || !s->table || s->query || s->gen) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: side %s must be {pool=, table=}%s", role,
                  allow_gen ? " or {generator=, first=, count=}" : "");
    return -1;
  }
  return 0;
}

/* Columns on one side only (checksums cover the common ones). */
static int column_lists(sctx *x, fmh_error *e) {
  fmh_verdict *v = x->v;
  for (int i = 0; i < x->a.ncols; i++) {
    if (b_has(x, x->a.cols[i].name) || ignored(x->o, x->a.cols[i].name)) continue;
    char **nl = realloc(v->extra_columns, (v->nextra_columns + 1) * sizeof *nl);
    if (!nl) return oom(e);
    v->extra_columns = nl;
    if (!(nl[v->nextra_columns] = strdup(x->a.cols[i].name))) return oom(e);
    v->nextra_columns++;
  }
  size_t nb = x->b.src.gen ? fmh_gen_ncols(x->b.src.gen) : (size_t)x->b.ncols;
  for (size_t i = 0; i < nb; i++) {
    const char *name = x->b.src.gen ? fmh_gen_column_name(x->b.src.gen, i) : x->b.cols[i].name;
    if (find_scol(&x->a, name) >= 0 || ignored(x->o, name)) continue;
    char **nl = realloc(v->missing_columns, (v->nmissing_columns + 1) * sizeof *nl);
    if (!nl) return oom(e);
    v->missing_columns = nl;
    if (!(nl[v->nmissing_columns] = strdup(name))) return oom(e);
    v->nmissing_columns++;
  }
  return 0;
}

static const char *key_class(const char *t) {
  if (is_one_of(t, INT_TYPES)) return "integer";
  if (is_one_of(t, BINARY_TYPES)) return "binary string";
  if (is_one_of(t, (const char *const[]){"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum",
                                         "set", NULL}))
    return "string";
  return t;
}

int fmh_validate_checksum(const fmh_vchecksum_opts *o, fmh_verdict *v, fmh_error *e) {
  memset(v, 0, sizeof *v);
  if (check_side(&o->a, "a", 0, e) != 0 || check_side(&o->b, "b", 1, e) != 0) return -1;
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
  x.t0 = t0;
  x.deadline = o->budget_s > 0 ? t0 + o->budget_s : 0;
  x.a.role = "a";
  x.a.src = o->a;
  x.b.role = "b";
  x.b.src = o->b;
  v->mode = "checksum";
  int nw = o->parallel ? (o->threads > 0 ? o->threads : 1) : 1;
  if (nw > 64) nw = 64;
  {
    /* each worker holds a connection per SQL side: no more workers than the
     * pools can serve at once (a worker starved of a connection would fail
     * its segments) */
    fmh_pool_stats sa, sb;
    fmh_pool_stats_get(o->a.pool, &sa);
    int cap = sa.size;
    if (!o->b.gen) {
      fmh_pool_stats_get(o->b.pool, &sb);
      cap = o->b.pool == o->a.pool ? sa.size / 2 : (sb.size < cap ? sb.size : cap);
    }
    if (cap < 1) cap = 1;
    if (nw > cap) nw = cap;
  }
  wstate *ws = calloc((size_t)nw + 1, sizeof *ws); /* ws[nw]: the main thread's */
  fmh_vcolopt *cols = NULL;
  int rc = -1, cmp_begun = 0;
  if (!ws) {
    oom(e);
    goto out;
  }
  for (int i = 0; i <= nw; i++)
    if (wstate_init(&x, &ws[i], e) != 0) goto out;
  wstate *mw = &ws[nw];
  if (conn_get(&x, &x.a, &mw->ca, &mw->tza, e) != 0 || load_columns(&x.a, mw->ca, e) != 0) goto out;
  if (!o->b.gen && (conn_get(&x, &x.b, &mw->cb, &mw->tzb, e) != 0 || load_columns(&x.b, mw->cb, e) != 0)) goto out;
  int ka = find_scol(&x.a, o->key), kb = o->b.gen ? find_gcol(o->b.gen, o->key) : find_scol(&x.b, o->key);
  if (ka < 0 || kb < 0) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: key column '%s' is not in %s", o->key,
                  ka < 0 ? o->a.table : o->b.gen ? "the generator" : o->b.table);
    goto out;
  }
  if (o->b.gen) {
    x.gkey = kb;
    x.key_int = 0;
    fmh_gen_type gt = fmh_gen_column_type(o->b.gen, (size_t)kb);
    int gint = gt == FMH_GEN_TINYINT || gt == FMH_GEN_SMALLINT || gt == FMH_GEN_MEDIUMINT || gt == FMH_GEN_INT ||
               gt == FMH_GEN_BIGINT;
    if (gint != is_one_of(x.a.cols[ka].data_type, INT_TYPES)) {
      fmh_error_set(e, "usage", 0, 0, "validate.checksum: the key '%s' is %s (%s) in %s but %s in the generator",
                    o->key, key_class(x.a.cols[ka].data_type), x.a.cols[ka].data_type, o->a.table,
                    gint ? "an integer" : "not an integer");
      goto out;
    }
  } else {
    const char *ca = key_class(x.a.cols[ka].data_type), *cb = key_class(x.b.cols[kb].data_type);
    if (strcmp(ca, cb) != 0) {
      fmh_error_set(e, "usage", 0, 0,
                    "validate.checksum: the key '%s' is %s (%s) in %s but %s (%s) in %s: the two sides would not order "
                    "it alike",
                    o->key, ca, x.a.cols[ka].data_type, o->a.table, cb, x.b.cols[kb].data_type, o->b.table);
      goto out;
    }
    x.key_int = is_one_of(x.a.cols[ka].data_type, INT_TYPES);
  }
  x.key_binary = is_one_of(x.a.cols[ka].data_type, BINARY_TYPES);
  if (hashed_columns(&x, e) != 0 || build_hash(&x, &x.a, e) != 0) goto out;
  if (!o->b.gen && build_hash(&x, &x.b, e) != 0) goto out;
  {
    fmh_buf fn = {0}; /* the row hash, as the verdict names it */
    fmh_vbuf_printf(&fn, ROW_HASH_OF_H ", h = %s", x.a.hash.p);
    if (!fn.p) {
      oom(e);
      goto out;
    }
    v->checksum_function = fn.p;
  }
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
  if (fmh_vcmp_begin(&x.co, v, &x.cmp, e) != 0) goto out;
  cmp_begun = 1;
  v->mode = "checksum";
  if (plan(&x, mw, e) != 0) goto out;
  conn_put(&mw->ca, &mw->tza);
  conn_put(&mw->cb, &mw->tzb);
  /* the parallel pass */
  if (run_parallel(&x, ws, nw, e) != 0) goto out;
  if (x.have_err && x.first_err.kind && !strcmp(x.first_err.kind, "usage")) {
    *e = x.first_err;
    memset(&x.first_err, 0, sizeof x.first_err);
    goto out;
  }
  for (size_t i = 0; i < x.nsegs; i++) {
    seg *s = &x.segs[i];
    if (s->state == SEG_PENDING) s->state = SEG_SKIPPED;
    if (s->state != SEG_EQUAL && s->state != SEG_DIFFER) continue;
    v->chunks++;
    v->target += s->ca;
    v->expected += s->cb;
    if (s->state == SEG_EQUAL) v->matched += s->ca;
    else v->chunks_differing++;
  }
  /* bisect the differing segments */
  char why[300] = "";
  if (x.have_err) snprintf(why, sizeof why, "%.299s", x.first_err.msg);
  for (size_t i = 0; i < x.nsegs; i++) {
    seg *s = &x.segs[i];
    if (s->state != SEG_DIFFER) continue;
    if (x.deadline > 0 && fmh_vnow() >= x.deadline) {
      s->state = SEG_SKIPPED; /* known to differ, not narrowed down */
      x.stop_reason = "the time budget ran out";
      continue;
    }
    fmh_error be = {0};
    int brc = 0;
    if (s->bisected) {
      /* a worker narrowed it down: stream its leaves */
      v->matched += s->bmatched;
      for (size_t k = 0; k < s->nleaves && brc == 0; k++)
        brc = stream_range(&x, mw, &s->leaves[k].r, s->leaves[k].row0, s->leaves[k].row1, &be);
    } else {
      brc = bisect(&x, mw, &s->r, s->row0, s->row1, s->ca, s->sa, s->cb, s->sb, 0, NULL, &be);
    }
    if (brc != 0) {
      if (be.kind && !strcmp(be.kind, "usage")) {
        *e = be;
        goto out;
      }
      s->state = SEG_FAILED;
      if (!why[0]) snprintf(why, sizeof why, "%.299s", be.msg);
      fmh_error_clear(&be);
    }
  }
  conn_put(&mw->ca, &mw->tza);
  conn_put(&mw->cb, &mw->tzb);
  if (!fmh_vcmp_resolved(x.cmp) && column_lists(&x, e) != 0) goto out;
  for (size_t i = 0; i < x.nsegs; i++) {
    int st = x.segs[i].state;
    if (st == SEG_EQUAL || st == SEG_DIFFER) v->segments_verified++;
    else if (st == SEG_FAILED) v->segments_failed++;
    else v->segments_skipped++;
  }
  v->checksum_queries = x.queries;
  fmh_vcmp_end(x.cmp, fmh_vnow() - t0);
  cmp_begun = 0;
  if (v->segments_failed || v->segments_skipped) {
    v->partial = 1;
    v->ok = 0;
    v->partial_detail = partial_text(&x, why[0] ? why : NULL);
  }
  if (o->log) {
    fmh_log_field f[] = {FMH_LS("a", o->a.table), FMH_LS("b", o->b.gen ? "generator" : o->b.table),
                         FMH_LB("ok", v->ok), FMH_LB("partial", v->partial), FMH_LI("segments", x.nsegs),
                         FMH_LI("differing", v->chunks_differing), FMH_LI("queries", v->checksum_queries),
                         FMH_LI("rows_streamed", v->rows_streamed), FMH_LN("elapsed_s", v->elapsed_s)};
    fmh_log_emit(v->ok ? FMH_LOG_INFO : FMH_LOG_WARN, "validate.checksum", NULL, NULL, f, sizeof f / sizeof *f);
  }
  rc = 0;
out:
  if (cmp_begun) fmh_vcmp_end(x.cmp, fmh_vnow() - t0);
  if (ws)
    for (int i = 0; i <= nw; i++) wstate_free(&ws[i]);
  free(ws);
  free(cols);
  for (size_t i = 0; i < x.nsegs; i++) {
    range_clear(&x.segs[i].r);
    seg_leaves_clear(&x.segs[i]);
  }
  free(x.segs);
  free(x.amap);
  free(x.gmap);
  fmh_error_clear(&x.first_err);
  side_free(&x.a);
  side_free(&x.b);
  return rc;
}
