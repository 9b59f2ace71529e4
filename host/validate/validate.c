/* fmhost.validate, the streaming comparison: two sides read in key order
 * (an unbuffered cursor per SQL side, a generator cursor for generated
 * rows), merged one row per side at a time, every key classified and every
 * column of a matched row compared by its comparison class. Counts are
 * exact, samples capped, memory independent of the row count: one row per
 * side, one copy of each side's previous key, and the capped samples.
 * This file: the merge, its runs over ranges, and the diagnosis passes; the
 * parts by job are listed in validate_int.h. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fmhost/calendar.h"
#include "fmhost/log.h"
#include "fmhost/progress.h"
#include "fmhost/validate.h"
#include "validate_int.h"

double fmh_vnow(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the merge ----------------------------------------------------------- */

static int compare_row(fmh_vcmp *c) {
  int bad = 0;
  c->row_samples = 0;
  c->row_bits = 0;
  for (int i = 0; i < c->ncols; i++) {
    vcol *col = &c->cols[i];
    vcell ev, tv;
    char es[96], ts[96];
    fmh_vside_cell(c, &c->e, col, col->ei, &ev, es);
    fmh_vside_cell(c, &c->t, col, col->ti, &tv, ts);
    int r = fmh_vcompare_field(c, col, &ev, &tv);
    if (r < 0) return -1;
    bad |= r;
  }
  if (bad) c->v->mismatched_rows++;
  c->row_bad = bad;
  return 0;
}

/* A side's value as the explain accumulators see it; text in buf. */
static void xval_of(const vcell *cell, fmh_vxval *x, char *buf) {
  memset(x, 0, sizeof *x);
  size_t len = 0;
  const char *s = fmh_vcell_text(cell, 6, buf, 96, &len);
  x->s = s ? s : "";
  x->len = s ? len : 0;
  switch (cell->k) {
    case CK_NULL: x->null = 1; break;
    case CK_INT: x->isint = 1; x->i = cell->i; break;
    case CK_UINT:
      if (cell->u <= (uint64_t)INT64_MAX) {
        x->isint = 1;
        x->i = (int64_t)cell->u;
      }
      break;
    case CK_DOUBLE: case CK_FLOAT:
      x->isnum = isfinite(cell->d);
      x->d = cell->d;
      break;
    case CK_DEC: {
      int ok;
      x->d = fmh_vcell_double(cell, &ok);
      x->isnum = ok;
      break;
    }
    case CK_TUS: x->isint = 1; x->i = cell->i; break;
    case CK_TTEXT: {
      char tk;
      x->isint = fmh_vtemporal_parse(cell->s, cell->len, &x->i, &tk) == 0;
      break;
    }
    default: break;
  }
}

/* Feed the current row of side s (0: expected, a missing row; 1: target, an
 * extra row) to the explain accumulators. */
static int explain_row(fmh_vcmp *c, int side) {
  vside *s = side ? &c->t : &c->e;
  vcol **map = side ? c->tmap : c->emap;
  int n = side ? c->ncols_t : c->ncols_e;
  for (int i = 0; i < n; i++) {
    vcell cell;
    fmh_vside_cell(c, s, map[i], i, &cell, c->xscr[i]);
    xval_of(&cell, &c->xv[i], c->xscr[i]);
  }
  fmh_vkey_part parts[16];
  fmh_vkey k;
  fmh_vside_key_view(c, s, &k, parts);
  return fmh_vx_row(c->x, side, c->xv, &k);
}

static int sample_key(fmh_vcmp *c, vside *s, fmh_vkey **list, size_t *n, const char *event) {
  fmh_vkey_part parts[16];
  fmh_vkey k;
  fmh_vside_key_view(c, s, &k, parts);
  return fmh_vadd_key_sample(c, list, n, &k, event);
}

static int advance_expected(fmh_vcmp *c, fmh_error *e) {
  for (;;) {
    int r = fmh_vside_advance(c, &c->e, e);
    if (r <= 0 || c->e.repeat == 0) return r;
    c->v->expected_duplicated++;
  }
}

#define FMH_VPROGRESS_BATCH 65536 /* expected rows between two progress counts */

static int merge(fmh_vcmp *c, fmh_error *e) {
  vside *T = &c->t, *E = &c->e;
  fmh_verdict *v = c->v;
  if (fmh_vside_advance(c, T, e) < 0 || advance_expected(c, e) < 0) return -1;
  int e_matched = 0;
  uint64_t counted = 0; /* expected rows given to the progress line */
  for (;;) {
    if (c->prog_on && E->rows - counted >= FMH_VPROGRESS_BATCH) {
      fmh_progress_add(&c->prog, E->rows - counted, -1, NULL, 0);
      counted = E->rows;
    }
    if (!T->have && !E->have) break;
    int k = !E->have ? -1 : !T->have ? 1 : fmh_vkey_cmp(c);
    if (k > 0) {
      if (!e_matched) {
        v->missing++;
        if (sample_key(c, E, &v->missing_keys, &v->nmissing_keys, "validate.missing") != 0) goto oom;
        if (c->x && explain_row(c, 0) != 0) goto oom;
      }
      e_matched = 0;
      if (advance_expected(c, e) < 0) return -1;
      continue;
    }
    if (T->repeat > 0) {
      v->duplicate_rows++;
      if (T->repeat == 1) {
        v->duplicated++;
        if (sample_key(c, T, &v->duplicated_keys, &v->nduplicated_keys, "validate.duplicated") != 0) goto oom;
        if (k == 0) fmh_vx_copy(c->x, c->last_bad, c->last_bits);
      }
      if (k == 0) {
        if (compare_row(c) != 0) goto oom;
        if (c->row_bad) v->copies_differing++;
        fmh_vx_copy(c->x, c->row_bad, c->row_bits);
      }
    } else if (k == 0) {
      v->matched++;
      e_matched = 1;
      if (compare_row(c) != 0) goto oom;
      if (c->row_bad) v->differing++;
      else v->exact++;
      c->last_bad = c->row_bad;
      c->last_bits = c->row_bits;
      if (c->x) fmh_vx_present(c->x);
    } else {
      v->extra++;
      if (sample_key(c, T, &v->extra_keys, &v->nextra_keys, "validate.extra") != 0) goto oom;
      if (c->x && explain_row(c, 1) != 0) goto oom;
    }
    if (fmh_vside_advance(c, T, e) < 0) return -1;
  }
  if (c->prog_on) fmh_progress_add(&c->prog, E->rows - counted, -1, NULL, 0);
  return 0;
oom:
  fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
  return -1;
}

static int check_source(const fmh_vsource *s, const char *role, fmh_error *e) {
  int n = (s->table != NULL) + (s->query != NULL) + (s->gen != NULL);
  if (n != 1) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s side needs exactly one of table, query or generator", role);
    return -1;
  }
  if ((s->table || s->query) && !s->pool) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s side needs a pool", role);
    return -1;
  }
  if (s->gen && (s->first < 0 || s->count < 0)) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s side: first and count must be >= 0", role);
    return -1;
  }
  if (s->gen && s->count > 0 && s->first + s->count > fmh_gen_row_limit(s->gen)) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s side: the generator cannot produce rows past %" PRId64, role,
                  fmh_gen_row_limit(s->gen));
    return -1;
  }
  return 0;
}

void fmh_vcompare_opts_default(fmh_vcompare_opts *o) {
  memset(o, 0, sizeof *o);
  o->max_samples = 20;
  o->max_value_len = 256;
  o->time_zone = "+00:00";
  o->explain = 1;
}

int fmh_vcmp_begin(const fmh_vcompare_opts *o, fmh_verdict *v, fmh_vcmp **out, fmh_error *e) {
  *out = NULL;
  if (check_source(&o->target, "target", e) != 0 || check_source(&o->expected, "expected", e) != 0) return -1;
  if (o->target.gen) {
    fmh_error_set(e, "usage", 0, 0, "validate: the target must be a table or a query");
    return -1;
  }
  if (o->nkey < 1 || o->nkey > 16) {
    fmh_error_set(e, "usage", 0, 0, "validate: between 1 and 16 key columns, not %d", o->nkey);
    return -1;
  }
  fmh_vcmp *c = calloc(1, sizeof *c);
  if (!c) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  c->o = *o;
  if (c->o.max_samples == 0) c->o.max_samples = 20;
  if (c->o.max_value_len == 0) c->o.max_value_len = 256;
  if (!c->o.time_zone) c->o.time_zone = "+00:00";
  if (!c->o.label) c->o.label = o->target.table ? o->target.table : "query";
  c->v = v;
  c->t.role = "target";
  c->t.src = o->target;
  c->e.role = "expected";
  c->e.src = o->expected;
  if (fmh_vside_init(c, &c->t, e) != 0 || fmh_vside_init(c, &c->e, e) != 0) {
    fmh_vside_free(&c->t);
    fmh_vside_free(&c->e);
    free(c);
    return -1;
  }
  if (!v->mode) v->mode = "stream";
  if (o->expected.gen) {
    v->has_seed = 1;
    v->seed = fmh_gen_seed(o->expected.gen);
    v->has_range = 1;
    v->first = o->expected.first;
    v->last = o->expected.first + o->expected.count - 1;
  }
  c->t0 = fmh_vnow();
  *out = c;
  return 0;
}

int fmh_vcmp_resolved(const fmh_vcmp *c) { return c->resolved; }

static int vcmp_run_range(fmh_vcmp *c, const fmh_vrange *r, fmh_error *e);

/* Checksum mode against a generator: the target's rows in r, the
 * generator's rows [first, first+count). */
int fmh_vcmp_run_rows(fmh_vcmp *c, const fmh_vrange *r, int64_t first, int64_t count, fmh_error *e) {
  if (!c->e.src.gen) return fmh_vcmp_run(c, r, e);
  c->e.src.first = first;
  c->e.src.count = count;
  return vcmp_run_range(c, r, e);
}

int fmh_vcmp_run(fmh_vcmp *c, const fmh_vrange *r, fmh_error *e) {
  if (r && c->e.src.gen) {
    fmh_error_set(e, "usage", 0, 0, "validate: key ranges need SQL sides");
    return -1;
  }
  return vcmp_run_range(c, r, e);
}

static int vcmp_run_range(fmh_vcmp *c, const fmh_vrange *r, fmh_error *e) {
  int rc = -1;
  if (fmh_vside_open(c, &c->t, r, e) != 0 || fmh_vside_open(c, &c->e, r, e) != 0) goto done;
  if (!c->resolved) {
    if (fmh_vresolve(c, e) != 0) goto done;
  } else if (fmh_vside_ncols(&c->t) != c->ncols_t || fmh_vside_ncols(&c->e) != c->ncols_e) {
    fmh_error_set(e, "validate", 0, 0, "validate: the tables changed shape during the comparison");
    goto done;
  }
  c->t.rows = c->e.rows = 0;
  c->runs++;
  if (r) c->ranged = 1;
  rc = merge(c, e);
  if (rc != 0) c->failed = 1;
  c->v->target += c->t.rows;
  c->v->expected += c->e.rows;
done:
  fmh_vside_close(&c->t);
  fmh_vside_close(&c->e);
  return rc;
}

/* Count the rows of a side (0 expected, 1 target) that satisfy each
 * predicate of that side; stops once none can still hold. */
static int explain_pass(fmh_vcmp *c, int side, fmh_vxpred *p, int np, fmh_error *e) {
  vside *s = side ? &c->t : &c->e;
  uint64_t need = side ? c->v->extra : c->v->missing;
  int live = 0;
  for (int i = 0; i < np; i++) live += p[i].side == side;
  if (!live) return 0;
  int rc = -1;
  if (fmh_vside_open(c, s, NULL, e) != 0) goto done;
  if (fmh_vside_ncols(s) != (side ? c->ncols_t : c->ncols_e)) {
    fmh_error_set(e, "validate", 0, 0, "validate: the %s changed shape", s->role);
    goto done;
  }
  vcol **map = side ? c->tmap : c->emap;
  while (live > 0) {
    int r = fmh_vside_fetch(c, s, e);
    if (r < 0) goto done;
    if (r == 0) break;
    for (int i = 0; i < np; i++) {
      if (p[i].side != side || p[i].count > need) continue;
      vcell cell;
      fmh_vxval xv;
      fmh_vside_cell(c, s, map[p[i].col], p[i].col, &cell, c->xscr[p[i].col]);
      xval_of(&cell, &xv, c->xscr[p[i].col]);
      if (fmh_vx_eval(&p[i], &xv) && ++p[i].count > need) live--;
    }
  }
  rc = 0;
done:
  fmh_vside_close(s);
  return rc;
}

/* A compared column the target holds one row of per distinct value, that
 * the kept missing rows' values of are all held by: rows collapsed by a
 * wrong key. NULL when none. */
static const char *explain_collapse(fmh_vcmp *c, uint64_t *rows, fmh_error *e) {
  fmh_verdict *v = c->v;
  int nk = fmh_vx_nkept(c->x);
  if (v->missing < 3 || v->extra || v->duplicated || nk < 2 || !c->ncols) return NULL;
  const char *found = NULL;
  fmh_buf q = {0};
  fmh_conn *conn = NULL;
  fmh_cursor *cur = NULL;
  fmh_exec_result res;
  const fmh_value *row;
  if (fmh_pool_acquire(c->t.src.pool, -1, &conn, e) != 0) return NULL;
  int tz = fmh_vsession_tz(conn, c->o.time_zone, e) == 0;
  if (!tz) goto done;
  fmh_buf from = {0};
  fmh_vbuf_puts(&from, " FROM ");
  if (c->t.src.query) {
    fmh_vbuf_puts(&from, "(");
    fmh_vbuf_puts(&from, c->t.src.query);
    fmh_vbuf_puts(&from, ") AS fmh_q");
  } else {
    fmh_vbuf_ident(&from, c->t.src.table, 1);
    if (c->t.src.where && c->t.src.where[0]) fmh_vbuf_printf(&from, " WHERE (%s)", c->t.src.where);
  }
  fmh_vbuf_puts(&q, "SELECT COUNT(*)");
  for (int i = 0; i < c->ncols; i++) {
    fmh_vbuf_puts(&q, ", COUNT(DISTINCT ");
    fmh_vbuf_ident(&q, c->cols[i].name, 0);
    fmh_vbuf_puts(&q, ")");
  }
  if (from.p) fmh_buf_put(&q, from.p, from.len);
  if (!q.p || !from.p || fmh_conn_run(conn, q.p, q.len, NULL, 0, 0, &cur, &res, e) != 0 || !cur ||
      fmh_cursor_fetch(cur, &row, e) != 1) {
    fmh_buf_free(&from);
    goto done;
  }
  uint64_t total = row[0].t == FMH_V_INT ? (uint64_t)row[0].i : row[0].u;
  uint64_t *distinct = calloc((size_t)c->ncols, sizeof *distinct);
  for (int i = 0; distinct && i < c->ncols; i++)
    distinct[i] = row[i + 1].t == FMH_V_INT ? (uint64_t)row[i + 1].i : row[i + 1].u;
  fmh_cursor_close(cur);
  cur = NULL;
  for (int i = 0; distinct && i < c->ncols && !found && total > 0; i++) {
    vcol *col = &c->cols[i];
    if (distinct[i] != total || col->cls == CMP_DOUBLE || col->cls == CMP_FLOAT || col->cls == CMP_JSON) continue;
    /* the distinct values of the kept missing rows, all held by the target? */
    q.len = 0;
    fmh_vbuf_puts(&q, "SELECT COUNT(*)");
    fmh_buf_put(&q, from.p, from.len);
    fmh_vbuf_puts(&q, c->t.src.query || !(c->t.src.where && c->t.src.where[0]) ? " WHERE " : " AND ");
    fmh_vbuf_ident(&q, col->name, 0);
    fmh_vbuf_puts(&q, " IN (");
    uint64_t nd = 0;
    for (int k = 0; k < nk; k++) {
      size_t len, l2;
      const char *val = fmh_vx_missing_value(c->x, k, col->ei, &len);
      if (!val) {
        nd = 0;
        break;
      }
      int dup = 0;
      for (int j = 0; j < k && !dup; j++) {
        const char *o = fmh_vx_missing_value(c->x, j, col->ei, &l2);
        dup = o && l2 == len && memcmp(o, val, len) == 0;
      }
      if (dup) continue;
      fmh_vkey_part part = {.kind = FMH_VK_TEXT, .s = (char *)val, .len = len};
      if (nd++) fmh_vbuf_puts(&q, ", ");
      fmh_vbuf_literal(&q, conn, &part, col->binary);
    }
    fmh_vbuf_puts(&q, ")");
    /* a value every kept missing row has alone proves little */
    if (nd < 2 || !q.p) continue;
    if (fmh_conn_run(conn, q.p, q.len, NULL, 0, 0, &cur, &res, e) != 0 || !cur) break;
    if (fmh_cursor_fetch(cur, &row, e) == 1) {
      uint64_t held = row[0].t == FMH_V_INT ? (uint64_t)row[0].i : row[0].u;
      if (held == nd) {
        found = col->name;
        *rows = total;
      }
    }
    fmh_cursor_close(cur);
    cur = NULL;
  }
  free(distinct);
  fmh_buf_free(&from);
done:
  if (cur) fmh_cursor_close(cur);
  fmh_buf_free(&q);
  if (tz && !fmh_conn_is_broken(conn)) fmh_vsession_restore(conn);
  fmh_pool_release(conn);
  return found;
}

/* The diagnosis, best effort: a failure of its extra queries leaves it out. */
static void explain_finish(fmh_vcmp *c) {
  fmh_verdict *v = c->v;
  fmh_error e = {0};
  fmh_vxpred preds[64];
  int np = 0;
  if (c->runs == 1 && !c->ranged && (v->missing >= 3 || v->extra >= 3)) {
    np = fmh_vx_candidates(c->x, preds, 64);
    if (explain_pass(c, 0, preds, np, &e) != 0 || explain_pass(c, 1, preds, np, &e) != 0) np = 0;
    fmh_error_clear(&e);
  }
  uint64_t crow = 0;
  const char *collapse = c->runs == 1 && !c->ranged ? explain_collapse(c, &crow, &e) : NULL;
  fmh_error_clear(&e);
  char **names = calloc((size_t)(c->ncols ? c->ncols : 1), sizeof *names);
  if (!names) return;
  for (int i = 0; i < c->ncols; i++) names[i] = c->cols[i].name;
  fmh_vx_finish(c->x, v, names, preds, np, collapse, crow);
  free(names);
}

void fmh_vcmp_end(fmh_vcmp *c, double elapsed_s) {
  fmh_verdict *v = c->v;
  if (c->x && c->resolved && !c->failed) explain_finish(c);
  v->ok = v->missing == 0 && v->extra == 0 && v->duplicated == 0 && v->expected_duplicated == 0 &&
          v->mismatched_rows == 0 && v->nmissing_columns == 0 && (c->o.allow_extra_columns || v->nextra_columns == 0);
  v->elapsed_s = elapsed_s >= 0 ? elapsed_s : fmh_vnow() - c->t0;
  v->rows_per_s = v->elapsed_s > 0 ? (double)v->target / v->elapsed_s : 0;
  if (c->o.log) {
    fmh_log_field f[] = {FMH_LS("label", c->o.label), FMH_LB("ok", v->ok), FMH_LI("expected", v->expected),
                         FMH_LI("target", v->target), FMH_LI("matched", v->matched), FMH_LI("missing", v->missing),
                         FMH_LI("extra", v->extra), FMH_LI("duplicated", v->duplicated),
                         FMH_LI("mismatched_rows", v->mismatched_rows),
                         FMH_LI("mismatched_fields", v->mismatched_fields), FMH_LN("elapsed_s", v->elapsed_s)};
    size_t nf = sizeof f / sizeof *f;
    fmh_log_field g[16];
    memcpy(g, f, sizeof f);
    const char *why = v->nexplain ? v->explain[0].text : v->npatterns ? v->patterns[0].text : NULL;
    if (why) g[nf++] = FMH_LS("diagnosis", why);
    fmh_log_emit(v->ok ? FMH_LOG_INFO : FMH_LOG_WARN, "validate.verdict", NULL, NULL, g, nf);
  }
  fmh_vx_free(c->x);
  for (int i = 0; c->enames && i < c->ncols_e; i++) free(c->enames[i]);
  for (int i = 0; c->tnames && i < c->ncols_t; i++) free(c->tnames[i]);
  free(c->enames);
  free(c->tnames);
  free(c->emap);
  free(c->tmap);
  free(c->xscr);
  free(c->xv);
  fmh_vside_free(&c->t);
  fmh_vside_free(&c->e);
  for (int i = 0; i < c->ncols; i++) free(c->cols[i].name);
  if (c->keys)
    for (int k = 0; k < c->o.nkey; k++) free(c->keys[k].name);
  free(c->cols);
  free(c->keys);
  fmh_buf_free(&c->tmp);
  fmh_buf_free(&c->tmp2);
  free(c);
}

int fmh_validate_compare(const fmh_vcompare_opts *o, fmh_verdict *v, fmh_error *e) {
  memset(v, 0, sizeof *v);
  fmh_vcmp *c;
  if (fmh_vcmp_begin(o, v, &c, e) != 0) return -1;
  if (o->progress) {
    fmh_progress_init(&c->prog, "validate", "rows", o->expected.gen && o->expected.count > 0 ? (uint64_t)o->expected.count : 0, NULL, -1,
                      0);
    c->prog_on = 1;
  }
  int rc = fmh_vcmp_run(c, NULL, e);
  if (o->progress) {
    fmh_progress_done(&c->prog, -1, NULL, 0);
    fmh_progress_destroy(&c->prog);
    c->prog_on = 0;
  }
  fmh_vcmp_end(c, -1);
  return rc;
}
