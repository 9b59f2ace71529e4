/* fmhost.gen, the schema: the column types and the keys of a schema, each
 * checked as it is set. The generator's other jobs sit beside this file:
 * compiling columns (gen_build.c), drawing values (gen_draw.c), describing
 * the table (gen_ddl.c), writers (gen_write.c), the row source for loads
 * (gen_source.c), JSON (gen_json.c), numbers (gen_num.c), zones (gen_tz.c).
 *
 * Cell (row i, column c) is drawn from a random stream keyed by (seed,
 * column name, i) alone, so a row costs O(1), columns are independent of
 * each other (adding or reordering columns leaves the others' values as
 * they were) and any thread computes the same bytes. The first draw of a
 * cell decides NULL / edge case / normal value against thresholds fixed at
 * build time; unique columns map i through a keyed bijection of their
 * value domain; zipf and `cardinality` columns draw a value identity and
 * generate the value from the identity's own stream, so an identity always
 * stands for the same value. Floating point appears only at build time
 * (ratios to thresholds, the zipf table from a series in gen_build.c), using
 * IEEE basic operations, which round the same on every machine. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"

/* ---- types ------------------------------------------------------------- */

static const struct {
  const char *name;
  fmh_gen_type t;
  int is_unsigned_alias;
} type_names[] = {
    {"TINYINT", FMH_GEN_TINYINT, 0},   {"SMALLINT", FMH_GEN_SMALLINT, 0}, {"MEDIUMINT", FMH_GEN_MEDIUMINT, 0},
    {"INT", FMH_GEN_INT, 0},           {"INTEGER", FMH_GEN_INT, 0},       {"BIGINT", FMH_GEN_BIGINT, 0},
    {"DECIMAL", FMH_GEN_DECIMAL, 0},   {"NUMERIC", FMH_GEN_DECIMAL, 0},   {"DEC", FMH_GEN_DECIMAL, 0},
    {"FLOAT", FMH_GEN_FLOAT, 0},       {"DOUBLE", FMH_GEN_DOUBLE, 0},     {"REAL", FMH_GEN_DOUBLE, 0},
    {"CHAR", FMH_GEN_CHAR, 0},         {"VARCHAR", FMH_GEN_VARCHAR, 0},   {"TINYTEXT", FMH_GEN_TINYTEXT, 0},
    {"TEXT", FMH_GEN_TEXT, 0},         {"MEDIUMTEXT", FMH_GEN_MEDIUMTEXT, 0}, {"LONGTEXT", FMH_GEN_LONGTEXT, 0},
    {"BINARY", FMH_GEN_BINARY, 0},     {"VARBINARY", FMH_GEN_VARBINARY, 0}, {"TINYBLOB", FMH_GEN_TINYBLOB, 0},
    {"BLOB", FMH_GEN_BLOB, 0},         {"MEDIUMBLOB", FMH_GEN_MEDIUMBLOB, 0}, {"LONGBLOB", FMH_GEN_LONGBLOB, 0},
    {"BOOLEAN", FMH_GEN_BOOLEAN, 0},   {"BOOL", FMH_GEN_BOOLEAN, 0},      {"DATE", FMH_GEN_DATE, 0},
    {"TIME", FMH_GEN_TIME, 0},         {"DATETIME", FMH_GEN_DATETIME, 0}, {"TIMESTAMP", FMH_GEN_TIMESTAMP, 0},
    {"JSON", FMH_GEN_JSON, 0},         {"ENUM", FMH_GEN_ENUM, 0},         {"SET", FMH_GEN_SET, 0},
};

static const char *const canonical_names[FMH_GEN_NTYPES] = {
    "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "DECIMAL", "FLOAT", "DOUBLE", "CHAR", "VARCHAR",
    "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "BINARY", "VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB",
    "LONGBLOB", "BOOLEAN", "DATE", "TIME", "DATETIME", "TIMESTAMP", "JSON", "ENUM", "SET"};

const char *fmh_gen_type_name(fmh_gen_type t) { return (unsigned)t < FMH_GEN_NTYPES ? canonical_names[t] : "?"; }


/* ---- schema ------------------------------------------------------------ */

fmh_gen_schema *fmh_gen_schema_new(void) {
  fmh_gen_schema *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->seed = 1;
  snprintf(s->time_zone, sizeof s->time_zone, "+00:00");
  snprintf(s->collation, sizeof s->collation, "utf8mb4_nopad_bin");
  return s;
}

void fmh_gen_col_free(gcol *c) {
  free(c->name);
  for (size_t k = 0; k < c->nvalues; k++) free(c->values[k]);
  free(c->values);
  free(c->vlens);
  free(c->edge_names);
  free(c->zipf_cdf);
}

void fmh_gen_schema_free(fmh_gen_schema *s) {
  if (!s) return;
  for (size_t k = 0; k < s->ncols; k++) fmh_gen_col_free(&s->cols[k]);
  free(s->cols);
  free(s);
}

int fmh_gen_parse_i64(const char *v, int64_t *out) {
  errno = 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end || errno) return -1;
  *out = x;
  return 0;
}
int fmh_gen_parse_u64(const char *v, uint64_t *out) {
  errno = 0;
  char *end;
  if (*v == '-') return -1;
  unsigned long long x = strtoull(v, &end, 10);
  if (end == v || *end || errno) return -1;
  *out = x;
  return 0;
}
static int parse_ratio(const char *v, double *out) {
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || !(x >= 0.0 && x <= 1.0)) return -1;
  *out = x;
  return 0;
}
static int parse_bool(const char *v, int *out) {
  if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) { *out = 1; return 0; }
  if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) { *out = 0; return 0; }
  return -1;
}
static int parse_small(const char *v, int lo, int hi, int *out) {
  int64_t x;
  if (fmh_gen_parse_i64(v, &x) || x < lo || x > hi) return -1;
  *out = (int)x;
  return 0;
}

int fmh_gen_schema_set(fmh_gen_schema *s, const char *key, const char *value, fmh_error *err) {
  if (!strcmp(key, "seed")) {
    int64_t x;
    uint64_t u;
    if (fmh_gen_parse_i64(value, &x) == 0) s->seed = (uint64_t)x;
    else if (fmh_gen_parse_u64(value, &u) == 0) s->seed = u;
    else { fmh_error_set(err, "config", 0, 0, "schema seed '%s' is not an integer", value); return -1; }
    s->seed_set = 1;
  } else if (!strcmp(key, "name")) {
    snprintf(s->name, sizeof s->name, "%s", value);
  } else if (!strcmp(key, "time_zone")) {
    snprintf(s->time_zone, sizeof s->time_zone, "%s", value);
  } else if (!strcmp(key, "dst_zone")) {
    snprintf(s->dst_zone, sizeof s->dst_zone, "%s", value);
  } else if (!strcmp(key, "collation")) {
    snprintf(s->collation, sizeof s->collation, "%s", value);
  } else {
    fmh_error_set(err, "config", 0, 0, "unknown schema key '%s' (seed, name, time_zone, dst_zone, collation, columns)",
                  key);
    return -1;
  }
  return 0;
}

int fmh_gen_schema_add_column(fmh_gen_schema *s, const char *name, fmh_error *err) {
  if (!name || !*name || strlen(name) > 64) {
    fmh_error_set(err, "config", 0, 0, "column %zu: a name of 1..64 characters is required", s->ncols + 1);
    return -1;
  }
  for (size_t k = 0; k < s->ncols; k++)
    if (!strcmp(s->cols[k].name, name)) {
      fmh_error_set(err, "config", 0, 0, "column '%s' appears twice", name);
      return -1;
    }
  if (strchr(name, '`')) {
    fmh_error_set(err, "config", 0, 0, "column name '%s' holds a backquote", name);
    return -1;
  }
  if (s->ncols == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    gcol *nc = realloc(s->cols, cap * sizeof *nc);
    if (!nc) { fmh_error_set(err, "os", ENOMEM, 0, "out of memory"); return -1; }
    s->cols = nc;
    s->cap = cap;
  }
  gcol *c = &s->cols[s->ncols];
  memset(c, 0, sizeof *c);
  c->name = strdup(name);
  if (!c->name) { fmh_error_set(err, "os", ENOMEM, 0, "out of memory"); return -1; }
  c->type = FMH_GEN_INT;
  c->precision = c->scale = c->length = c->fsp = -1;
  c->null_ratio = c->edge_ratio = -1;
  c->zipf_n = 1000;
  c->zipf_s = 1.0;
  c->max_bytes = -1;
  c->depth = 3;
  c->width = 4;
  c->edge_depth = 31;
  return (int)s->ncols++;
}

/* "DECIMAL(22,9)", "INT UNSIGNED", "ENUM('a','b')", "varchar(10)" */
static int parse_type(fmh_gen_schema *s, int col, gcol *c, const char *v, fmh_error *err) {
  char word[32];
  size_t n = 0;
  const char *p = v;
  while (*p == ' ') p++;
  while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
    if (n + 1 < sizeof word) word[n++] = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
    p++;
  }
  word[n] = 0;
  size_t k;
  for (k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
    if (!strcmp(type_names[k].name, word)) break;
  if (k == sizeof type_names / sizeof type_names[0]) {
    fmh_error_set(err, "config", 0, 0, "column '%s': unknown type '%s'", c->name, v);
    return -1;
  }
  c->type = type_names[k].t;
  c->type_set = 1;
  while (*p == ' ') p++;
  if (*p == '(') {
    p++;
    if (c->type == FMH_GEN_ENUM || c->type == FMH_GEN_SET) {
      for (;;) {
        while (*p == ' ') p++;
        if (*p != '\'') goto bad;
        p++;
        char buf[256];
        size_t bl = 0;
        while (*p && !(*p == '\'' && p[1] != '\'')) {
          if (*p == '\'') p++; /* '' inside quotes */
          if (bl + 1 >= sizeof buf) goto bad;
          buf[bl++] = *p++;
        }
        if (*p != '\'') goto bad;
        p++;
        if (fmh_gen_column_add_value(s, col, buf, bl, err) != 0) return -1;
        while (*p == ' ') p++;
        if (*p == ',') { p++; continue; }
        if (*p == ')') { p++; break; }
        goto bad;
      }
    } else {
      char *end;
      long a = strtol(p, &end, 10);
      if (end == p) goto bad;
      p = end;
      long b = -1;
      while (*p == ' ') p++;
      if (*p == ',') {
        p++;
        b = strtol(p, &end, 10);
        if (end == p) goto bad;
        p = end;
      }
      while (*p == ' ') p++;
      if (*p != ')') goto bad;
      p++;
      if (a < 0 || a > 1000000000 || b > 1000) goto bad;
      if (c->type == FMH_GEN_DECIMAL) {
        c->precision = (int)a;
        if (b >= 0) c->scale = (int)b;
      } else if (is_temporal(c->type)) {
        c->fsp = (int)a;
      } else if (b < 0) {
        c->length = (int)a; /* INT(11) display widths land here too; ignored */
      } else {
        goto bad;
      }
    }
  }
  for (;;) {
    while (*p == ' ') p++;
    if (!*p) break;
    char w[16];
    size_t wl = 0;
    while (*p && *p != ' ') {
      if (wl + 1 < sizeof w) w[wl++] = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
      p++;
    }
    w[wl] = 0;
    if (!strcmp(w, "UNSIGNED")) c->is_unsigned = 1;
    else if (!strcmp(w, "SIGNED")) c->is_unsigned = 0;
    else goto bad;
  }
  return 0;
bad:
  fmh_error_set(err, "config", 0, 0, "column '%s': cannot read type '%s'", c->name, v);
  return -1;
}

int fmh_gen_column_add_value(fmh_gen_schema *s, int col, const char *value, size_t len, fmh_error *err) {
  gcol *c = &s->cols[col];
  if (c->nvalues >= 64) {
    fmh_error_set(err, "config", 0, 0, "column '%s': at most 64 ENUM/SET values", c->name);
    return -1;
  }
  char **nv = realloc(c->values, (c->nvalues + 1) * sizeof *nv);
  if (!nv) goto oom;
  c->values = nv;
  size_t *nl = realloc(c->vlens, (c->nvalues + 1) * sizeof *nl);
  if (!nl) goto oom;
  c->vlens = nl;
  char *copy = malloc(len + 1);
  if (!copy) goto oom;
  memcpy(copy, value, len);
  copy[len] = 0;
  c->values[c->nvalues] = copy;
  c->vlens[c->nvalues] = len;
  c->nvalues++;
  return 0;
oom:
  fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
  return -1;
}

int fmh_gen_column_set(fmh_gen_schema *s, int col, const char *key, const char *v, fmh_error *err) {
  gcol *c = &s->cols[col];
  int bad = 0;
  if (!strcmp(key, "name")) return 0; /* given at add_column */
  if (!strcmp(key, "type")) return parse_type(s, col, c, v, err);
  if (!strcmp(key, "unsigned")) bad = parse_bool(v, &c->is_unsigned);
  else if (!strcmp(key, "precision")) bad = parse_small(v, 1, 65, &c->precision);
  else if (!strcmp(key, "scale")) bad = parse_small(v, 0, 30, &c->scale);
  else if (!strcmp(key, "length")) bad = parse_small(v, 0, 1 << 30, &c->length);
  else if (!strcmp(key, "fsp")) bad = parse_small(v, 0, 6, &c->fsp);
  else if (!strcmp(key, "nullable")) bad = parse_bool(v, &c->nullable);
  else if (!strcmp(key, "null_ratio")) bad = parse_ratio(v, &c->null_ratio);
  else if (!strcmp(key, "edge_ratio")) bad = parse_ratio(v, &c->edge_ratio);
  else if (!strcmp(key, "unique")) bad = parse_bool(v, &c->unique);
  else if (!strcmp(key, "primary_key")) bad = parse_bool(v, &c->primary_key);
  else if (!strcmp(key, "distribution")) {
    if (!strcmp(v, "uniform")) c->dist = FMH_GEN_UNIFORM;
    else if (!strcmp(v, "sequential")) c->dist = FMH_GEN_SEQUENTIAL;
    else if (!strcmp(v, "zipf")) c->dist = FMH_GEN_ZIPF;
    else bad = 1;
  } else if (!strcmp(key, "zipf_n")) {
    bad = fmh_gen_parse_i64(v, &c->zipf_n) || c->zipf_n < 1 || c->zipf_n > 10000000;
  } else if (!strcmp(key, "zipf_s")) {
    char *end;
    c->zipf_s = strtod(v, &end);
    bad = end == v || *end || !(c->zipf_s > 0.0 && c->zipf_s <= 10.0);
  } else if (!strcmp(key, "cardinality")) {
    bad = fmh_gen_parse_i64(v, &c->cardinality) || c->cardinality < 1;
  } else if (!strcmp(key, "min") || !strcmp(key, "max") || !strcmp(key, "start") || !strcmp(key, "step")) {
    char *dst = !strcmp(key, "min") ? c->min : !strcmp(key, "max") ? c->max : !strcmp(key, "start") ? c->start : c->step;
    if (strlen(v) >= 48 || !*v) bad = 1;
    else snprintf(dst, 48, "%s", v);
  } else if (!strcmp(key, "min_length")) bad = parse_small(v, 0, 1 << 30, &c->min_length);
  else if (!strcmp(key, "max_bytes")) bad = fmh_gen_parse_i64(v, &c->max_bytes) || c->max_bytes < 1;
  else if (!strcmp(key, "charset")) {
    c->charset_set = 1;
    if (!strcmp(v, "utf8") || !strcmp(v, "utf8mb4")) c->charset = CS_UTF8;
    else if (!strcmp(v, "ascii")) c->charset = CS_ASCII;
    else if (!strcmp(v, "latin1")) c->charset = CS_LATIN1;
    else if (!strcmp(v, "cjk")) c->charset = CS_CJK;
    else if (!strcmp(v, "emoji")) c->charset = CS_EMOJI;
    else if (!strcmp(v, "alnum")) c->charset = CS_ALNUM;
    else bad = 1;
  } else if (!strcmp(key, "depth")) bad = parse_small(v, 1, 64, &c->depth);
  else if (!strcmp(key, "width")) bad = parse_small(v, 1, 64, &c->width);
  else if (!strcmp(key, "edge_depth")) bad = parse_small(v, 1, 1000, &c->edge_depth);
  else if (!strcmp(key, "edges")) {
    free(c->edge_names);
    c->edge_names = strdup(v);
    bad = c->edge_names == NULL;
  } else if (!strcmp(key, "values")) {
    /* a comma-separated list (YAML and Lua lists use add_value) */
    const char *p = v;
    while (*p) {
      const char *e = strchr(p, ',');
      size_t n = e ? (size_t)(e - p) : strlen(p);
      if (fmh_gen_column_add_value(s, col, p, n, err) != 0) return -1;
      p += n + (e ? 1 : 0);
    }
  } else {
    fmh_error_set(err, "config", 0, 0, "column '%s': unknown key '%s'", c->name, key);
    return -1;
  }
  if (bad) {
    fmh_error_set(err, "config", 0, 0, "column '%s': bad value '%s' for %s", c->name, v, key);
    return -1;
  }
  return 0;
}

