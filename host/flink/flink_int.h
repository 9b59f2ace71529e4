/* fmhost.flink internals shared by flink.c (the client, its REST plumbing
 * and the JobManager calls), flink_gateway.c (the SQL Gateway calls) and
 * flink_cause.c (the failure summaries); not a public API. */
#ifndef FMHOST_FLINK_INT_H
#define FMHOST_FLINK_INT_H

#include <stdatomic.h>

#include "fmhost/buf.h"
#include "fmhost/flink.h"
#include "fmhost/http.h"

struct fmh_flink {
  atomic_int refs;
  fmh_http *http;
  char *rest;
  char *gateway;
  long timeout_ms;
  long poll_ms;
};

/* ---- flink.c: small helpers and the REST plumbing ---------------------- */

char *fmh_flink_xstrdup(const char *s);
long long fmh_flink_now_ms(void);
void fmh_flink_sleep_ms(long ms);
const char *fmh_flink_jstr(const json_t *o, const char *key);
void fmh_flink_put_segment(fmh_buf *b, const char *s);
char *fmh_flink_path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
long fmh_flink_remaining(long long deadline, long cap);
json_t *fmh_flink_gw_obj(fmh_flink *c, const char *method, char *path, const json_t *body,
                         long timeout_ms, fmh_error *err);
int fmh_flink_need_str(json_t *j, const char *key, const char *what, char **out, fmh_error *err);

/* ---- flink_cause.c: Flink's failures ------------------------------------ */

void fmh_flink_summarize_body(const char *body, char *out, size_t n);
void fmh_flink_refine(fmh_error *err);
void fmh_flink_as_error(fmh_error *err, const char *context, const char *summary,
                        const char *detail);

#endif
