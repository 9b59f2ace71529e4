/* fmhost.validate internals shared by validate*.c (not a public API). */
#ifndef FMHOST_VALIDATE_INT_H
#define FMHOST_VALIDATE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fmhost/buf.h"
#include "fmhost/progress.h"
#include "fmhost/validate.h"

/* A parsed decimal: digits point into the source text. */
typedef struct fmh_vdec {
  int neg;
  size_t ndig;          /* significant digits (0: the number is zero) */
  long long exp;        /* value = digits * 10^exp */
  const char *src;
  size_t nint, int_start, frac_start, first;
} fmh_vdec;

int fmh_vdec_parse(const char *s, size_t len, fmh_vdec *d);
char fmh_vdec_digit(const fmh_vdec *d, size_t k);
int fmh_vdec_cmp(const fmh_vdec *a, const fmh_vdec *b);
/* 1 when |a - b| <= tol, computed exactly; 0 when not; -1 when one is not
 * a decimal number, tol is negative, or they span over 500 digits. */
int fmh_vdec_within(const char *a, size_t alen, const char *b, size_t blen, const char *tol, size_t tlen);

/* --- text (validate_text.c): used by the comparison and the diagnosis -- */

/* Text into an fmh_buf (fmhost/buf.h); each returns -1 when memory runs
 * out, for the caller to report. */
static inline int fmh_vbuf_puts(fmh_buf *b, const char *s) { return fmh_buf_put(b, s, strlen(s)); }
int fmh_vbuf_printf(fmh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `name` with backticks, each dot-separated part quoted ("db.t" -> `db`.`t`). */
int fmh_vbuf_ident(fmh_buf *b, const char *name, int dotted);
/* s in single quotes, escaped, cut to `cut` bytes ("...(n bytes)" after). */
void fmh_vbuf_quoted(fmh_buf *b, const char *s, size_t n, size_t cut);

/* Key samples. */
void fmh_vkey_free(fmh_vkey *k);
int fmh_vkey_copy(fmh_vkey *dst, const fmh_vkey *src);
/* A key part holding a copy of v (a DOUBLE as its %.17g text); -1 when
 * out of memory. */
int fmh_vkey_part_from_value(const fmh_value *v, fmh_vkey_part *p);
/* Display text of a key ("7", "'abc'", "(1, 'x')"), appended to b. */
void fmh_vkey_text(const fmh_vkey *k, fmh_buf *b);

/* A key range of a single-column key, for checksum mode: key > lo (>= when
 * lo_incl) when has_lo, and key <= hi when has_hi. */
typedef struct fmh_vrange {
  int has_lo, has_hi, lo_incl;
  fmh_vkey_part lo, hi;
} fmh_vrange;

/* The streaming comparison, split so that checksum mode can run it over
 * many ranges into one verdict. */
typedef struct fmh_vcmp fmh_vcmp;
int fmh_vcmp_begin(const fmh_vcompare_opts *o, fmh_verdict *v, fmh_vcmp **out, fmh_error *e);
/* Compare the rows in r (NULL: all); counts and samples add up in v. */
int fmh_vcmp_run(fmh_vcmp *c, const fmh_vrange *r, fmh_error *e);
/* With a generator as the expected side: the target's rows in r against
 * the generator's rows [first, first+count). */
int fmh_vcmp_run_rows(fmh_vcmp *c, const fmh_vrange *r, int64_t first, int64_t count, fmh_error *e);
/* 1 once a run has matched the two sides' columns. */
int fmh_vcmp_resolved(const fmh_vcmp *c);
/* Settle ok, elapsed time and rates; frees c. */
void fmh_vcmp_end(fmh_vcmp *c, double elapsed_s);

/* Set the session time zone on a connection for the duration of a
 * validation, remembering the previous one; restore puts it back. */
int fmh_vsession_tz(fmh_conn *c, const char *tz, fmh_error *e);
void fmh_vsession_restore(fmh_conn *c);

/* SQL literal of a key part (strings escaped on c's connection). */
int fmh_vbuf_literal(fmh_buf *b, fmh_conn *c, const fmh_vkey_part *p, int binary);
/* " WHERE key > ? AND key <= ?" (or part of it) for a range, with its
 * parameters; `where` (may be NULL) is ANDed in first. */
int fmh_vrange_sql(fmh_buf *q, const char *key, const char *where, const fmh_vrange *r, int binary, fmh_value *params,
                   int *nparams);

/* Run an information_schema query: head, the schema expression (the
 * database of a "db.table" name, else DATABASE()), then tail, with the
 * table's own name as the last parameter. */
int fmh_vmeta_query(fmh_conn *c, const char *head, const char *tail, const char *table, fmh_cursor **q,
                    fmh_error *e);

double fmh_vnow(void);

/* --- the diagnosis (validate_explain.c) ---------------------------------
 * Bounded accumulators fed only on a mismatch, a missing or an extra row:
 * nothing is done for rows that are equal. */

/* What a mismatch looks like, as compare_field recognised it (kind NULL:
 * nothing known). */
typedef struct fmh_vhit {
  const char *kind;     /* FMH_VP_* */
  int64_t param;        /* decimal places, characters, bytes, minutes of a shift, fraction digits */
  const char *name;     /* clipping: the type whose bounds ("TINYINT"); charset: "4-byte" or "latin1" */
  int month;            /* time shifts: the expected value's month (1..12), 0 unknown */
} fmh_vhit;

/* One value of a missing or extra row, as the explain accumulators see it. */
typedef struct fmh_vxval {
  int null;
  int isint;            /* i holds it exactly (integers; temporals in microseconds) */
  int64_t i;
  int isnum;            /* d holds it (decimals, doubles) */
  double d;
  const char *s;        /* display text */
  size_t len;
} fmh_vxval;

/* A predicate on one column, checked over a whole side. */
typedef enum { FMH_XP_NULL, FMH_XP_IN, FMH_XP_GE, FMH_XP_LE, FMH_XP_RANGE, FMH_XP_MOD } fmh_xp_kind;
typedef struct fmh_vxpred {
  fmh_xp_kind kind;
  int side;             /* 0 missing (over the expected side), 1 extra (over the target) */
  int col;              /* the side's column index */
  const void *sk;       /* the sketch it came from */
  int64_t m, r;         /* MOD: value % m == r */
  uint64_t count;       /* rows of the side that satisfy it (filled by the pass) */
} fmh_vxpred;

typedef struct fmh_vx fmh_vx;
/* ncols compared columns; ne/nt columns of the expected side and target
 * (names), key: the index of the first key column on each side. */
fmh_vx *fmh_vx_new(int ncols, char **ename, int ne, int ekey, char **tname, int nt, int tkey);
void fmh_vx_free(fmh_vx *x);
/* A mismatch of compared column col, with its key and display texts. */
int fmh_vx_mismatch(fmh_vx *x, int col, const fmh_vhit *h, const fmh_vkey *key, const char *es, size_t el,
                    const char *ts, size_t tl);
/* An expected row present in the target (for runs of missing keys). */
void fmh_vx_present(fmh_vx *x);
/* A missing (side 0, expected columns) or extra (side 1, target columns)
 * row; vals: one per column of the side. */
int fmh_vx_row(fmh_vx *x, int side, const fmh_vxval *vals, const fmh_vkey *key);
/* The first copy of a duplicated key, and a further copy: differs says
 * whether it differs from the expected row; cols: the compared columns
 * that differ (bit i for column i < 64). */
void fmh_vx_copy(fmh_vx *x, int differs, uint64_t cols);
/* Predicates worth checking over the sides (at most max). */
int fmh_vx_candidates(fmh_vx *x, fmh_vxpred *out, int max);
int fmh_vx_eval(const fmh_vxpred *p, const fmh_vxval *v);
/* The missing rows kept (at most 16), and the k-th one's value of expected
 * column ecol (NULL: SQL NULL), for the caller's collapse check. */
int fmh_vx_nkept(const fmh_vx *x);
const char *fmh_vx_missing_value(fmh_vx *x, int k, int ecol, size_t *len);
/* Write the diagnosis into v: column patterns (names: the compared
 * columns' names), predicates checked (preds with their counts), a
 * collapse found on column `collapse` (NULL: none). */
int fmh_vx_finish(fmh_vx *x, fmh_verdict *v, char **names, const fmh_vxpred *preds, int npreds,
                  const char *collapse, uint64_t collapse_rows);

/* --- the streaming comparison, by job: validate.c (the merge and its
 * runs), validate_side.c (reading a side), validate_columns.c (matching
 * columns), validate_compare.c (cells, keys, fields), validate_temporal.c
 * (temporal text), validate_verdict.c (samples, the verdict) ------------- */

/* Cells: one value of either side, ready to compare. */

typedef enum {
  CK_NULL, CK_INT, CK_UINT, CK_DOUBLE, CK_FLOAT, CK_DEC, CK_TEXT, CK_BYTES, CK_JSON,
  CK_TTEXT,   /* temporal text as the server sends it */
  CK_TUS      /* temporal as microseconds (generator) */
} cell_kind;

typedef struct vcell {
  cell_kind k;
  char tk;           /* CK_TUS: 'd' date, 't' time, 'x' datetime */
  signed char shown; /* CK_TUS read from a server: 1 + the fraction digits its text shows; 0 otherwise */
  int64_t i;
  uint64_t u;
  double d;
  const char *s;
  size_t len;
} vcell;

#define US_PER_DAY INT64_C(86400000000)

typedef enum { CMP_INTEGER, CMP_DECIMAL, CMP_DOUBLE, CMP_FLOAT, CMP_TEMPORAL, CMP_JSON, CMP_STRING, CMP_BYTES } cmp_class;

/* A compared (or key) column, a side being read, the comparison. */

typedef struct vcol {
  char *name;
  int ti, ei;          /* column index on the target / expected side */
  cmp_class cls;
  int ulp, fsp;
  double tol;          /* numbers: tolerated absolute difference (0: exact) */
  int tz_gen;          /* render generator TIMESTAMPs with the generator's own zone */
  int64_t tz_off;      /* else at this offset */
  int gen_fsp;
  int is_key;
  int binary;          /* the target column is binary (key literals) */
  int t_float;         /* the target column is FLOAT: its values are floats */
  fmh_vcolstat *stat;
} vcol;

typedef struct vside {
  const char *role;    /* "target" / "expected" */
  fmh_vsource src;
  /* SQL */
  fmh_conn *conn;
  fmh_cursor *cur;
  int tz_set;
  const fmh_value *row;
  int ncols;
  const fmh_column *cols;
  /* generator */
  fmh_gen_cursor *gc;
  fmh_gen_value *gv;
  int64_t next, end;
  size_t gncols;
  /* current row */
  int have;
  vcell *key;          /* nkey cells */
  char (*kscr)[96];    /* per key part: text of formatted key cells */
  fmh_vkey prev;       /* the previous row's key: parts here, text in prevbuf */
  fmh_buf prevbuf;
  int has_prev;
  uint64_t repeat;     /* 0, or how many rows before this one had the same key */
  uint64_t rows;
  char scratch[2][96]; /* display text of numbers and temporals */
  char **probe;        /* SQL sides: the column names the probe found */
  int nprobe;
  uint64_t sig;        /* and a hash of their types */
  int key_binary;      /* the first key column is binary */
} vside;

struct fmh_vcmp {
  fmh_vcompare_opts o;
  fmh_verdict *v;
  vside t, e;
  vcol *cols;          /* compared columns */
  int ncols;
  vcol *keys;          /* key columns */
  int resolved;
  int ncols_t, ncols_e;
  double t0;
  fmh_progress prog;   /* counted only when prog_on (fmh_validate_compare with o.progress) */
  int prog_on;
  fmh_buf tmp, tmp2;
  char where[512];
  /* the diagnosis */
  fmh_vx *x;
  fmh_vhit hit;        /* what compare_field recognised in the mismatch at hand */
  int row_samples;     /* mismatch samples taken from the current row (samples_per_key at most) */
  int row_bad;         /* the current row differs */
  uint64_t row_bits;   /* its differing columns (the first 64) */
  int last_bad;        /* the previous matched row (a key's first copy) */
  uint64_t last_bits;
  int runs, ranged;    /* runs of the merge; one of them over a key range */
  int failed;          /* a run failed: no diagnosis */
  vcol **emap, **tmap; /* a side's column index -> its compared (or key) column */
  char **enames, **tnames;
  char (*xscr)[96];    /* per column: display text of a missing or extra row's values */
  fmh_vxval *xv;
};

/* validate_temporal.c */
int fmh_vdigits(const char *s, size_t n, size_t *i, int maxd, int64_t *out);
int fmh_vtemporal_parse(const char *s, size_t n, int64_t *us, char *tk);
size_t fmh_vtemporal_format(int64_t us, char tk, int fsp, char *out, size_t cap);
int64_t fmh_vtemporal_cut(int64_t us, char tk, int fsp);
int fmh_vtz_offset(const char *tz, int64_t *off_us);

/* validate_compare.c */
void fmh_vcell_from_sql(const fmh_value *v, vcell *c);
void fmh_vcell_from_gen(const fmh_gen *g, const vcol *col, const fmh_gen_value *v, vcell *c, char *scratch,
                        size_t scap);
const char *fmh_vcell_text(const vcell *c, int fsp, char *buf, size_t cap, size_t *len);
double fmh_vcell_double(const vcell *c, int *ok);
int fmh_vkey_cmp(fmh_vcmp *c);
void fmh_vside_key_view(fmh_vcmp *c, vside *s, fmh_vkey *k, fmh_vkey_part *parts);
int fmh_vprev_cmp(fmh_vcmp *c, vside *s);
int fmh_vcompare_field(fmh_vcmp *c, vcol *col, const vcell *ev, const vcell *tv);

/* validate_side.c */
void fmh_vside_cell(fmh_vcmp *c, vside *s, const vcol *col, int idx, vcell *out, char *scratch);
int fmh_vside_fetch(fmh_vcmp *c, vside *s, fmh_error *e);
int fmh_vside_advance(fmh_vcmp *c, vside *s, fmh_error *e);
void fmh_vside_close(vside *s);
int fmh_vside_open(fmh_vcmp *c, vside *s, const fmh_vrange *r, fmh_error *e);
int fmh_vside_init(fmh_vcmp *c, vside *s, fmh_error *e);
void fmh_vside_free(vside *s);

/* validate_columns.c */
int fmh_vside_ncols(const vside *s);
int fmh_vresolve(fmh_vcmp *c, fmh_error *e);

/* validate_verdict.c */
int fmh_vadd_key_sample(fmh_vcmp *c, fmh_vkey **list, size_t *n, const fmh_vkey *k, const char *event);
int fmh_vadd_mismatch(fmh_vcmp *c, vcol *col, const vcell *ev, const vcell *tv, const char *reason,
                      const char *detail);

#endif
