/* The error value every primitive fills on an expected failure.
 *
 * Lua sees it as `nil, msg, info` where info = {kind=, code=, sqlstate=,
 * status=, retryable=, detail=}. Retry decisions read `retryable`, never
 * the message text. */
#ifndef FMHOST_ERROR_H
#define FMHOST_ERROR_H

#include <stddef.h>

typedef struct fmh_error {
  char msg[1024];
  const char *kind;  /* static string: "mysql", "http", "curl", "config", "os", "timeout", ... */
  int code;          /* server or client error code, errno, curl code; 0 when none */
  char sqlstate[6];  /* "" when none */
  int status;        /* HTTP status; 0 when none */
  int retryable;     /* 1 when the same call may succeed later */
  char *detail;      /* malloc'ed long text (a server's stack trace), or NULL */
} fmh_error;

/* Set kind, code and a printf-style message; keeps sqlstate/status/detail. */
void fmh_error_set(fmh_error *e, const char *kind, int code, int retryable, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Take ownership of a copy of text as the detail. */
void fmh_error_detail(fmh_error *e, const char *text, size_t len);
void fmh_error_clear(fmh_error *e);

#endif
