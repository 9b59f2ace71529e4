/* Internals shared by the files of host/gen/ (not a public header): the column and
 * generator structures, the counter-based random stream, and the helpers
 * the value generators, writers and loaders have in common. */
#ifndef FMHOST_GEN_INT_H
#define FMHOST_GEN_INT_H

#include <stdint.h>
#include <stdio.h>

#include "fmhost/calendar.h"
#include "fmhost/gen.h"

__extension__ typedef unsigned __int128 fmh_u128;
__extension__ typedef __int128 fmh_i128;

/* ---- numbers (gen_num.c) ---- */
void fmh_gen_num_init(void);
int fmh_gen_ndigits(uint64_t v);
char *fmh_gen_fmt_digits(char *p, uint64_t v, int n);
char *fmh_gen_fmt_u64(char *p, uint64_t v);
char *fmh_gen_fmt_i64(char *p, int64_t v);
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
