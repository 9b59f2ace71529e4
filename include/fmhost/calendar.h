/* The proleptic Gregorian calendar, once for the whole host: days since
 * 1970-01-01 of a civil date and back (Howard Hinnant's algorithms: a year
 * counted from March, so the leap day ends it, in 400-year eras of 146097
 * days). Exact for every int64 year the callers use; no time zones here
 * (the generator's are in host/gen/gen_tz.c). Inline because the generator
 * and the bulk loader call them once per value. */
#ifndef FMHOST_CALENDAR_H
#define FMHOST_CALENDAR_H

#include <stdint.h>

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31). */
static inline int64_t fmh_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                     /* [0, 399] */
  int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;             /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

/* 1 when y-m-d is a day of the calendar: month 1..12, day within the
 * month. The day counts above treat '2021-02-30' as 2021-03-02 and a zero
 * month or day as a day of the month or year before, so a date MariaDB
 * keeps as it was written (a zero date, ALLOW_INVALID_DATES) must be told
 * apart before it is counted. */
static inline int fmh_civil_valid(int64_t y, int64_t m, int64_t d) {
  static const unsigned char mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > mdays[m]) return 0;
  return m != 2 || d != 29 || (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}

/* The civil date of a day count since 1970-01-01. */
static inline void fmh_civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;                                  /* [0, 146096] */
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

#endif
