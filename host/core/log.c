/* fmhost.log: JSON-lines events to stderr and/or a file.
 *
 * A line is built whole in memory and written with one write(2) under a
 * mutex, so lines from C worker threads never interleave. Timestamps are UTC
 * with microseconds. Keys that name a secret are masked here, at the one
 * place every line passes, so no caller can leak a password by mistake. */
#include "fmhost/log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static fmh_log_level log_level = FMH_LOG_WARN;
static int log_stderr = 1;
static int log_fd = -1;
static int log_trace = 0;

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "off"};

const char *fmh_log_level_name(fmh_log_level level) {
  return (level >= FMH_LOG_TRACE && level <= FMH_LOG_OFF) ? level_names[level] : "?";
}

int fmh_log_parse_level(const char *name) {
  for (int i = 0; i <= FMH_LOG_OFF; i++)
    if (name && strcasecmp(name, level_names[i]) == 0) return i;
  return -1;
}

int fmh_log_configure(fmh_log_level level, int to_stderr, const char *path, char *err, size_t errlen) {
  int fd = -1;
  if (path && *path) {
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      snprintf(err, errlen, "cannot open log file %s: %s", path, strerror(errno));
      return -1;
    }
  }
  pthread_mutex_lock(&log_mu);
  if (log_fd >= 0) close(log_fd);
  log_fd = fd;
  log_stderr = to_stderr;
  log_level = level;
  pthread_mutex_unlock(&log_mu);
  return 0;
}

void fmh_log_close(void) {
  pthread_mutex_lock(&log_mu);
  if (log_fd >= 0) close(log_fd);
  log_fd = -1;
  pthread_mutex_unlock(&log_mu);
}

void fmh_log_set_level(fmh_log_level level) { log_level = level; }
fmh_log_level fmh_log_get_level(void) { return log_level; }
void fmh_log_set_trace(int on) {
  log_trace = on;
  if (on && log_level > FMH_LOG_TRACE) log_level = FMH_LOG_TRACE;
}
int fmh_log_tracing(void) { return log_trace; }
int fmh_log_enabled(fmh_log_level level) { return level != FMH_LOG_OFF && level >= log_level; }

/* JSON string escaping. Bytes that are not valid UTF-8 are written as
 * \u00XX of the byte so the line stays valid JSON whatever the input. */
void fmh_buf_json_str(fmh_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)s;
  fmh_buf_putn(b, "\"", 1);
  for (size_t i = 0; i < n;) {
    unsigned char c = u[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\'; esc[1] = (char)c;
      fmh_buf_putn(b, esc, 2); i++;
    } else if (c < 0x20) {
      const char *e = NULL;
      switch (c) {
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
      }
      if (e) fmh_buf_puts(b, e);
      else {
        memcpy(esc, "\\u00", 4); esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
        fmh_buf_putn(b, esc, 6);
      }
      i++;
    } else if (c < 0x80) {
      fmh_buf_putn(b, (const char *)u + i, 1); i++;
    } else {
      size_t len = (c >= 0xF0 && c <= 0xF4) ? 4 : (c >= 0xE0) ? 3 : (c >= 0xC2 && c < 0xE0) ? 2 : 0;
      int ok = len > 0 && i + len <= n;
      for (size_t k = 1; ok && k < len; k++) ok = (u[i + k] & 0xC0) == 0x80;
      if (ok) { fmh_buf_putn(b, (const char *)u + i, len); i += len; }
      else {
        memcpy(esc, "\\u00", 4); esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
        fmh_buf_putn(b, esc, 6); i++;
      }
    }
  }
  fmh_buf_putn(b, "\"", 1);
}

static int is_secret_key(const char *k) {
  static const char *const secrets[] = {"password", "passwd", "secret", "token", "pass"};
  for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
    if (strcasestr(k, secrets[i])) return 1;
  return 0;
}

static void put_key(fmh_buf *b, const char *k) {
  fmh_buf_putn(b, ",", 1);
  fmh_buf_json_str(b, k, strlen(k));
  fmh_buf_putn(b, ":", 1);
}

/* A context field may not take the name of a field every line has: it is
 * written as "_<name>" so the line never holds a key twice. */
static int is_reserved_key(const char *k) {
  static const char *const reserved[] = {"ts", "level", "event", "code", "msg"};
  for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
    if (strcmp(k, reserved[i]) == 0) return 1;
  return 0;
}

char *fmh_log_format(fmh_log_level level, const char *event, const char *code, const char *msg,
                     const fmh_log_field *fields, size_t nfields) {
  fmh_buf b = {0};
  struct timeval tv;
  struct tm tm;
  char ts[64];
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + n, sizeof ts - n, ".%06ldZ", (long)tv.tv_usec);
  fmh_buf_puts(&b, "{\"ts\":\"");
  fmh_buf_puts(&b, ts);
  fmh_buf_puts(&b, "\",\"level\":\"");
  fmh_buf_puts(&b, fmh_log_level_name(level));
  fmh_buf_puts(&b, "\",\"event\":");
  event = event ? event : "log";
  fmh_buf_json_str(&b, event, strlen(event));
  if (code) { put_key(&b, "code"); fmh_buf_json_str(&b, code, strlen(code)); }
  if (msg) { put_key(&b, "msg"); fmh_buf_json_str(&b, msg, strlen(msg)); }
  for (size_t i = 0; i < nfields; i++) {
    const fmh_log_field *f = &fields[i];
    if (!f->key) continue;
    if (f->type == FMH_LF_MSGN) {
      put_key(&b, "msg");
    } else if (is_reserved_key(f->key)) {
      char renamed[64];
      snprintf(renamed, sizeof renamed, "_%s", f->key);
      put_key(&b, renamed);
    } else {
      put_key(&b, f->key);
    }
    if (is_secret_key(f->key)) { fmh_buf_puts(&b, "\"***\""); continue; }
    char num[64];
    switch (f->type) {
      case FMH_LF_STR:
        if (f->s) fmh_buf_json_str(&b, f->s, strlen(f->s));
        else fmh_buf_puts(&b, "null");
        break;
      case FMH_LF_STRN:
      case FMH_LF_MSGN:
        if (f->s) fmh_buf_json_str(&b, f->s, (size_t)f->i);
        else fmh_buf_puts(&b, "null");
        break;
      case FMH_LF_INT:
        snprintf(num, sizeof num, "%lld", f->i);
        fmh_buf_puts(&b, num);
        break;
      case FMH_LF_NUM:
        if (isfinite(f->d)) { snprintf(num, sizeof num, "%.17g", f->d); fmh_buf_puts(&b, num); }
        else fmh_buf_puts(&b, "null");
        break;
      case FMH_LF_BOOL: fmh_buf_puts(&b, f->i ? "true" : "false"); break;
      case FMH_LF_RAW: fmh_buf_puts(&b, f->s ? f->s : "null"); break;
    }
  }
  fmh_buf_puts(&b, "}");
  return b.p;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return; }
    p += w; n -= (size_t)w;
  }
}

void fmh_log_emit(fmh_log_level level, const char *event, const char *code, const char *msg,
                  const fmh_log_field *fields, size_t nfields) {
  if (!fmh_log_enabled(level)) return;
  char *line = fmh_log_format(level, event, code, msg, fields, nfields);
  size_t n = strlen(line);
  line[n] = '\n'; /* fmh_buf always keeps one spare byte */
  pthread_mutex_lock(&log_mu);
  if (log_stderr) write_all(STDERR_FILENO, line, n + 1);
  if (log_fd >= 0) write_all(log_fd, line, n + 1);
  pthread_mutex_unlock(&log_mu);
  free(line);
}
