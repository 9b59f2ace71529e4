/* fmhost.gen, describing the generator: column information, the CREATE
 * TABLE and LOAD DATA statements of its table. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"


/* ---- description --------------------------------------------------------- */

static void sql_type(const gcol *c, char *out, size_t cap) {
  const char *u = c->is_unsigned ? " UNSIGNED" : "";
  switch (c->type) {
    case FMH_GEN_DECIMAL: snprintf(out, cap, "DECIMAL(%d,%d)%s", c->precision, c->scale, u); break;
    case FMH_GEN_CHAR: case FMH_GEN_VARCHAR: case FMH_GEN_BINARY: case FMH_GEN_VARBINARY:
      snprintf(out, cap, "%s(%d)", fmh_gen_type_name(c->type), c->length);
      break;
    case FMH_GEN_TIME: case FMH_GEN_DATETIME: case FMH_GEN_TIMESTAMP:
      if (c->fsp > 0) snprintf(out, cap, "%s(%d)", fmh_gen_type_name(c->type), c->fsp);
      else snprintf(out, cap, "%s", fmh_gen_type_name(c->type));
      break;
    case FMH_GEN_ENUM: case FMH_GEN_SET: {
      size_t n = (size_t)snprintf(out, cap, "%s(", fmh_gen_type_name(c->type));
      for (size_t k = 0; k < c->nvalues && n + 8 < cap; k++) {
        if (k) out[n++] = ',';
        out[n++] = '\'';
        for (size_t j = 0; j < c->vlens[k] && n + 6 < cap; j++) {
          char ch = c->values[k][j];
          if (ch == '\'' || ch == '\\') out[n++] = ch == '\'' ? '\'' : '\\';
          out[n++] = ch;
        }
        out[n++] = '\'';
      }
      if (n + 2 < cap) { out[n++] = ')'; out[n] = 0; }
      else out[cap - 1] = 0;
      break;
    }
    default: snprintf(out, cap, "%s%s", fmh_gen_type_name(c->type), u); break;
  }
}

void fmh_gen_column_info(const fmh_gen *g, size_t col, fmh_gen_colinfo *o) {
  const gcol *c = &g->cols[col];
  static const char *const cs_names[] = {"utf8", "ascii", "latin1", "cjk", "emoji", "alnum"};
  memset(o, 0, sizeof *o);
  o->name = c->name;
  o->type = c->type;
  o->type_name = fmh_gen_type_name(c->type);
  o->is_unsigned = c->is_unsigned;
  o->precision = c->precision;
  o->scale = c->scale;
  o->length = c->length;
  o->fsp = c->fsp;
  o->nullable = c->nullable;
  o->unique = c->unique;
  o->primary_key = c->primary_key;
  o->null_ratio = c->null_ratio;
  o->edge_ratio = c->edge_ratio;
  o->dist = c->dist;
  o->zipf_n = c->zipf_n;
  o->zipf_s = c->zipf_s;
  o->cardinality = c->cardinality;
  o->charset = cs_names[c->charset];
  o->max_bytes = c->cap_bytes;
  o->min_length = c->min_length;
  o->depth = c->depth;
  o->width = c->width;
  o->edge_depth = c->edge_depth;
  o->nvalues = c->nvalues;
  o->values = (const char *const *)c->values;
  o->value_lens = c->vlens;
  o->nedges = (size_t)c->nedges;
  sql_type(c, o->sql_type, sizeof o->sql_type);
  memcpy(o->min, c->min, 48);
  memcpy(o->max, c->max, 48);
  memcpy(o->start, c->start, 48);
  memcpy(o->step, c->step, 48);
}

const char *fmh_gen_column_name(const fmh_gen *g, size_t col) { return g->cols[col].name; }
fmh_gen_type fmh_gen_column_type(const fmh_gen *g, size_t col) { return g->cols[col].type; }
int fmh_gen_column_fsp(const fmh_gen *g, size_t col) { return g->cols[col].fsp; }

const char *fmh_gen_column_edge(const fmh_gen *g, size_t col, size_t k) {
  const gcol *c = &g->cols[col];
  return k < (size_t)c->nedges ? fmh_gen_edge_name(c->edge_ids[k]) : NULL;
}

static int bputs(fmh_buf *b, const char *s) { return fmh_buf_put(b, s, strlen(s)); }

char *fmh_gen_create_table_sql(const fmh_gen *g, const char *table) {
  fmh_buf b = {0};
  char line[512];
  int ok = 1;
  ok &= bputs(&b, "CREATE TABLE `") == 0;
  for (const char *p = table; *p; p++) ok &= fmh_buf_put(&b, *p == '`' ? "``" : p, *p == '`' ? 2 : 1) == 0;
  ok &= bputs(&b, "` (\n") == 0;
  int npk = 0;
  for (size_t k = 0; k < g->ncols; k++) {
    const gcol *c = &g->cols[k];
    char t[160];
    sql_type(c, t, sizeof t);
    const char *null = c->nullable ? " NULL" : " NOT NULL";
    snprintf(line, sizeof line, "  `%s` %s%s%s,\n", c->name, t, null,
             c->type == FMH_GEN_TIMESTAMP && c->nullable ? " DEFAULT NULL" : "");
    ok &= bputs(&b, line) == 0;
    npk += c->primary_key;
  }
  if (npk) {
    ok &= bputs(&b, "  PRIMARY KEY (") == 0;
    int first = 1;
    for (size_t k = 0; k < g->ncols; k++)
      if (g->cols[k].primary_key) {
        snprintf(line, sizeof line, "%s`%s`", first ? "" : ", ", g->cols[k].name);
        ok &= bputs(&b, line) == 0;
        first = 0;
      }
    ok &= bputs(&b, "),\n") == 0;
  }
  for (size_t k = 0; k < g->ncols; k++)
    if (g->cols[k].unique && !(g->cols[k].primary_key && npk == 1)) {
      snprintf(line, sizeof line, "  UNIQUE KEY `uq_%s` (`%s`),\n", g->cols[k].name, g->cols[k].name);
      ok &= bputs(&b, line) == 0;
    }
  /* drop the last comma */
  if (ok && b.len >= 2 && b.p[b.len - 2] == ',') { b.p[b.len - 2] = '\n'; b.len--; }
  snprintf(line, sizeof line, ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=%s", g->collation);
  ok &= bputs(&b, line) == 0;
  ok &= fmh_buf_put(&b, "", 1) == 0;
  if (!ok) { fmh_buf_free(&b); return NULL; }
  return b.p;
}

char *fmh_gen_load_data_sql(const fmh_gen *g, const char *table, const char *path, int local) {
  fmh_buf b = {0};
  int ok = 1;
  ok &= bputs(&b, local ? "LOAD DATA LOCAL INFILE '" : "LOAD DATA INFILE '") == 0;
  for (const char *p = path; *p; p++) {
    if (*p == '\'' || *p == '\\') ok &= fmh_buf_put(&b, "\\", 1) == 0;
    ok &= fmh_buf_put(&b, p, 1) == 0;
  }
  ok &= bputs(&b, "' INTO TABLE `") == 0;
  ok &= bputs(&b, table) == 0;
  /* the clause fmhost.pool's bulk load uses: one CSV dialect for both */
  ok &= bputs(&b, "` " FMH_CSV_CLAUSE " (") == 0;
  for (size_t k = 0; k < g->ncols; k++) {
    ok &= bputs(&b, k ? ", `" : "`") == 0;
    ok &= bputs(&b, g->cols[k].name) == 0;
    ok &= bputs(&b, "`") == 0;
  }
  ok &= bputs(&b, ")") == 0;
  ok &= fmh_buf_put(&b, "", 1) == 0;
  if (!ok) { fmh_buf_free(&b); return NULL; }
  return b.p;
}

