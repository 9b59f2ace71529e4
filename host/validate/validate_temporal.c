/* fmhost.validate, temporal text: DATE, TIME and DATETIME text parsed to
 * microseconds and formatted back at a precision, and time zone offsets. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "fmhost/calendar.h"
#include "fmhost/log.h"
#include "fmhost/progress.h"
#include "fmhost/validate.h"
#include "validate_int.h"


int fmh_vdigits(const char *s, size_t n, size_t *i, int maxd, int64_t *out) {
  int64_t v = 0;
  int k = 0;
  while (*i < n && k < maxd && s[*i] >= '0' && s[*i] <= '9') {
    v = v * 10 + (s[*i] - '0');
    (*i)++;
    k++;
  }
  *out = v;
  return k;
}

/* A fraction ".f" at s[*i] in microseconds (digits past the sixth are
 * read and dropped); 0 when there is none. */
static int64_t fraction_us(const char *s, size_t n, size_t *i) {
  int64_t f = 0, scale = 100000;
  if (*i < n && s[*i] == '.') {
    (*i)++;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
      if (scale > 0) f += (s[*i] - '0') * scale;
      scale /= 10;
      (*i)++;
    }
  }
  return f;
}

/* "H:MM:SS[.f]" at s[*i], the hours hmin to hmax digits: microseconds in
 * *us, or -1 when malformed. */
static int clock_us(const char *s, size_t n, size_t *i, int hmin, int hmax, int64_t *us) {
  int64_t h, m, sec;
  if (fmh_vdigits(s, n, i, hmax, &h) < hmin || *i >= n || s[(*i)++] != ':' || fmh_vdigits(s, n, i, 2, &m) != 2 ||
      *i >= n || s[(*i)++] != ':' || fmh_vdigits(s, n, i, 2, &sec) != 2 || m > 59 || sec > 59)
    return -1;
  *us = ((h * 60 + m) * 60 + sec) * INT64_C(1000000) + fraction_us(s, n, i);
  return 0;
}

/* Microseconds of 'YYYY-MM-DD[ HH:MM:SS[.f]]' or a TIME '[-]H:MM:SS[.f]'. */
int fmh_vtemporal_parse(const char *s, size_t n, int64_t *us, char *tk) {
  size_t i = 0;
  if (n >= 10 && s[4] == '-' && s[7] == '-') {
    int64_t y, mo, d, t;
    if (fmh_vdigits(s, n, &i, 4, &y) != 4 || s[i++] != '-' || fmh_vdigits(s, n, &i, 2, &mo) != 2 || s[i++] != '-' ||
        fmh_vdigits(s, n, &i, 2, &d) != 2)
      return -1;
    /* a zero or invalid date ('0000-00-00', '2021-02-30') is not a count: compared as text */
    if (!fmh_civil_valid(y, mo, d)) return -1;
    int64_t v = fmh_days_from_civil(y, (int)mo, (int)d) * US_PER_DAY;
    *tk = 'd';
    if (i == n) {
      *us = v;
      return 0;
    }
    if (s[i] != ' ' && s[i] != 'T') return -1;
    i++;
    if (clock_us(s, n, &i, 2, 2, &t) != 0) return -1;
    *tk = 'x';
    if (i != n) return -1;
    *us = v + t;
    return 0;
  }
  int neg = 0;
  if (i < n && s[i] == '-') {
    neg = 1;
    i++;
  }
  int64_t v;
  if (clock_us(s, n, &i, 1, 9, &v) != 0 || i != n) return -1;
  *us = neg ? -v : v;
  *tk = 't';
  return 0;
}

size_t fmh_vtemporal_format(int64_t us, char tk, int fsp, char *out, size_t cap) {
  if (tk == 't') {
    uint64_t a = us < 0 ? (uint64_t)(-(us + 1)) + 1 : (uint64_t)us;
    uint64_t sec = a / 1000000, frac = a % 1000000;
    int n = snprintf(out, cap, "%s%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64, us < 0 ? "-" : "", sec / 3600,
                     (sec / 60) % 60, sec % 60);
    if (fsp > 0 && n > 0 && (size_t)n < cap) {
      char f[8];
      snprintf(f, sizeof f, "%06" PRIu64, frac);
      n += snprintf(out + n, cap - (size_t)n, ".%.*s", fsp, f);
    }
    return n > 0 ? (size_t)n : 0;
  }
  int64_t days = us >= 0 ? us / US_PER_DAY : -((-us + US_PER_DAY - 1) / US_PER_DAY);
  int64_t rem = us - days * US_PER_DAY, y;
  int m, d;
  fmh_civil_from_days(days, &y, &m, &d);
  int n;
  if (tk == 'd') return (size_t)snprintf(out, cap, "%04" PRId64 "-%02d-%02d", y, m, d);
  int64_t sec = rem / 1000000, frac = rem % 1000000;
  n = snprintf(out, cap, "%04" PRId64 "-%02d-%02d %02" PRId64 ":%02" PRId64 ":%02" PRId64, y, m, d, sec / 3600,
               (sec / 60) % 60, sec % 60);
  if (fsp > 0 && n > 0 && (size_t)n < cap) {
    char f[8];
    snprintf(f, sizeof f, "%06" PRId64, frac);
    n += snprintf(out + n, cap - (size_t)n, ".%.*s", fsp, f);
  }
  return n > 0 ? (size_t)n : 0;
}

/* Cut microseconds to fsp digits the way MariaDB stores a longer fraction
 * (truncation): datetimes toward the past, TIME toward zero. */
int64_t fmh_vtemporal_cut(int64_t us, char tk, int fsp) {
  if (fsp < 0 || fsp >= 6) return us;
  int64_t unit = 1;
  for (int i = fsp; i < 6; i++) unit *= 10;
  if (tk == 't') return us >= 0 ? us / unit * unit : -((-us) / unit * unit);
  int64_t q = us / unit;
  if (us < 0 && q * unit != us) q--;
  return q * unit;
}

/* Parse "UTC", "Z", "+HH:MM", "-HH:MM" into an offset; -1 when named. */
int fmh_vtz_offset(const char *tz, int64_t *off_us) {
  if (!tz || !strcasecmp(tz, "UTC") || !strcmp(tz, "Z") || !strcasecmp(tz, "GMT")) {
    *off_us = 0;
    return 0;
  }
  if ((tz[0] == '+' || tz[0] == '-') && strlen(tz) >= 5) {
    int h = 0, m = 0;
    if (sscanf(tz + 1, "%d:%d", &h, &m) == 2 && h >= 0 && h <= 14 && m >= 0 && m < 60) {
      *off_us = ((int64_t)h * 60 + m) * 60 * INT64_C(1000000) * (tz[0] == '-' ? -1 : 1);
      return 0;
    }
  }
  return -1;
}
