/* fmhost.gen: the schema, the generator and the value of every cell.
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
 * (ratios to thresholds, the zipf table from a series written here), using
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

static int is_int(fmh_gen_type t) { return t <= FMH_GEN_BIGINT; }
static int is_text(fmh_gen_type t) { return t >= FMH_GEN_CHAR && t <= FMH_GEN_LONGTEXT; }
static int is_bin(fmh_gen_type t) { return t >= FMH_GEN_BINARY && t <= FMH_GEN_LONGBLOB; }
static int is_temporal(fmh_gen_type t) { return t >= FMH_GEN_DATE && t <= FMH_GEN_TIMESTAMP; }

/* ---- edge cases ---------------------------------------------------------- */

enum family { F_INT, F_DEC, F_FLT, F_TEXT, F_BIN, F_BOOL, F_DATE, F_TIME, F_DT, F_TS, F_JSON, F_ENUM, F_SET };

enum {
  E_I_MIN, E_I_MAX, E_I_ZERO, E_I_ONE, E_I_MINUS_ONE, E_I_MIN1, E_I_MAX1, E_I_I32MAX, E_I_I32MAX1, E_I_U32MAX,
  E_I_I53, E_I_I53_1, E_I_I64MAX, E_I_I64MAX1,
  E_D_MAX, E_D_MIN, E_D_TINY, E_D_MINUS_TINY, E_D_ZERO, E_D_FULL, E_D_ONE, E_D_MAX_INT, E_D_HALF, E_D_I64MAX1,
  E_F_MINUS_ZERO, E_F_ZERO, E_F_MIN_SUB, E_F_MINUS_MIN_SUB, E_F_MAX_SUB, E_F_MIN_NORMAL, E_F_MAX, E_F_MINUS_MAX,
  E_F_ONE, E_F_ONE_ULP, E_F_TENTH, E_F_THIRD, E_F_I53, E_F_I53_2, E_F_BIG, E_F_TINY_FIXED,
  E_S_EMPTY, E_S_LIMIT_CHARS, E_S_LIMIT_BYTES, E_S_EMOJI, E_S_COMBINING, E_S_RTL, E_S_CJK, E_S_SPECIALS,
  E_S_NULL_WORD, E_S_BACKSLASH_N, E_S_SPACES,
  E_B_EMPTY, E_B_LIMIT, E_B_ZEROS, E_B_FF, E_B_ESCAPES, E_B_INVALID_UTF8,
  E_BOOL_FALSE, E_BOOL_TRUE,
  E_DA_MIN, E_DA_MAX, E_DA_EPOCH, E_DA_LEAP, E_DA_NONLEAP, E_DA_Y2038,
  E_T_MAX, E_T_MIN, E_T_ZERO, E_T_DAY_END, E_T_DAY, E_T_MINUS_TINY,
  E_DT_MIN, E_DT_MAX, E_DT_EPOCH, E_DT_MAX_FRACTION, E_DT_LEAP, E_DT_DST_GAP, E_DT_DST_FOLD, E_DT_TS_MIN, E_DT_TS_MAX,
  E_TS_MIN, E_TS_MAX, E_TS_LEAP, E_TS_MAX_FRACTION, E_TS_DST,
  E_J_EMPTY_OBJECT, E_J_EMPTY_ARRAY, E_J_DEEP, E_J_BIG_NUMBERS, E_J_UNICODE, E_J_NULL, E_J_SCALAR,
  E_EN_FIRST, E_EN_LAST, E_SET_EMPTY, E_SET_ALL,
  E_COUNT
};

static const struct {
  int id;
  enum family fam;
  const char *name;
} edge_table[] = {
    {E_I_MIN, F_INT, "min"}, {E_I_MAX, F_INT, "max"}, {E_I_ZERO, F_INT, "zero"}, {E_I_ONE, F_INT, "one"},
    {E_I_MINUS_ONE, F_INT, "minus_one"}, {E_I_MIN1, F_INT, "min_plus_one"}, {E_I_MAX1, F_INT, "max_minus_one"},
    {E_I_I32MAX, F_INT, "int32_max"}, {E_I_I32MAX1, F_INT, "int32_max_plus_one"}, {E_I_U32MAX, F_INT, "uint32_max"},
    {E_I_I53, F_INT, "two_pow_53"}, {E_I_I53_1, F_INT, "two_pow_53_plus_one"}, {E_I_I64MAX, F_INT, "int64_max"},
    {E_I_I64MAX1, F_INT, "int64_max_plus_one"},
    {E_D_MAX, F_DEC, "max"}, {E_D_MIN, F_DEC, "min"}, {E_D_TINY, F_DEC, "tiny"}, {E_D_MINUS_TINY, F_DEC, "minus_tiny"},
    {E_D_ZERO, F_DEC, "zero"}, {E_D_FULL, F_DEC, "full_precision"}, {E_D_ONE, F_DEC, "one"},
    {E_D_MAX_INT, F_DEC, "max_integer"}, {E_D_HALF, F_DEC, "half"}, {E_D_I64MAX1, F_DEC, "int64_max_plus_one"},
    {E_F_MINUS_ZERO, F_FLT, "minus_zero"}, {E_F_ZERO, F_FLT, "zero"}, {E_F_MIN_SUB, F_FLT, "min_subnormal"},
    {E_F_MINUS_MIN_SUB, F_FLT, "minus_min_subnormal"}, {E_F_MAX_SUB, F_FLT, "max_subnormal"},
    {E_F_MIN_NORMAL, F_FLT, "min_normal"}, {E_F_MAX, F_FLT, "max"}, {E_F_MINUS_MAX, F_FLT, "minus_max"},
    {E_F_ONE, F_FLT, "one"}, {E_F_ONE_ULP, F_FLT, "one_plus_ulp"}, {E_F_TENTH, F_FLT, "tenth"},
    {E_F_THIRD, F_FLT, "third"}, {E_F_I53, F_FLT, "two_pow_53"}, {E_F_I53_2, F_FLT, "two_pow_53_plus_two"},
    {E_F_BIG, F_FLT, "big"}, {E_F_TINY_FIXED, F_FLT, "tiny_fixed"},
    {E_S_EMPTY, F_TEXT, "empty"}, {E_S_LIMIT_CHARS, F_TEXT, "limit_chars"}, {E_S_LIMIT_BYTES, F_TEXT, "limit_bytes"},
    {E_S_EMOJI, F_TEXT, "emoji"}, {E_S_COMBINING, F_TEXT, "combining"}, {E_S_RTL, F_TEXT, "rtl"},
    {E_S_CJK, F_TEXT, "cjk"}, {E_S_SPECIALS, F_TEXT, "specials"}, {E_S_NULL_WORD, F_TEXT, "null_word"},
    {E_S_BACKSLASH_N, F_TEXT, "backslash_n"}, {E_S_SPACES, F_TEXT, "spaces"},
    {E_B_EMPTY, F_BIN, "empty"}, {E_B_LIMIT, F_BIN, "limit_bytes"}, {E_B_ZEROS, F_BIN, "zeros"},
    {E_B_FF, F_BIN, "ones"}, {E_B_ESCAPES, F_BIN, "escapes"}, {E_B_INVALID_UTF8, F_BIN, "invalid_utf8"},
    {E_BOOL_FALSE, F_BOOL, "false"}, {E_BOOL_TRUE, F_BOOL, "true"},
    {E_DA_MIN, F_DATE, "min"}, {E_DA_MAX, F_DATE, "max"}, {E_DA_EPOCH, F_DATE, "epoch"}, {E_DA_LEAP, F_DATE, "leap_day"},
    {E_DA_NONLEAP, F_DATE, "century_non_leap"}, {E_DA_Y2038, F_DATE, "y2038"},
    {E_T_MAX, F_TIME, "max"}, {E_T_MIN, F_TIME, "min"}, {E_T_ZERO, F_TIME, "zero"}, {E_T_DAY_END, F_TIME, "day_end"},
    {E_T_DAY, F_TIME, "day"}, {E_T_MINUS_TINY, F_TIME, "minus_tiny"},
    {E_DT_MIN, F_DT, "min"}, {E_DT_MAX, F_DT, "max"}, {E_DT_EPOCH, F_DT, "epoch"},
    {E_DT_MAX_FRACTION, F_DT, "max_fraction"}, {E_DT_LEAP, F_DT, "leap_day"}, {E_DT_DST_GAP, F_DT, "dst_gap"},
    {E_DT_DST_FOLD, F_DT, "dst_fold"}, {E_DT_TS_MIN, F_DT, "timestamp_min"}, {E_DT_TS_MAX, F_DT, "timestamp_max"},
    {E_TS_MIN, F_TS, "min"}, {E_TS_MAX, F_TS, "max"}, {E_TS_LEAP, F_TS, "leap_day"},
    {E_TS_MAX_FRACTION, F_TS, "max_fraction"}, {E_TS_DST, F_TS, "dst_change"},
    {E_J_EMPTY_OBJECT, F_JSON, "empty_object"}, {E_J_EMPTY_ARRAY, F_JSON, "empty_array"}, {E_J_DEEP, F_JSON, "deep"},
    {E_J_BIG_NUMBERS, F_JSON, "big_numbers"}, {E_J_UNICODE, F_JSON, "unicode"}, {E_J_NULL, F_JSON, "null_literal"},
    {E_J_SCALAR, F_JSON, "scalar"},
    {E_EN_FIRST, F_ENUM, "first"}, {E_EN_LAST, F_ENUM, "last"}, {E_SET_EMPTY, F_SET, "empty"}, {E_SET_ALL, F_SET, "all"},
};

const char *fmh_gen_edge_name(int id) {
  for (size_t k = 0; k < sizeof edge_table / sizeof edge_table[0]; k++)
    if (edge_table[k].id == id) return edge_table[k].name;
  return "?";
}

static enum family family_of(fmh_gen_type t) {
  if (is_int(t)) return F_INT;
  if (t == FMH_GEN_DECIMAL) return F_DEC;
  if (t == FMH_GEN_FLOAT || t == FMH_GEN_DOUBLE) return F_FLT;
  if (is_text(t)) return F_TEXT;
  if (is_bin(t)) return F_BIN;
  switch (t) {
    case FMH_GEN_BOOLEAN: return F_BOOL;
    case FMH_GEN_DATE: return F_DATE;
    case FMH_GEN_TIME: return F_TIME;
    case FMH_GEN_DATETIME: return F_DT;
    case FMH_GEN_TIMESTAMP: return F_TS;
    case FMH_GEN_JSON: return F_JSON;
    case FMH_GEN_ENUM: return F_ENUM;
    default: return F_SET;
  }
}

/* ---- schema ------------------------------------------------------------ */

fmh_gen_schema *fmh_gen_schema_new(void) {
  fmh_gen_schema *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->seed = 1;
  snprintf(s->time_zone, sizeof s->time_zone, "+00:00");
  snprintf(s->collation, sizeof s->collation, "utf8mb4_nopad_bin");
  return s;
}

static void col_free(gcol *c) {
  free(c->name);
  for (size_t k = 0; k < c->nvalues; k++) free(c->values[k]);
  free(c->values);
  free(c->vlens);
  free(c->edge_names);
  free(c->zipf_cdf);
}

void fmh_gen_schema_free(fmh_gen_schema *s) {
  if (!s) return;
  for (size_t k = 0; k < s->ncols; k++) col_free(&s->cols[k]);
  free(s->cols);
  free(s);
}

static int parse_i64(const char *v, int64_t *out) {
  errno = 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end || errno) return -1;
  *out = x;
  return 0;
}
static int parse_u64(const char *v, uint64_t *out) {
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
  if (parse_i64(v, &x) || x < lo || x > hi) return -1;
  *out = (int)x;
  return 0;
}

int fmh_gen_schema_set(fmh_gen_schema *s, const char *key, const char *value, fmh_error *err) {
  if (!strcmp(key, "seed")) {
    int64_t x;
    uint64_t u;
    if (parse_i64(value, &x) == 0) s->seed = (uint64_t)x;
    else if (parse_u64(value, &u) == 0) s->seed = u;
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
    bad = parse_i64(v, &c->zipf_n) || c->zipf_n < 1 || c->zipf_n > 10000000;
  } else if (!strcmp(key, "zipf_s")) {
    char *end;
    c->zipf_s = strtod(v, &end);
    bad = end == v || *end || !(c->zipf_s > 0.0 && c->zipf_s <= 10.0);
  } else if (!strcmp(key, "cardinality")) {
    bad = parse_i64(v, &c->cardinality) || c->cardinality < 1;
  } else if (!strcmp(key, "min") || !strcmp(key, "max") || !strcmp(key, "start") || !strcmp(key, "step")) {
    char *dst = !strcmp(key, "min") ? c->min : !strcmp(key, "max") ? c->max : !strcmp(key, "start") ? c->start : c->step;
    if (strlen(v) >= 48 || !*v) bad = 1;
    else snprintf(dst, 48, "%s", v);
  } else if (!strcmp(key, "min_length")) bad = parse_small(v, 0, 1 << 30, &c->min_length);
  else if (!strcmp(key, "max_bytes")) bad = parse_i64(v, &c->max_bytes) || c->max_bytes < 1;
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

/* ---- deterministic math for the zipf table ------------------------------- */

/* ln(x), x > 0, by argument reduction and the atanh series: basic
 * operations only, so the table is the same on every IEEE-754 machine. */
static double det_log(double x) {
  int e;
  double m = frexp(x, &e); /* exact: x = m * 2^e, m in [0.5, 1) */
  if (m < 0.70710678118654752) { m *= 2; e--; }
  double t = (m - 1) / (m + 1), t2 = t * t, term = t, sum = 0;
  for (int k = 1; k < 60; k += 2) {
    sum += term / k;
    term *= t2;
  }
  return 2 * sum + e * 0.69314718055994530942;
}
static double det_exp(double y) {
  double k = floor(y / 0.69314718055994530942 + 0.5);
  double r = y - k * 0.69314718055994530942;
  double sum = 1, term = 1;
  for (int n = 1; n < 30; n++) {
    term = term * r / n;
    sum += term;
  }
  return ldexp(sum, (int)k);
}

static double ratio_scale(double r) {
  /* r * 2^64 as a threshold; r == 1 handled by the caller */
  return r * 18446744073709551616.0;
}
static uint64_t to_thr(double x) {
  if (x >= 18446744073709551615.0) return UINT64_MAX;
  if (x <= 0) return 0;
  return (uint64_t)x;
}

/* ---- permutations for unique columns ------------------------------------- */

/* a keyed bijection of [0, 2^bits) */
static uint64_t perm_pow2(uint64_t x, int bits, uint64_t key) {
  uint64_t mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
  int h = bits / 2 > 0 ? bits / 2 : 1;
  for (int r = 0; r < 3; r++) {
    uint64_t k = fmh_mix64(key + (uint64_t)r * FMH_GOLDEN);
    x = (x ^ k) & mask;
    x = (x * (k | 1)) & mask;
    x ^= x >> h;
  }
  return x;
}
/* a keyed bijection of [0, domain) by cycle walking (domain 0: 2^64) */
static uint64_t perm(uint64_t i, uint64_t domain, int bits, uint64_t key) {
  uint64_t x = perm_pow2(i, bits, key);
  if (domain == 0) return x;
  while (x >= domain) x = perm_pow2(x, bits, key);
  return x;
}
static int bits_for(uint64_t domain) {
  if (domain == 0) return 64;
  int b = 1;
  while (b < 64 && (1ull << b) < domain) b++;
  return b;
}

/* ---- temporal parsing ---------------------------------------------------- */

/* "YYYY-MM-DD[ HH:MM:SS[.ffffff]]" -> days or microseconds */
static int parse_datetime(const char *s, int want_time, int64_t *out) {
  int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
  char frac[8] = {0};
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return -1;
  const char *p = s + n;
  if (*p == ' ' || *p == 'T') {
    int m2 = 0;
    if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &m2) != 3) return -1;
    p += 1 + m2;
    if (*p == '.') {
      p++;
      int k = 0;
      while (*p >= '0' && *p <= '9' && k < 6) frac[k++] = *p++;
      while (k < 6) frac[k++] = '0';
    }
  }
  if (*p) return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return -1;
  int64_t days = fmh_days_from_civil(y, (int)mo, (int)d);
  if (!want_time) { *out = days; return 0; }
  int64_t us = frac[0] ? atol(frac) : 0;
  *out = ((days * 86400 + h * 3600 + mi * 60 + se) * 1000000) + us;
  return 0;
}
/* "[-]HHH:MM:SS[.ffffff]" -> microseconds */
static int parse_time(const char *s, int64_t *out) {
  int neg = 0;
  if (*s == '-') { neg = 1; s++; }
  int h, mi, se, n = 0;
  if (sscanf(s, "%3d:%2d:%2d%n", &h, &mi, &se, &n) != 3) return -1;
  const char *p = s + n;
  int64_t us = 0;
  if (*p == '.') {
    p++;
    int k = 0;
    while (*p >= '0' && *p <= '9' && k < 6) { us = us * 10 + (*p++ - '0'); k++; }
    while (k++ < 6) us *= 10;
  }
  if (*p || mi > 59 || se > 59 || h > 838) return -1;
  int64_t v = ((int64_t)h * 3600 + mi * 60 + se) * 1000000 + us;
  *out = neg ? -v : v;
  return 0;
}
/* a step "1", "0.5", "86400" in seconds -> microseconds */
static int parse_seconds(const char *s, int64_t *out) {
  int neg = 0;
  if (*s == '-') { neg = 1; s++; }
  int64_t whole = 0, us = 0;
  const char *p = s;
  if (!(*p >= '0' && *p <= '9')) return -1;
  while (*p >= '0' && *p <= '9') {
    whole = whole * 10 + (*p++ - '0');
    if (whole > 100000000000ll) return -1;
  }
  if (*p == '.') {
    p++;
    int k = 0;
    while (*p >= '0' && *p <= '9' && k < 6) { us = us * 10 + (*p++ - '0'); k++; }
    while (k++ < 6) us *= 10;
  }
  if (*p) return -1;
  *out = (whole * 1000000 + us) * (neg ? -1 : 1);
  return 0;
}

/* ---- build --------------------------------------------------------------- */

static uint64_t name_hash(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

#define MAX_US_DT (fmh_days_from_civil(9999, 12, 31) * 86400000000ll + 86399999999ll)
#define MIN_US_DT (fmh_days_from_civil(1000, 1, 1) * 86400000000ll)
#define TS_MIN_US 1000000ll
#define TS_MAX_US 2147483647999999ll
#define TIME_MAX_US 3020399999999ll /* 838:59:59.999999 */

static int64_t pow10i(int n) {
  int64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

static void int_range(const gcol *c, int64_t *slo, int64_t *shi, uint64_t *uhi) {
  static const int bits[] = {8, 16, 24, 32, 64};
  int b = bits[c->type - FMH_GEN_TINYINT];
  if (c->is_unsigned) {
    *slo = 0;
    *uhi = b == 64 ? UINT64_MAX : (1ull << b) - 1;
    *shi = 0;
  } else {
    *slo = b == 64 ? INT64_MIN : -(1ll << (b - 1));
    *shi = b == 64 ? INT64_MAX : (1ll << (b - 1)) - 1;
    *uhi = 0;
  }
}

/* integer edge candidates (as 64-bit patterns); unsigned columns read them unsigned */
static int int_edge_value(const gcol *c, int id, uint64_t *out) {
  int64_t slo, shi;
  uint64_t uhi;
  int_range(c, &slo, &shi, &uhi);
  uint64_t lo = c->lo, hi = c->lo + (c->span ? c->span - 1 : UINT64_MAX);
  uint64_t v;
  switch (id) {
    case E_I_MIN: v = lo; break;
    case E_I_MAX: v = hi; break;
    case E_I_ZERO: v = 0; break;
    case E_I_ONE: v = 1; break;
    case E_I_MINUS_ONE: if (c->is_unsigned) return -1; v = (uint64_t)-1; break;
    case E_I_MIN1: v = lo + 1; break;
    case E_I_MAX1: v = hi - 1; break;
    case E_I_I32MAX: v = 2147483647ull; break;
    case E_I_I32MAX1: v = 2147483648ull; break;
    case E_I_U32MAX: v = 4294967295ull; break;
    case E_I_I53: v = 1ull << 53; break;
    case E_I_I53_1: v = (1ull << 53) + 1; break;
    case E_I_I64MAX: v = (uint64_t)INT64_MAX; break;
    case E_I_I64MAX1: if (!c->is_unsigned) return -1; v = 1ull << 63; break;
    default: return -1;
  }
  /* inside [lo, hi] in the column's own order */
  if (c->is_unsigned) {
    if (v < lo || v > hi) return -1;
  } else {
    if ((int64_t)v < (int64_t)lo || (int64_t)v > (int64_t)hi) return -1;
  }
  *out = v;
  return 0;
}

static int edge_applies(const fmh_gen *g, const gcol *c, int id) {
  switch (id) {
    case E_D_TINY: case E_D_MINUS_TINY: case E_D_HALF: return c->scale > 0 && (id != E_D_MINUS_TINY || !c->is_unsigned);
    case E_D_MIN: return !c->is_unsigned;
    case E_D_I64MAX1: return c->precision - c->scale >= 19;
    case E_D_MAX_INT: return c->precision > c->scale && c->scale > 0;
    case E_F_MINUS_ZERO: case E_F_MINUS_MIN_SUB: case E_F_MINUS_MAX: return !c->drange && !c->is_unsigned;
    case E_F_I53: case E_F_I53_2: return c->type == FMH_GEN_DOUBLE && !c->drange;
    case E_F_ZERO: case E_F_MIN_SUB: case E_F_MAX_SUB: case E_F_MIN_NORMAL: case E_F_MAX: case E_F_ONE:
    case E_F_ONE_ULP: case E_F_TENTH: case E_F_THIRD: case E_F_BIG: case E_F_TINY_FIXED: return !c->drange;
    case E_S_SPACES: return c->max_chars >= 3;
    case E_B_EMPTY: return c->type != FMH_GEN_BINARY;
    case E_T_MINUS_TINY: return 1;
    case E_DT_DST_GAP: return g->ngaps > 0;
    case E_DT_DST_FOLD: return g->nfolds > 0;
    case E_TS_DST: return !g->tz.fixed && g->tz.n > 0;
    case E_EN_LAST: return c->nvalues > 1;
    default: return 1;
  }
}

static int build_edges(const fmh_gen *g, gcol *c, fmh_error *err) {
  enum family fam = family_of(c->type);
  uint64_t seen[FMH_GEN_MAX_EDGES];
  int nseen = 0;
  c->nedges = 0;
  for (size_t k = 0; k < sizeof edge_table / sizeof edge_table[0]; k++) {
    if (edge_table[k].fam != fam) continue;
    int id = edge_table[k].id;
    if (c->edge_names) {
      /* an explicit selection: names separated by commas */
      const char *p = c->edge_names;
      size_t nl = strlen(edge_table[k].name);
      int found = 0;
      while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && *p == ' ') { p++; n--; }
        while (n && p[n - 1] == ' ') n--;
        if (n == nl && !memcmp(p, edge_table[k].name, n)) found = 1;
        p = e ? e + 1 : p + strlen(p);
      }
      if (!found) continue;
    }
    if (!edge_applies(g, c, id)) continue;
    if (fam == F_INT) {
      uint64_t v;
      if (int_edge_value(c, id, &v) != 0) continue;
      int dup = 0;
      for (int s = 0; s < nseen; s++) dup |= seen[s] == v;
      if (dup) continue;
      seen[nseen++] = v;
    }
    if (c->nedges < FMH_GEN_MAX_EDGES) c->edge_ids[c->nedges++] = id;
  }
  if (c->edge_names) {
    /* every selected name must exist for this type */
    const char *p = c->edge_names;
    while (*p) {
      const char *e = strchr(p, ',');
      size_t n = e ? (size_t)(e - p) : strlen(p);
      while (n && *p == ' ') { p++; n--; }
      while (n && p[n - 1] == ' ') n--;
      int known = 0;
      for (size_t k = 0; k < sizeof edge_table / sizeof edge_table[0]; k++)
        if (edge_table[k].fam == fam && strlen(edge_table[k].name) == n && !memcmp(p, edge_table[k].name, n))
          known = 1;
      if (n && !known) {
        fmh_error_set(err, "config", 0, 0, "column '%s': no edge case named '%.*s' for %s", c->name, (int)n, p,
                      fmh_gen_type_name(c->type));
        return -1;
      }
      p = e ? e + 1 : p + strlen(p);
    }
  }
  if (c->edge_ratio > 0 && c->nedges == 0) {
    fmh_error_set(err, "config", 0, 0, "column '%s': edge_ratio %g but no edge case applies", c->name, c->edge_ratio);
    return -1;
  }
  return 0;
}

static int build_col(fmh_gen *g, gcol *c, fmh_error *err) {
  const char *nm = c->name;
#define FAIL(...) do { fmh_error_set(err, "config", 0, 0, __VA_ARGS__); return -1; } while (0)
  if (!c->type_set) FAIL("column '%s': a type is required", nm);
  c->key = fmh_mix64(g->seed ^ fmh_mix64(name_hash(nm)));
  c->ident_key = fmh_mix64(c->key ^ 0x3c6ef372fe94f82bull);
  if (c->primary_key) c->unique = 1;
  if (c->primary_key && c->nullable) FAIL("column '%s': a primary key cannot be nullable", nm);
  if (c->null_ratio < 0) c->null_ratio = c->nullable ? 0.1 : 0.0;
  if (c->null_ratio > 0 && !c->nullable) FAIL("column '%s': null_ratio needs nullable = true", nm);
  if (c->edge_ratio < 0) c->edge_ratio = 0.0;
  if (c->null_ratio + c->edge_ratio > 1.0) FAIL("column '%s': null_ratio + edge_ratio exceed 1", nm);
  if (c->unique && c->edge_ratio > 0) FAIL("column '%s': a unique column takes no edge cases (edge_ratio must be 0)", nm);
  if (c->unique && (c->dist == FMH_GEN_ZIPF || c->cardinality))
    FAIL("column '%s': unique conflicts with zipf or cardinality", nm);
  if (c->dist == FMH_GEN_ZIPF && c->cardinality) FAIL("column '%s': zipf and cardinality exclude each other", nm);
  if (c->is_unsigned && !is_int(c->type) && c->type != FMH_GEN_DECIMAL && c->type != FMH_GEN_FLOAT &&
      c->type != FMH_GEN_DOUBLE)
    FAIL("column '%s': UNSIGNED applies to numeric types only", nm);
  c->always_null = c->null_ratio >= 1.0;
  c->null_thr = to_thr(ratio_scale(c->null_ratio));
  c->edge_thr = c->null_ratio + c->edge_ratio >= 1.0 ? UINT64_MAX : to_thr(ratio_scale(c->null_ratio + c->edge_ratio));
  if (c->edge_ratio <= 0) c->edge_thr = c->null_thr;
  c->row_limit = INT64_MAX;
  c->uniq_domain = 0;
  int seq = c->dist == FMH_GEN_SEQUENTIAL;

  if (is_int(c->type)) {
    int64_t slo, shi;
    uint64_t uhi;
    int_range(c, &slo, &shi, &uhi);
    if (c->is_unsigned) {
      uint64_t lo = 0, hi = uhi;
      if (c->min[0] && (parse_u64(c->min, &lo) || lo > uhi)) FAIL("column '%s': min '%s' is out of range", nm, c->min);
      if (c->max[0] && (parse_u64(c->max, &hi) || hi > uhi)) FAIL("column '%s': max '%s' is out of range", nm, c->max);
      if (lo > hi) FAIL("column '%s': min > max", nm);
      c->lo = lo;
      c->span = hi - lo + 1;
    } else {
      int64_t lo = slo, hi = shi;
      if (c->min[0] && (parse_i64(c->min, &lo) || lo < slo || lo > shi)) FAIL("column '%s': min '%s' is out of range", nm, c->min);
      if (c->max[0] && (parse_i64(c->max, &hi) || hi < slo || hi > shi)) FAIL("column '%s': max '%s' is out of range", nm, c->max);
      if (lo > hi) FAIL("column '%s': min > max", nm);
      c->lo = (uint64_t)lo;
      c->span = (uint64_t)hi - (uint64_t)lo + 1;
    }
    if (seq) {
      /* start defaults to 1 when inside the range, else min; as an offset from lo */
      int64_t start_off;
      if (c->start[0]) {
        int64_t st;
        uint64_t ust;
        if (c->is_unsigned) {
          if (parse_u64(c->start, &ust) || ust < c->lo || (c->span && ust - c->lo >= c->span)) FAIL("column '%s': start is out of range", nm);
          start_off = (int64_t)(ust - c->lo);
        } else {
          if (parse_i64(c->start, &st) || st < (int64_t)c->lo || (c->span && (uint64_t)st - c->lo >= c->span)) FAIL("column '%s': start is out of range", nm);
          start_off = (int64_t)((uint64_t)st - c->lo);
        }
      } else {
        uint64_t one_off = 1 - c->lo;
        start_off = (c->span == 0 || one_off < c->span) ? (int64_t)one_off : 0;
      }
      c->seq_start = start_off;
      c->seq_step = 1;
      if (c->step[0] && (parse_i64(c->step, &c->seq_step) || c->seq_step == 0)) FAIL("column '%s': step must be a non-zero integer", nm);
      if (c->unique) {
        /* rows until the sequence leaves [lo, hi] */
        uint64_t room = c->seq_step > 0 ? (c->span ? c->span - 1 : UINT64_MAX) - (uint64_t)start_off : (uint64_t)start_off;
        uint64_t st = c->seq_step > 0 ? (uint64_t)c->seq_step : (uint64_t)0 - (uint64_t)c->seq_step;
        uint64_t rows = room / st + 1;
        c->row_limit = rows > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)rows;
      }
    } else if (c->unique) {
      c->uniq_domain = c->span;
      if (c->span && c->span < (uint64_t)INT64_MAX) c->row_limit = (int64_t)c->span;
    }
  } else if (c->type == FMH_GEN_DECIMAL) {
    if (c->precision < 0) c->precision = 10;
    if (c->scale < 0) c->scale = 0;
    if (c->scale > c->precision) FAIL("column '%s': DECIMAL scale %d exceeds precision %d", nm, c->scale, c->precision);
    if (c->min[0] || c->max[0]) FAIL("column '%s': min/max are not supported for DECIMAL", nm);
    int ip = c->precision - c->scale;
    if (seq) {
      c->seq_start = 0;
      c->seq_step = 1;
      if (c->start[0] && parse_i64(c->start, &c->seq_start)) FAIL("column '%s': start must be an integer", nm);
      if (c->step[0] && (parse_i64(c->step, &c->seq_step) || c->seq_step == 0)) FAIL("column '%s': step must be a non-zero integer", nm);
      if (c->unique) {
        if (ip == 0) FAIL("column '%s': sequential DECIMAL needs integer digits", nm);
        int64_t lim = ip >= 18 ? INT64_MAX / 2 : pow10i(ip) - 1;
        int64_t st = c->seq_step > 0 ? c->seq_step : -c->seq_step;
        if (c->seq_start < 0 && c->is_unsigned) FAIL("column '%s': start is negative", nm);
        c->row_limit = (lim - (c->seq_step > 0 ? c->seq_start : -c->seq_start)) / st + 1;
        if (c->row_limit < 0) c->row_limit = 0;
      }
    } else if (c->unique) {
      int d = c->precision > 19 ? 19 : c->precision;
      c->uniq_domain = (uint64_t)pow10i(d > 18 ? 18 : d) * (d > 18 ? 10 : 1);
      c->row_limit = c->uniq_domain > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)c->uniq_domain;
    }
  } else if (c->type == FMH_GEN_FLOAT || c->type == FMH_GEN_DOUBLE) {
    if (c->min[0] || c->max[0]) {
      char *end;
      c->dlo = c->min[0] ? strtod(c->min, &end) : (c->is_unsigned ? 0.0 : -1e6);
      if (c->min[0] && *end) FAIL("column '%s': min is not a number", nm);
      c->dhi = c->max[0] ? strtod(c->max, &end) : 1e6;
      if (c->max[0] && *end) FAIL("column '%s': max is not a number", nm);
      if (!(c->dlo <= c->dhi) || !isfinite(c->dlo) || !isfinite(c->dhi)) FAIL("column '%s': min/max must be finite, min <= max", nm);
      c->drange = 1;
    }
    if (seq) {
      c->seq_start = 0;
      c->seq_step = 1;
      if (c->start[0] && parse_i64(c->start, &c->seq_start)) FAIL("column '%s': start must be an integer", nm);
      if (c->step[0] && (parse_i64(c->step, &c->seq_step) || c->seq_step == 0)) FAIL("column '%s': step must be a non-zero integer", nm);
      int64_t exact = c->type == FMH_GEN_DOUBLE ? (1ll << 53) : (1ll << 24);
      if (c->unique) c->row_limit = (exact - llabs(c->seq_start)) / llabs(c->seq_step);
    } else if (c->unique) {
      if (c->drange) FAIL("column '%s': unique FLOAT/DOUBLE cannot take min/max", nm);
      /* every finite bit pattern but -0: 2 * (positive finite patterns) - 1 */
      uint64_t half = c->type == FMH_GEN_DOUBLE ? 0x7ff0000000000000ull : 0x7f800000ull;
      c->uniq_domain = c->is_unsigned ? half : 2 * half - 1;
      if (c->type == FMH_GEN_FLOAT) c->row_limit = (int64_t)c->uniq_domain;
    }
  } else if (is_text(c->type)) {
    if (c->precision >= 0 || c->scale >= 0) FAIL("column '%s': precision/scale apply to DECIMAL", nm);
    switch (c->type) {
      case FMH_GEN_CHAR:
        if (c->length < 0) c->length = 1;
        if (c->length > 255) FAIL("column '%s': CHAR(%d) exceeds 255", nm, c->length);
        c->cap_bytes = 4 * (size_t)c->length;
        c->max_chars = (size_t)c->length;
        break;
      case FMH_GEN_VARCHAR:
        if (c->length < 0) FAIL("column '%s': VARCHAR needs a length", nm);
        if (c->length > 16383) FAIL("column '%s': VARCHAR(%d) exceeds 16383 characters of utf8mb4", nm, c->length);
        c->cap_bytes = 4 * (size_t)c->length;
        c->max_chars = (size_t)c->length;
        break;
      default: {
        size_t lim = c->type == FMH_GEN_TINYTEXT ? 255 : c->type == FMH_GEN_TEXT ? 65535
                   : c->type == FMH_GEN_MEDIUMTEXT ? 16777215 : 4294967295u;
        size_t defcap = c->type == FMH_GEN_TINYTEXT ? 255 : c->type == FMH_GEN_TEXT ? 65535 : 1048576;
        if (c->max_bytes > 0 && (size_t)c->max_bytes > lim) FAIL("column '%s': max_bytes exceeds the type's %zu", nm, lim);
        c->cap_bytes = c->max_bytes > 0 ? (size_t)c->max_bytes : defcap;
        size_t defchars = c->type == FMH_GEN_TINYTEXT ? 60 : c->type == FMH_GEN_TEXT ? 1000 : 4000;
        c->max_chars = c->length >= 0 ? (size_t)c->length : defchars;
        if (c->max_chars > c->cap_bytes) c->max_chars = c->cap_bytes;
        c->length = (int)c->max_chars;
      }
    }
    if ((size_t)c->min_length > c->max_chars) FAIL("column '%s': min_length exceeds the length", nm);
    if (c->unique) {
      if (c->max_chars == 0) FAIL("column '%s': a unique string needs a length", nm);
      if (seq) {
        int w = c->max_chars > 18 ? 18 : (int)c->max_chars;
        c->tok_len = w;
        c->row_limit = pow10i(w);
      } else {
        int w = c->max_chars > 13 ? 13 : (int)c->max_chars;
        c->tok_len = w;
        c->uniq_domain = w >= 13 ? 0 : 1ull << (5 * w);
        if (c->uniq_domain) c->row_limit = (int64_t)c->uniq_domain;
      }
    }
  } else if (is_bin(c->type)) {
    switch (c->type) {
      case FMH_GEN_BINARY:
        if (c->length < 0) c->length = 1;
        if (c->length > 255) FAIL("column '%s': BINARY(%d) exceeds 255", nm, c->length);
        c->cap_bytes = c->max_chars = (size_t)c->length;
        c->min_length = c->length;
        break;
      case FMH_GEN_VARBINARY:
        if (c->length < 0) FAIL("column '%s': VARBINARY needs a length", nm);
        if (c->length > 65532) FAIL("column '%s': VARBINARY(%d) exceeds 65532", nm, c->length);
        c->cap_bytes = c->max_chars = (size_t)c->length;
        break;
      default: {
        size_t lim = c->type == FMH_GEN_TINYBLOB ? 255 : c->type == FMH_GEN_BLOB ? 65535
                   : c->type == FMH_GEN_MEDIUMBLOB ? 16777215 : 4294967295u;
        size_t defcap = c->type == FMH_GEN_TINYBLOB ? 255 : c->type == FMH_GEN_BLOB ? 65535 : 1048576;
        if (c->max_bytes > 0 && (size_t)c->max_bytes > lim) FAIL("column '%s': max_bytes exceeds the type's %zu", nm, lim);
        c->cap_bytes = c->max_bytes > 0 ? (size_t)c->max_bytes : defcap;
        c->max_chars = c->length >= 0 ? (size_t)c->length : (c->type == FMH_GEN_TINYBLOB ? 64 : 256);
        if (c->max_chars > c->cap_bytes) c->max_chars = c->cap_bytes;
        c->length = (int)c->max_chars;
      }
    }
    if ((size_t)c->min_length > c->max_chars) FAIL("column '%s': min_length exceeds the length", nm);
    if (c->unique) {
      if (c->max_chars == 0) FAIL("column '%s': a unique value needs a length", nm);
      int w = c->max_chars > 8 ? 8 : (int)c->max_chars;
      c->tok_len = w;
      c->uniq_domain = w >= 8 ? 0 : 1ull << (8 * w);
      if (c->uniq_domain) c->row_limit = (int64_t)c->uniq_domain;
    }
  } else if (c->type == FMH_GEN_BOOLEAN) {
    if (c->unique) { c->uniq_domain = 2; c->row_limit = 2; }
  } else if (c->type == FMH_GEN_ENUM || c->type == FMH_GEN_SET) {
    if (c->nvalues == 0) FAIL("column '%s': %s needs values", nm, fmh_gen_type_name(c->type));
    for (size_t k = 0; k < c->nvalues; k++) {
      if (c->type == FMH_GEN_SET && memchr(c->values[k], ',', c->vlens[k])) FAIL("column '%s': a SET member cannot hold a comma", nm);
      if (c->vlens[k] == 0 && c->type == FMH_GEN_ENUM) FAIL("column '%s': an ENUM member cannot be empty", nm);
      for (size_t j = 0; j < k; j++)
        if (c->vlens[j] == c->vlens[k] && !memcmp(c->values[j], c->values[k], c->vlens[k])) FAIL("column '%s': duplicate member '%s'", nm, c->values[k]);
    }
    uint64_t dom = c->type == FMH_GEN_ENUM ? c->nvalues : (c->nvalues >= 64 ? 0 : 1ull << c->nvalues);
    if (c->unique) {
      c->uniq_domain = dom;
      if (dom) c->row_limit = (int64_t)dom;
    }
  } else if (c->type == FMH_GEN_JSON) {
    if (c->unique) FAIL("column '%s': unique is not supported for JSON", nm);
    if (seq) FAIL("column '%s': JSON has no sequential distribution", nm);
  } else if (is_temporal(c->type)) {
    if (c->fsp < 0) c->fsp = 0;
    c->unit = (uint64_t)pow10i(6 - c->fsp);
    if (c->type == FMH_GEN_DATE) {
      c->unit = 1;
      c->tlo = fmh_days_from_civil(1900, 1, 1);
      c->thi = fmh_days_from_civil(2099, 12, 31);
      if (c->min[0] && parse_datetime(c->min, 0, &c->tlo)) FAIL("column '%s': min is not a date", nm);
      if (c->max[0] && parse_datetime(c->max, 0, &c->thi)) FAIL("column '%s': max is not a date", nm);
      if (c->tlo < fmh_days_from_civil(1000, 1, 1) || c->thi > fmh_days_from_civil(9999, 12, 31)) FAIL("column '%s': dates run from 1000-01-01 to 9999-12-31", nm);
    } else if (c->type == FMH_GEN_TIME) {
      c->tlo = 0;
      c->thi = 86400000000ll - 1;
      if (c->min[0] && parse_time(c->min, &c->tlo)) FAIL("column '%s': min is not a time", nm);
      if (c->max[0] && parse_time(c->max, &c->thi)) FAIL("column '%s': max is not a time", nm);
    } else if (c->type == FMH_GEN_DATETIME) {
      c->tlo = fmh_days_from_civil(1900, 1, 1) * 86400000000ll;
      c->thi = fmh_days_from_civil(2099, 12, 31) * 86400000000ll + 86399999999ll;
      if (c->min[0] && parse_datetime(c->min, 1, &c->tlo)) FAIL("column '%s': min is not a datetime", nm);
      if (c->max[0] && parse_datetime(c->max, 1, &c->thi)) FAIL("column '%s': max is not a datetime", nm);
      if (c->tlo < MIN_US_DT || c->thi > MAX_US_DT) FAIL("column '%s': DATETIME runs from 1000-01-01 to 9999-12-31", nm);
    } else {
      c->tlo = TS_MIN_US;
      c->thi = TS_MAX_US;
      if (c->min[0] && parse_datetime(c->min, 1, &c->tlo)) FAIL("column '%s': min is not a datetime (UTC)", nm);
      if (c->max[0] && parse_datetime(c->max, 1, &c->thi)) FAIL("column '%s': max is not a datetime (UTC)", nm);
      if (c->tlo < TS_MIN_US || c->thi > TS_MAX_US) FAIL("column '%s': TIMESTAMP runs from 1970-01-01 00:00:01 to 2038-01-19 03:14:07.999999 UTC", nm);
    }
    if (c->tlo > c->thi) FAIL("column '%s': min > max", nm);
    /* align the range to the fraction unit */
    int64_t u = (int64_t)c->unit;
    c->tlo = (c->tlo >= 0 ? (c->tlo + u - 1) / u : c->tlo / u) * u;
    c->thi = (c->thi >= 0 ? c->thi / u : (c->thi - u + 1) / u) * u;
    if (c->tlo > c->thi) FAIL("column '%s': the range holds no value at fsp %d", nm, c->fsp);
    uint64_t steps = (uint64_t)(c->thi - c->tlo) / c->unit + 1;
    if (seq) {
      c->seq_start = c->tlo;
      if (c->start[0]) {
        int r = c->type == FMH_GEN_DATE ? parse_datetime(c->start, 0, &c->seq_start)
              : c->type == FMH_GEN_TIME ? parse_time(c->start, &c->seq_start)
                                        : parse_datetime(c->start, 1, &c->seq_start);
        if (r || c->seq_start < c->tlo || c->seq_start > c->thi) FAIL("column '%s': start is not inside the range", nm);
      }
      c->seq_step = c->type == FMH_GEN_DATE ? 1 : 1000000;
      if (c->step[0]) {
        if (c->type == FMH_GEN_DATE ? parse_i64(c->step, &c->seq_step) : parse_seconds(c->step, &c->seq_step))
          FAIL("column '%s': step is not a number of %s", nm, c->type == FMH_GEN_DATE ? "days" : "seconds");
        if (c->seq_step == 0 || c->seq_step % (int64_t)c->unit) FAIL("column '%s': step must be a non-zero multiple of the fraction unit", nm);
      }
      if (c->unique) {
        int64_t room = c->seq_step > 0 ? c->thi - c->seq_start : c->seq_start - c->tlo;
        c->row_limit = room / llabs(c->seq_step) + 1;
      }
    } else if (c->unique) {
      c->uniq_domain = steps;
      c->row_limit = (int64_t)steps;
    }
  }
  if (c->unique && !seq) c->uniq_bits = bits_for(c->uniq_domain);
  if (c->dist == FMH_GEN_ZIPF) {
    size_t n = (size_t)c->zipf_n;
    c->zipf_cdf = malloc(n * sizeof(uint64_t));
    double *cum = malloc(n * sizeof(double));
    if (!c->zipf_cdf || !cum) { free(cum); fmh_error_set(err, "os", ENOMEM, 0, "out of memory"); return -1; }
    double total = 0;
    for (size_t k = 0; k < n; k++) {
      total += det_exp(-c->zipf_s * det_log((double)(k + 1)));
      cum[k] = total;
    }
    for (size_t k = 0; k < n; k++) c->zipf_cdf[k] = to_thr(ratio_scale(cum[k] / total));
    c->zipf_cdf[n - 1] = UINT64_MAX;
    free(cum);
  }
  if (build_edges(g, c, err) != 0) return -1;
  return 0;
#undef FAIL
}

static int copy_col(gcol *dst, const gcol *src) {
  *dst = *src;
  dst->name = strdup(src->name);
  dst->values = NULL;
  dst->vlens = NULL;
  dst->edge_names = src->edge_names ? strdup(src->edge_names) : NULL;
  dst->zipf_cdf = NULL;
  if (!dst->name || (src->edge_names && !dst->edge_names)) return -1;
  if (src->nvalues) {
    dst->values = calloc(src->nvalues, sizeof(char *));
    dst->vlens = calloc(src->nvalues, sizeof(size_t));
    if (!dst->values || !dst->vlens) return -1;
    for (size_t k = 0; k < src->nvalues; k++) {
      dst->values[k] = malloc(src->vlens[k] + 1);
      if (!dst->values[k]) { dst->nvalues = k; return -1; }
      memcpy(dst->values[k], src->values[k], src->vlens[k] + 1);
      dst->vlens[k] = src->vlens[k];
    }
  }
  return 0;
}

fmh_gen *fmh_gen_new(const fmh_gen_schema *s, int seed_set, uint64_t seed, fmh_error *err) {
  if (s->ncols == 0) {
    fmh_error_set(err, "config", 0, 0, "a schema needs at least one column");
    return NULL;
  }
  fmh_gen *g = calloc(1, sizeof *g);
  if (!g) { fmh_error_set(err, "os", ENOMEM, 0, "out of memory"); return NULL; }
  memcpy(g->name, s->name, sizeof g->name);
  memcpy(g->collation, s->collation, sizeof g->collation);
  g->seed = seed_set ? seed : s->seed;
  g->row_limit = INT64_MAX;
  g->cols = calloc(s->ncols, sizeof(gcol));
  if (!g->cols) { free(g); fmh_error_set(err, "os", ENOMEM, 0, "out of memory"); return NULL; }
  for (size_t k = 0; k < s->ncols; k++) {
    g->ncols = k + 1;
    if (copy_col(&g->cols[k], &s->cols[k]) != 0) {
      fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
      fmh_gen_free(g);
      return NULL;
    }
  }
  if (fmh_tz_load(&g->tz, s->time_zone, err) != 0) { fmh_gen_free(g); return NULL; }
  /* the DST zone: given, else the session zone when it has transitions,
   * else Europe/Berlin (when the tz database has it) */
  fmh_error scratch = {0};
  if (s->dst_zone[0]) {
    if (fmh_tz_load(&g->dst, s->dst_zone, err) != 0) { fmh_gen_free(g); return NULL; }
  } else if (!g->tz.fixed) {
    if (fmh_tz_load(&g->dst, s->time_zone, err) != 0) { fmh_gen_free(g); return NULL; }
  } else if (fmh_tz_load(&g->dst, "Europe/Berlin", &scratch) != 0) {
    fmh_tz_load(&g->dst, "UTC", &scratch);
  }
  fmh_error_clear(&scratch);
  int64_t y1970 = 0, y2038 = 2145916800; /* 2038-01-01 */
  g->ngaps = fmh_tz_gaps(&g->dst, y1970, y2038, g->gaps_local, g->gaps_len, 64);
  g->nfolds = fmh_tz_folds(&g->dst, y1970, y2038, g->folds_local, g->folds_len, 64);
  for (size_t k = 0; k < g->ncols; k++) {
    if (build_col(g, &g->cols[k], err) != 0) { fmh_gen_free(g); return NULL; }
    if (g->cols[k].row_limit < g->row_limit) g->row_limit = g->cols[k].row_limit;
  }
  fmh_buf cols = {0};
  int ok = fmh_buf_put(&cols, "(", 1) == 0;
  for (size_t k = 0; ok && k < g->ncols; k++)
    ok = (k == 0 || fmh_buf_put(&cols, ",", 1) == 0) && fmh_buf_put(&cols, "`", 1) == 0 &&
         fmh_buf_put(&cols, g->cols[k].name, strlen(g->cols[k].name)) == 0 && fmh_buf_put(&cols, "`", 1) == 0;
  if (!ok || fmh_buf_put(&cols, ")", 1) != 0) {
    fmh_buf_free(&cols);
    fmh_gen_free(g);
    fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
    return NULL;
  }
  g->columns_sql = cols.p;
  return g;
}

void fmh_gen_free(fmh_gen *g) {
  if (!g) return;
  for (size_t k = 0; k < g->ncols; k++) col_free(&g->cols[k]);
  free(g->cols);
  fmh_tz_free(&g->tz);
  fmh_tz_free(&g->dst);
  free(g->columns_sql);
  free(g);
}

size_t fmh_gen_ncols(const fmh_gen *g) { return g->ncols; }
uint64_t fmh_gen_seed(const fmh_gen *g) { return g->seed; }
const char *fmh_gen_name(const fmh_gen *g) { return g->name; }
const char *fmh_gen_time_zone(const fmh_gen *g) { return g->tz.name; }
const char *fmh_gen_collation(const fmh_gen *g) { return g->collation; }
int64_t fmh_gen_row_limit(const fmh_gen *g) { return g->row_limit; }
const char *fmh_gen_columns_sql(const fmh_gen *g) { return g->columns_sql; }

/* ---- text ---------------------------------------------------------------- */

static const char alnum64[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .";
static const char punct[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
static const char base32[] = "0123456789abcdefghijklmnopqrstuv";

static size_t put_utf8(char *p, uint32_t cp) {
  if (cp < 0x80) { p[0] = (char)cp; return 1; }
  if (cp < 0x800) { p[0] = (char)(0xc0 | (cp >> 6)); p[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
  if (cp < 0x10000) {
    p[0] = (char)(0xe0 | (cp >> 12)); p[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); p[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  p[0] = (char)(0xf0 | (cp >> 18)); p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  p[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); p[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

static uint32_t pick(uint32_t r, uint32_t lo, uint32_t n) { return lo + (uint32_t)(((uint64_t)r * n) >> 24); }

static uint32_t emoji_cp(uint32_t r) {
  uint32_t k = pick(r, 0, 80 + 768 + 256);
  return k < 80 ? 0x1f600 + k : k < 848 ? 0x1f300 + (k - 80) : 0x1f900 + (k - 848);
}
static uint32_t rtl_cp(uint32_t r) {
  uint32_t k = pick(r, 0, 27 + 42);
  return k < 27 ? 0x05d0 + k : 0x0621 + (k - 27);
}

/* One character (maybe a base + combining pair) for charset cs from 32
 * random bits; returns its bytes in p and the character count in *nch. */
static size_t one_char(fmh_charset cs, uint32_t r, char *p, int *nch) {
  uint32_t sel = r & 0xff, rest = r >> 8; /* rest: 24 bits */
  *nch = 1;
  switch (cs) {
    case CS_ASCII: p[0] = (char)pick(rest, 0x20, 95); return 1;
    case CS_ALNUM: p[0] = base32[rest & 31]; return 1;
    case CS_LATIN1: return sel < 200 ? (p[0] = (char)pick(rest, 0x20, 95), 1) : put_utf8(p, pick(rest, 0xa0, 96));
    case CS_CJK: return put_utf8(p, pick(rest, 0x4e00, 20902));
    case CS_EMOJI: return put_utf8(p, emoji_cp(rest));
    default: break;
  }
  if (sel < 140) { p[0] = alnum64[rest & 63]; return 1; }
  if (sel < 150) { p[0] = punct[pick(rest, 0, 32)]; return 1; }
  if (sel < 170) return put_utf8(p, pick(rest, 0xc0, 0x180 - 0xc0));
  if (sel < 184) {
    uint32_t k = pick(rest, 0, 25 + 64);
    return put_utf8(p, k < 25 ? 0x3b1 + k : 0x410 + (k - 25));
  }
  if (sel < 198) return put_utf8(p, rtl_cp(rest));
  if (sel < 218) return put_utf8(p, pick(rest, 0x4e00, 20902));
  if (sel < 226) return put_utf8(p, pick(rest, 0xac00, 11172));
  if (sel < 234) {
    /* a base letter and a combining mark: two characters */
    p[0] = (char)('a' + (rest & 15));
    *nch = 2;
    return 1 + put_utf8(p + 1, pick(rest, 0x300, 0x70));
  }
  if (sel < 250) return put_utf8(p, emoji_cp(rest));
  return put_utf8(p, pick(rest, 0x20000, 0xa6e0));
}

/* The mixed charsets draw from tables of pre-encoded characters: 2^14
 * entries, 64 per value of the class byte of one_char, so the scripts keep
 * their weights exactly, and a character costs a table load and an 8-byte
 * copy. Built once from a fixed stream: the same on every machine. */
#define TAB_BITS 14
#define TAB_N (1u << TAB_BITS)
/* an entry: the character's bytes (at most 5) in the low bytes, the
 * character count in byte 6 and the byte length in byte 7 */
typedef struct { unsigned char b[8]; } centry;
typedef struct { centry e[TAB_N]; } char_tab;
static char_tab tab_utf8, tab_latin1;
static pthread_once_t tabs_once = PTHREAD_ONCE_INIT;

static void fill_tab(char_tab *t, fmh_charset cs) {
  fmh_rng r = {0x5851f42d4c957f2dull ^ (uint64_t)cs};
  for (uint32_t k = 0; k < TAB_N; k++) {
    char tmp[8] = {0};
    int nch;
    uint32_t bits = (k >> (TAB_BITS - 8)) | ((uint32_t)fmh_rng_next(&r) & 0xffffff00u);
    size_t n = one_char(cs, bits, tmp, &nch);
    memcpy(t->e[k].b, tmp, n);
    t->e[k].b[6] = (unsigned char)nch;
    t->e[k].b[7] = (unsigned char)n;
  }
}
static void build_tabs(void) {
  fill_tab(&tab_utf8, CS_UTF8);
  fill_tab(&tab_latin1, CS_LATIN1);
}

/* Append up to nchars characters (and at most cap bytes) to b. */
static int gen_text(fmh_buf *b, fmh_charset cs, fmh_rng *r, size_t nchars, size_t cap) {
  if (fmh_buf_reserve(b, (nchars < cap ? nchars : cap) * 4 + 16) != 0) return -1;
  size_t start = b->len, chars = 0;
  char *out = b->p;
  if (cs == CS_ASCII || cs == CS_ALNUM) {
    while (chars < nchars && b->len - start < cap) {
      uint64_t x = fmh_rng_next(r);
      for (int k = 0; k < 8 && chars < nchars && b->len - start < cap; k++, x >>= 8) {
        out[b->len++] = cs == CS_ALNUM ? base32[x & 31] : (char)(0x20 + (((x & 0xff) * 95) >> 8));
        chars++;
      }
    }
    return 0;
  }
  if (cs == CS_UTF8 || cs == CS_LATIN1) {
    pthread_once(&tabs_once, build_tabs);
    const char_tab *t = cs == CS_UTF8 ? &tab_utf8 : &tab_latin1;
    int capped = cap < 4 * nchars; /* else n characters always fit */
    size_t len = b->len;
    /* 8 bytes stored per character, little-endian: the entry's own bytes
     * first; the rest is overwritten by the next one or lies past the end */
#define PUT_ENTRY(e)                      \
  do {                                    \
    const centry *e_ = (e);               \
    memcpy(out + len, e_->b, 8);          \
    len += e_->b[7];                      \
    chars += e_->b[6];                    \
  } while (0)
    if (!capped) {
      /* four characters a draw while at least eight may still come */
      while (nchars - chars >= 8) {
        uint64_t x = fmh_rng_next(r);
        PUT_ENTRY(&t->e[x & (TAB_N - 1)]);
        PUT_ENTRY(&t->e[(x >> TAB_BITS) & (TAB_N - 1)]);
        PUT_ENTRY(&t->e[(x >> (2 * TAB_BITS)) & (TAB_N - 1)]);
        PUT_ENTRY(&t->e[(x >> (3 * TAB_BITS)) & (TAB_N - 1)]);
      }
    }
    while (chars < nchars) {
      uint64_t x = fmh_rng_next(r);
      for (int j = 0; j < 4 && chars < nchars; j++, x >>= TAB_BITS) {
        unsigned k = (unsigned)(x & (TAB_N - 1));
        const centry *e = &t->e[k];
        if (e->b[6] > nchars - chars) e = &t->e[k & (TAB_N / 2 - 1)]; /* no room for a pair: ASCII */
        PUT_ENTRY(e);
        if (capped && len - start > cap) {
          b->len = len - e->b[7];
          return 0;
        }
      }
    }
#undef PUT_ENTRY
    b->len = len;
    return 0;
  }
  while (chars < nchars) {
    uint64_t x = fmh_rng_next(r);
    for (int half = 0; half < 2 && chars < nchars; half++, x >>= 32) {
      char tmp[8];
      int nch;
      size_t n = one_char(cs, (uint32_t)x, tmp, &nch);
      if (chars + (size_t)nch > nchars) { n = 1; tmp[0] = alnum64[(x >> 8) & 63]; nch = 1; }
      if (b->len - start + n > cap) return 0;
      memcpy(out + b->len, tmp, n);
      b->len += n;
      chars += (size_t)nch;
    }
  }
  return 0;
}

/* The CHAR rule: MariaDB strips trailing spaces of CHAR values on reading. */
static void char_fix(const gcol *c, char *s, size_t len) {
  if (c->type == FMH_GEN_CHAR && len > 0 && s[len - 1] == ' ') s[len - 1] = '.';
}

static int append(fmh_buf *b, const void *s, size_t n) {
  if (fmh_buf_reserve(b, n) != 0) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

static int text_edge(const gcol *c, int id, fmh_rng *r, fmh_buf *b) {
  size_t n = c->max_chars, cap = c->cap_bytes;
  if (n == 0) return 0;
  switch (id) {
    case E_S_EMPTY: return 0;
    case E_S_LIMIT_CHARS: {
      /* n characters, all one byte; for TEXT types: cap bytes of ASCII */
      size_t want = is_text(c->type) && c->type >= FMH_GEN_TINYTEXT ? cap : n;
      if (fmh_buf_reserve(b, want) != 0) return -1;
      size_t s0 = b->len;
      if (gen_text(b, CS_ASCII, r, want, want) != 0) return -1;
      char_fix(c, b->p + s0, b->len - s0);
      return 0;
    }
    case E_S_LIMIT_BYTES: {
      /* VARCHAR/CHAR(n): n four-byte characters (4n bytes). TEXT types:
       * exactly cap bytes, four-byte characters then a 3/2/1-byte tail */
      size_t chars = c->type <= FMH_GEN_VARCHAR ? n : cap;
      size_t bytes = c->type <= FMH_GEN_VARCHAR ? 4 * n : cap;
      if (fmh_buf_reserve(b, bytes) != 0) return -1;
      size_t s0 = b->len, k = 0;
      while (k < chars && (b->len - s0) + 4 <= bytes) {
        char tmp[4];
        put_utf8(tmp, emoji_cp((uint32_t)fmh_rng_next(r) & 0xffffff));
        memcpy(b->p + b->len, tmp, 4);
        b->len += 4;
        k++;
      }
      size_t left = bytes - (b->len - s0);
      if (k < chars && left > 0) {
        char tmp[4];
        size_t m = left == 3 ? put_utf8(tmp, 0x4e2d) : left == 2 ? put_utf8(tmp, 0xe9) : put_utf8(tmp, 'x');
        memcpy(b->p + b->len, tmp, m);
        b->len += m;
      }
      return 0;
    }
    case E_S_EMOJI: case E_S_CJK: {
      size_t len = 1 + fmh_rng_below(r, n);
      return gen_text(b, id == E_S_EMOJI ? CS_EMOJI : CS_CJK, r, len > n ? n : len, cap);
    }
    case E_S_COMBINING: {
      /* e + COMBINING ACUTE, a + COMBINING RING + COMBINING DOT BELOW, ... */
      static const char *units[] = {"e\xcc\x81", "a\xcc\x8a\xcc\xa3", "\xce\xb1\xcd\x82", "n\xcc\x83"};
      static const size_t chars[] = {2, 3, 2, 2};
      size_t len = n, s0 = b->len, done = 0;
      while (done < len) {
        unsigned k = (unsigned)(fmh_rng_next(r) & 3);
        if (done + chars[k] > len || b->len - s0 + strlen(units[k]) > cap) break;
        if (append(b, units[k], strlen(units[k])) != 0) return -1;
        done += chars[k];
      }
      return 0;
    }
    case E_S_RTL: {
      /* Hebrew and Arabic words around left-to-right digits */
      size_t s0 = b->len, done = 0;
      while (done < n) {
        uint64_t x = fmh_rng_next(r);
        char tmp[4];
        size_t m = (x & 7) == 0 ? (tmp[0] = (char)('0' + (x >> 8) % 10), 1)
                 : (x & 7) == 1 ? (tmp[0] = ' ', 1) : put_utf8(tmp, rtl_cp((uint32_t)(x >> 8) & 0xffffff));
        if (b->len - s0 + m > cap) break;
        if (append(b, tmp, m) != 0) return -1;
        done++;
      }
      char_fix(c, b->p + s0, b->len - s0);
      return 0;
    }
    case E_S_SPECIALS: {
      /* the bytes that break CSV, SQL and JSON writers */
      static const char sp[] = {'\0', '\\', '\'', '"', '\t', '\n', '\r', 0x1a, ',', 'x', '%', '_', ';'};
      size_t len = n < 16 ? n : 16, s0 = b->len;
      for (size_t k = 0; k < len; k++) {
        char ch = k < sizeof sp ? sp[(k + fmh_rng_below(r, sizeof sp)) % sizeof sp] : sp[fmh_rng_below(r, sizeof sp)];
        if (append(b, &ch, 1) != 0) return -1;
      }
      char_fix(c, b->p + s0, b->len - s0);
      return 0;
    }
    case E_S_NULL_WORD: return append(b, "NULL", n < 4 ? n : 4);
    case E_S_BACKSLASH_N: return append(b, "\\N", n < 2 ? n : 2);
    case E_S_SPACES: {
      /* leading and (but for CHAR) trailing blanks */
      size_t s0 = b->len;
      if (append(b, " ", 1) != 0) return -1;
      if (gen_text(b, CS_ASCII, r, n - 2 > 8 ? 8 : n - 2, cap - 2) != 0) return -1;
      if (c->type != FMH_GEN_CHAR && append(b, " ", 1) != 0) return -1;
      char_fix(c, b->p + s0, b->len - s0);
      return 0;
    }
    default: return 0;
  }
}

/* ---- decimals ------------------------------------------------------------ */

/* canonical decimal text from an optional '-' and p digits (int part then scale) */
static int put_decimal(fmh_buf *b, int neg, const char *digits, int p, int s) {
  if (fmh_buf_reserve(b, (size_t)p + 4) != 0) return -1;
  char *o = b->p + b->len, *start = o;
  int ip = p - s, k = 0;
  while (k < ip - 1 && digits[k] == '0') k++; /* strip leading zeros, keep one */
  if (neg) {
    int allzero = 1;
    for (int j = 0; j < p && allzero; j++) allzero = digits[j] == '0';
    if (!allzero) *o++ = '-';
  }
  if (ip == 0) *o++ = '0';
  else { memcpy(o, digits + k, (size_t)(ip - k)); o += ip - k; }
  if (s > 0) {
    *o++ = '.';
    memcpy(o, digits + ip, (size_t)s);
    o += s;
  }
  b->len += (size_t)(o - start);
  return 0;
}

/* n random decimal digits: each 64-bit draw gives 19, read off its top by
 * multiplying by ten */
static void rand_digits(fmh_rng *r, char *d, int n) {
  while (n > 0) {
    uint64_t x = fmh_rng_next(r);
    int m = n < 19 ? n : 19;
    for (int k = 0; k < m; k++) {
      fmh_u128 t = (fmh_u128)x * 10u;
      d[k] = (char)('0' + (int)(t >> 64));
      x = (uint64_t)t;
    }
    d += m;
    n -= m;
  }
}

static int decimal_value(const gcol *c, fmh_rng *r, int64_t row, int seq, fmh_buf *b) {
  int p = c->precision, s = c->scale, ip = p - s;
  char d[80];
  if (seq) {
    /* integer part start + row*step, fraction zero */
    fmh_i128 v = (fmh_i128)c->seq_start + (fmh_i128)row * c->seq_step;
    int neg = v < 0;
    if (neg) v = -v;
    if (!c->unique) {
      fmh_i128 mod = ip >= 18 ? (fmh_i128)1 << 62 : pow10i(ip);
      v %= mod;
    }
    memset(d, '0', (size_t)p);
    for (int k = ip - 1; k >= 0 && v > 0; k--) { d[k] = (char)('0' + (int)(v % 10)); v /= 10; }
    return put_decimal(b, neg && !c->is_unsigned, d, p, s);
  }
  if (c->unique) {
    /* low digits from the permutation: distinct rows, distinct values */
    int low = p > 19 ? 19 : p;
    uint64_t u = perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key);
    rand_digits(r, d, p - low);
    char tmp[20];
    fmh_gen_fmt_digits(tmp, u, 19);
    memcpy(d + p - low, tmp + 19 - low, (size_t)low);
    return put_decimal(b, 0, d, p, s);
  }
  /* magnitude class uniform over 0..ip integer digits, then the digits */
  int nint = (int)fmh_rng_below(r, (uint64_t)ip + 1);
  memset(d, '0', (size_t)p);
  rand_digits(r, d + (ip - nint), nint + s);
  if (nint > 0 && d[ip - nint] == '0') d[ip - nint] = '1' + (char)(fmh_rng_next(r) % 9);
  int neg = !c->is_unsigned && (fmh_rng_next(r) & 1);
  return put_decimal(b, neg, d, p, s);
}

static int decimal_edge(const gcol *c, int id, fmh_rng *r, fmh_buf *b) {
  int p = c->precision, s = c->scale, ip = p - s;
  char d[80];
  memset(d, '0', (size_t)p);
  switch (id) {
    case E_D_MAX: case E_D_MIN: memset(d, '9', (size_t)p); return put_decimal(b, id == E_D_MIN, d, p, s);
    case E_D_TINY: case E_D_MINUS_TINY: d[p - 1] = '1'; return put_decimal(b, id == E_D_MINUS_TINY, d, p, s);
    case E_D_ZERO: return put_decimal(b, 0, d, p, s);
    case E_D_FULL:
      rand_digits(r, d, p);
      d[0] = '1' + (char)(fmh_rng_next(r) % 9);
      return put_decimal(b, !c->is_unsigned && (fmh_rng_next(r) & 1), d, p, s);
    case E_D_ONE: if (ip > 0) d[ip - 1] = '1'; else d[p - 1] = '1'; return put_decimal(b, 0, d, p, s);
    case E_D_MAX_INT: memset(d, '9', (size_t)ip); return put_decimal(b, 0, d, p, s);
    case E_D_HALF: d[ip] = '5'; return put_decimal(b, 0, d, p, s);
    case E_D_I64MAX1: {
      const char *t = "9223372036854775808";
      memcpy(d + ip - 19, t, 19);
      return put_decimal(b, 0, d, p, s);
    }
    default: return put_decimal(b, 0, d, p, s);
  }
}

/* ---- floating point ------------------------------------------------------ */

static double double_edge(int id, int is_float) {
  switch (id) {
    case E_F_MINUS_ZERO: return -0.0;
    case E_F_ZERO: return 0.0;
    case E_F_MIN_SUB: return is_float ? (double)FLT_TRUE_MIN : DBL_TRUE_MIN;
    case E_F_MINUS_MIN_SUB: return is_float ? -(double)FLT_TRUE_MIN : -DBL_TRUE_MIN;
    case E_F_MAX_SUB: return is_float ? (double)(FLT_MIN - FLT_TRUE_MIN) : DBL_MIN - DBL_TRUE_MIN;
    case E_F_MIN_NORMAL: return is_float ? (double)FLT_MIN : DBL_MIN;
    case E_F_MAX: return is_float ? (double)FLT_MAX : DBL_MAX;
    case E_F_MINUS_MAX: return is_float ? -(double)FLT_MAX : -DBL_MAX;
    case E_F_ONE: return 1.0;
    case E_F_ONE_ULP: return is_float ? (double)(1.0f + FLT_EPSILON) : 1.0 + DBL_EPSILON;
    case E_F_TENTH: return is_float ? (double)0.1f : 0.1;
    case E_F_THIRD: return is_float ? (double)(1.0f / 3.0f) : 1.0 / 3.0;
    case E_F_I53: return 9007199254740992.0;
    case E_F_I53_2: return 9007199254740994.0;
    case E_F_BIG: return is_float ? (double)1.2345678e20f : 1.2345678901234568e20;
    default: return is_float ? (double)1e-7f : 1e-7; /* E_F_TINY_FIXED */
  }
}

static double double_value(const gcol *c, fmh_rng *r, int64_t row, int seq) {
  int isf = c->type == FMH_GEN_FLOAT;
  if (seq) return (double)(int64_t)((uint64_t)c->seq_start + (uint64_t)row * (uint64_t)c->seq_step);
  if (c->unique) {
    uint64_t u = perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key);
    uint64_t half = isf ? 0x7f800000ull : 0x7ff0000000000000ull;
    int neg = u >= half;
    uint64_t pat = neg ? u - half + 1 : u;
    if (isf) {
      uint32_t b32 = (uint32_t)pat | (neg ? 0x80000000u : 0);
      float f;
      memcpy(&f, &b32, 4);
      return (double)f;
    }
    pat |= neg ? 0x8000000000000000ull : 0;
    double d;
    memcpy(&d, &pat, 8);
    return d;
  }
  if (c->drange) {
    /* min + (max-min)*u, u with 53 random bits; clamped for rounding */
    double u = (double)(fmh_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double v = c->dlo + (c->dhi - c->dlo) * u;
    if (v > c->dhi) v = c->dhi;
    if (isf) {
      float f = (float)v;
      if ((double)f < c->dlo || (double)f > c->dhi) f = (float)c->dlo;
      return (double)f;
    }
    return v;
  }
  /* a random sign, a binary exponent within 2^-40..2^40, random mantissa:
   * values that need all their digits */
  uint64_t x = fmh_rng_next(r);
  int e = (int)(fmh_rng_next(r) % 81) - 40;
  int neg = !c->is_unsigned && (x >> 63);
  if (isf) {
    uint32_t bits = ((uint32_t)(127 + e) << 23) | ((uint32_t)x & 0x7fffff) | (neg ? 0x80000000u : 0);
    float f;
    memcpy(&f, &bits, 4);
    return (double)f;
  }
  uint64_t bits = ((uint64_t)(1023 + e) << 52) | (x & 0xfffffffffffffull) | (neg ? 0x8000000000000000ull : 0);
  double d;
  memcpy(&d, &bits, 8);
  return d;
}

/* ---- binary -------------------------------------------------------------- */

static int rand_bytes(fmh_buf *b, fmh_rng *r, size_t n) {
  if (fmh_buf_reserve(b, n + 8) != 0) return -1;
  char *o = b->p + b->len;
  for (size_t k = 0; k < n; k += 8) {
    uint64_t x = fmh_rng_next(r); /* bytes taken low first: the same on any host */
    for (int j = 0; j < 8 && k + (size_t)j < n; j++) o[k + (size_t)j] = (char)(x >> (8 * j));
  }
  b->len += n;
  return 0;
}

static int bin_edge(const gcol *c, int id, fmh_rng *r, fmh_buf *b) {
  size_t n = c->type == FMH_GEN_BINARY ? (size_t)c->length : c->max_chars;
  size_t limit = c->type >= FMH_GEN_TINYBLOB ? c->cap_bytes : n;
  size_t fixed = c->type == FMH_GEN_BINARY ? n : 0;
  size_t s0 = b->len;
  switch (id) {
    case E_B_EMPTY: return 0;
    case E_B_LIMIT: if (rand_bytes(b, r, limit) != 0) return -1; break;
    case E_B_ZEROS: case E_B_FF: {
      size_t m = fixed ? fixed : (n ? n : 1);
      if (m > n && !fixed) m = n;
      if (fmh_buf_reserve(b, m) != 0) return -1;
      memset(b->p + b->len, id == E_B_ZEROS ? 0 : 0xff, m);
      b->len += m;
      break;
    }
    case E_B_ESCAPES: if (append(b, "\0\\\"',\n\r\t\x1a\\N", 11 < n ? 11 : n) != 0) return -1; break;
    case E_B_INVALID_UTF8: if (append(b, "\xc0\x80\x80\xf5\xff\xed\xa0\x80", 8 < n ? 8 : n) != 0) return -1; break;
  }
  /* BINARY(n) values are exactly n bytes (the server pads with zeros) */
  if (fixed && b->len - s0 < fixed) {
    size_t pad = fixed - (b->len - s0);
    if (fmh_buf_reserve(b, pad) != 0) return -1;
    memset(b->p + b->len, 0, pad);
    b->len += pad;
  }
  if (fixed && b->len - s0 > fixed) b->len = s0 + fixed;
  return 0;
}

/* ---- temporal ------------------------------------------------------------ */

static int64_t frac_draw(const gcol *c, fmh_rng *r) {
  return c->fsp ? (int64_t)(fmh_rng_below(r, (uint64_t)pow10i(c->fsp)) * c->unit) : 0;
}

static int64_t max_fraction(const gcol *c) { return 1000000 - (int64_t)c->unit; }

/* a TIMESTAMP instant moved out of the session zone's folds (where its
 * local text would name two instants) */
static int64_t ts_unfold(const fmh_gen *g, int64_t us) {
  if (g->tz.fixed || g->tz.n == 0) return us;
  int64_t sec = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
  for (size_t k = 0; k < g->tz.n; k++) {
    int32_t before = k ? g->tz.off[k - 1] : g->tz.offset, after = g->tz.off[k];
    if (after >= before) continue;
    int64_t l = before - after;
    if (sec >= g->tz.at[k] - l && sec < g->tz.at[k] + l) return us + (g->tz.at[k] + l - sec) * 1000000;
  }
  return us;
}

static int64_t temporal_edge(const fmh_gen *g, const gcol *c, int id, fmh_rng *r) {
  const int64_t D = 86400000000ll;
  int64_t mf = max_fraction(c);
  switch (id) {
    case E_DA_MIN: return fmh_days_from_civil(1000, 1, 1);
    case E_DA_MAX: return fmh_days_from_civil(9999, 12, 31);
    case E_DA_EPOCH: return 0;
    case E_DA_LEAP: {
      static const int years[] = {1904, 2000, 2024, 2400, 9996};
      return fmh_days_from_civil(years[fmh_rng_below(r, 5)], 2, 29);
    }
    case E_DA_NONLEAP: {
      static const int years[] = {1900, 2100, 2200, 1800};
      return fmh_days_from_civil(years[fmh_rng_below(r, 4)], 2, 28);
    }
    case E_DA_Y2038: return fmh_days_from_civil(2038, 1, 19);
    case E_T_MAX: return 3020399000000ll + mf;
    case E_T_MIN: return -(3020399000000ll + mf);
    case E_T_ZERO: return 0;
    case E_T_DAY_END: return D - 1000000 + mf;
    case E_T_DAY: return D;
    case E_T_MINUS_TINY: return -(int64_t)(c->fsp ? c->unit : 1000000);
    case E_DT_MIN: return MIN_US_DT;
    case E_DT_MAX: return fmh_days_from_civil(9999, 12, 31) * D + D - 1000000 + mf;
    case E_DT_EPOCH: return 0;
    case E_DT_MAX_FRACTION: {
      int64_t day = fmh_days_from_civil(1970, 1, 1) + (int64_t)fmh_rng_below(r, 365 * 60);
      return day * D + D - 1000000 + mf;
    }
    case E_DT_LEAP: case E_TS_LEAP: {
      static const int years[] = {2000, 2004, 2024, 2036};
      int y = id == E_TS_LEAP ? years[fmh_rng_below(r, 4)] : years[fmh_rng_below(r, 4)];
      int64_t v = fmh_days_from_civil(y, 2, 29) * D + (int64_t)fmh_rng_below(r, 86400) * 1000000 + frac_draw(c, r);
      return id == E_TS_LEAP ? ts_unfold(g, v) : v;
    }
    case E_DT_DST_GAP: case E_DT_DST_FOLD: {
      int gap = id == E_DT_DST_GAP;
      size_t k = (size_t)fmh_rng_below(r, gap ? g->ngaps : g->nfolds);
      int64_t start = gap ? g->gaps_local[k] : g->folds_local[k];
      int32_t len = gap ? g->gaps_len[k] : g->folds_len[k];
      return (start + (int64_t)fmh_rng_below(r, (uint64_t)len)) * 1000000 + frac_draw(c, r);
    }
    case E_DT_TS_MIN: return 1000000;
    case E_DT_TS_MAX: return 2147483647000000ll + mf;
    case E_TS_MIN: return TS_MIN_US;
    case E_TS_MAX: return 2147483647000000ll + mf;
    case E_TS_MAX_FRACTION: {
      int64_t sec = 1 + (int64_t)fmh_rng_below(r, 2147483646);
      return ts_unfold(g, sec * 1000000 + mf);
    }
    case E_TS_DST: {
      /* the last instant before a transition of the session zone, or the first after */
      size_t k = (size_t)fmh_rng_below(r, g->tz.n);
      int64_t at = g->tz.at[k];
      if (at < 1) at = 1;
      if (at > 2147483647) at = 2147483647;
      int64_t v = (fmh_rng_next(r) & 1) ? at * 1000000 : at * 1000000 - (int64_t)c->unit;
      if (v < TS_MIN_US) v = TS_MIN_US;
      return ts_unfold(g, v);
    }
    default: return 0;
  }
}

static int64_t temporal_value(const fmh_gen *g, const gcol *c, fmh_rng *r, int64_t row, int seq) {
  int64_t u = (int64_t)c->unit;
  int64_t v;
  if (seq) {
    uint64_t span = (uint64_t)(c->thi - c->tlo) + 1;
    fmh_i128 x = (fmh_i128)c->seq_start - c->tlo + (fmh_i128)row * c->seq_step;
    if (!c->unique) {
      x %= (fmh_i128)span;
      if (x < 0) x += span;
    }
    v = c->tlo + (int64_t)x;
  } else if (c->unique) {
    v = c->tlo + (int64_t)perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key) * u;
  } else {
    uint64_t steps = (uint64_t)(c->thi - c->tlo) / c->unit + 1;
    v = c->tlo + (int64_t)fmh_rng_below(r, steps) * u;
  }
  if (c->type == FMH_GEN_TIMESTAMP && !c->unique && !seq) {
    v = ts_unfold(g, v);
    if (v > c->thi) v = c->thi;
  }
  return v;
}

/* ---- one cell ------------------------------------------------------------ */

static void set_bytes(fmh_gen_cursor *cur, size_t ci, fmh_gen_value *v, fmh_gen_vkind kind, size_t start) {
  v->kind = kind;
  cur->offs[ci] = start;
  v->len = cur->scratch.len - start;
}

static int cell(fmh_gen_cursor *cur, size_t ci, int64_t row, uint64_t rowmix, int plain, fmh_gen_value *v) {
  const fmh_gen *g = cur->g;
  const gcol *c = &g->cols[ci];
  fmh_buf *b = &cur->scratch;
  fmh_rng r;
  r.s = fmh_mix64(c->key ^ rowmix); /* fmh_rng_init(&r, c->key, row), the row's half shared */
  v->edge = -1;
  v->s = NULL;
  v->len = 0;
  cur->offs[ci] = SIZE_MAX;
  /* the NULL / edge-case draw, only for columns that have either */
  uint64_t u = (c->always_null || c->null_thr || c->edge_thr > c->null_thr) ? fmh_rng_next(&r) : UINT64_MAX;
  int edge = -1;
  if (c->unique) plain = 0; /* keys keep their values */
  if (!plain) {
    if (c->always_null || u < c->null_thr) {
      v->kind = FMH_GV_NULL;
      return 0;
    }
    if (u < c->edge_thr && c->nedges > 0) {
      int ek = (int)fmh_rng_below(&r, (uint64_t)c->nedges);
      edge = c->edge_ids[ek];
      v->edge = ek;
    }
  }
  int seq = c->dist == FMH_GEN_SEQUENTIAL;
  int64_t vrow = row;
  /* zipf and cardinality: the value comes from its identity's stream */
  if (edge < 0 && !plain && !seq && !c->unique && (c->dist == FMH_GEN_ZIPF || c->cardinality)) {
    uint64_t ident;
    if (c->dist == FMH_GEN_ZIPF) {
      uint64_t x = fmh_rng_next(&r);
      size_t lo = 0, hi = (size_t)c->zipf_n - 1;
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x < c->zipf_cdf[mid]) hi = mid; else lo = mid + 1;
      }
      ident = lo;
    } else {
      ident = fmh_rng_below(&r, (uint64_t)c->cardinality);
    }
    fmh_rng_init(&r, c->ident_key, ident);
    vrow = (int64_t)ident;
  }
  size_t start = b->len;

  if (is_int(c->type)) {
    uint64_t x;
    if (plain) {
      x = (c->span == 0 || 0 - c->lo < c->span) ? 0 : c->lo; /* 0 when inside the range */
    } else if (edge >= 0) {
      if (int_edge_value(c, edge, &x) != 0) x = c->lo;
    } else if (seq) {
      uint64_t off = (uint64_t)c->seq_start + (uint64_t)row * (uint64_t)c->seq_step;
      if (!c->unique && c->span) {
        fmh_i128 o = (fmh_i128)c->seq_start + (fmh_i128)row * c->seq_step;
        o %= (fmh_i128)c->span;
        if (o < 0) o += c->span;
        off = (uint64_t)o;
      }
      x = c->lo + off;
    } else if (c->unique) {
      x = c->lo + perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key);
    } else {
      x = c->lo + fmh_rng_below(&r, c->span);
    }
    if (c->is_unsigned) { v->kind = FMH_GV_UINT; v->n.u = x; }
    else { v->kind = FMH_GV_INT; v->n.i = (int64_t)x; }
    return 0;
  }
  switch (c->type) {
    case FMH_GEN_DECIMAL: {
      int rc;
      if (plain) rc = decimal_edge(c, E_D_ZERO, &r, b);
      else if (edge >= 0) rc = decimal_edge(c, edge, &r, b);
      else rc = decimal_value(c, &r, vrow, seq, b);
      if (rc != 0) return -1;
      set_bytes(cur, ci, v, FMH_GV_DECIMAL, start);
      return 0;
    }
    case FMH_GEN_FLOAT: case FMH_GEN_DOUBLE: {
      double d = plain ? 0.0 : edge >= 0 ? double_edge(edge, c->type == FMH_GEN_FLOAT) : double_value(c, &r, vrow, seq);
      v->kind = c->type == FMH_GEN_FLOAT ? FMH_GV_FLOAT : FMH_GV_DOUBLE;
      if (c->type == FMH_GEN_FLOAT) d = (double)(float)d; /* a FLOAT value is a float */
      v->n.d = d;
      return 0;
    }
    case FMH_GEN_BOOLEAN: {
      v->kind = FMH_GV_BOOL;
      if (plain) v->n.i = 0;
      else if (edge >= 0) v->n.i = edge == E_BOOL_TRUE;
      else if (seq) v->n.i = row & 1;
      else if (c->unique) v->n.i = (int64_t)perm((uint64_t)row, 2, 1, c->key);
      else v->n.i = (int64_t)(fmh_rng_next(&r) & 1);
      return 0;
    }
    case FMH_GEN_ENUM: case FMH_GEN_SET: {
      uint64_t pickv;
      size_t nv = c->nvalues;
      uint64_t dom = c->type == FMH_GEN_ENUM ? nv : (nv >= 64 ? 0 : 1ull << nv);
      if (plain) pickv = 0;
      else if (edge == E_EN_FIRST || edge == E_SET_EMPTY) pickv = 0;
      else if (edge == E_EN_LAST) pickv = nv - 1;
      else if (edge == E_SET_ALL) pickv = dom - 1;
      else if (seq) pickv = dom ? (uint64_t)row % dom : (uint64_t)row;
      else if (c->unique) pickv = perm((uint64_t)row, dom, c->uniq_bits, c->key);
      else pickv = fmh_rng_below(&r, dom);
      if (c->type == FMH_GEN_ENUM) {
        if (append(b, c->values[pickv], c->vlens[pickv]) != 0) return -1;
      } else {
        int first = 1;
        for (size_t k = 0; k < nv; k++)
          if (pickv >> k & 1) {
            if (!first && append(b, ",", 1) != 0) return -1;
            if (append(b, c->values[k], c->vlens[k]) != 0) return -1;
            first = 0;
          }
      }
      set_bytes(cur, ci, v, FMH_GV_TEXT, start);
      return 0;
    }
    case FMH_GEN_JSON: {
      int rc = plain ? append(b, "{}", 2) : edge >= 0 ? fmh_gen_json_edge(c, fmh_gen_edge_name(edge), &r, b) : fmh_gen_json_doc(c, &r, b);
      if (rc != 0) return -1;
      set_bytes(cur, ci, v, FMH_GV_JSON, start);
      return 0;
    }
    case FMH_GEN_DATE: case FMH_GEN_TIME: case FMH_GEN_DATETIME: case FMH_GEN_TIMESTAMP: {
      static const fmh_gen_vkind kinds[] = {FMH_GV_DATE, FMH_GV_TIME, FMH_GV_DATETIME, FMH_GV_TIMESTAMP};
      v->kind = kinds[c->type - FMH_GEN_DATE];
      if (plain) {
        int64_t d2000 = fmh_days_from_civil(2000, 1, 1);
        v->n.i = c->type == FMH_GEN_DATE ? d2000 : c->type == FMH_GEN_TIME ? 0 : d2000 * 86400000000ll;
        if (c->type != FMH_GEN_TIME && (v->n.i < c->tlo || v->n.i > c->thi)) v->n.i = c->tlo;
      } else if (edge >= 0) {
        v->n.i = temporal_edge(g, c, edge, &r);
      } else {
        v->n.i = temporal_value(g, c, &r, vrow, seq);
      }
      return 0;
    }
    default: break;
  }
  if (is_text(c->type)) {
    int rc = 0;
    if (plain) {
      rc = 0;
    } else if (edge >= 0) {
      rc = text_edge(c, edge, &r, b);
    } else if (c->unique && seq) {
      /* a zero-padded counter: sorts as the rows do */
      if (fmh_buf_reserve(b, 20) != 0) return -1;
      fmh_gen_fmt_digits(b->p + b->len, (uint64_t)row, c->tok_len);
      b->len += (size_t)c->tok_len;
    } else if (seq) {
      char tmp[24];
      char *e = fmh_gen_fmt_u64(tmp, (uint64_t)row);
      size_t n = (size_t)(e - tmp);
      if (n > c->max_chars) { memmove(tmp, e - c->max_chars, c->max_chars); n = c->max_chars; }
      rc = append(b, tmp, n);
    } else {
      size_t lo = (size_t)c->min_length, n;
      if (c->unique) {
        /* a base-32 token of the permuted row, then random text */
        uint64_t t = perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key);
        if (fmh_buf_reserve(b, 16) != 0) return -1;
        for (int k = c->tok_len - 1; k >= 0; k--) { b->p[b->len + (size_t)k] = base32[t & 31]; t >>= 5; }
        b->len += (size_t)c->tok_len;
        if (lo < (size_t)c->tok_len) lo = (size_t)c->tok_len;
        n = lo + (size_t)fmh_rng_below(&r, c->max_chars - lo + 1);
        rc = gen_text(b, c->charset, &r, n - (size_t)c->tok_len, c->cap_bytes - (size_t)c->tok_len);
      } else {
        n = lo + (size_t)fmh_rng_below(&r, c->max_chars - lo + 1);
        rc = gen_text(b, c->charset, &r, n, c->cap_bytes);
      }
      char_fix(c, b->p + start, b->len - start);
    }
    if (rc != 0) return -1;
    set_bytes(cur, ci, v, FMH_GV_TEXT, start);
    return 0;
  }
  if (is_bin(c->type)) {
    int rc = 0;
    if (plain) {
      if (c->type == FMH_GEN_BINARY) {
        if (fmh_buf_reserve(b, (size_t)c->length) != 0) return -1;
        memset(b->p + b->len, 0, (size_t)c->length);
        b->len += (size_t)c->length;
      }
    } else if (edge >= 0) {
      rc = bin_edge(c, edge, &r, b);
    } else {
      size_t lo = (size_t)c->min_length;
      size_t n = c->type == FMH_GEN_BINARY ? (size_t)c->length : lo + (size_t)fmh_rng_below(&r, c->max_chars - lo + 1);
      if (c->unique || seq) {
        uint64_t t = c->unique && !seq ? perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key) : (uint64_t)row;
        int w = c->unique ? c->tok_len : (int)(c->max_chars > 8 ? 8 : c->max_chars);
        if ((size_t)w > n) n = (size_t)w;
        if (fmh_buf_reserve(b, (size_t)w) != 0) return -1;
        for (int k = w - 1; k >= 0; k--) { b->p[b->len + (size_t)k] = (char)(t & 0xff); t >>= 8; }
        b->len += (size_t)w;
        rc = rand_bytes(b, &r, n - (size_t)w);
      } else {
        rc = rand_bytes(b, &r, n);
      }
    }
    if (rc != 0) return -1;
    set_bytes(cur, ci, v, FMH_GV_BYTES, start);
    return 0;
  }
  v->kind = FMH_GV_NULL;
  return 0;
}

fmh_gen_cursor *fmh_gen_cursor_new(const fmh_gen *g) {
  fmh_gen_cursor *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->g = g;
  c->offs = calloc(g->ncols, sizeof(size_t));
  if (!c->offs || fmh_buf_reserve(&c->scratch, 4096) != 0) {
    free(c->offs);
    free(c);
    return NULL;
  }
  fmh_gen_num_init();
  return c;
}

void fmh_gen_cursor_free(fmh_gen_cursor *c) {
  if (!c) return;
  fmh_buf_free(&c->scratch);
  free(c->offs);
  free(c);
}

int fmh_gen_row(fmh_gen_cursor *cur, int64_t row, const unsigned char *plain, fmh_gen_value *out, fmh_error *err) {
  const fmh_gen *g = cur->g;
  if (row < 0 || row >= g->row_limit) {
    if (row < 0) fmh_error_set(err, "range", 0, 0, "row %lld: rows are numbered from 0", (long long)row);
    else {
      const char *who = "?";
      for (size_t k = 0; k < g->ncols; k++)
        if (g->cols[k].row_limit == g->row_limit) { who = g->cols[k].name; break; }
      fmh_error_set(err, "range", 0, 0, "row %lld: unique column '%s' has values for rows 0..%lld only",
                    (long long)row, who, (long long)g->row_limit - 1);
    }
    return -1;
  }
  cur->scratch.len = 0;
  uint64_t rowmix = fmh_mix64((uint64_t)row + FMH_ROW_SALT);
  for (size_t k = 0; k < g->ncols; k++) {
    if (cell(cur, k, row, rowmix, plain ? plain[k] : 0, &out[k]) != 0) {
      fmh_error_set(err, "os", ENOMEM, 0, "out of memory generating row %lld", (long long)row);
      return -1;
    }
  }
  /* the scratch may have moved while the row grew: pointers last */
  for (size_t k = 0; k < g->ncols; k++)
    if (cur->offs[k] != SIZE_MAX) out[k].s = cur->scratch.p + cur->offs[k];
  return 0;
}

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

static int bputs(fmh_buf *b, const char *s) { return append(b, s, strlen(s)); }

char *fmh_gen_create_table_sql(const fmh_gen *g, const char *table) {
  fmh_buf b = {0};
  char line[512];
  int ok = 1;
  ok &= bputs(&b, "CREATE TABLE `") == 0;
  for (const char *p = table; *p; p++) ok &= append(&b, *p == '`' ? "``" : p, *p == '`' ? 2 : 1) == 0;
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
  ok &= append(&b, "", 1) == 0;
  if (!ok) { fmh_buf_free(&b); return NULL; }
  return b.p;
}

char *fmh_gen_load_data_sql(const fmh_gen *g, const char *table, const char *path, int local) {
  fmh_buf b = {0};
  int ok = 1;
  ok &= bputs(&b, local ? "LOAD DATA LOCAL INFILE '" : "LOAD DATA INFILE '") == 0;
  for (const char *p = path; *p; p++) {
    if (*p == '\'' || *p == '\\') ok &= append(&b, "\\", 1) == 0;
    ok &= append(&b, p, 1) == 0;
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
  ok &= append(&b, "", 1) == 0;
  if (!ok) { fmh_buf_free(&b); return NULL; }
  return b.p;
}
