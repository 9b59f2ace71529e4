/* Internals shared by the files of host/gen/ (not a public header): the column and
 * generator structures, the counter-based random stream, and the helpers
 * the value generators, writers and loaders have in common. */
#ifndef FMHOST_GEN_INT_H
#define FMHOST_GEN_INT_H

#include <stdint.h>
#include <stdio.h>

#include "fmhost/calendar.h"
#include "fmhost/digits.h"
#include "fmhost/gen.h"

__extension__ typedef unsigned __int128 fmh_u128;
__extension__ typedef __int128 fmh_i128;

/* ---- numbers (gen_num.c) ---- */
void fmh_gen_num_init(void);
char *fmh_gen_fmt_double(char *p, double v);
char *fmh_gen_fmt_double_style(char *p, double v, int sql);
char *fmh_gen_fmt_float(char *p, float v);
char *fmh_gen_fmt_float_style(char *p, float v, int sql);

/* ---- the random stream ----
 * Cell (column key, row) owns the stream mix(key ^ mix(row + C)) + k*GOLDEN
 * for draws k = 1, 2, ...: a pure function of its coordinates. */
#define FMH_GOLDEN 0x9e3779b97f4a7c15ull
static inline uint64_t fmh_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
typedef struct { uint64_t s; } fmh_rng;
#define FMH_ROW_SALT 0x6a09e667f3bcc909ull
static inline void fmh_rng_init(fmh_rng *r, uint64_t key, uint64_t row) {
  r->s = fmh_mix64(key ^ fmh_mix64(row + FMH_ROW_SALT));
}
static inline uint64_t fmh_rng_next(fmh_rng *r) {
  r->s += FMH_GOLDEN;
  return fmh_mix64(r->s);
}
/* uniform in [0, n) by multiply-high (n = 0 means 2^64) */
static inline uint64_t fmh_rng_below(fmh_rng *r, uint64_t n) {
  uint64_t x = fmh_rng_next(r);
  if (n == 0) return x;
  return (uint64_t)(((fmh_u128)x * n) >> 64);
}

/* ---- time zones (gen_tz.c) ---- */
typedef struct fmh_tz {
  char name[64];
  int fixed;           /* 1: a constant offset */
  int32_t offset;      /* seconds east of UTC, for fixed zones and before the first transition */
  size_t n;
  int64_t *at;         /* transition instants, UTC seconds, ascending */
  int32_t *off;        /* offset in force from at[k] on */
} fmh_tz;
/* "UTC", "+HH:MM"/"-HH:MM", or a name under /usr/share/zoneinfo (TZif). */
int fmh_tz_load(fmh_tz *tz, const char *name, fmh_error *err);
void fmh_tz_free(fmh_tz *tz);
int32_t fmh_tz_offset_at(const fmh_tz *tz, int64_t utc);
/* Number of transitions that open a gap (offset rises) between the given
 * UTC years; the k-th one's local start and length. */
size_t fmh_tz_gaps(const fmh_tz *tz, int64_t from_utc, int64_t to_utc, int64_t *local_start, int32_t *len, size_t cap);
size_t fmh_tz_folds(const fmh_tz *tz, int64_t from_utc, int64_t to_utc, int64_t *local_start, int32_t *len, size_t cap);

/* ---- civil time: fmhost/calendar.h ---- */

/* ---- columns ---- */
#define FMH_GEN_MAX_EDGES 24

typedef enum { CS_UTF8, CS_ASCII, CS_LATIN1, CS_CJK, CS_EMOJI, CS_ALNUM } fmh_charset;

typedef struct gcol {
  char *name;
  fmh_gen_type type;
  int type_set;
  int is_unsigned;
  int precision, scale, length, fsp; /* -1: not given */
  int nullable;
  double null_ratio, edge_ratio;     /* -1: not given */
  fmh_gen_dist dist;
  int64_t zipf_n;
  double zipf_s;
  int64_t cardinality;
  int unique, primary_key;
  char min[48], max[48], start[48], step[48];
  int min_length;
  int64_t max_bytes;                 /* -1: default */
  fmh_charset charset;
  int charset_set;
  int depth, width, edge_depth;
  char **values;
  size_t *vlens;
  size_t nvalues;
  char *edge_names;                  /* the `edges` selection, or NULL */

  /* derived by fmh_gen_new */
  uint64_t key, ident_key;
  uint64_t null_thr, edge_thr;
  int always_null;
  int nedges;
  int edge_ids[FMH_GEN_MAX_EDGES];
  uint64_t lo;                       /* integer domain: values lo + [0, span) as 64-bit patterns */
  uint64_t span;                     /* 0: all 2^64 */
  int64_t seq_start, seq_step;       /* sequential: integers, days, microseconds */
  int64_t tlo, thi;                  /* temporal range (days or microseconds), inclusive */
  double dlo, dhi;                   /* FLOAT/DOUBLE range when min/max given */
  int drange;
  uint64_t uniq_domain;              /* unique: distinct values available (0: 2^64) */
  int uniq_bits;                     /* the permutation's width */
  int tok_len;                       /* unique text: token characters */
  uint64_t *zipf_cdf;                /* zipf_n thresholds */
  int64_t row_limit;
  size_t max_chars;                  /* text: characters of a normal value */
  size_t cap_bytes;                  /* text/blob: byte cap */
  uint64_t unit;                     /* temporal: microseconds per fsp step */
} gcol;

struct fmh_gen_schema {
  char name[128];
  uint64_t seed;
  int seed_set;
  char time_zone[64];
  char dst_zone[64];
  char collation[64];
  gcol *cols;
  size_t ncols, cap;
};

struct fmh_gen {
  char name[128];
  uint64_t seed;
  char collation[64];
  gcol *cols;
  size_t ncols;
  fmh_tz tz;         /* session time zone: TIMESTAMP text */
  fmh_tz dst;        /* the zone whose gaps DATETIME edge cases hit */
  int64_t gaps_local[64];
  int32_t gaps_len[64];
  size_t ngaps;
  int64_t folds_local[64];
  int32_t folds_len[64];
  size_t nfolds;
  int64_t row_limit;
  char *columns_sql;  /* "(`a`,`b`)": the column list of load statements */
};

struct fmh_gen_cursor {
  const fmh_gen *g;
  fmh_buf scratch;
  size_t *offs;      /* per column: offset of its bytes in scratch (SIZE_MAX: none) */
};

/* ---- shared by the files of host/gen/ ---- */
/* cp as UTF-8 at p (up to 4 bytes); its length */
static inline size_t fmh_utf8_put(char *p, uint32_t cp) {
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

static inline int is_int(fmh_gen_type t) { return t <= FMH_GEN_BIGINT; }
static inline int is_text(fmh_gen_type t) { return t >= FMH_GEN_CHAR && t <= FMH_GEN_LONGTEXT; }
static inline int is_bin(fmh_gen_type t) { return t >= FMH_GEN_BINARY && t <= FMH_GEN_LONGBLOB; }
static inline int is_temporal(fmh_gen_type t) { return t >= FMH_GEN_DATE && t <= FMH_GEN_TIMESTAMP; }

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

#define MAX_US_DT (fmh_days_from_civil(9999, 12, 31) * 86400000000ll + 86399999999ll)
#define MIN_US_DT (fmh_days_from_civil(1000, 1, 1) * 86400000000ll)
#define TS_MIN_US 1000000ll
#define TS_MAX_US 2147483647999999ll
#define TIME_MAX_US 3020399999999ll /* 838:59:59.999999 */

static inline int64_t pow10i(int n) {
  int64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}


/* ---- permutations for unique columns ------------------------------------- */

/* a keyed bijection of [0, 2^bits) */
static inline uint64_t perm_pow2(uint64_t x, int bits, uint64_t key) {
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
static inline uint64_t perm(uint64_t i, uint64_t domain, int bits, uint64_t key) {
  uint64_t x = perm_pow2(i, bits, key);
  if (domain == 0) return x;
  while (x >= domain) x = perm_pow2(x, bits, key);
  return x;
}
static inline int bits_for(uint64_t domain) {
  if (domain == 0) return 64;
  int b = 1;
  while (b < 64 && (1ull << b) < domain) b++;
  return b;
}


/* integer edge candidates (as 64-bit patterns); unsigned columns read them unsigned (gen_build.c) */
int fmh_gen_int_edge_value(const gcol *c, int id, uint64_t *out);
/* schema text (gen.c) */
int fmh_gen_parse_i64(const char *v, int64_t *out);
int fmh_gen_parse_u64(const char *v, uint64_t *out);
void fmh_gen_col_free(gcol *c);

const char *fmh_gen_type_name(fmh_gen_type t);
const char *fmh_gen_edge_name(int id);

/* JSON text of a string (quotes included) into b. */
int fmh_gen_json_string(fmh_buf *b, const char *s, size_t n);
/* A generated JSON document of a column into b. */
int fmh_gen_json_doc(const gcol *c, fmh_rng *r, fmh_buf *b);
int fmh_gen_json_edge(const gcol *c, const char *edge_name, fmh_rng *r, fmh_buf *b);

/* text of a temporal value; returns its length */
size_t fmh_gen_fmt_temporal(const fmh_gen *g, fmh_gen_vkind kind, int64_t v, int fsp, char *out, int utc_z);

#endif
