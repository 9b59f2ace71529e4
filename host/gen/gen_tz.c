/* Time zones for the generator, without the process-wide TZ variable:
 * fixed offsets, UTC, and IANA zones read from the system tz database
 * (/usr/share/zoneinfo, TZif version 2+ data block). A loaded zone is a
 * list of (UTC instant, offset) transitions; generators use it to render
 * TIMESTAMP values in a session zone and to find the DST gaps and folds
 * that DATETIME edge cases land in. Debian's zone files carry explicit
 * transitions through 2037, which covers the TIMESTAMP range; past the last
 * transition its offset is kept (the POSIX rule footer is not read). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"

static int64_t be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return (int64_t)v;
}
static int32_t be32(const unsigned char *p) {
  return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}

static int parse_offset(const char *s, int32_t *out) {
  int sign = 1;
  if (*s == '+') s++;
  else if (*s == '-') { sign = -1; s++; }
  else return -1;
  char *end;
  long h = strtol(s, &end, 10);
  if (end == s || *end != ':' || h < 0 || h > 14) return -1;
  s = end + 1;
  long mi = strtol(s, &end, 10);
  if (end == s || *end != 0 || mi < 0 || mi > 59) return -1;
  *out = (int32_t)(sign * (h * 3600 + mi * 60));
  return 0;
}

void fmh_tz_free(fmh_tz *tz) {
  free(tz->at);
  free(tz->off);
  tz->at = NULL;
  tz->off = NULL;
  tz->n = 0;
}

int fmh_tz_load(fmh_tz *tz, const char *name, fmh_error *err) {
  memset(tz, 0, sizeof *tz);
  snprintf(tz->name, sizeof tz->name, "%s", name);
  if (strcmp(name, "UTC") == 0 || strcmp(name, "Z") == 0 || strcmp(name, "+00:00") == 0) {
    tz->fixed = 1;
    return 0;
  }
  if (name[0] == '+' || name[0] == '-') {
    if (parse_offset(name, &tz->offset) != 0) {
      fmh_error_set(err, "config", 0, 0, "time zone '%s': an offset is written +HH:MM or -HH:MM", name);
      return -1;
    }
    tz->fixed = 1;
    return 0;
  }
  if (strstr(name, "..") || name[0] == '/' || strlen(name) > 60) {
    fmh_error_set(err, "config", 0, 0, "time zone '%s' is not a zone name", name);
    return -1;
  }
  char path[128];
  snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fmh_error_set(err, "config", errno, 0, "time zone '%s': cannot read %s: %s", name, path, strerror(errno));
    return -1;
  }
  fmh_buf file = {0};
  for (;;) {
    if (fmh_buf_reserve(&file, 4096) != 0) {
      fmh_buf_free(&file);
      fclose(f);
      fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
      return -1;
    }
    size_t r = fread(file.p + file.len, 1, file.cap - file.len - 1, f);
    file.len += r;
    if (r == 0) break;
  }
  fclose(f);
  const unsigned char *data = (const unsigned char *)file.p;
  size_t len = file.len;
  /* header: magic, version, 15 reserved, six counts */
  const char *bad = NULL;
  if (len < 44 || memcmp(data, "TZif", 4) != 0) bad = "not a TZif file";
  else if (data[4] < '2') bad = "TZif version 1 (no 64-bit data)";
  size_t off = 0;
  uint32_t isut = 0, isstd = 0, leap = 0, timecnt = 0, typecnt = 0, charcnt = 0;
  if (!bad) {
    /* skip the version-1 block */
    isut = (uint32_t)be32(data + 20); isstd = (uint32_t)be32(data + 24); leap = (uint32_t)be32(data + 28);
    timecnt = (uint32_t)be32(data + 32); typecnt = (uint32_t)be32(data + 36); charcnt = (uint32_t)be32(data + 40);
    off = 44 + (size_t)timecnt * 5 + (size_t)typecnt * 6 + charcnt + (size_t)leap * 8 + isstd + isut;
    if (off + 44 > len || memcmp(data + off, "TZif", 4) != 0) bad = "truncated TZif file";
  }
  if (!bad) {
    const unsigned char *h = data + off;
    isut = (uint32_t)be32(h + 20); isstd = (uint32_t)be32(h + 24); leap = (uint32_t)be32(h + 28);
    timecnt = (uint32_t)be32(h + 32); typecnt = (uint32_t)be32(h + 36); charcnt = (uint32_t)be32(h + 40);
    off += 44;
    if (typecnt == 0 || off + (size_t)timecnt * 9 + (size_t)typecnt * 6 > len) bad = "truncated TZif data block";
  }
  if (bad) {
    fmh_buf_free(&file);
    fmh_error_set(err, "config", 0, 0, "time zone '%s': %s: %s", name, path, bad);
    return -1;
  }
  const unsigned char *times = data + off;
  const unsigned char *idx = times + (size_t)timecnt * 8;
  const unsigned char *types = idx + timecnt;
  tz->at = malloc(sizeof(int64_t) * (timecnt ? timecnt : 1));
  tz->off = malloc(sizeof(int32_t) * (timecnt ? timecnt : 1));
  if (!tz->at || !tz->off) {
    fmh_buf_free(&file);
    fmh_tz_free(tz);
    fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
    return -1;
  }
  /* before the first transition: the first non-DST type, else type 0 */
  tz->offset = be32(types);
  for (uint32_t t = 0; t < typecnt; t++)
    if (types[t * 6 + 4] == 0) { tz->offset = be32(types + t * 6); break; }
  for (uint32_t k = 0; k < timecnt; k++) {
    unsigned ti = idx[k];
    if (ti >= typecnt) ti = 0;
    tz->at[tz->n] = be64(times + (size_t)k * 8);
    tz->off[tz->n] = be32(types + ti * 6);
    tz->n++;
  }
  fmh_buf_free(&file);
  return 0;
}

int32_t fmh_tz_offset_at(const fmh_tz *tz, int64_t utc) {
  if (tz->fixed || tz->n == 0 || utc < tz->at[0]) return tz->offset;
  size_t lo = 0, hi = tz->n; /* last k with at[k] <= utc */
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (tz->at[mid] <= utc) lo = mid; else hi = mid;
  }
  return tz->off[lo];
}

static size_t changes(const fmh_tz *tz, int64_t from, int64_t to, int rising, int64_t *local_start, int32_t *len,
                      size_t cap) {
  size_t n = 0;
  for (size_t k = 0; k < tz->n && n < cap; k++) {
    if (tz->at[k] < from || tz->at[k] > to) continue;
    int32_t before = k ? tz->off[k - 1] : tz->offset;
    int32_t after = tz->off[k];
    if (rising ? after > before : after < before) {
      /* gap: local [at+before, at+after) never happens;
       * fold: local [at+after, at+before) happens twice */
      local_start[n] = tz->at[k] + (rising ? before : after);
      len[n] = rising ? after - before : before - after;
      n++;
    }
  }
  return n;
}

size_t fmh_tz_gaps(const fmh_tz *tz, int64_t from, int64_t to, int64_t *local_start, int32_t *len, size_t cap) {
  return changes(tz, from, to, 1, local_start, len, cap);
}
size_t fmh_tz_folds(const fmh_tz *tz, int64_t from, int64_t to, int64_t *local_start, int32_t *len, size_t cap) {
  return changes(tz, from, to, 0, local_start, len, cap);
}
