/* fmhost.validate, reading one side: the session time zone, the probe of
 * a SQL side's columns, the keyed SELECT of a range, and fetching rows (an
 * unbuffered cursor or a generator cursor) one at a time, keeping the
 * previous key. */
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

/* --- the session time zone ------------------------------------------------ */

int fmh_vsession_tz(fmh_conn *c, const char *tz, fmh_error *e) {
  fmh_buf q = {0};
  fmh_vbuf_puts(&q, "SET @fmh_validate_tz = @@session.time_zone, time_zone = '");
  for (const char *p = tz; *p; p++) {
    if (*p == '\'' || *p == '\\') fmh_buf_put(&q, "\\", 1);
    fmh_buf_put(&q, p, 1);
  }
  fmh_buf_put(&q, "'", 1);
  int rc = q.p ? fmh_conn_exec(c, q.p, q.len, e) : -1;
  if (!q.p) fmh_error_set(e, "os", ENOMEM, 0, "out of memory");
  fmh_buf_free(&q);
  return rc;
}

void fmh_vsession_restore(fmh_conn *c) {
  static const char sql[] = "SET time_zone = @fmh_validate_tz";
  fmh_error e = {0};
  if (fmh_conn_exec(c, sql, sizeof sql - 1, &e) != 0) fmh_conn_mark_broken(c);
  fmh_error_clear(&e);
}

/* --- sides ------------------------------------------------------------- */

void fmh_vside_cell(fmh_vcmp *c, vside *s, const vcol *col, int idx, vcell *out, char *scratch) {
  if (s->src.gen) fmh_vcell_from_gen(s->src.gen, col, &s->gv[idx], out, scratch, 96);
  else fmh_vcell_from_sql(&s->row[idx], out);
}

int fmh_vside_fetch(fmh_vcmp *c, vside *s, fmh_error *e) {
  s->have = 0;
  if (s->src.gen) {
    if (s->next >= s->end) return 0;
    if (fmh_gen_row(s->gc, s->next, NULL, s->gv, e) != 0) return -1;
    s->next++;
  } else {
    int r = fmh_cursor_fetch(s->cur, &s->row, e);
    if (r <= 0) return r;
  }
  s->have = 1;
  s->rows++;
  for (int k = 0; k < c->o.nkey; k++) {
    const vcol *kc = &c->keys[k];
    fmh_vside_cell(c, s, kc, s == &c->t ? kc->ti : kc->ei, &s->key[k], s->kscr[k]);
  }
  return 1;
}

/* Keep the current key as the previous one, in storage reused row after row. */
static int keep_prev(fmh_vcmp *c, vside *s) {
  fmh_vkey_part parts[16];
  fmh_vkey k;
  fmh_vside_key_view(c, s, &k, parts);
  s->prevbuf.len = 0;
  size_t offs[16];
  for (int i = 0; i < k.n; i++) {
    s->prev.parts[i] = parts[i];
    offs[i] = s->prevbuf.len;
    if (parts[i].kind == FMH_VK_TEXT && fmh_buf_put(&s->prevbuf, parts[i].s, parts[i].len) != 0) return -1;
  }
  for (int i = 0; i < k.n; i++)
    s->prev.parts[i].s = parts[i].kind == FMH_VK_TEXT ? s->prevbuf.p + offs[i] : NULL;
  s->prev.n = k.n;
  s->has_prev = 1;
  return 0;
}

/* Fetch the next row and place it against the previous key. */
int fmh_vside_advance(fmh_vcmp *c, vside *s, fmh_error *e) {
  if (s->have && keep_prev(c, s) != 0) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  int r = fmh_vside_fetch(c, s, e);
  if (r <= 0) return r;
  if (!s->has_prev) {
    s->repeat = 0;
    return 1;
  }
  int o = fmh_vprev_cmp(c, s);
  if (o < 0) {
    fmh_buf a = {0}, b = {0};
    fmh_vkey_text(&s->prev, &a);
    fmh_vkey_part parts[16];
    fmh_vkey k;
    fmh_vside_key_view(c, s, &k, parts);
    fmh_vkey_text(&k, &b);
    fmh_error_set(e, "validate", 0, 0,
                  "validate: the %s side is not in key order: key %s came after %s (integers must sort "
                  "numerically and strings byte by byte: use a binary collation for string keys, and "
                  "a generator whose key grows with the row number)",
                  s->role, b.p ? b.p : "?", a.p ? a.p : "?");
    fmh_buf_free(&a);
    fmh_buf_free(&b);
    return -1;
  }
  s->repeat = o == 0 ? s->repeat + 1 : 0;
  return 1;
}

void fmh_vside_close(vside *s) {
  if (s->cur) fmh_cursor_close(s->cur);
  s->cur = NULL;
  if (s->conn) {
    if (s->tz_set && !fmh_conn_is_broken(s->conn)) fmh_vsession_restore(s->conn);
    fmh_pool_release(s->conn);
  }
  s->conn = NULL;
  s->tz_set = 0;
  s->have = 0;
  s->has_prev = 0;
  s->repeat = 0;
}

static void part_param(const fmh_vkey_part *p, int binary, fmh_value *v) {
  memset(v, 0, sizeof *v);
  switch (p->kind) {
    case FMH_VK_NULL: v->t = FMH_V_NULL; break;
    case FMH_VK_INT: v->t = FMH_V_INT; v->i = p->i; break;
    case FMH_VK_UINT: v->t = FMH_V_UINT; v->u = p->u; break;
    case FMH_VK_TEXT:
      v->t = binary ? FMH_V_BLOB : FMH_V_STRING;
      v->s = p->s;
      v->len = p->len;
      break;
  }
}

int fmh_vrange_sql(fmh_buf *q, const char *key, const char *where, const fmh_vrange *r, int binary, fmh_value *params,
                   int *nparams) {
  int w = 0;
  *nparams = 0;
  if (where && where[0]) {
    fmh_vbuf_puts(q, " WHERE (");
    fmh_vbuf_puts(q, where);
    fmh_vbuf_puts(q, ")");
    w = 1;
  }
  if (r && r->has_lo) {
    fmh_vbuf_puts(q, w ? " AND " : " WHERE ");
    w = 1;
    fmh_vbuf_ident(q, key, 0);
    fmh_vbuf_puts(q, r->lo_incl ? " >= ?" : " > ?");
    part_param(&r->lo, binary, &params[(*nparams)++]);
  }
  if (r && r->has_hi) {
    fmh_vbuf_puts(q, w ? " AND " : " WHERE ");
    fmh_vbuf_ident(q, key, 0);
    fmh_vbuf_puts(q, " <= ?");
    part_param(&r->hi, binary, &params[(*nparams)++]);
  }
  return q->p ? 0 : -1;
}

/* The SELECT of a SQL side; a key range becomes two parameters. */
static int build_select(fmh_vcmp *c, vside *s, const fmh_vrange *r, fmh_buf *q, fmh_value *params, int *nparams,
                        fmh_error *e) {
  const fmh_vsource *src = &s->src;
  *nparams = 0;
  if (src->query && src->ordered) {
    if (r) {
      fmh_error_set(e, "usage", 0, 0, "validate: an ordered query cannot be cut into key ranges");
      return -1;
    }
    return fmh_vbuf_puts(q, src->query);
  }
  /* The columns by name, with a signature of their types in a comment: a
   * statement prepared before the table changed is never reused after. */
  fmh_vbuf_printf(q, "SELECT /* fmhost.validate %016" PRIx64 " */ ", s->sig);
  for (int i = 0; i < s->nprobe; i++) {
    if (i) fmh_vbuf_puts(q, ", ");
    fmh_vbuf_ident(q, s->probe[i], 0);
  }
  fmh_vbuf_puts(q, " FROM ");
  if (src->query) {
    fmh_vbuf_puts(q, "(");
    fmh_vbuf_puts(q, src->query);
    fmh_vbuf_puts(q, ") AS fmh_q");
  } else {
    fmh_vbuf_ident(q, src->table, 1);
  }
  fmh_vrange_sql(q, c->o.key[0], src->query ? NULL : src->where, r, s->key_binary, params, nparams);
  fmh_vbuf_puts(q, " ORDER BY ");
  for (int k = 0; k < c->o.nkey; k++) {
    if (k) fmh_vbuf_puts(q, ", ");
    fmh_vbuf_ident(q, c->o.key[k], 0);
  }
  if (!q->p) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  return 0;
}

static void probe_free(vside *s) {
  for (int i = 0; i < s->nprobe; i++) free(s->probe[i]);
  free(s->probe);
  s->probe = NULL;
  s->nprobe = 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * UINT64_C(0x100000001b3);
  return h;
}

/* SELECT * ... LIMIT 0 in the text protocol (never cached): the columns as
 * they are now, and the key columns checked against them. */
static int side_probe(fmh_vcmp *c, vside *s, fmh_error *e) {
  probe_free(s);
  fmh_buf q = {0};
  fmh_vbuf_puts(&q, "SELECT * FROM ");
  if (s->src.query) {
    fmh_vbuf_puts(&q, "(");
    fmh_vbuf_puts(&q, s->src.query);
    fmh_vbuf_puts(&q, ") AS fmh_q");
  } else {
    fmh_vbuf_ident(&q, s->src.table, 1);
  }
  fmh_vbuf_puts(&q, " LIMIT 0");
  if (!q.p) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  fmh_cursor *cur;
  fmh_exec_result res;
  int rc = fmh_conn_run(s->conn, q.p, q.len, NULL, 0, 0, &cur, &res, e);
  fmh_buf_free(&q);
  if (rc != 0) return -1;
  if (!cur) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s query returned no result set", s->role);
    return -1;
  }
  int n = fmh_cursor_ncols(cur);
  const fmh_column *cols = fmh_cursor_columns(cur);
  s->probe = calloc((size_t)(n ? n : 1), sizeof *s->probe);
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (int i = 0; s->probe && i < n; i++) {
    if (!(s->probe[i] = strdup(cols[i].name))) break;
    s->nprobe = i + 1;
    h = fnv(h, cols[i].name, strlen(cols[i].name) + 1);
    h = fnv(h, cols[i].type, strlen(cols[i].type) + 1);
    int meta[4] = {cols[i].unsigned_, cols[i].decimals, cols[i].binary, (int)cols[i].length};
    h = fnv(h, meta, sizeof meta);
  }
  s->sig = h;
  int key_binary = 0, missing = -1;
  for (int k = 0; k < c->o.nkey && missing < 0; k++) {
    int found = -1;
    for (int i = 0; i < n && found < 0; i++)
      if (strcasecmp(cols[i].name, c->o.key[k]) == 0) found = i;
    if (found < 0) missing = k;
    else if (k == 0) key_binary = cols[found].binary;
  }
  fmh_cursor_close(cur);
  if (s->nprobe != n) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  if (missing >= 0) {
    fmh_error_set(e, "usage", 0, 0, "validate: key column '%s' is not on the %s side", c->o.key[missing], s->role);
    return -1;
  }
  s->key_binary = key_binary;
  return 0;
}

int fmh_vside_open(fmh_vcmp *c, vside *s, const fmh_vrange *r, fmh_error *e) {
  if (s->src.gen) {
    s->next = s->src.first;
    s->end = s->src.first + s->src.count;
    return 0;
  }
  if (fmh_pool_acquire(s->src.pool, -1, &s->conn, e) != 0) return -1;
  if (fmh_vsession_tz(s->conn, c->o.time_zone, e) != 0) return -1;
  s->tz_set = 1;
  if (!(s->src.query && s->src.ordered) && side_probe(c, s, e) != 0) return -1;
  fmh_buf q = {0};
  fmh_value params[2];
  int np;
  if (build_select(c, s, r, &q, params, &np, e) != 0) {
    fmh_buf_free(&q);
    return -1;
  }
  /* the binary protocol: the text protocol sends FLOAT with 6 digits only */
  fmh_exec_result res;
  int rc = fmh_conn_run(s->conn, q.p, q.len, params, np, 1, &s->cur, &res, e);
  fmh_buf_free(&q);
  if (rc != 0) {
    char m[sizeof e->msg];
    snprintf(m, sizeof m, "%s", e->msg);
    snprintf(e->msg, sizeof e->msg, "validate: %s side: %.900s", s->role, m);
    return -1;
  }
  if (!s->cur) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s query returned no result set", s->role);
    return -1;
  }
  fmh_cursor_pack_temporal(s->cur); /* compared as counts; printed (rarely) as the server showed them */
  s->ncols = fmh_cursor_ncols(s->cur);
  s->cols = fmh_cursor_columns(s->cur);
  return 0;
}

int fmh_vside_init(fmh_vcmp *c, vside *s, fmh_error *e) {
  s->key = calloc((size_t)c->o.nkey, sizeof *s->key);
  s->kscr = calloc((size_t)c->o.nkey, sizeof *s->kscr);
  s->prev.parts = calloc((size_t)c->o.nkey, sizeof *s->prev.parts);
  if (!s->key || !s->kscr || !s->prev.parts) goto oom;
  if (s->src.gen) {
    s->gncols = fmh_gen_ncols(s->src.gen);
    s->gc = fmh_gen_cursor_new(s->src.gen);
    s->gv = calloc(s->gncols ? s->gncols : 1, sizeof *s->gv);
    if (!s->gc || !s->gv) goto oom;
  }
  return 0;
oom:
  fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
  return -1;
}

void fmh_vside_free(vside *s) {
  fmh_vside_close(s);
  probe_free(s);
  free(s->key);
  free(s->kscr);
  free(s->prev.parts);
  fmh_buf_free(&s->prevbuf);
  if (s->gc) fmh_gen_cursor_free(s->gc);
  free(s->gv);
  memset(s, 0, sizeof *s);
}
