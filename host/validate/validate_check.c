/* fmhost.validate, schema and data-quality checks: a table's definition
 * (information_schema.COLUMNS and STATISTICS) against an expected list of
 * columns, and the standard checks on its data (row count, unique, not
 * null, accepted values, relationships), each answered by the server with
 * a count and a few sample keys. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fmhost/validate.h"
#include "validate_int.h"

static int oom(fmh_error *e) {
  fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
  return -1;
}

static void split_table(const char *t, char *db, size_t dbcap, const char **name) {
  const char *dot = strchr(t, '.');
  db[0] = '\0';
  *name = t;
  if (dot && (size_t)(dot - t) < dbcap) {
    memcpy(db, t, (size_t)(dot - t));
    db[dot - t] = '\0';
    *name = dot + 1;
  }
}

int fmh_vmeta_query(fmh_conn *c, const char *head, const char *tail, const char *table, fmh_cursor **q,
                    fmh_error *e) {
  char db[200];
  const char *name;
  split_table(table, db, sizeof db, &name);
  fmh_buf sql = {0};
  fmh_vbuf_puts(&sql, head);
  fmh_vbuf_puts(&sql, db[0] ? "?" : "DATABASE()");
  fmh_vbuf_puts(&sql, tail);
  if (!sql.p) return oom(e);
  fmh_value p[2];
  memset(p, 0, sizeof p);
  int np = 0;
  if (db[0]) {
    p[np].t = FMH_V_STRING;
    p[np].s = db;
    p[np++].len = strlen(db);
  }
  p[np].t = FMH_V_STRING;
  p[np].s = name;
  p[np++].len = strlen(name);
  fmh_exec_result r;
  int rc = fmh_conn_run(c, sql.p, sql.len, p, np, 1, q, &r, e);
  fmh_buf_free(&sql);
  return rc;
}

/* --- schema ------------------------------------------------------------- */

typedef struct acol {
  char *name, *type, *key;
  char *charset, *collation; /* NULL for a column without a character set */
  int nullable;
} acol;

/* A column type in one spelling: lower-case type words, no integer display
 * width, aliases resolved ("boolean" -> "tinyint(1)", "json" -> "longtext",
 * "integer" -> "int", "decimal" -> "decimal(10,0)"). Values inside quotes
 * keep their case. */
/* dst = a + b, cut to cap */
static void join2(char *dst, size_t cap, const char *a, size_t an, const char *b) {
  char tmp[512];
  size_t bn = strlen(b);
  if (an > sizeof tmp - 1) an = sizeof tmp - 1;
  if (bn > sizeof tmp - 1 - an) bn = sizeof tmp - 1 - an;
  memcpy(tmp, a, an);
  memcpy(tmp + an, b, bn);
  tmp[an + bn] = '\0';
  size_t n = an + bn < cap - 1 ? an + bn : cap - 1;
  memcpy(dst, tmp, n);
  dst[n] = '\0';
}

static void type_norm(const char *in, char *w, size_t cap) {
  size_t n = 0;
  int quote = 0;
  for (const char *p = in; *p && n + 1 < cap; p++) {
    char ch = *p;
    if (ch == '\'') quote = !quote;
    if (!quote) {
      if (isspace((unsigned char)ch)) {
        if (n > 0 && w[n - 1] != ' ') w[n++] = ' ';
        continue;
      }
      ch = (char)tolower((unsigned char)ch);
    }
    w[n++] = ch;
  }
  while (n > 0 && w[n - 1] == ' ') n--;
  w[n] = '\0';
  static const struct { const char *from, *to; } alias[] = {
      {"boolean", "tinyint(1)"}, {"bool", "tinyint(1)"},     {"json", "longtext"},     {"integer", "int"},
      {"dec", "decimal"},        {"numeric", "decimal"},     {"fixed", "decimal"},     {"double precision", "double"},
      {"real", "double"},        {"character varying", "varchar"},
  };
  for (size_t i = 0; i < sizeof alias / sizeof *alias; i++) {
    size_t l = strlen(alias[i].from);
    if (strncmp(w, alias[i].from, l) == 0 && (w[l] == '\0' || w[l] == ' ' || w[l] == '(')) {
      char rest[512];
      join2(rest, sizeof rest, "", 0, w + l);
      join2(w, cap, alias[i].to, strlen(alias[i].to), rest);
      break;
    }
  }
  /* integer display widths go, except tinyint(1) (the BOOLEAN spelling) */
  static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int", "bigint", NULL};
  for (int i = 0; ints[i]; i++) {
    size_t l = strlen(ints[i]);
    if (strncmp(w, ints[i], l) == 0 && w[l] == '(') {
      char *close = strchr(w + l, ')');
      if (close && !(i == 0 && strncmp(w + l, "(1)", 3) == 0)) memmove(w + l, close + 1, strlen(close + 1) + 1);
      break;
    }
  }
  if (strcmp(w, "decimal") == 0 || strncmp(w, "decimal ", 8) == 0) {
    char rest[512];
    join2(rest, sizeof rest, "", 0, w + 7);
    join2(w, cap, "decimal(10,0)", 13, rest);
  } else if (strncmp(w, "decimal(", 8) == 0 && !strchr(w, ',')) {
    char *close = strchr(w, ')');
    if (close) {
      char rest[512], head[512];
      join2(rest, sizeof rest, ",0", 2, close);
      join2(head, sizeof head, w, (size_t)(close - w), rest);
      join2(w, cap, head, strlen(head), "");
    }
  }
  /* fsp 0 is the default spelling */
  static const char *const temporal[] = {"datetime(0)", "timestamp(0)", "time(0)", NULL};
  for (int i = 0; temporal[i]; i++) {
    size_t l = strlen(temporal[i]);
    if (strncmp(w, temporal[i], l) == 0) memmove(w + l - 3, w + l, strlen(w + l) + 1);
  }
  if (strcmp(w, "char") == 0) join2(w, cap, "char(1)", 7, "");
  if (strcmp(w, "binary") == 0) join2(w, cap, "binary(1)", 9, "");
}

static int add_issue(fmh_vschema_result *r, const char *column, const char *what, const char *expected,
                     const char *actual) {
  fmh_vschema_issue *ni = realloc(r->issues, (r->nissues + 1) * sizeof *ni);
  if (!ni) return -1;
  r->issues = ni;
  fmh_vschema_issue *i = &ni[r->nissues++];
  i->column = strdup(column);
  i->what = what;
  i->expected = expected ? strdup(expected) : NULL;
  i->actual = actual ? strdup(actual) : NULL;
  return i->column ? 0 : -1;
}

void fmh_vschema_result_free(fmh_vschema_result *r) {
  for (size_t i = 0; i < r->nissues; i++) {
    free(r->issues[i].column);
    free(r->issues[i].expected);
    free(r->issues[i].actual);
  }
  free(r->issues);
  for (size_t i = 0; i < r->nprimary_key; i++) free(r->primary_key[i]);
  free(r->primary_key);
  memset(r, 0, sizeof *r);
}

static int read_pk(fmh_conn *c, const char *table, char ***pk, size_t *n, fmh_error *e) {
  fmh_cursor *q;
  if (fmh_vmeta_query(c, "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ",
                 " AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX", table, &q, e) != 0)
    return -1;
  const fmh_value *row;
  int rc;
  while ((rc = fmh_cursor_fetch(q, &row, e)) == 1) {
    char **nl = realloc(*pk, (*n + 1) * sizeof *nl);
    if (!nl || !(nl[*n] = strndup(row[0].s, row[0].len))) {
      if (nl) *pk = nl;
      fmh_cursor_close(q);
      return oom(e);
    }
    *pk = nl;
    (*n)++;
  }
  fmh_cursor_close(q);
  return rc < 0 ? -1 : 0;
}

int fmh_validate_schema(const fmh_vschema_opts *o, fmh_vschema_result *r, fmh_error *e) {
  memset(r, 0, sizeof *r);
  if (!o->pool || !o->table) {
    fmh_error_set(e, "usage", 0, 0, "validate.schema: pool and table are required");
    return -1;
  }
  fmh_conn *c;
  if (fmh_pool_acquire(o->pool, -1, &c, e) != 0) return -1;
  acol *cols = NULL;
  size_t n = 0;
  int rc = -1;
  fmh_cursor *q;
  if (fmh_vmeta_query(c,
                 "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, CHARACTER_SET_NAME, COLLATION_NAME "
                 "FROM information_schema.COLUMNS "
                 "WHERE TABLE_SCHEMA = ",
                 " AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", o->table, &q, e) != 0)
    goto out;
  const fmh_value *row;
  int f;
  while ((f = fmh_cursor_fetch(q, &row, e)) == 1) {
    acol *nc = realloc(cols, (n + 1) * sizeof *nc);
    if (!nc) {
      fmh_cursor_close(q);
      oom(e);
      goto out;
    }
    cols = nc;
    acol *a = &cols[n++];
    a->name = strndup(row[0].s, row[0].len);
    a->type = strndup(row[1].s, row[1].len);
    a->nullable = row[2].len == 3 && memcmp(row[2].s, "YES", 3) == 0;
    a->key = strndup(row[3].s, row[3].len);
    a->charset = row[4].t == FMH_V_NULL ? NULL : strndup(row[4].s, row[4].len);
    a->collation = row[5].t == FMH_V_NULL ? NULL : strndup(row[5].s, row[5].len);
    if (!a->name || !a->type || !a->key || (row[4].t != FMH_V_NULL && !a->charset) ||
        (row[5].t != FMH_V_NULL && !a->collation)) {
      fmh_cursor_close(q);
      oom(e);
      goto out;
    }
  }
  fmh_cursor_close(q);
  if (f < 0) goto out;
  if (n == 0) {
    fmh_error_set(e, "validate", 1146, 0, "validate.schema: table '%s' not found", o->table);
    goto out;
  }
  if (read_pk(c, o->table, &r->primary_key, &r->nprimary_key, e) != 0) goto out;
  size_t matched = 0;
  for (int i = 0; i < o->ncols; i++) {
    const fmh_vcol_expect *x = &o->cols[i];
    size_t j = 0;
    while (j < n && strcasecmp(cols[j].name, x->name) != 0) j++;
    if (j == n) {
      if (add_issue(r, x->name, "missing", x->type ? x->type : "a column", NULL) != 0) goto nomem;
      continue;
    }
    const acol *a = &cols[j];
    if (o->exact && j != matched) {
      char ep[32], ap[32];
      snprintf(ep, sizeof ep, "position %zu", matched + 1);
      snprintf(ap, sizeof ap, "position %zu", j + 1);
      if (add_issue(r, x->name, "order", ep, ap) != 0) goto nomem;
    }
    matched++;
    if (x->type) {
      char nx[512], na[512];
      type_norm(x->type, nx, sizeof nx);
      type_norm(a->type, na, sizeof na);
      if (strcmp(nx, na) != 0 && add_issue(r, x->name, "type", x->type, a->type) != 0) goto nomem;
    }
    if (x->nullable >= 0 && (x->nullable != 0) != (a->nullable != 0) &&
        add_issue(r, x->name, "nullable", x->nullable ? "NULL" : "NOT NULL", a->nullable ? "NULL" : "NOT NULL") != 0)
      goto nomem;
    /* the character set decides which characters the column can hold; the
     * collation how keys sort and which values count as duplicates */
    int charset_ok = 1;
    if (x->charset) {
      charset_ok = a->charset && strcasecmp(x->charset, a->charset) == 0;
      if (!charset_ok && add_issue(r, x->name, "charset", x->charset, a->charset ? a->charset : "(none)") != 0)
        goto nomem;
    }
    if (x->collation && charset_ok && !(a->collation && strcasecmp(x->collation, a->collation) == 0) &&
        add_issue(r, x->name, "collation", x->collation, a->collation ? a->collation : "(none)") != 0)
      goto nomem;
    if (x->key && strcasecmp(x->key, a->key) != 0 &&
        add_issue(r, x->name, "key", x->key[0] ? x->key : "(none)", a->key[0] ? a->key : "(none)") != 0)
      goto nomem;
  }
  if (o->exact) {
    for (size_t j = 0; j < n; j++) {
      int found = 0;
      for (int i = 0; i < o->ncols && !found; i++) found = strcasecmp(cols[j].name, o->cols[i].name) == 0;
      if (!found && add_issue(r, cols[j].name, "extra", NULL, cols[j].type) != 0) goto nomem;
    }
  }
  if (o->primary_key) {
    int same = (size_t)o->nprimary_key == r->nprimary_key;
    for (int i = 0; same && i < o->nprimary_key; i++) same = strcasecmp(o->primary_key[i], r->primary_key[i]) == 0;
    if (!same) {
      fmh_buf ex = {0}, ac = {0};
      for (int i = 0; i < o->nprimary_key; i++) fmh_vbuf_printf(&ex, "%s%s", i ? "," : "", o->primary_key[i]);
      for (size_t i = 0; i < r->nprimary_key; i++) fmh_vbuf_printf(&ac, "%s%s", i ? "," : "", r->primary_key[i]);
      int bad = add_issue(r, "(primary key)", "primary_key", ex.p ? ex.p : "(none)", ac.p ? ac.p : "(none)");
      fmh_buf_free(&ex);
      fmh_buf_free(&ac);
      if (bad) goto nomem;
    }
  }
  r->ok = r->nissues == 0;
  rc = 0;
  goto out;
nomem:
  oom(e);
out:
  for (size_t j = 0; j < n; j++) {
    free(cols[j].name);
    free(cols[j].type);
    free(cols[j].key);
    free(cols[j].charset);
    free(cols[j].collation);
  }
  free(cols);
  fmh_pool_release(c);
  return rc;
}

/* --- data quality ------------------------------------------------------- */

static const char *const KIND_NAMES[] = {"row_count", "unique", "not_null", "accepted", "relationship"};

void fmh_vquality_result_free(fmh_vquality_result *r) {
  free(r->name);
  for (size_t i = 0; i < r->nsamples; i++) fmh_vkey_free(&r->samples[i]);
  free(r->samples);
  free(r->detail);
  memset(r, 0, sizeof *r);
}

/* One integer from a statement. */
static int scalar_u64(fmh_conn *c, const fmh_buf *q, const fmh_value *p, int np, uint64_t *out, fmh_error *e) {
  fmh_cursor *cur;
  fmh_exec_result r;
  if (fmh_conn_run(c, q->p, q->len, p, np, 1, &cur, &r, e) != 0) return -1;
  const fmh_value *row;
  int rc = fmh_cursor_fetch(cur, &row, e);
  *out = 0;
  if (rc == 1) {
    if (row[0].t == FMH_V_INT) *out = row[0].i < 0 ? 0 : (uint64_t)row[0].i;
    else if (row[0].t == FMH_V_UINT) *out = row[0].u;
    else if (row[0].t == FMH_V_DECIMAL) *out = strtoull(row[0].s, NULL, 10);
  }
  fmh_cursor_close(cur);
  return rc < 0 ? -1 : 0;
}

/* Rows of a statement as sample keys (every column a key part). */
static int samples(fmh_conn *c, const fmh_buf *q, const fmh_value *p, int np, fmh_vquality_result *r, fmh_error *e) {
  fmh_cursor *cur;
  fmh_exec_result res;
  if (fmh_conn_run(c, q->p, q->len, p, np, 1, &cur, &res, e) != 0) return -1;
  int n = fmh_cursor_ncols(cur), rc;
  const fmh_value *row;
  while ((rc = fmh_cursor_fetch(cur, &row, e)) == 1) {
    fmh_vkey *nk = realloc(r->samples, (r->nsamples + 1) * sizeof *nk);
    if (!nk) {
      fmh_cursor_close(cur);
      return oom(e);
    }
    r->samples = nk;
    fmh_vkey *k = &nk[r->nsamples];
    k->n = n;
    k->parts = calloc((size_t)n, sizeof *k->parts);
    if (!k->parts) {
      fmh_cursor_close(cur);
      return oom(e);
    }
    r->nsamples++;
    for (int i = 0; i < n; i++) {
      if (fmh_vkey_part_from_value(&row[i], &k->parts[i]) != 0) {
        fmh_cursor_close(cur);
        return oom(e);
      }
    }
  }
  fmh_cursor_close(cur);
  return rc < 0 ? -1 : 0;
}

static void idents(fmh_buf *q, const char *const *names, int n, const char *prefix) {
  for (int i = 0; i < n; i++) {
    if (i) fmh_vbuf_puts(q, ", ");
    if (prefix) fmh_vbuf_puts(q, prefix);
    fmh_vbuf_ident(q, names[i], 0);
  }
}

static void and_where(fmh_buf *q, const char *where, int *has) {
  if (!where || !where[0]) return;
  fmh_vbuf_puts(q, *has ? " AND (" : " WHERE (");
  fmh_vbuf_puts(q, where);
  fmh_vbuf_puts(q, ")");
  *has = 1;
}

static int one_check(fmh_conn *c, const fmh_vquality_opts *o, const fmh_vquality_check *k, char **pk, size_t npk,
                     fmh_vquality_result *r, fmh_error *e) {
  fmh_buf q = {0}, s = {0};
  int rc = -1, has = 0;
  int limit = o->max_samples > 0 ? o->max_samples : 5;
  const char *col = k->ncolumns > 0 ? k->columns[0] : NULL;
  /* the sample key: the primary key, or the checked columns */
  const char *const *skey = npk ? (const char *const *)pk : k->columns;
  int nskey = npk ? (int)npk : k->ncolumns;
  fmh_value *params = NULL;
  r->kind = KIND_NAMES[k->kind];
  if (k->kind != FMH_VQ_ROW_COUNT && !col) {
    fmh_error_set(e, "usage", 0, 0, "validate.quality: check %s needs a column", r->kind);
    goto out;
  }
  /* rows checked */
  fmh_vbuf_puts(&q, "SELECT COUNT(*) FROM ");
  fmh_vbuf_ident(&q, o->table, 1);
  and_where(&q, k->where, &has);
  if (!q.p) goto nomem;
  if (scalar_u64(c, &q, NULL, 0, &r->rows, e) != 0) goto out;
  q.len = 0;
  has = 0;
  switch (k->kind) {
    case FMH_VQ_ROW_COUNT:
      r->ok = r->rows >= (uint64_t)(k->min > 0 ? k->min : 0) && (k->max < 0 || r->rows <= (uint64_t)k->max);
      r->failing = !r->ok;
      if (k->max < 0) fmh_vbuf_printf(&s, "%" PRIu64 " rows, expected at least %" PRId64, r->rows, k->min);
      else fmh_vbuf_printf(&s, "%" PRIu64 " rows, expected %" PRId64 "..%" PRId64, r->rows, k->min, k->max);
      rc = 0;
      goto out;
    case FMH_VQ_NOT_NULL:
      fmh_vbuf_puts(&q, "SELECT COUNT(*) FROM ");
      fmh_vbuf_ident(&q, o->table, 1);
      fmh_vbuf_puts(&q, " WHERE ");
      fmh_vbuf_ident(&q, col, 0);
      fmh_vbuf_puts(&q, " IS NULL");
      has = 1;
      and_where(&q, k->where, &has);
      if (!q.p || scalar_u64(c, &q, NULL, 0, &r->failing, e) != 0) goto out;
      if (r->failing) {
        q.len = 0;
        fmh_vbuf_puts(&q, "SELECT ");
        idents(&q, skey, nskey, NULL);
        fmh_vbuf_puts(&q, " FROM ");
        fmh_vbuf_ident(&q, o->table, 1);
        fmh_vbuf_puts(&q, " WHERE ");
        fmh_vbuf_ident(&q, col, 0);
        fmh_vbuf_puts(&q, " IS NULL");
        and_where(&q, k->where, &has);
        fmh_vbuf_printf(&q, " LIMIT %d", limit);
        if (!q.p || samples(c, &q, NULL, 0, r, e) != 0) goto out;
      }
      fmh_vbuf_printf(&s, "%" PRIu64 " of %" PRIu64 " rows have %s NULL", r->failing, r->rows, col);
      break;
    case FMH_VQ_UNIQUE: {
      /* groups of equal non-NULL values seen more than once */
      fmh_buf g = {0};
      fmh_vbuf_puts(&g, " FROM ");
      fmh_vbuf_ident(&g, o->table, 1);
      fmh_vbuf_puts(&g, " WHERE ");
      for (int i = 0; i < k->ncolumns; i++) {
        if (i) fmh_vbuf_puts(&g, " AND ");
        fmh_vbuf_ident(&g, k->columns[i], 0);
        fmh_vbuf_puts(&g, " IS NOT NULL");
      }
      int gh = 1;
      and_where(&g, k->where, &gh);
      fmh_vbuf_puts(&g, " GROUP BY ");
      idents(&g, k->columns, k->ncolumns, NULL);
      fmh_vbuf_puts(&g, " HAVING COUNT(*) > 1");
      if (!g.p) {
        fmh_buf_free(&g);
        goto nomem;
      }
      fmh_vbuf_puts(&q, "SELECT COUNT(*) FROM (SELECT COUNT(*) AS n");
      fmh_buf_put(&q, g.p, g.len);
      fmh_vbuf_puts(&q, ") AS d");
      int bad = !q.p || scalar_u64(c, &q, NULL, 0, &r->groups, e) != 0;
      if (!bad) {
        q.len = 0;
        fmh_vbuf_puts(&q, "SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) AS n");
        fmh_buf_put(&q, g.p, g.len);
        fmh_vbuf_puts(&q, ") AS d");
        bad = !q.p || scalar_u64(c, &q, NULL, 0, &r->failing, e) != 0;
      }
      if (!bad && r->groups) {
        q.len = 0;
        fmh_vbuf_puts(&q, "SELECT ");
        idents(&q, k->columns, k->ncolumns, NULL);
        fmh_buf_put(&q, g.p, g.len);
        fmh_vbuf_puts(&q, " ORDER BY ");
        idents(&q, k->columns, k->ncolumns, NULL);
        fmh_vbuf_printf(&q, " LIMIT %d", limit);
        bad = !q.p || samples(c, &q, NULL, 0, r, e) != 0;
      }
      fmh_buf_free(&g);
      if (bad) goto out;
      fmh_vbuf_printf(&s, "%" PRIu64 " values repeat, in %" PRIu64 " rows (samples: the repeated values)", r->groups,
                      r->failing);
      break;
    }
    case FMH_VQ_ACCEPTED: {
      if (k->nvalues < 1) {
        fmh_error_set(e, "usage", 0, 0, "validate.quality: accepted needs at least one value");
        goto out;
      }
      params = calloc((size_t)k->nvalues, sizeof *params);
      if (!params) goto nomem;
      fmh_buf w = {0};
      fmh_vbuf_puts(&w, " WHERE ");
      fmh_vbuf_ident(&w, col, 0);
      fmh_vbuf_puts(&w, " IS NOT NULL AND ");
      fmh_vbuf_ident(&w, col, 0);
      fmh_vbuf_puts(&w, " NOT IN (");
      for (int i = 0; i < k->nvalues; i++) {
        fmh_vbuf_puts(&w, i ? ",?" : "?");
        params[i].t = FMH_V_STRING;
        params[i].s = k->values[i];
        params[i].len = k->value_lens ? k->value_lens[i] : strlen(k->values[i]);
      }
      fmh_vbuf_puts(&w, ")");
      int wh = 1;
      and_where(&w, k->where, &wh);
      if (!w.p) goto nomem;
      fmh_vbuf_puts(&q, "SELECT COUNT(*) FROM ");
      fmh_vbuf_ident(&q, o->table, 1);
      fmh_buf_put(&q, w.p, w.len);
      int bad = !q.p || scalar_u64(c, &q, params, k->nvalues, &r->failing, e) != 0;
      if (!bad && r->failing) {
        q.len = 0;
        fmh_vbuf_puts(&q, "SELECT ");
        idents(&q, skey, nskey, NULL);
        fmh_vbuf_puts(&q, " FROM ");
        fmh_vbuf_ident(&q, o->table, 1);
        fmh_buf_put(&q, w.p, w.len);
        fmh_vbuf_printf(&q, " LIMIT %d", limit);
        bad = !q.p || samples(c, &q, params, k->nvalues, r, e) != 0;
      }
      fmh_buf_free(&w);
      if (bad) goto out;
      fmh_vbuf_printf(&s, "%" PRIu64 " of %" PRIu64 " rows have %s outside the %d accepted values", r->failing,
                      r->rows, col, k->nvalues);
      break;
    }
    case FMH_VQ_RELATIONSHIP: {
      if (!k->ref_table || !k->ref_column) {
        fmh_error_set(e, "usage", 0, 0, "validate.quality: relationship needs ref_table and ref_column");
        goto out;
      }
      fmh_buf w = {0};
      fmh_vbuf_puts(&w, " FROM ");
      fmh_vbuf_ident(&w, o->table, 1);
      fmh_vbuf_puts(&w, " AS c WHERE c.");
      fmh_vbuf_ident(&w, col, 0);
      fmh_vbuf_puts(&w, " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ");
      fmh_vbuf_ident(&w, k->ref_table, 1);
      fmh_vbuf_puts(&w, " AS r WHERE r.");
      fmh_vbuf_ident(&w, k->ref_column, 0);
      fmh_vbuf_puts(&w, " = c.");
      fmh_vbuf_ident(&w, col, 0);
      fmh_vbuf_puts(&w, ")");
      int wh = 1;
      and_where(&w, k->where, &wh);
      if (!w.p) goto nomem;
      fmh_vbuf_puts(&q, "SELECT COUNT(*)");
      fmh_buf_put(&q, w.p, w.len);
      int bad = !q.p || scalar_u64(c, &q, NULL, 0, &r->failing, e) != 0;
      if (!bad && r->failing) {
        q.len = 0;
        fmh_vbuf_puts(&q, "SELECT ");
        idents(&q, skey, nskey, "c.");
        fmh_buf_put(&q, w.p, w.len);
        fmh_vbuf_printf(&q, " LIMIT %d", limit);
        bad = !q.p || samples(c, &q, NULL, 0, r, e) != 0;
      }
      fmh_buf_free(&w);
      if (bad) goto out;
      fmh_vbuf_printf(&s, "%" PRIu64 " of %" PRIu64 " rows have a %s not found in %s.%s", r->failing, r->rows, col,
                      k->ref_table, k->ref_column);
      break;
    }
  }
  r->ok = r->failing == 0;
  rc = 0;
  goto out;
nomem:
  oom(e);
out:
  if (rc == 0) {
    r->detail = s.p ? strdup(s.p) : strdup("");
    if (!r->detail) rc = oom(e);
  }
  free(params);
  fmh_buf_free(&q);
  fmh_buf_free(&s);
  return rc;
}

int fmh_validate_quality(const fmh_vquality_opts *o, fmh_vquality_result *res, fmh_error *e) {
  if (!o->pool || !o->table) {
    fmh_error_set(e, "usage", 0, 0, "validate.quality: pool and table are required");
    return -1;
  }
  for (int i = 0; i < o->nchecks; i++) memset(&res[i], 0, sizeof res[i]);
  fmh_conn *c;
  if (fmh_pool_acquire(o->pool, -1, &c, e) != 0) return -1;
  char **pk = NULL;
  size_t npk = 0;
  int rc = read_pk(c, o->table, &pk, &npk, e);
  for (int i = 0; rc == 0 && i < o->nchecks; i++) {
    const fmh_vquality_check *k = &o->checks[i];
    if (k->ref_pool && k->ref_pool != o->pool) {
      fmh_error_set(e, "usage", 0, 0,
                    "validate.quality: a relationship is checked by a join: the referenced table must be on the "
                    "same pool");
      rc = -1;
      break;
    }
    fmh_buf name = {0};
    if (k->name) fmh_vbuf_puts(&name, k->name);
    else {
      fmh_vbuf_puts(&name, KIND_NAMES[k->kind]);
      for (int j = 0; j < k->ncolumns; j++) fmh_vbuf_printf(&name, "%s%s", j ? "," : ":", k->columns[j]);
    }
    res[i].name = name.p;
    if (!res[i].name) rc = oom(e);
    else rc = one_check(c, o, k, pk, npk, &res[i], e);
  }
  for (size_t i = 0; i < npk; i++) free(pk[i]);
  free(pk);
  fmh_pool_release(c);
  return rc;
}
