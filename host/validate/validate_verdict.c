/* fmhost.validate, the verdict: capped samples of keys and mismatches, and
 * freeing and formatting a verdict. */
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

/* --- samples --------------------------------------------------------- */

static int cap_samples(fmh_vcmp *c) { return c->o.max_samples < 0 ? 0 : c->o.max_samples; }

int fmh_vadd_key_sample(fmh_vcmp *c, fmh_vkey **list, size_t *n, const fmh_vkey *k, const char *event) {
  if ((int)*n >= cap_samples(c)) {
    c->v->truncated = 1;
    return 0;
  }
  fmh_vkey *nl = realloc(*list, (*n + 1) * sizeof **list);
  if (!nl) return -1;
  *list = nl;
  if (fmh_vkey_copy(&nl[*n], k) != 0) return -1;
  (*n)++;
  if (c->o.log && fmh_log_enabled(c->o.log > 1 ? FMH_LOG_WARN : FMH_LOG_DEBUG)) {
    fmh_buf kt = {0};
    fmh_vkey_text(k, &kt);
    fmh_log_field f[] = {FMH_LS("label", c->o.label), FMH_LS("key", kt.p ? kt.p : "")};
    fmh_log_emit(c->o.log > 1 ? FMH_LOG_WARN : FMH_LOG_DEBUG, event, NULL, NULL, f, 2);
    fmh_buf_free(&kt);
  }
  return 0;
}

static char *dup_cut(const char *s, size_t n, size_t cut, size_t *out_len, int *was_cut) {
  *was_cut = 0;
  if (n > cut) {
    size_t m = cut;
    while (m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80) m--; /* not inside a UTF-8 character */
    n = m;
    *was_cut = 1;
  }
  char *p = malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  *out_len = n;
  return p;
}

int fmh_vadd_mismatch(fmh_vcmp *c, vcol *col, const vcell *ev, const vcell *tv, const char *reason,
                      const char *detail) {
  c->v->mismatched_fields++;
  col->stat->mismatches++;
  int ci = (int)(col - c->cols);
  if (ci < 64) c->row_bits |= UINT64_C(1) << ci;
  int per_key = c->o.samples_per_key == 0 ? 2 : c->o.samples_per_key;
  int sample = (int)c->v->nmismatches < cap_samples(c) && (per_key < 0 || c->row_samples < per_key);
  if (!sample) c->v->truncated = 1;
  if (!sample && !c->x) return 0;
  fmh_vkey_part parts[16];
  fmh_vkey k;
  fmh_vside_key_view(c, &c->t, &k, parts);
  char eb[96], tb[96];
  size_t el, tl;
  int fsp = col->cls == CMP_TEMPORAL ? (col->fsp >= 0 ? col->fsp : col->gen_fsp) : 6;
  const char *es = fmh_vcell_text(ev, fsp, eb, sizeof eb, &el), *ts = fmh_vcell_text(tv, fsp, tb, sizeof tb, &tl);
  if (c->x && fmh_vx_mismatch(c->x, ci, &c->hit, &k, es, el, ts, tl) != 0) return -1;
  if (!sample) return 0;
  c->row_samples++;
  fmh_vmismatch *nl = realloc(c->v->mismatches, (c->v->nmismatches + 1) * sizeof *nl);
  if (!nl) return -1;
  c->v->mismatches = nl;
  fmh_vmismatch *m = &nl[c->v->nmismatches];
  memset(m, 0, sizeof *m);
  if (fmh_vkey_copy(&m->key, &k) != 0) return -1;
  m->column = strdup(col->name);
  if (es) m->expected = dup_cut(es, el, c->o.max_value_len, &m->expected_len, &m->expected_cut);
  if (ts) m->actual = dup_cut(ts, tl, c->o.max_value_len, &m->actual_len, &m->actual_cut);
  m->reason = reason;
  m->detail = strdup(detail ? detail : reason);
  c->v->nmismatches++;
  if (!m->column || !m->detail || (es && !m->expected) || (ts && !m->actual)) return -1;
  if (c->o.log && fmh_log_enabled(c->o.log > 1 ? FMH_LOG_WARN : FMH_LOG_DEBUG)) {
    fmh_buf kt = {0};
    fmh_vkey_text(&k, &kt);
    fmh_log_field f[8];
    size_t nf = 0;
    f[nf++] = FMH_LS("label", c->o.label);
    f[nf++] = FMH_LS("key", kt.p ? kt.p : "");
    f[nf++] = FMH_LS("column", col->name);
    f[nf++] = es ? FMH_LSN("expected", m->expected, m->expected_len) : FMH_LS("expected", "NULL");
    f[nf++] = ts ? FMH_LSN("actual", m->actual, m->actual_len) : FMH_LS("actual", "NULL");
    f[nf++] = FMH_LS("reason", reason);
    f[nf++] = FMH_LS("detail", m->detail);
    fmh_log_emit(c->o.log > 1 ? FMH_LOG_WARN : FMH_LOG_DEBUG, "validate.mismatch", reason, "field differs from the expected value", f, nf);
    fmh_buf_free(&kt);
  }
  return 0;
}

/* --- the verdict --------------------------------------------------------- */

static void free_keys(fmh_vkey *k, size_t n) {
  for (size_t i = 0; i < n; i++) fmh_vkey_free(&k[i]);
  free(k);
}

static void free_names(char **l, size_t n) {
  for (size_t i = 0; i < n; i++) free(l[i]);
  free(l);
}

void fmh_verdict_free(fmh_verdict *v) {
  free_keys(v->missing_keys, v->nmissing_keys);
  free_keys(v->extra_keys, v->nextra_keys);
  free_keys(v->duplicated_keys, v->nduplicated_keys);
  for (size_t i = 0; i < v->nmismatches; i++) {
    fmh_vmismatch *m = &v->mismatches[i];
    fmh_vkey_free(&m->key);
    free(m->column);
    free(m->expected);
    free(m->actual);
    free(m->detail);
  }
  free(v->mismatches);
  for (size_t i = 0; i < v->ncolumns; i++) free(v->columns[i].name);
  free(v->columns);
  free_names(v->missing_columns, v->nmissing_columns);
  free_names(v->extra_columns, v->nextra_columns);
  free(v->checksum_function);
  for (int k = 0; k < 2; k++) {
    fmh_vpattern *l = k ? v->explain : v->patterns;
    size_t n = k ? v->nexplain : v->npatterns;
    for (size_t i = 0; i < n; i++) {
      free(l[i].column);
      free(l[i].text);
      free(l[i].examples[0]);
      free(l[i].examples[1]);
    }
    free(l);
  }
  free_names(v->missing_rows, v->nmissing_rows);
  free_names(v->extra_rows, v->nextra_rows);
  free(v->partial_detail);
  memset(v, 0, sizeof *v);
}

static void key_list(fmh_buf *b, const char *what, const fmh_vkey *k, size_t n, uint64_t total) {
  if (!total) return;
  fmh_vbuf_printf(b, "  %s keys (%" PRIu64 "%s):", what, total, n < total ? ", first ones" : "");
  for (size_t i = 0; i < n; i++) {
    fmh_vbuf_puts(b, i ? ", " : " ");
    fmh_vkey_text(&k[i], b);
  }
  fmh_vbuf_puts(b, "\n");
}

char *fmh_verdict_format(const fmh_verdict *v) { return fmh_verdict_format_parts(v, FMH_VTEXT_ALL); }

char *fmh_verdict_format_parts(const fmh_verdict *v, unsigned parts) {
  fmh_buf b = {0};
  fmh_vbuf_puts(&b, ""); /* an empty text when no part has anything to say */
  if (parts & FMH_VTEXT_HEAD)
    fmh_vbuf_printf(&b, "validate (%s): %s\n", v->mode ? v->mode : "stream", v->ok ? "OK" : "FAILED");
  if ((parts & FMH_VTEXT_HEAD) && v->has_seed)
    fmh_vbuf_printf(&b, "  expected: generator seed %" PRIu64 ", rows %" PRId64 "..%" PRId64 "\n", v->seed,
                    v->first, v->last);
  if (parts & FMH_VTEXT_COUNTS) {
    fmh_vbuf_printf(&b,
                    "  rows: expected %" PRIu64 ", target %" PRIu64 "; keys present %" PRIu64 " (exact %" PRIu64
                    ", differing %" PRIu64 "), missing %" PRIu64 ", extra %" PRIu64 ", duplicated %" PRIu64,
                    v->expected, v->target, v->matched, v->exact, v->differing, v->missing, v->extra, v->duplicated);
    if (v->duplicate_rows)
      fmh_vbuf_printf(&b, " (%" PRIu64 " extra copies, %" PRIu64 " of them differing)", v->duplicate_rows,
                      v->copies_differing);
    fmh_vbuf_printf(&b, "; %" PRIu64 " differing fields\n", v->mismatched_fields);
    if (v->expected_duplicated)
      fmh_vbuf_printf(&b, "  the expected side repeats %" PRIu64 " keys (its key is not unique)\n",
                      v->expected_duplicated);
    if (v->chunks)
      fmh_vbuf_printf(&b,
                      "  checksum: %" PRIu64 " chunks, %" PRIu64 " differing, %" PRIu64 " checksum queries, %" PRIu64
                      " rows streamed\n",
                      v->chunks, v->chunks_differing, v->checksum_queries, v->rows_streamed);
    if (v->partial_detail) fmh_vbuf_printf(&b, "  PARTIAL: %s\n", v->partial_detail);
  }
  if (parts & FMH_VTEXT_TIME) fmh_vbuf_printf(&b, "  time: %.3f s, %.0f rows/s\n", v->elapsed_s, v->rows_per_s);
  if ((parts & FMH_VTEXT_COLUMNS) && v->nmissing_columns) {
    fmh_vbuf_puts(&b, "  columns missing from the target:");
    for (size_t i = 0; i < v->nmissing_columns; i++) fmh_vbuf_printf(&b, " %s", v->missing_columns[i]);
    fmh_vbuf_puts(&b, "\n");
  }
  if ((parts & FMH_VTEXT_COLUMNS) && v->nextra_columns) {
    fmh_vbuf_puts(&b, "  columns only in the target:");
    for (size_t i = 0; i < v->nextra_columns; i++) fmh_vbuf_printf(&b, " %s", v->extra_columns[i]);
    fmh_vbuf_puts(&b, "\n");
  }
  if ((parts & FMH_VTEXT_DIAGNOSIS) && (v->npatterns || v->nexplain)) {
    fmh_vbuf_puts(&b, "  diagnosis:\n");
    for (size_t i = 0; i < v->nexplain; i++) fmh_vbuf_printf(&b, "    %s\n", v->explain[i].text);
    for (size_t i = 0; i < v->npatterns; i++) {
      const fmh_vpattern *p = &v->patterns[i];
      fmh_vbuf_printf(&b, "    column %s: %s", p->column ? p->column : "?", p->text ? p->text : p->kind);
      for (int k = 0; k < 2; k++)
        if (p->examples[k]) fmh_vbuf_printf(&b, "%s%s", k ? "; " : " e.g. ", p->examples[k]);
      fmh_vbuf_puts(&b, "\n");
    }
  }
  for (size_t i = 0; (parts & FMH_VTEXT_ROWS) && i < v->nmissing_rows; i++)
    fmh_vbuf_printf(&b, "  missing row %s\n", v->missing_rows[i]);
  for (size_t i = 0; (parts & FMH_VTEXT_ROWS) && i < v->nextra_rows; i++)
    fmh_vbuf_printf(&b, "  extra row %s\n", v->extra_rows[i]);
  if (parts & FMH_VTEXT_KEYS) {
    key_list(&b, "missing", v->missing_keys, v->nmissing_keys, v->missing);
    key_list(&b, "extra", v->extra_keys, v->nextra_keys, v->extra);
    key_list(&b, "duplicated", v->duplicated_keys, v->nduplicated_keys, v->duplicated);
  }
  if (!(parts & FMH_VTEXT_SAMPLES)) return b.p;
  int any = 0;
  for (size_t i = 0; i < v->ncolumns; i++) {
    if (!v->columns[i].mismatches) continue;
    fmh_vbuf_puts(&b, any ? ", " : "  mismatches by column: ");
    fmh_vbuf_printf(&b, "%s %" PRIu64, v->columns[i].name, v->columns[i].mismatches);
    any = 1;
  }
  if (any) fmh_vbuf_puts(&b, "\n");
  for (size_t i = 0; i < v->nmismatches; i++) {
    const fmh_vmismatch *m = &v->mismatches[i];
    if (v->npatterns && i >= 10) {
      fmh_vbuf_printf(&b, "  (%zu more samples in the verdict's mismatches)\n", v->nmismatches - i);
      break;
    }
    fmh_vbuf_puts(&b, "  key ");
    fmh_vkey_text(&m->key, &b);
    fmh_vbuf_printf(&b, " column %s [%s]: expected ", m->column, m->reason);
    if (m->expected) fmh_vbuf_quoted(&b, m->expected, m->expected_len, 120);
    else fmh_vbuf_puts(&b, "NULL");
    fmh_vbuf_puts(&b, ", target ");
    if (m->actual) fmh_vbuf_quoted(&b, m->actual, m->actual_len, 120);
    else fmh_vbuf_puts(&b, "NULL");
    fmh_vbuf_printf(&b, " (%s)\n", m->detail ? m->detail : "");
  }
  if (v->truncated) fmh_vbuf_puts(&b, "  (samples capped: the counts above are complete)\n");
  return b.p;
}
