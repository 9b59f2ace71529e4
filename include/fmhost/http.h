/* A small HTTP client over libcurl for JSON APIs (Flink's REST API and SQL
 * Gateway): GET/POST/PATCH/DELETE with JSON bodies, a multipart file upload,
 * a timeout on every call, and failures sorted into an fmh_error:
 *
 *   kind "curl"    connection refused / reset / DNS / other transport error;
 *                  refused, reset and "server sent nothing" are retryable
 *   kind "timeout" the call did not complete within its timeout; retryable
 *   kind "http"    a non-2xx status; 408, 429, 502, 503, 504 retryable, other
 *                  4xx not, 500 only when the body says the service is still
 *                  starting; err.detail holds the whole response body
 *   kind "json"    a 2xx body that is not valid JSON; not retryable; the body
 *                  is kept in err.detail
 *
 * One fmh_http handle keeps one libcurl easy handle, so consecutive calls
 * reuse the connection. A handle is used by one thread at a time. */
#ifndef FMHOST_HTTP_H
#define FMHOST_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "fmhost/error.h"

typedef struct fmh_http fmh_http;

typedef struct fmh_http_response {
  long status;        /* HTTP status, 0 when no response arrived */
  char *body;         /* malloc'ed, NUL-terminated (may contain NULs before len) */
  size_t len;
  double seconds;     /* wall time of the call */
} fmh_http_response;

typedef struct fmh_http_request {
  const char *method;        /* "GET", "POST", "PATCH", "DELETE" */
  const char *url;           /* absolute URL */
  const char *body;          /* request body or NULL */
  size_t body_len;
  const char *content_type;  /* of body; default application/json when body != NULL */
  /* multipart/form-data upload of one file (body must be NULL) */
  const char *upload_field;  /* form field name, e.g. "jarfile" */
  const char *upload_path;   /* local file */
  const char *upload_type;   /* content type of the part, e.g. application/x-java-archive */
  long timeout_ms;           /* whole call; <= 0 means the handle's default */
} fmh_http_request;

/* A handle with a default timeout (ms) for calls that give none. */
fmh_http *fmh_http_new(long default_timeout_ms);
void fmh_http_free(fmh_http *h);

/* Perform the request. Returns 0 when a 2xx response arrived; otherwise -1
 * with err filled (see the kinds above). resp is filled in both cases when
 * not NULL (free it with fmh_http_response_free). */
int fmh_http_perform(fmh_http *h, const fmh_http_request *req, fmh_http_response *resp,
                     fmh_error *err);
void fmh_http_response_free(fmh_http_response *r);

/* method url with an optional JSON body; on success *out is the parsed JSON
 * of the response (a new reference; JSON null for an empty body). */
int fmh_http_json(fmh_http *h, const char *method, const char *url, const json_t *body,
                  long timeout_ms, json_t **out, fmh_error *err);

/* Parse a response body as JSON; NULL with a "json" error naming url and
 * the parser's complaint (line, column) when it is not. */
json_t *fmh_http_parse_json(const char *body, size_t len, const char *what, fmh_error *err);

/* Whether a failed call with this status (and body) may succeed later. */
int fmh_http_status_retryable(long status, const char *body);

#endif
