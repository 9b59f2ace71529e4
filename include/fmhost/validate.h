/* fmhost.validate: an exact verdict on a target table, in bounded memory.
 *
 * compare streams the target (SELECT ... ORDER BY key on an unbuffered
 * cursor) and the expected side (rows [first, first+count) of a generator,
 * or another table or query on the same or another pool) in key order and
 * merges them, holding one row per side. Every key is classified: matched,
 * missing (expected, not in the target), extra (in the target, not
 * expected), duplicated (seen more than once in the target). The columns of
 * matched rows are compared by the EXPECTED side's type (the generator's
 * column, or the expected table's or query's column), so a target column
 * narrower than the data (FLOAT for DOUBLE, a smaller DECIMAL, a shorter
 * VARCHAR, fewer fraction digits, a character set without the characters,
 * a smaller integer) shows as mismatches; a column option loosens one
 * column only where the caller asks (as, ulp, fsp, tolerance). Type-aware
 * equality:
 *   integers exactly (signed and unsigned alike); DECIMAL numerically exact
 *   (leading zeros, trailing fractional zeros and -0 do not matter); DOUBLE
 *   exactly or within a declared number of ULPs; FLOAT at float precision;
 *   DATE/TIME/DATETIME/TIMESTAMP as microsecond values cut to a declared
 *   fsp (generator TIMESTAMPs rendered in a declared time zone); JSON
 *   semantically (object member order ignored, numbers as exact decimals,
 *   arrays in order); strings and bytes byte for byte.
 * Counts are exact; the samples (keys and field mismatches) are capped.
 * Key order is the server's ORDER BY order: integers numerically, strings
 * byte by byte (a binary collation such as utf8mb4_nopad_bin); a side
 * found out of that order stops the comparison with an error.
 *
 * checksum compares two tables by key-range chunk checksums computed by the
 * server, bisects differing chunks and streams only the rows of the small
 * ranges left. schema and quality check a table's definition and data. */
#ifndef FMHOST_VALIDATE_H
#define FMHOST_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "fmhost/error.h"
#include "fmhost/gen.h"
#include "fmhost/pool.h"

/* --- the verdict ------------------------------------------------------ */

typedef enum { FMH_VK_NULL = 0, FMH_VK_INT, FMH_VK_UINT, FMH_VK_TEXT } fmh_vkey_kind;

typedef struct fmh_vkey_part {
  fmh_vkey_kind kind;
  int64_t i;
  uint64_t u;
  char *s;          /* TEXT: owned copy (decimal, temporal, string or bytes) */
  size_t len;
} fmh_vkey_part;

typedef struct fmh_vkey {
  int n;
  fmh_vkey_part *parts;
} fmh_vkey;

typedef struct fmh_vmismatch {
  fmh_vkey key;
  char *column;
  char *expected, *actual;      /* display text, cut to max_value_len; NULL for SQL NULL */
  size_t expected_len, actual_len;
  int expected_cut, actual_cut; /* 1 when the text was cut */
  const char *reason;           /* static code: see fmh_vreason_* below */
  char *detail;                 /* a sentence: where and how the values differ */
} fmh_vmismatch;

/* Reasons of a field mismatch. */
#define FMH_VR_NULL_EXPECTED "null_expected"   /* expected NULL, target has a value */
#define FMH_VR_NULL_ACTUAL "null_actual"       /* expected a value, target has NULL */
#define FMH_VR_INTEGER "integer"
#define FMH_VR_DECIMAL "decimal"
#define FMH_VR_DOUBLE "double"
#define FMH_VR_FLOAT "float"
#define FMH_VR_TEMPORAL "temporal"
#define FMH_VR_JSON "json"
#define FMH_VR_INVALID_JSON "invalid_json"
#define FMH_VR_STRING "string"
#define FMH_VR_BYTES "bytes"

typedef struct fmh_vcolstat {
  char *name;
  const char *compare;          /* "integer", "decimal", "double", ... how it was compared */
  uint64_t mismatches;
} fmh_vcolstat;

/* A pattern behind differences (fmhost.validate's diagnosis, built in
 * validate_explain.c): a narrowing seen in one column's mismatches, or a
 * property that separates the missing (or extra) rows from the rest, or a
 * collapse or split of rows. */
typedef struct fmh_vpattern {
  char *column;                 /* NULL when it concerns no one column */
  const char *kind;             /* static: see FMH_VP_* below */
  uint64_t count;               /* how many mismatches (rows, keys) it accounts for */
  uint64_t of;                  /* out of how many */
  char *text;                   /* one sentence: the pattern and its likely cause */
  char *examples[2];            /* "key 7: '1.2345' -> '1.23'" (NULL when fewer) */
} fmh_vpattern;

/* Kinds of a pattern. */
#define FMH_VP_ROUNDING "rounding"           /* rounded to N decimal places */
#define FMH_VP_TRUNCATION "truncation"       /* cut to N characters or bytes */
#define FMH_VP_CLIPPING "clipping"           /* clipped to a type's bounds */
#define FMH_VP_UNSIGNED "unsigned"           /* negative values stored as 0 */
#define FMH_VP_CHARSET "charset"             /* characters turned into '?' */
#define FMH_VP_TIME_SHIFT "time_shift"       /* a constant shift */
#define FMH_VP_DST_SHIFT "dst_shift"         /* a shift that changes with daylight saving */
#define FMH_VP_FSP "fsp"                     /* fractional seconds cut to N digits */
#define FMH_VP_DATE_ONLY "date_only"         /* the time of day dropped */
#define FMH_VP_NULL_DEFAULT "null_default"   /* NULL replaced by 0, '' or the epoch */
#define FMH_VP_FLOAT "float_precision"       /* kept at single precision */
#define FMH_VP_JSON_TEXT "json_text"         /* the same JSON document in other text */
#define FMH_VP_MISSING "missing"             /* what the missing rows share */
#define FMH_VP_EXTRA "extra"                 /* what the extra rows share */
#define FMH_VP_COLLAPSE "collapse"           /* one target row per distinct value of a column */
#define FMH_VP_SPLIT "split"                 /* several differing target rows per key */
#define FMH_VP_COPIES "copies"               /* several identical target rows per key */

typedef struct fmh_verdict {
  int ok;
  const char *mode;             /* "stream" or "checksum" */
  uint64_t expected, target, matched, missing, extra;
  /* matched counts the keys present in both (the first copy of a key);
   * exact those whose row equals the expected one, differing the rest */
  uint64_t exact, differing;
  uint64_t copies_differing;    /* extra copies of a key that differ from the expected row */
  uint64_t duplicated;          /* distinct target keys seen more than once */
  uint64_t duplicate_rows;      /* the copies beyond the first */
  uint64_t expected_duplicated; /* keys seen more than once on the expected side */
  uint64_t mismatched_rows, mismatched_fields;
  fmh_vkey *missing_keys, *extra_keys, *duplicated_keys;
  size_t nmissing_keys, nextra_keys, nduplicated_keys;
  fmh_vmismatch *mismatches;
  size_t nmismatches;
  int truncated;                /* some sample list was capped */
  fmh_vcolstat *columns;        /* the compared columns */
  size_t ncolumns;
  char **missing_columns;       /* expected columns the target does not have */
  size_t nmissing_columns;
  char **extra_columns;         /* target columns not expected (and not ignored) */
  size_t nextra_columns;
  double elapsed_s, rows_per_s; /* rows_per_s: target rows + expected rows over elapsed_s */
  int has_seed;
  uint64_t seed;                /* the generator's seed */
  int has_range;
  int64_t first, last;          /* the generator's row range, inclusive */
  /* checksum mode */
  uint64_t chunks, chunks_differing, checksum_queries, rows_streamed;
  const char *hash_a, *hash_b;  /* where each side was hashed: "udf", "server", "client" or "generator" */
  char *checksum_function;      /* one row's hash: the SQL expression (side a), or the digest computed here */
  /* the diagnosis */
  fmh_vpattern *patterns;       /* per column: the narrowings behind its mismatches */
  size_t npatterns;
  fmh_vpattern *explain;        /* missing/extra rows explained, collapses, splits */
  size_t nexplain;
  char **missing_rows;          /* the expected row of a few missing keys ("id=5, qty=3") */
  size_t nmissing_rows;
  char **extra_rows;            /* the target row of a few extra keys */
  size_t nextra_rows;
  /* checksum mode: segments and a partial verdict (a budget ran out, a
   * server failed): ok is then 0 and partial_detail says what was verified */
  int partial;
  uint64_t segments_verified, segments_failed, segments_skipped;
  char *partial_detail;
} fmh_verdict;

void fmh_verdict_free(fmh_verdict *v);
/* Readable text (malloc'ed). */
char *fmh_verdict_format(const fmh_verdict *v);
/* Parts of that text, in its order, for a caller that frames them itself
 * (fmhost.pipeline's diagnosis): any OR of these. */
enum {
  FMH_VTEXT_HEAD = 1,       /* "validate (stream): FAILED" and the generator's seed and range */
  FMH_VTEXT_COUNTS = 2,     /* "rows: expected N, target N; keys present N (exact N, differing N), ..." */
  FMH_VTEXT_TIME = 4,       /* "time: 0.1 s, N rows/s" */
  FMH_VTEXT_COLUMNS = 8,    /* columns missing from / only in the target */
  FMH_VTEXT_DIAGNOSIS = 16, /* "diagnosis:" the explanations and the columns' patterns with examples */
  FMH_VTEXT_ROWS = 32,      /* "missing row key 5: ...", "extra row ..." */
  FMH_VTEXT_KEYS = 64,      /* "missing keys (N, first ones): ..." and extra, duplicated */
  FMH_VTEXT_SAMPLES = 128,  /* mismatches by column and the sampled mismatches */
  FMH_VTEXT_ALL = 255
};
char *fmh_verdict_format_parts(const fmh_verdict *v, unsigned parts);

/* --- compare ---------------------------------------------------------- */

/* One side of a comparison. Exactly one of table, query, gen. */
typedef struct fmh_vsource {
  fmh_pool *pool;
  const char *table;   /* "t" or "db.t"; quoted by fmhost */
  const char *query;   /* any SELECT; wrapped as SELECT * FROM (query) q ORDER BY key unless ordered */
  const char *where;   /* table only: a condition added to the SELECT */
  int ordered;         /* query: it already orders by the key */
  const fmh_gen *gen;      /* rows [first, first+count) */
  int64_t first, count;
} fmh_vsource;

typedef struct fmh_vcolopt {
  const char *name;
  int ignore;          /* not compared */
  int ulp;             /* DOUBLE: tolerated distance in units in the last place (0 exact) */
  int fsp;             /* temporal: compare at this many fraction digits (-1: exact, microseconds) */
  const char *time_zone; /* temporal: zone to render generator TIMESTAMPs in ("+HH:MM", "UTC",
                            or the generator's own zone); NULL: the compare's time_zone */
  const char *as;      /* force the comparison: integer|decimal|double|float|temporal|json|string|bytes */
  double tolerance;    /* numbers: accept |expected - target| <= tolerance (0: exact) */
} fmh_vcolopt;

typedef struct fmh_vcompare_opts {
  fmh_vsource target, expected;
  const char *const *key;  /* key column names, in ORDER BY order */
  int nkey;
  const fmh_vcolopt *cols;
  int ncols;
  int max_samples;         /* per list; default 20 when 0, <0 for none */
  int samples_per_key;     /* mismatch samples of one key; default 2 when 0, <0 for no limit */
  size_t max_value_len;    /* display text cut; default 256 when 0 */
  const char *time_zone;   /* session time_zone of SQL sides and default render zone; default "+00:00" */
  int allow_extra_columns; /* target columns not on the expected side are not a failure */
  int log;                 /* 0 none; 1 the verdict's summary line (info or warn) and each sampled
                              mismatch/missing/extra key at debug level; 2 those at warn level */
  int explain;             /* look for patterns (default 1 from fmh_vcompare_opts_default) */
  const char *label;       /* names the comparison in log events (default: target table) */
  int progress;            /* progress lines on stderr (fmhost/progress.h, label "validate"): expected
                              rows merged, counted once per 65536 rows; total = the generator's count */
} fmh_vcompare_opts;

void fmh_vcompare_opts_default(fmh_vcompare_opts *o);
/* Fills v (zeroed first; free it with fmh_verdict_free, also after a
 * failure). Returns 0, or -1 with e set (bad options, SQL errors, a side
 * out of key order). */
int fmh_validate_compare(const fmh_vcompare_opts *o, fmh_verdict *v, fmh_error *e);

/* --- checksum --------------------------------------------------------- */

typedef struct fmh_vchecksum_opts {
  fmh_vsource a, b;        /* a: a table (the target); b: a table (on any pool) or a generator
                              (rows [first, first+count), its key column increasing with the row) */
  const char *key;         /* one key column (integer or string) */
  uint64_t chunk_rows;     /* rows per segment (default 10000) */
  uint64_t leaf_rows;      /* bisect until a range holds at most this many rows (default 500) */
  int parallel;            /* 0: one segment at a time (threads = 1) */
  int threads;             /* segments in flight, each on its own connections (default 4) */
  double budget_s;         /* stop starting segments after this many seconds (0: none); partial verdict */
  double max_rows_per_s;   /* pace the segments to read at most this many rows/s per side (0: no limit) */
  int retries;             /* a failing segment is retried this many times on a fresh connection (default 2) */
  double progress_s;       /* a progress log line every progress_s seconds (0: none; default 10) */
  const fmh_vcolopt *cols; /* for the rows streamed in differing ranges */
  int ncols;
  const char *const *ignore; /* columns left out of the checksum */
  int nignore;
  int max_samples;
  size_t max_value_len;
  const char *time_zone;
  int log;
  const char *hash_at_a, *hash_at_b; /* where side a's (b's) rows are hashed: "server" (the SQL runs
                              there, only the sums cross the network), "client" (rows read over the
                              binary protocol and hashed here from the same row text), "udf" (the
                              server's fmhost_rowsum aggregate: fmhost/rowsum.h), "auto"/NULL: udf
                              when the server has it, else client for a server on this machine,
                              server otherwise */
} fmh_vchecksum_opts;

void fmh_vchecksum_opts_default(fmh_vchecksum_opts *o);
int fmh_validate_checksum(const fmh_vchecksum_opts *o, fmh_verdict *v, fmh_error *e);

/* --- schema and data-quality checks ------------------------------------ */

typedef struct fmh_vcol_expect {
  const char *name;
  const char *type;        /* as COLUMN_TYPE prints it ("bigint(20)", "decimal(22,9)", "varchar(64)")
                              or without display width ("bigint", "int unsigned"); NULL: any */
  int nullable;            /* -1: any */
  const char *key;         /* "PRI", "UNI", "MUL", "" (none), NULL: any */
  const char *charset;     /* CHARACTER_SET_NAME ("utf8mb4"), NULL: any */
  const char *collation;   /* COLLATION_NAME, NULL: any (checked only when the charset matches) */
} fmh_vcol_expect;

typedef struct fmh_vschema_issue {
  char *column;
  const char *what;        /* "missing", "extra", "type", "nullable", "key", "charset", "collation",
                              "order", "primary_key" */
  char *expected, *actual;
} fmh_vschema_issue;

typedef struct fmh_vschema_result {
  int ok;
  fmh_vschema_issue *issues;
  size_t nissues;
  char **primary_key;      /* the table's primary key columns in order */
  size_t nprimary_key;
} fmh_vschema_result;

typedef struct fmh_vschema_opts {
  fmh_pool *pool;
  const char *table;       /* "t" or "db.t" (default database: the connection's) */
  const fmh_vcol_expect *cols;
  int ncols;
  int exact;               /* columns not listed are issues ("extra"), and the order must match */
  const char *const *primary_key; /* expected primary key columns, or NULL */
  int nprimary_key;
} fmh_vschema_opts;

int fmh_validate_schema(const fmh_vschema_opts *o, fmh_vschema_result *r, fmh_error *e);
void fmh_vschema_result_free(fmh_vschema_result *r);

typedef enum {
  FMH_VQ_ROW_COUNT,        /* min <= COUNT(*) <= max */
  FMH_VQ_UNIQUE,           /* columns together unique (NULLs ignored, as a UNIQUE index would) */
  FMH_VQ_NOT_NULL,         /* column never NULL */
  FMH_VQ_ACCEPTED,         /* column in values (NULL accepted unless not_null) */
  FMH_VQ_RELATIONSHIP      /* every non-NULL column value exists as ref_column in ref_table */
} fmh_vq_kind;

typedef struct fmh_vquality_check {
  fmh_vq_kind kind;
  const char *name;        /* label in the result; default from kind and column */
  const char *const *columns;
  int ncolumns;
  int64_t min, max;        /* row_count; max < 0: unbounded */
  const char *const *values;  /* accepted */
  const size_t *value_lens;
  int nvalues;
  const char *ref_table, *ref_column;
  fmh_pool *ref_pool;      /* relationship: must be the same server (a join); NULL: the table's */
  const char *where;       /* restrict the checked rows */
} fmh_vquality_check;

typedef struct fmh_vquality_result {
  char *name;
  const char *kind;
  int ok;
  uint64_t rows;           /* rows checked */
  uint64_t failing;        /* failing rows (row_count: 0 or 1; unique: rows in duplicated groups) */
  uint64_t groups;         /* unique: duplicated value groups */
  fmh_vkey *samples;       /* sample keys (the primary key, or the checked columns without one) */
  size_t nsamples;
  char *detail;
} fmh_vquality_result;

typedef struct fmh_vquality_opts {
  fmh_pool *pool;
  const char *table;
  const fmh_vquality_check *checks;
  int nchecks;
  int max_samples;         /* default 5 when 0 */
} fmh_vquality_opts;

/* r receives nchecks results. Returns 0 or -1 (SQL error, bad options). */
int fmh_validate_quality(const fmh_vquality_opts *o, fmh_vquality_result *r, fmh_error *e);
void fmh_vquality_result_free(fmh_vquality_result *r);

/* --- value helpers (shared with specs through the binding) ------------ */

/* Canonical form of a decimal number text ([-]digits[.digits][e[+-]digits]):
 * "-0012.3400" -> "-1234e-2"; "0", "-0.0" -> "0". Returns the length
 * written to out (cap at least len + 24), or 0 when s is not a number. */
size_t fmh_vdec_canon(const char *s, size_t len, char *out, size_t cap);
/* Two decimal texts numerically equal (1 or 0); *invalid = 1 (and a byte
 * comparison) when either is not a decimal number. */
int fmh_vdec_equal_text(const char *a, size_t alen, const char *b, size_t blen, int *invalid);
/* 0 when two JSON texts are semantically equal; 1 when they differ (path
 * of the first difference in where, if not NULL); -1 when one is not valid
 * JSON (which one and why in where). */
int fmh_vjson_compare(const char *a, size_t alen, const char *b, size_t blen, char *where, size_t wcap);
/* Distance of two doubles in units in the last place (0 when equal,
 * UINT64_MAX when one is NaN). */
uint64_t fmh_vulp_distance(double a, double b);

#endif
