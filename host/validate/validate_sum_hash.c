/* fmhost.validate, checksum mode: the row hash. The columns of both sides,
 * the SQL that hashes a row on the server, the same hash computed in C for a
 * generator's rows and for a table's rows read over the binary protocol
 * (SHA-1, then CRC-32 and CRC-32C), and a range's (count, sum) either way.
 *
 * Where no server hashes in SQL in a run (every table side read here or
 * hashed by the server's fmhost_rowsum, or a generator), nothing needs to
 * agree with SQL: the digest is then SipHash-1-3 under a 16-byte key drawn
 * for the run, of the packed row text of fmhost/rowsum.h (integers, doubles
 * and string lengths as their 8 bytes after a tag, temporal values as
 * packed counts: FMH_TEMPORAL_PACK, alike exactly when their texts are
 * alike, and not printed). The server's fmhost_rowsum (udf/) computes the
 * same from the values it hands the function, told each column's packing
 * by a descriptor (fmh_vsum_build_udf). Reading a row over
 * the binary protocol costs the server about a third of what the SQL hash
 * does (measured on the 7-column table: 0.45 against 1.3 us per row), which
 * is why hash_at 'auto' reads rows here when the server shares the machine
 * and lacks fmhost_rowsum.
 * A keyed PRF's outputs are as independent as SHA-1's for rows nobody can
 * choose against an unknown key: a differing segment escapes with
 * probability about 2^-64.
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
 * comparator's type-aware rules. */
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fmhost/digits.h"
#include "fmhost/rowsum.h"
#include "fmhost/siphash.h"
#include "fmhost/validate.h"
#include "validate_sum_int.h"

int fmh_vsum_oom(fmh_error *e) {
  fmh_error_set(e, "os", ENOMEM, 0, "validate.checksum: out of memory");
  return -1;
}

/* --- metadata ------------------------------------------------------------ */

int fmh_vsum_load_columns(sside *s, fmh_conn *conn, fmh_error *e) {
  fmh_cursor *q;
  if (fmh_vmeta_query(conn, "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, NUMERIC_SCALE, DATETIME_PRECISION, COLUMN_TYPE "
                      "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ",
                      " AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", s->src.table, &q, e) != 0)
    return -1;
  const fmh_value *row;
  int rc;
  while ((rc = fmh_cursor_fetch(q, &row, e)) == 1) {
    scol *nc = realloc(s->cols, (size_t)(s->ncols + 1) * sizeof *nc);
    if (!nc) {
      fmh_cursor_close(q);
      return fmh_vsum_oom(e);
    }
    s->cols = nc;
    scol *c = &nc[s->ncols++];
    memset(c, 0, sizeof *c);
    c->name = strndup(row[0].s, row[0].len);
    c->data_type = strndup(row[1].s, row[1].len);
    c->is_float = c->data_type && !strcasecmp(c->data_type, "float");
    c->is_char = c->data_type && !strcasecmp(c->data_type, "char");
    c->nullable = row[2].len == 3 && memcmp(row[2].s, "YES", 3) == 0;
    c->scale = row[3].t == FMH_V_INT ? (int)row[3].i : row[3].t == FMH_V_UINT ? (int)row[3].u : 0;
    c->fsp = row[4].t == FMH_V_INT ? (int)row[4].i : row[4].t == FMH_V_UINT ? (int)row[4].u : 0;
    c->is_unsigned = row[5].s && memmem(row[5].s, row[5].len, "unsigned", 8) != NULL;
    if (!c->name || !c->data_type) {
      fmh_cursor_close(q);
      return fmh_vsum_oom(e);
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

int fmh_vsum_find_scol(const sside *s, const char *name) {
  for (int i = 0; i < s->ncols; i++)
    if (strcasecmp(s->cols[i].name, name) == 0) return i;
  return -1;
}

int fmh_vsum_find_gcol(const fmh_gen *g, const char *name) {
  size_t n = fmh_gen_ncols(g);
  for (size_t i = 0; i < n; i++)
    if (strcasecmp(fmh_gen_column_name(g, i), name) == 0) return (int)i;
  return -1;
}

/* side b has the column (a table's or a generator's) */
int fmh_vsum_b_has(const sctx *x, const char *name) {
  return x->b.src.gen ? fmh_vsum_find_gcol(x->b.src.gen, name) >= 0 : fmh_vsum_find_scol(&x->b, name) >= 0;
}

int fmh_vsum_is_one_of(const char *t, const char *const *list) {
  for (; *list; list++)
    if (strcasecmp(t, *list) == 0) return 1;
  return 0;
}

const char *const fmh_vsum_int_types[] = {"tinyint", "smallint", "mediumint", "int", "bigint", "year", NULL};
static const char *const PLAIN_TYPES[] = {"tinyint", "smallint", "mediumint", "int", "bigint", "year", "decimal",
                                          "date", "time", "datetime", "timestamp", NULL};
const char *const fmh_vsum_binary_types[] = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", NULL};

/* The text of one column (see the file comment). */
static void column_piece(fmh_buf *b, const scol *c) {
  fmh_buf id = {0};
  fmh_vbuf_ident(&id, c->name, 0);
  const char *x = id.p;
  if (fmh_vsum_is_one_of(c->data_type, PLAIN_TYPES)) {
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

int fmh_vsum_ignored(const fmh_vchecksum_opts *o, const char *name) {
  for (int i = 0; i < o->nignore; i++)
    if (strcasecmp(o->ignore[i], name) == 0) return 1;
  for (int i = 0; i < o->ncols; i++)
    if (o->cols[i].name && o->cols[i].ignore && strcasecmp(o->cols[i].name, name) == 0) return 1;
  return 0;
}

/* The hashed columns: those both sides have, in side a's order. */
int fmh_vsum_hashed_columns(sctx *x, fmh_error *e) {
  x->amap = calloc((size_t)x->a.ncols + 1, sizeof *x->amap);
  x->gmap = calloc((size_t)x->a.ncols + 1, sizeof *x->gmap);
  if (!x->amap || !x->gmap) return fmh_vsum_oom(e);
  for (int i = 0; i < x->a.ncols; i++) {
    const char *name = x->a.cols[i].name;
    if (!fmh_vsum_b_has(x, name) || fmh_vsum_ignored(x->o, name)) continue;
    x->amap[x->nhash] = i;
    if (x->b.src.gen) x->gmap[x->nhash] = fmh_vsum_find_gcol(x->b.src.gen, name);
    x->nhash++;
  }
  if (x->nhash == 0) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: the two sides have no column in common");
    return -1;
  }
  return 0;
}

/* The SQL hash of a row of side s. */
int fmh_vsum_build_hash(sctx *x, sside *s, fmh_error *e) {
  fmh_buf *b = &s->hash, *sel = &s->select;
  s->hmap = calloc((size_t)x->nhash + 1, sizeof *s->hmap);
  if (!s->hmap) return fmh_vsum_oom(e);
  fmh_vbuf_puts(b, "SHA1(CONCAT(");
  fmh_vbuf_puts(sel, "SELECT /* fmhost.validate.checksum */ ");
  for (int k = 0; k < x->nhash; k++) {
    int j = fmh_vsum_find_scol(s, x->a.cols[x->amap[k]].name);
    s->hmap[k] = j;
    if (k) {
      fmh_vbuf_puts(b, ",'#',");
      fmh_vbuf_puts(sel, ", ");
    }
    column_piece(b, &s->cols[j]);
    fmh_vbuf_ident(sel, s->cols[j].name, 0);
  }
  fmh_vbuf_puts(b, "))");
  fmh_vbuf_puts(sel, " FROM ");
  fmh_vbuf_ident(sel, s->src.table, 1);
  if (!b->p || !sel->p) return fmh_vsum_oom(e);
  return 0;
}

/* --- the generator's side in C ------------------------------------------ */

/* Row texts are built for every row checked, so they are written with a
 * cursor into a buffer reserved once per row (row_room): no length kept in
 * memory between pieces, no growth check per piece. */

/* The most one non-string value's text takes (an integer, a double's
 * exponent and mantissa or its shortest text, a temporal value). */
#define PIECE_MAX FMH_ROWPACK_MAX

static char *put_i64(char *w, int64_t i, int fast) {
  if (fast) return fmh_rowpack_i64(w, i);
  return fmh_fmt_i64(w, i);
}

static char *put_u64(char *w, uint64_t u, int fast) {
  if (fast) return fmh_rowpack_u64(w, u);
  return fmh_fmt_u64(w, u);
}

/* A FLOAT/DOUBLE as the SQL above prints it: '0', or e ':' m with
 * e = FLOOR(LOG2(|d|)) (the server's LOG2 is log(x) / ln 2) and
 * m = d / 2^(e-54) as an integer; 't' and the shortest text where that
 * overflows. Fast form: '0', or 'b' and the double's 8 bytes (as
 * injective, and cheaper). */
static char *put_double(char *w, double d, int fast) {
  if (d == 0) { /* -0 and 0 alike */
    *w = '0';
    return w + 1;
  }
  if (fast) return fmh_rowpack_double(w, d);
  double e2 = floor(log(fabs(d)) / M_LN2);
  double p = pow(2.0, e2 - 54);
  double q = p != 0 ? d / p : NAN;
  if (p == 0 || !isfinite(q)) {
    *w = 't';
    return fmh_gen_format_double(w + 1, d);
  }
  w = fmh_fmt_i64(w, (int64_t)e2);
  *w++ = ':';
  return fmh_fmt_i64(w, (int64_t)q);
}

/* The fast form of a temporal value (FMH_TEMPORAL_PACK: two values pack
 * alike exactly when their texts are alike). */
static char *put_temporal(char *w, uint64_t pack, int64_t us) {
  return fmh_rowpack_temporal(w, (char)(pack >> 8), (int)(pack & 0xFF), us);
}

/* A generated temporal value packed as a cursor packs the column's: NULL
 * for a negative TIME that shows as zero (the cursor gives its text). */
static char *put_temporal_gen(char *w, fmh_gen_vkind k, int64_t v, int fsp) {
  if (k == FMH_GV_DATE) return put_temporal(w, FMH_TEMPORAL_PACK('D', 0), v * US_PER_DAY);
  if (fsp < 0) fsp = 0;
  if (fsp > 6) fsp = 6;
  /* the digits the text shows: a TIME's magnitude cut, a DATETIME's fraction of its floored second */
  int64_t shown = fmh_vtemporal_cut(v, k == FMH_GV_TIME ? 't' : 'x', fsp);
  if (k != FMH_GV_TIME) return put_temporal(w, FMH_TEMPORAL_PACK('T', fsp), shown);
  if (v < 0 && shown == 0) return NULL;
  return put_temporal(w, FMH_TEMPORAL_PACK('H', fsp), shown);
}

/* A string's length ':' bytes; fast form: 's', the length's 8 bytes, bytes. */
static char *put_string(char *w, const char *s, size_t n, int fast) {
  if (fast) return fmh_rowpack_string(w, s, n);
  w = fmh_fmt_u64(w, n);
  *w++ = ':';
  if (n) memcpy(w, s, n);
  return w + n;
}

/* Room for one row text of nhash columns whose values' own bytes total
 * bytes: the buffer's start, NULL when memory runs out. */
static char *row_room(fmh_buf *b, int nhash, size_t bytes) {
  b->len = 0;
  if (fmh_buf_reserve(b, bytes + (size_t)nhash * (PIECE_MAX + 1) + 1) != 0) return NULL;
  return b->p;
}

/* The row text of a generated value as the server would print it in side
 * a's column c. A DECIMAL is padded to the column's scale: reserve its
 * scale too. */
static char *gen_put(char *w, const fmh_gen *g, const scol *c, const fmh_gen_value *v, int fast) {
  switch (v->kind) {
    case FMH_GV_NULL: *w = 'N'; return w + 1;
    case FMH_GV_INT: case FMH_GV_BOOL: return put_i64(w, v->n.i, fast);
    case FMH_GV_UINT: return put_u64(w, v->n.u, fast);
    case FMH_GV_DOUBLE: case FMH_GV_FLOAT: return put_double(w, v->n.d, fast);
    case FMH_GV_DECIMAL: {
      /* the column's scale: pad or cut the fraction */
      const char *dot = memchr(v->s, '.', v->len);
      size_t ilen = dot ? (size_t)(dot - v->s) : v->len;
      size_t flen = dot ? v->len - ilen - 1 : 0;
      memcpy(w, v->s, ilen);
      w += ilen;
      if (c->scale > 0) {
        *w++ = '.';
        size_t sc = (size_t)c->scale, keep = flen < sc ? flen : sc;
        if (keep) memcpy(w, dot + 1, keep);
        w += keep;
        for (size_t k = keep; k < sc; k++) *w++ = '0';
      }
      return w;
    }
    case FMH_GV_DATE: case FMH_GV_TIME: case FMH_GV_DATETIME: case FMH_GV_TIMESTAMP: {
      fmh_gen_vkind k = v->kind == FMH_GV_TIMESTAMP ? FMH_GV_DATETIME : v->kind; /* UTC wall clock */
      if (fast) {
        char *p = put_temporal_gen(w, k, v->n.i, c->fsp);
        if (p) return p;
      }
      return w + fmh_gen_format_temporal(g, k, v->n.i, v->kind == FMH_GV_DATE ? 0 : c->fsp, w);
    }
    case FMH_GV_TEXT: case FMH_GV_BYTES: case FMH_GV_JSON: {
      size_t n = v->len;
      if (c->is_char)
        while (n > 0 && v->s[n - 1] == ' ') n--; /* CHAR drops trailing spaces */
      return put_string(w, v->s, n, fast);
    }
  }
  return w;
}

/* CRC-32 (zlib's, as MariaDB's CRC32()) and CRC-32C (Castagnoli, as
 * CRC32C()), reflected, eight bytes at a time over tables built once
 * (slicing by 8: table k advances a byte's CRC by k more zero bytes). */
static uint32_t crc_tab[2][8][256];
pthread_once_t fmh_vsum_crc_once = PTHREAD_ONCE_INIT;

void fmh_vsum_crc_init(void) {
  const uint32_t poly[2] = {0xEDB88320u, 0x82F63B78u};
  for (int t = 0; t < 2; t++) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? poly[t] ^ (c >> 1) : c >> 1;
      crc_tab[t][0][i] = c;
    }
    for (int k = 1; k < 8; k++)
      for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_tab[t][k - 1][i];
        crc_tab[t][k][i] = crc_tab[t][0][c & 0xFF] ^ (c >> 8);
      }
  }
}

static uint32_t crc_run(int t, const unsigned char *p, size_t n) {
  uint32_t (*T)[256] = crc_tab[t];
  uint32_t c = 0xFFFFFFFFu;
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    c = T[7][lo & 0xFF] ^ T[6][(lo >> 8) & 0xFF] ^ T[5][(lo >> 16) & 0xFF] ^ T[4][lo >> 24] ^ T[3][hi & 0xFF] ^
        T[2][(hi >> 8) & 0xFF] ^ T[1][(hi >> 16) & 0xFF] ^ T[0][hi >> 24];
  }
  for (; n; n--, p++) c = T[0][(c ^ *p) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/* The row hash of a row text, as the server computes
 * CRC32(SHA1(text)) << 32 | CRC32C(SHA1(text)); when no server hashes in
 * this run (x->fast), SipHash-1-3 of the text under the run's key. */
static uint64_t row_hash(wstate *w, const char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (w->x->fast) return fmh_siphash13(w->x->sipkey, p, n);
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

int fmh_vsum_gen_checksum(sctx *x, wstate *w, int64_t row0, int64_t row1, uint64_t *count, uint64_t *sum,
                        fmh_error *e) {
  const fmh_gen *g = x->b.src.gen;
  uint64_t s = 0;
  for (int64_t r = row0; r < row1; r++) {
    if (fmh_gen_row(w->gc, r, NULL, w->gv, e) != 0) return -1;
    size_t bytes = 0;
    for (int k = 0; k < x->nhash; k++) {
      const fmh_gen_value *v = &w->gv[x->gmap[k]];
      if (v->kind == FMH_GV_DECIMAL || v->kind == FMH_GV_TEXT || v->kind == FMH_GV_BYTES || v->kind == FMH_GV_JSON)
        bytes += v->len + (size_t)x->a.cols[x->amap[k]].scale;
    }
    char *t0 = row_room(&w->row, x->nhash, bytes), *t = t0;
    if (!t0) return fmh_vsum_oom(e);
    for (int k = 0; k < x->nhash; k++) {
      if (k) *t++ = '#';
      t = gen_put(t, g, &x->a.cols[x->amap[k]], &w->gv[x->gmap[k]], x->fast);
    }
    s += row_hash(w, t0, (size_t)(t - t0));
  }
  *count = (uint64_t)(row1 - row0);
  *sum = s;
  return 0;
}

/* The key of generated row r. */
int fmh_vsum_gen_key(sctx *x, wstate *w, int64_t r, fmh_vkey_part *out, fmh_error *e) {
  if (fmh_gen_row(w->gc, r, NULL, w->gv, e) != 0) return -1;
  const fmh_gen_value *v = &w->gv[x->gkey];
  memset(out, 0, sizeof *out);
  switch (v->kind) {
    case FMH_GV_INT: out->kind = FMH_VK_INT; out->i = v->n.i; return 0;
    case FMH_GV_UINT: out->kind = FMH_VK_UINT; out->u = v->n.u; return 0;
    case FMH_GV_TEXT: case FMH_GV_BYTES:
      out->kind = FMH_VK_TEXT;
      out->s = malloc(v->len + 1);
      if (!out->s) return fmh_vsum_oom(e);
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

int fmh_vsum_part_cmp(const fmh_vkey_part *a, const fmh_vkey_part *b) {
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

int fmh_vsum_first_row(sctx *x, fmh_conn *conn, const fmh_buf *q, const fmh_value *p, int np, fmh_cursor **c,
                       const fmh_value **row, fmh_error *e) {
  *c = NULL;
  if (!q->p) return fmh_vsum_oom(e);
  fmh_exec_result res;
  __atomic_add_fetch(&x->queries, 1, __ATOMIC_RELAXED);
  if (fmh_conn_run(conn, q->p, q->len, p, np, 1, c, &res, e) != 0) return -1;
  return fmh_cursor_fetch(*c, row, e);
}

int fmh_vsum_sql_checksum(sctx *x, sside *s, fmh_conn *conn, fmh_buf *q, const fmh_vrange *r, uint64_t *count,
                        uint64_t *sum, fmh_error *e) {
  q->len = 0;
  fmh_vbuf_puts(q, "SELECT COUNT(*), SUM(" ROW_HASH_OF_H ") FROM (SELECT ");
  fmh_buf_put(q, s->hash.p, s->hash.len);
  fmh_vbuf_puts(q, " AS h FROM ");
  fmh_vbuf_ident(q, s->src.table, 1);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(q, x->o->key, s->src.where, r, x->key_binary, p, &np) != 0) return fmh_vsum_oom(e);
  fmh_vbuf_puts(q, " LIMIT 18446744073709551615) AS x"); /* not merged: SHA1 once per row */
  fmh_cursor *c;
  const fmh_value *row;
  int rc = fmh_vsum_first_row(x, conn, q, p, np, &c, &row, e);
  if (rc < 0 && !c) return -1;
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


/* --- the row hash computed in fmhost from a server's rows ---------------- */

/* The row text of a value read over the binary protocol, as the server's
 * SQL (column_piece) prints it: integers, DECIMAL and temporal values
 * arrive as the server's own text or as numbers, a FLOAT as the float it
 * holds (the fetch gives its shortest text read as a double, which the cast
 * back to float undoes). */
static char *value_put(char *w, const scol *c, const fmh_value *v, int fast) {
  switch (v->t) {
    case FMH_V_NULL: *w = 'N'; return w + 1;
    case FMH_V_INT: return put_i64(w, v->i, fast);
    case FMH_V_UINT: return put_u64(w, v->u, fast);
    case FMH_V_DOUBLE: return put_double(w, c->is_float ? (double)(float)v->d : v->d, fast);
    case FMH_V_DATETIME:
      if (!v->s) return put_temporal(w, v->u, v->i); /* packed: fast form only */
      /* fall through */
    case FMH_V_DECIMAL:
      memcpy(w, v->s, v->len);
      return w + v->len;
    default: return put_string(w, v->s, v->len, fast);
  }
}

int fmh_vsum_client_checksum(sctx *x, sside *s, wstate *w, fmh_conn *conn, const fmh_vrange *r, uint64_t *count,
                             uint64_t *sum, fmh_error *e) {
  fmh_buf *q = &w->q;
  q->len = 0;
  fmh_buf_put(q, s->select.p, s->select.len);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(q, x->o->key, s->src.where, r, x->key_binary, p, &np) != 0 || !q->p) return fmh_vsum_oom(e);
  fmh_cursor *c;
  fmh_exec_result res;
  __atomic_add_fetch(&x->queries, 1, __ATOMIC_RELAXED);
  if (fmh_conn_run(conn, q->p, q->len, p, np, 1, &c, &res, e) != 0) return -1;
  if (!c) {
    fmh_error_set(e, "validate", 0, 0, "validate.checksum: no rows answered the range query on %s", s->src.table);
    return -1;
  }
  if (x->fast) fmh_cursor_pack_temporal(c); /* no text to agree with: temporal values as counts */
  uint64_t n = 0, h = 0;
  const fmh_value *row;
  int rc;
  while ((rc = fmh_cursor_fetch(c, &row, e)) == 1) {
    size_t bytes = 0;
    for (int k = 0; k < x->nhash; k++)
      if (row[k].t != FMH_V_NULL && row[k].t != FMH_V_INT && row[k].t != FMH_V_UINT && row[k].t != FMH_V_DOUBLE)
        bytes += row[k].len;
    char *t0 = row_room(&w->row, x->nhash, bytes), *t = t0;
    if (!t0) {
      fmh_cursor_close(c);
      return fmh_vsum_oom(e);
    }
    for (int k = 0; k < x->nhash; k++) {
      if (k) *t++ = '#';
      t = value_put(t, &s->cols[s->hmap[k]], &row[k], x->fast);
    }
    h += row_hash(w, t0, (size_t)(t - t0));
    n++;
  }
  fmh_cursor_close(c);
  if (rc < 0) return -1;
  *count = n;
  *sum = h;
  return 0;
}

/* --- the row hash computed by the server's fmhost_rowsum ------------------ */

/* A column's code in the descriptor (fmhost/rowsum.h): the packing the
 * server applies to what it hands the function, chosen so that each value
 * packs as the binary protocol's value does in value_put above. */
static void udf_code(fmh_buf *b, const scol *c) {
  const char *t = c->data_type;
  if (fmh_vsum_is_one_of(t, fmh_vsum_int_types)) fmh_vbuf_puts(b, c->is_unsigned ? "u" : "i");
  else if (!strcasecmp(t, "bit")) fmh_vbuf_puts(b, "u");
  else if (!strcasecmp(t, "float")) fmh_vbuf_puts(b, "f");
  else if (!strcasecmp(t, "double") || !strcasecmp(t, "real")) fmh_vbuf_puts(b, "d");
  else if (!strcasecmp(t, "decimal")) fmh_vbuf_puts(b, "n");
  else if (!strcasecmp(t, "date")) fmh_vbuf_puts(b, "D");
  else if (!strcasecmp(t, "datetime") || !strcasecmp(t, "timestamp") || !strcasecmp(t, "time"))
    fmh_vbuf_printf(b, "%c%d", strcasecmp(t, "time") ? 'T' : 'H', c->fsp < 0 ? 0 : c->fsp > 6 ? 6 : c->fsp);
  else fmh_vbuf_puts(b, "s");
}

int fmh_vsum_build_udf(sctx *x, sside *s, fmh_error *e) {
  fmh_buf *b = &s->udf_select;
  b->len = 0;
  fmh_vbuf_puts(b, "SELECT /* fmhost.validate.checksum */ COUNT(*), " FMH_ROWSUM_FUNCTION "('" FMH_ROWSUM_VERSION ":");
  for (int i = 0; i < 16; i++) fmh_vbuf_printf(b, "%02x", x->sipkey[i]);
  fmh_vbuf_puts(b, ":");
  for (int k = 0; k < x->nhash; k++) udf_code(b, &s->cols[s->hmap[k]]);
  fmh_vbuf_puts(b, "'");
  for (int k = 0; k < x->nhash; k++) {
    fmh_vbuf_puts(b, ", ");
    fmh_vbuf_ident(b, s->cols[s->hmap[k]].name, 0);
  }
  fmh_vbuf_puts(b, ") FROM ");
  fmh_vbuf_ident(b, s->src.table, 1);
  if (!b->p) return fmh_vsum_oom(e);
  return 0;
}

int fmh_vsum_udf_checksum(sctx *x, sside *s, fmh_conn *conn, fmh_buf *q, const fmh_vrange *r, uint64_t *count,
                          uint64_t *sum, fmh_error *e) {
  q->len = 0;
  fmh_buf_put(q, s->udf_select.p, s->udf_select.len);
  fmh_value p[2];
  int np = 0;
  if (r) {
    if (fmh_vrange_sql(q, x->o->key, s->src.where, r, x->key_binary, p, &np) != 0) return fmh_vsum_oom(e);
  } else {
    fmh_vbuf_puts(q, " WHERE FALSE");
  }
  fmh_cursor *c;
  const fmh_value *row;
  int rc = fmh_vsum_first_row(x, conn, q, p, np, &c, &row, e);
  if (rc < 0 && !c) return -1;
  if (rc == 1) {
    *count = row[0].t == FMH_V_UINT ? row[0].u : (uint64_t)row[0].i;
    *sum = row[1].t == FMH_V_UINT ? row[1].u : (uint64_t)row[1].i;
    if (row[1].t != FMH_V_INT && row[1].t != FMH_V_UINT) {
      fmh_error_set(e, "validate", 0, 0, "validate.checksum: " FMH_ROWSUM_FUNCTION " on %s answered no integer",
                    s->src.table);
      rc = -1;
    }
  }
  fmh_cursor_close(c);
  if (rc != 1) {
    if (rc == 0) fmh_error_set(e, "validate", 0, 0, "validate.checksum: no answer to the checksum query");
    return -1;
  }
  return 0;
}
