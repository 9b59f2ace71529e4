/* TEST SUPPORT ONLY: a scripted HTTP/1.1 server on 127.0.0.1 and a thread,
 * used by the unit specs of the HTTP client (fmhost.flink) to check the
 * client's own error handling: a 500 with a body, a 404, malformed JSON, a
 * server that accepts and never answers, a connection closed without an
 * answer. It speaks just enough HTTP for that (one request per connection,
 * Content-Length or chunked bodies, "Connection: close" answers). It stands
 * in for no real service in any spec that claims to check Flink. */
#ifndef FMHOST_HTTPSTUB_H
#define FMHOST_HTTPSTUB_H

#include <stddef.h>

#include "fmhost/error.h"

typedef struct fmh_httpstub fmh_httpstub;

/* What to do with one request; request i gets replies[i], the last reply
 * is repeated for every request after it. */
typedef struct fmh_httpstub_reply {
  int status;                /* HTTP status of the answer */
  const char *body;          /* answer body (copied) */
  size_t body_len;
  const char *content_type;  /* default application/json */
  long delay_ms;             /* wait before answering */
  int hang;                  /* read the request and never answer */
  int close;                 /* read the request and close without answering */
} fmh_httpstub_reply;

/* A request as the stub received it. */
typedef struct fmh_httpstub_seen {
  char method[16];
  char *target;              /* path and query */
  char *content_type;        /* Content-Type header, "" when none */
  char *body;                /* NUL-terminated, body_len bytes */
  size_t body_len;
} fmh_httpstub_seen;

/* Listen on 127.0.0.1 at an ephemeral port and serve on a new thread. */
fmh_httpstub *fmh_httpstub_start(const fmh_httpstub_reply *replies, size_t n, fmh_error *err);
int fmh_httpstub_port(const fmh_httpstub *s);
/* Copies of the requests seen so far; free with fmh_httpstub_seen_free. */
size_t fmh_httpstub_requests(fmh_httpstub *s, fmh_httpstub_seen **out);
void fmh_httpstub_seen_free(fmh_httpstub_seen *seen, size_t n);
/* Stop serving, close every socket, join the thread, free. */
void fmh_httpstub_stop(fmh_httpstub *s);

#endif
