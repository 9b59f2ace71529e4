/* The row checksum a MariaDB/MySQL server computes natively with fmhost's
 * aggregate function (udf/fmhost_rowsum.c), the same one fmhost computes in
 * C for rows it reads or generates (host/validate/validate_sum_hash.c): the
 * sum modulo 2^64 of SipHash-1-3, under a key drawn per run, of each row's
 * packed text.
 *
 *   SELECT COUNT(*), fmhost_rowsum('<descriptor>', c1, c2, ...) FROM t WHERE <range>
 *
 * The descriptor, a constant: FMH_ROWSUM_VERSION ':' the key as 32 hex
 * digits ':' one code per column argument, in order:
 *   i  signed integer        u  unsigned integer (BIGINT UNSIGNED, BIT)
 *   d  DOUBLE                f  FLOAT (hashed at float precision)
 *   n  DECIMAL (its text)    s  string or binary (length and bytes)
 *   D  DATE    T<digit> DATETIME/TIMESTAMP    H<digit> TIME (digits: fsp)
 * A function that reads another version refuses the call (its init fails
 * naming both), so a stale library can never answer with another hash. */
#ifndef FMHOST_ROWSUM_H
#define FMHOST_ROWSUM_H

#define FMH_ROWSUM_FUNCTION "fmhost_rowsum"
#define FMH_ROWSUM_LIBRARY "fmhost_rowsum.so"
#define FMH_ROWSUM_VERSION "fmh1"

/* --- the packed row text ----------------------------------------------------
 * Columns joined by '#'; NULL is 'N'; each value as below. Injective: two
 * rows that differ in a column have different texts. The writers return the
 * end of what they wrote; w must have room (FMH_ROWPACK_MAX, plus a string's
 * or a DECIMAL's own bytes). */

#include <stdint.h>
#include <string.h>

#include "fmhost/calendar.h"

#define FMH_ROWPACK_MAX 64

/* A tag byte and 8 bytes. */
static inline char *fmh_rowpack_tagged8(char *w, char tag, const void *v8) {
  *w = tag;
  memcpy(w + 1, v8, 8);
  return w + 9;
}

/* An integer: 'i' and its 8 bytes, 'u' for an unsigned one past INT64_MAX
 * (the same number reads the same whichever way it arrived). */
static inline char *fmh_rowpack_i64(char *w, int64_t i) { return fmh_rowpack_tagged8(w, 'i', &i); }
static inline char *fmh_rowpack_u64(char *w, uint64_t u) {
  return fmh_rowpack_tagged8(w, u > INT64_MAX ? 'u' : 'i', &u);
}

/* A FLOAT/DOUBLE: '0' for zero (-0 and 0 alike), else 'b' and its 8 bytes. */
static inline char *fmh_rowpack_double(char *w, double d) {
  if (d == 0) {
    *w = '0';
    return w + 1;
  }
  return fmh_rowpack_tagged8(w, 'b', &d);
}

/* A string or binary value: 's', its length's 8 bytes, its bytes. */
static inline char *fmh_rowpack_string(char *w, const char *s, size_t n) {
  uint64_t n8 = n;
  w = fmh_rowpack_tagged8(w, 's', &n8);
  if (n) memcpy(w, s, n);
  return w + n;
}

/* A temporal value: its class ('D' DATE, 'T' DATETIME or TIMESTAMP, 'H'
 * TIME), the digits of fraction its text shows, and its count of
 * microseconds (FMH_TEMPORAL_PACK in fmhost/pool.h: since 1970-01-01 on the
 * session's clock, a TIME signed; alike exactly when the texts are alike). */
static inline char *fmh_rowpack_temporal(char *w, char cls, int digits, int64_t us) {
  *w++ = cls;
  *w++ = (char)('0' + digits);
  memcpy(w, &us, 8);
  return w + 8;
}

static inline int fmh_rowpack_digits(const char *s, size_t n, int64_t *out) {
  int64_t v = 0;
  if (n == 0 || n > 18) return 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}

/* The packed form of a server's temporal text ('YYYY-MM-DD',
 * 'YYYY-MM-DD HH:MM:SS[.f]', '[-]H..H:MM:SS[.f]') of class cls with `digits`
 * digits of fraction, as fmhost's cursor packs the same value read over the
 * binary protocol: 1 with *us set; 0 when only the text tells the value
 * apart (a zero or impossible date, a negative zero TIME) or the text is
 * not of that shape: the text is then hashed as it is. */
static inline int fmh_rowpack_parse_temporal(const char *s, size_t n, char cls, int digits, int64_t *us) {
  int64_t f = 0, y, mo, d, h, mi, sec;
  size_t hms = 0; /* where HH:MM:SS starts */
  int neg = 0;
  if (digits > 0) { /* the fraction: '.' and exactly `digits` digits */
    if (n < (size_t)digits + 1 || s[n - (size_t)digits - 1] != '.' ||
        !fmh_rowpack_digits(s + n - digits, (size_t)digits, &f))
      return 0;
    for (int k = digits; k < 6; k++) f *= 10;
    n -= (size_t)digits + 1;
  }
  if (cls == 'H') {
    if (n > 0 && s[0] == '-') {
      neg = 1;
      hms = 1;
    }
    if (n < hms + 7 || s[n - 3] != ':' || s[n - 6] != ':' || !fmh_rowpack_digits(s + hms, n - 6 - hms, &h) ||
        !fmh_rowpack_digits(s + n - 5, 2, &mi) || !fmh_rowpack_digits(s + n - 2, 2, &sec))
      return 0;
    int64_t v = ((h * 3600 + mi * 60 + sec) * 1000000) + f;
    if (neg && v == 0) return 0;
    *us = neg ? -v : v;
    return 1;
  }
  if (n < 10 || s[4] != '-' || s[7] != '-' || !fmh_rowpack_digits(s, 4, &y) || !fmh_rowpack_digits(s + 5, 2, &mo) ||
      !fmh_rowpack_digits(s + 8, 2, &d) || !fmh_civil_valid(y, mo, d))
    return 0;
  int64_t days = fmh_days_from_civil(y, (int)mo, (int)d);
  if (cls == 'D') {
    if (n != 10 || digits != 0) return 0;
    *us = days * 86400000000LL;
    return 1;
  }
  if (n != 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' || !fmh_rowpack_digits(s + 11, 2, &h) ||
      !fmh_rowpack_digits(s + 14, 2, &mi) || !fmh_rowpack_digits(s + 17, 2, &sec))
    return 0;
  *us = (days * 86400 + h * 3600 + mi * 60 + sec) * 1000000 + f;
  return 1;
}

#endif
