/* fmh_error helpers: the one error value all primitives fill. */
#include "fmhost/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fmh_error_set(fmh_error *e, const char *kind, int code, int retryable, const char *fmt, ...) {
  va_list ap;
  e->kind = kind;
  e->code = code;
  e->retryable = retryable;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
}

void fmh_error_detail(fmh_error *e, const char *text, size_t len) {
  free(e->detail);
  e->detail = malloc(len + 1);
  if (!e->detail) return;
  memcpy(e->detail, text, len);
  e->detail[len] = '\0';
}

void fmh_error_clear(fmh_error *e) {
  free(e->detail);
  memset(e, 0, sizeof *e);
}
