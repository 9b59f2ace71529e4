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
 * (hash_at 'server'), or fmhost reads the range's rows and computes the same
 * from the same text (hash_at 'client', the default for a server on this
 * machine; a generator side always). The
 * LIMIT keeps the server from merging the derived table into the outer
 * query, so SHA1 runs once per row, not once per CRC. The worker that finds
 * a segment's pair differing halves it and checks again until a range holds
 * at most leaf_rows rows (in parallel with the other segments); those ranges
 * are then compared row by row by the streaming comparator, which gives the
 * verdict its keys and fields.
 *
 * The row hash: validate_sum_hash.c (its file comment gives the row text
 * and the strength); the segments and bisection: validate_sum_segments.c.
 * This file: the entry, which checks the options, the sides and the key,
 * runs the pass and the bisection, and assembles the verdict.
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
#include <unistd.h>

#include "fmhost/log.h"
#include "fmhost/rowsum.h"
#include "fmhost/validate.h"
#include "validate_sum_int.h"

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
  o->threads = 4;
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
  free(s->hmap);
  fmh_buf_free(&s->hash);
  fmh_buf_free(&s->select);
  fmh_buf_free(&s->udf_select);
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
    if (fmh_vsum_b_has(x, x->a.cols[i].name) || fmh_vsum_ignored(x->o, x->a.cols[i].name)) continue;
    char **nl = realloc(v->extra_columns, (v->nextra_columns + 1) * sizeof *nl);
    if (!nl) return fmh_vsum_oom(e);
    v->extra_columns = nl;
    if (!(nl[v->nextra_columns] = strdup(x->a.cols[i].name))) return fmh_vsum_oom(e);
    v->nextra_columns++;
  }
  size_t nb = x->b.src.gen ? fmh_gen_ncols(x->b.src.gen) : (size_t)x->b.ncols;
  for (size_t i = 0; i < nb; i++) {
    const char *name = x->b.src.gen ? fmh_gen_column_name(x->b.src.gen, i) : x->b.cols[i].name;
    if (fmh_vsum_find_scol(&x->a, name) >= 0 || fmh_vsum_ignored(x->o, name)) continue;
    char **nl = realloc(v->missing_columns, (v->nmissing_columns + 1) * sizeof *nl);
    if (!nl) return fmh_vsum_oom(e);
    v->missing_columns = nl;
    if (!(nl[v->nmissing_columns] = strdup(name))) return fmh_vsum_oom(e);
    v->nmissing_columns++;
  }
  return 0;
}

static const char *key_class(const char *t) {
  if (fmh_vsum_is_one_of(t, fmh_vsum_int_types)) return "integer";
  if (fmh_vsum_is_one_of(t, fmh_vsum_binary_types)) return "binary string";
  if (fmh_vsum_is_one_of(t, (const char *const[]){"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum",
                                         "set", NULL}))
    return "string";
  return t;
}

/* Rows of this pool are hashed in fmhost: asked for, or (auto) its server
 * shares this machine, where reading rows over the binary protocol costs
 * the server about a third of what hashing them in SQL does. */
static int hashed_here(const char *hash_at, const fmh_pool *p) {
  if (hash_at && !strcmp(hash_at, "client")) return 1;
  if (hash_at && !strcmp(hash_at, "server")) return 0;
  return fmh_pool_is_local(p);
}

/* Side s hashes with the server's fmhost_rowsum: asked for ('udf': a
 * server without the function, or with another version of it, is an
 * error naming the cause), or (auto) the server answers the probe. 1 yes,
 * 0 no, -1 with e set. */
static int udf_side(sctx *x, sside *s, const char *hash_at, fmh_conn *c, fmh_buf *q, fmh_error *e) {
  int asked = hash_at && !strcmp(hash_at, "udf");
  if (!asked && hash_at && strcmp(hash_at, "auto")) return 0;
  if (fmh_vsum_build_udf(x, s, e) != 0) return -1;
  uint64_t n, sum;
  if (fmh_vsum_udf_checksum(x, s, c, q, NULL, &n, &sum, e) == 0) return 1;
  if (asked) {
    char why[sizeof e->msg];
    snprintf(why, sizeof why, "%s", e->msg);
    fmh_error_set(e, e->kind ? e->kind : "validate", e->code, 0,
                  "validate.checksum: side %s: hash_at 'udf' needs the aggregate function " FMH_ROWSUM_FUNCTION
                  " (build/" FMH_ROWSUM_LIBRARY ") on the server of %s: %s; install it with CREATE AGGREGATE FUNCTION "
                  FMH_ROWSUM_FUNCTION " RETURNS INTEGER SONAME '" FMH_ROWSUM_LIBRARY "' after copying the library "
                  "into the server's plugin_dir",
                  s->role, s->src.table, why);
    return -1;
  }
  /* a server without the function is the usual case; one whose function
   * refused the call (1123: a library of another fmhost) wants a restart or
   * a reinstall, and a slower run should say why */
  fmh_log_field f[] = {FMH_LS("side", s->role), FMH_LS("table", s->src.table), FMH_LS("why", e->msg)};
  fmh_log_emit(e->code == 1123 ? FMH_LOG_WARN : FMH_LOG_DEBUG, "validate.checksum.no_udf", NULL, NULL, f,
               sizeof f / sizeof *f);
  fmh_error_clear(e);
  return 0;
}

/* Where each side's rows are hashed (v->hash_a, hash_b): by the server's
 * fmhost_rowsum ('udf'), by the server's SQL ('server': SHA-1 of a row
 * text), or read and hashed here ('client'). 'auto' picks 'udf' when the
 * server has the function (the server then hashes natively, without
 * printing a value or sending a row), else 'client' for a server on this
 * machine and 'server' for one elsewhere. The SHA-1 of the SQL text and the
 * SipHash of the packed text do not mix: with a side on 'server', an
 * 'auto' side that would use the function reads its rows instead. */
static int choose_hashing(sctx *x, wstate *mw, fmh_error *e) {
  const fmh_vchecksum_opts *o = x->o;
  int ua = udf_side(x, &x->a, o->hash_at_a, mw->ca, &mw->q, e);
  if (ua < 0) return -1;
  int ub = 0;
  if (!o->b.gen && (ub = udf_side(x, &x->b, o->hash_at_b, mw->cb, &mw->q, e)) < 0) return -1;
  x->a.client = !ua && hashed_here(o->hash_at_a, o->a.pool);
  x->b.client = !o->b.gen && !ub && hashed_here(o->hash_at_b, o->b.pool);
  int sql_a = !ua && !x->a.client, sql_b = !o->b.gen && !ub && !x->b.client;
  /* 'udf' asked against 'server' asked was refused: one of the two is 'auto' */
  if (ua && sql_b) {
    if (o->hash_at_a && !strcmp(o->hash_at_a, "udf")) x->b.client = 1, sql_b = 0;
    else x->a.client = 1, ua = 0;
  }
  if (ub && sql_a) {
    if (o->hash_at_b && !strcmp(o->hash_at_b, "udf")) x->a.client = 1, sql_a = 0;
    else x->b.client = 1, ub = 0;
  }
  x->a.udf = ua;
  x->b.udf = ub;
  x->v->hash_a = ua ? "udf" : x->a.client ? "client" : "server";
  x->v->hash_b = o->b.gen ? "generator" : ub ? "udf" : x->b.client ? "client" : "server";
  x->fast = !sql_a && !sql_b;
  return 0;
}

int fmh_validate_checksum(const fmh_vchecksum_opts *o, fmh_verdict *v, fmh_error *e) {
  memset(v, 0, sizeof *v);
  if (check_side(&o->a, "a", 0, e) != 0 || check_side(&o->b, "b", 1, e) != 0) return -1;
  if (!o->key || !o->key[0]) {
    fmh_error_set(e, "usage", 0, 0, "validate.checksum: 'key' (one column) is required");
    return -1;
  }
  for (int i = 0; i < 2; i++) {
    const char *h = i ? o->hash_at_b : o->hash_at_a;
    if (h && strcmp(h, "auto") && strcmp(h, "server") && strcmp(h, "client") && strcmp(h, "udf")) {
      fmh_error_set(e, "usage", 0, 0,
                    "validate.checksum: hash_at%s must be 'auto', 'udf', 'server' or 'client', not '%.100s'",
                    i ? ".b" : ".a", h);
      return -1;
    }
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
  if (o->hash_at_a && o->hash_at_b && !o->b.gen &&
      ((!strcmp(o->hash_at_a, "udf") && !strcmp(o->hash_at_b, "server")) ||
       (!strcmp(o->hash_at_a, "server") && !strcmp(o->hash_at_b, "udf")))) {
    fmh_error_set(e, "usage", 0, 0,
                  "validate.checksum: hash_at 'udf' on one side and 'server' on the other cannot be compared (two "
                  "different row hashes); use 'client' or 'udf' for the other side");
    return -1;
  }
  if (getentropy(x.sipkey, sizeof x.sipkey) != 0) {
    uint64_t t = (uint64_t)(fmh_vnow() * 1e9) ^ (uint64_t)getpid() << 32;
    for (int i = 0; i < 16; i++) x.sipkey[i] = (unsigned char)(t >> (8 * (i % 8)) ^ (unsigned)i * 0x9Du);
  }
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
    fmh_vsum_oom(e);
    goto out;
  }
  for (int i = 0; i <= nw; i++)
    if (fmh_vsum_wstate_init(&x, &ws[i], e) != 0) goto out;
  wstate *mw = &ws[nw];
  if (fmh_vsum_conn_get(&x, &x.a, &mw->ca, &mw->tza, e) != 0 || fmh_vsum_load_columns(&x.a, mw->ca, e) != 0) goto out;
  if (!o->b.gen && (fmh_vsum_conn_get(&x, &x.b, &mw->cb, &mw->tzb, e) != 0 || fmh_vsum_load_columns(&x.b, mw->cb, e) != 0)) goto out;
  int ka = fmh_vsum_find_scol(&x.a, o->key), kb = o->b.gen ? fmh_vsum_find_gcol(o->b.gen, o->key) : fmh_vsum_find_scol(&x.b, o->key);
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
    if (gint != fmh_vsum_is_one_of(x.a.cols[ka].data_type, fmh_vsum_int_types)) {
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
    x.key_int = fmh_vsum_is_one_of(x.a.cols[ka].data_type, fmh_vsum_int_types);
  }
  x.key_binary = fmh_vsum_is_one_of(x.a.cols[ka].data_type, fmh_vsum_binary_types);
  if (fmh_vsum_hashed_columns(&x, e) != 0 || fmh_vsum_build_hash(&x, &x.a, e) != 0) goto out;
  if (!o->b.gen && fmh_vsum_build_hash(&x, &x.b, e) != 0) goto out;
  if (choose_hashing(&x, mw, e) != 0) goto out;
  {
    fmh_buf fn = {0}; /* the row hash, as the verdict names it */
    if (x.fast) { /* the text inside SHA1( ) */
      const char *where = "in fmhost";
      if (x.a.udf && x.b.udf) where = "by each server's " FMH_ROWSUM_FUNCTION;
      else if (x.a.udf) where = "by side a's server (" FMH_ROWSUM_FUNCTION ") and in fmhost (side b)";
      else if (x.b.udf) where = "in fmhost (side a) and by side b's server (" FMH_ROWSUM_FUNCTION ")";
      fmh_vbuf_printf(&fn,
                      "SipHash-1-3 under a key drawn for this run, computed %s, of the row text %.*s "
                      "(integers, doubles and string lengths as their 8 bytes, temporal values as packed counts of "
                      "microseconds)",
                      where, (int)(x.a.hash.len - 6), x.a.hash.p + 5);
    } else
      fmh_vbuf_printf(&fn, ROW_HASH_OF_H ", h = %s", x.a.hash.p);
    if (!fn.p) {
      fmh_vsum_oom(e);
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
      fmh_vsum_oom(e);
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
  if (fmh_vsum_plan(&x, mw, e) != 0) goto out;
  fmh_vsum_conn_put(&mw->ca, &mw->tza);
  fmh_vsum_conn_put(&mw->cb, &mw->tzb);
  /* the parallel pass */
  if (fmh_vsum_run_parallel(&x, ws, nw, e) != 0) goto out;
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
        brc = fmh_vsum_stream_range(&x, mw, &s->leaves[k].r, s->leaves[k].row0, s->leaves[k].row1, &be);
    } else {
      brc = fmh_vsum_bisect(&x, mw, &s->r, s->row0, s->row1, s->ca, s->sa, s->cb, s->sb, 0, NULL, &be);
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
  fmh_vsum_conn_put(&mw->ca, &mw->tza);
  fmh_vsum_conn_put(&mw->cb, &mw->tzb);
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
                         FMH_LS("hash_a", v->hash_a), FMH_LS("hash_b", v->hash_b),
                         FMH_LI("rows_streamed", v->rows_streamed), FMH_LN("elapsed_s", v->elapsed_s)};
    fmh_log_emit(v->ok ? FMH_LOG_INFO : FMH_LOG_WARN, "validate.checksum", NULL, NULL, f, sizeof f / sizeof *f);
  }
  rc = 0;
out:
  if (cmp_begun) fmh_vcmp_end(x.cmp, fmh_vnow() - t0);
  if (ws)
    for (int i = 0; i <= nw; i++) fmh_vsum_wstate_free(&ws[i]);
  free(ws);
  free(cols);
  for (size_t i = 0; i < x.nsegs; i++) {
    fmh_vsum_range_clear(&x.segs[i].r);
    fmh_vsum_seg_leaves_clear(&x.segs[i]);
  }
  free(x.segs);
  free(x.amap);
  free(x.gmap);
  fmh_error_clear(&x.first_err);
  side_free(&x.a);
  side_free(&x.b);
  return rc;
}
