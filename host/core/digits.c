/* Decimal digits (see fmhost/digits.h). */
#include "fmhost/digits.h"

#include <string.h>

const char fmh_two_digits[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int fmh_ndigits(uint64_t v) {
  int n = 1;
  for (;;) {
    if (v < 10) return n;
    if (v < 100) return n + 1;
    if (v < 1000) return n + 2;
    if (v < 10000) return n + 3;
    v /= 10000;
    n += 4;
  }
}

char *fmh_fmt_digits(char *p, uint64_t v, int n) {
  char *end = p + n;
  char *q = end;
  while (n >= 2) {
    unsigned r = (unsigned)(v % 100);
    v /= 100;
    q -= 2;
    memcpy(q, fmh_two_digits + 2 * r, 2);
    n -= 2;
  }
  if (n) *--q = (char)('0' + v % 10);
  return end;
}

char *fmh_fmt_u64(char *p, uint64_t v) { return fmh_fmt_digits(p, v, fmh_ndigits(v)); }

char *fmh_fmt_i64(char *p, int64_t v) {
  if (v < 0) {
    *p++ = '-';
    return fmh_fmt_u64(p, (uint64_t)0 - (uint64_t)v);
  }
  return fmh_fmt_u64(p, (uint64_t)v);
}
