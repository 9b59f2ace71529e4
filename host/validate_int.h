/* fmhost.validate internals shared by validate*.c (not a public API). */
#ifndef FMHOST_VALIDATE_INT_H
#define FMHOST_VALIDATE_INT_H

#include <stddef.h>
#include <stdint.h>

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
/* Numerically equal; *invalid = 1 (and a byte comparison) when either is
 * not a decimal number. */
int fmh_vdec_equal_text(const char *a, size_t alen, const char *b, size_t blen, int *invalid);
/* 1 when |a - b| <= tol, computed exactly; 0 when not; -1 when one is not
 * a decimal number, tol is negative, or they span over 500 digits. */
int fmh_vdec_within(const char *a, size_t alen, const char *b, size_t blen, const char *tol, size_t tlen);

/* A growable byte buffer. */
typedef struct vbuf {
  char *p;
  size_t len, cap;
} vbuf;
int fmh_vbuf_reserve(vbuf *b, size_t more);
int fmh_vbuf_put(vbuf *b, const char *s, size_t n);
int fmh_vbuf_puts(vbuf *b, const char *s);
int fmh_vbuf_printf(vbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `name` with backticks, each dot-separated part quoted ("db.t" -> `db`.`t`). */
int fmh_vbuf_ident(vbuf *b, const char *name, int dotted);
void fmh_vbuf_free(vbuf *b);

/* Key samples. */
void fmh_vkey_free(fmh_vkey *k);
int fmh_vkey_copy(fmh_vkey *dst, const fmh_vkey *src);
/* A key part holding a copy of v (a DOUBLE as its %.17g text); -1 when
 * out of memory. */
int fmh_vkey_part_from_value(const fmh_value *v, fmh_vkey_part *p);
/* Display text of a key ("7", "'abc'", "(1, 'x')"), appended to b. */
void fmh_vkey_text(const fmh_vkey *k, vbuf *b);

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
int fmh_vbuf_literal(vbuf *b, fmh_conn *c, const fmh_vkey_part *p, int binary);
/* " WHERE key > ? AND key <= ?" (or part of it) for a range, with its
 * parameters; `where` (may be NULL) is ANDed in first. */
int fmh_vrange_sql(vbuf *q, const char *key, const char *where, const fmh_vrange *r, int binary, fmh_value *params,
                   int *nparams);

/* Run an information_schema query: head, the schema expression (the
 * database of a "db.table" name, else DATABASE()), then tail, with the
 * table's own name as the last parameter. */
int fmh_vmeta_query(fmh_conn *c, const char *head, const char *tail, const char *table, fmh_cursor **q,
                    fmh_error *e);

double fmh_vnow(void);

#endif
