/* fmhost.log: structured JSON-lines logging, usable from any thread.
 *
 * One line per event: {"ts":"2026-11-22T05:07:03.123456Z","level":"info",
 * "event":"pool.acquire","code":"...","msg":"...", <context fields>}.
 * Fields whose key names a secret (password, passwd, secret, token) are
 * written as "***", whatever the caller passed. */
#ifndef FMHOST_LOG_H
#define FMHOST_LOG_H

#include <stddef.h>

#include "fmhost/buf.h"

typedef enum {
  FMH_LOG_TRACE = 0,
  FMH_LOG_DEBUG,
  FMH_LOG_INFO,
  FMH_LOG_WARN,
  FMH_LOG_ERROR,
  FMH_LOG_OFF
} fmh_log_level;

typedef enum { FMH_LF_STR, FMH_LF_INT, FMH_LF_NUM, FMH_LF_BOOL, FMH_LF_RAW, FMH_LF_STRN, FMH_LF_MSGN } fmh_log_ftype;

/* One context field. FMH_LF_RAW inserts s verbatim: it must be valid JSON.
 * FMH_LF_STRN is a string of i bytes that may hold NUL; FMH_LF_MSGN is the
 * line's own msg given that way (for callers whose message may hold NUL).
 * A context key that names a field every line has (ts, level, event, code,
 * msg) is written as "_<key>", so no line holds a key twice. */
typedef struct {
  const char *key;
  fmh_log_ftype type;
  const char *s;
  long long i;
  double d;
} fmh_log_field;

#define FMH_LS(k, v) ((fmh_log_field){(k), FMH_LF_STR, (v), 0, 0.0})
#define FMH_LI(k, v) ((fmh_log_field){(k), FMH_LF_INT, NULL, (long long)(v), 0.0})
#define FMH_LN(k, v) ((fmh_log_field){(k), FMH_LF_NUM, NULL, 0, (double)(v)})
#define FMH_LSN(k, v, n) ((fmh_log_field){(k), FMH_LF_STRN, (v), (long long)(n), 0.0})
#define FMH_LB(k, v) ((fmh_log_field){(k), FMH_LF_BOOL, NULL, (v) ? 1 : 0, 0.0})

/* Sinks: stderr when to_stderr, and a file (appended) when path is not NULL.
 * Returns 0, or -1 with a message in err when the file cannot be opened. */
int fmh_log_configure(fmh_log_level level, int to_stderr, const char *path, char *err, size_t errlen);
void fmh_log_set_level(fmh_log_level level);
fmh_log_level fmh_log_get_level(void);
int fmh_log_enabled(fmh_log_level level);
/* The trace flag (--trace): every primitive call is logged at TRACE level. */
void fmh_log_set_trace(int on);
int fmh_log_tracing(void);
/* Parse "trace|debug|info|warn|error|off"; -1 when unknown. */
int fmh_log_parse_level(const char *name);
const char *fmh_log_level_name(fmh_log_level level);
/* Write one event; code and msg may be NULL. */
void fmh_log_emit(fmh_log_level level, const char *event, const char *code, const char *msg,
                  const fmh_log_field *fields, size_t nfields);
/* The line as it would be written (no newline), for tests and reports;
 * returns a malloc'ed string the caller frees. */
char *fmh_log_format(fmh_log_level level, const char *event, const char *code, const char *msg,
                     const fmh_log_field *fields, size_t nfields);
/* Append s as a JSON string literal (quotes included) to a growing buffer. */
void fmh_buf_json_str(fmh_buf *b, const char *s, size_t n);
void fmh_log_close(void);

#endif
