/* fmhost.gen, compiling a column: the schema's text (types, ranges, edge
 * case selections, distributions) checked and turned into the thresholds,
 * domains and tables that drawing a value reads (fmh_gen_new). Floating
 * point appears only here, in basic IEEE operations. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"


/* ---- edge cases ---------------------------------------------------------- */

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
int fmh_gen_int_edge_value(const gcol *c, int id, uint64_t *out) {
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
      if (fmh_gen_int_edge_value(c, id, &v) != 0) continue;
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
      if (c->min[0] && (fmh_gen_parse_u64(c->min, &lo) || lo > uhi)) FAIL("column '%s': min '%s' is out of range", nm, c->min);
      if (c->max[0] && (fmh_gen_parse_u64(c->max, &hi) || hi > uhi)) FAIL("column '%s': max '%s' is out of range", nm, c->max);
      if (lo > hi) FAIL("column '%s': min > max", nm);
      c->lo = lo;
      c->span = hi - lo + 1;
    } else {
      int64_t lo = slo, hi = shi;
      if (c->min[0] && (fmh_gen_parse_i64(c->min, &lo) || lo < slo || lo > shi)) FAIL("column '%s': min '%s' is out of range", nm, c->min);
      if (c->max[0] && (fmh_gen_parse_i64(c->max, &hi) || hi < slo || hi > shi)) FAIL("column '%s': max '%s' is out of range", nm, c->max);
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
          if (fmh_gen_parse_u64(c->start, &ust) || ust < c->lo || (c->span && ust - c->lo >= c->span)) FAIL("column '%s': start is out of range", nm);
          start_off = (int64_t)(ust - c->lo);
        } else {
          if (fmh_gen_parse_i64(c->start, &st) || st < (int64_t)c->lo || (c->span && (uint64_t)st - c->lo >= c->span)) FAIL("column '%s': start is out of range", nm);
          start_off = (int64_t)((uint64_t)st - c->lo);
        }
      } else {
        uint64_t one_off = 1 - c->lo;
        start_off = (c->span == 0 || one_off < c->span) ? (int64_t)one_off : 0;
      }
      c->seq_start = start_off;
      c->seq_step = 1;
      if (c->step[0] && (fmh_gen_parse_i64(c->step, &c->seq_step) || c->seq_step == 0)) FAIL("column '%s': step must be a non-zero integer", nm);
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
      if (c->start[0] && fmh_gen_parse_i64(c->start, &c->seq_start)) FAIL("column '%s': start must be an integer", nm);
      if (c->step[0] && (fmh_gen_parse_i64(c->step, &c->seq_step) || c->seq_step == 0)) FAIL("column '%s': step must be a non-zero integer", nm);
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
      if (c->start[0] && fmh_gen_parse_i64(c->start, &c->seq_start)) FAIL("column '%s': start must be an integer", nm);
      if (c->step[0] && (fmh_gen_parse_i64(c->step, &c->seq_step) || c->seq_step == 0)) FAIL("column '%s': step must be a non-zero integer", nm);
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
        if (c->type == FMH_GEN_DATE ? fmh_gen_parse_i64(c->step, &c->seq_step) : parse_seconds(c->step, &c->seq_step))
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
  for (size_t k = 0; k < g->ncols; k++) fmh_gen_col_free(&g->cols[k]);
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

