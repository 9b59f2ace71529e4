/* Decimal digits, once for the whole host: integers written two digits per
 * division from one table. The generator writes every number of every row
 * with these, the pool every temporal value it reads, the validator every
 * row text it hashes. Each function writes at p and returns the end (no
 * terminating NUL). */
#ifndef FMHOST_DIGITS_H
#define FMHOST_DIGITS_H

#include <stdint.h>

/* "00", "01", ... "99" */
extern const char fmh_two_digits[201];

/* The number of decimal digits of v (1 for 0). */
int fmh_ndigits(uint64_t v);
/* Exactly n digits of v (v < 10^n), leading zeros kept. */
char *fmh_fmt_digits(char *p, uint64_t v, int n);
char *fmh_fmt_u64(char *p, uint64_t v);
char *fmh_fmt_i64(char *p, int64_t v);

#endif
