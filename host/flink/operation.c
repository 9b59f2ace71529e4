/* A SQL Gateway statement as one object: its session, its handle and its
 * complete result once fetched. What fmhost.flink's Operation and
 * Session:run do beyond a single REST call (wait, fetch, reuse the
 * result, close) lives here, so the binding only converts values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmhost/flink.h"

struct fmh_flink_operation {
  fmh_flink *c;
  char *sh;
  char *op;
  json_t *result; /* the complete JSON result, once fetched */
};

fmh_flink_operation *fmh_flink_operation_submit(fmh_flink *c, const char *sh, const char *sql,
                                                const json_t *exec_config, long exec_timeout_ms,
                                                fmh_error *err) {
  char *op = NULL;
  if (fmh_flink_statement(c, sh, sql, exec_config, exec_timeout_ms, &op, err)) return NULL;
  fmh_flink_operation *o = calloc(1, sizeof *o);
  char *s = strdup(sh);
  if (!o || !s) abort();
  o->c = fmh_flink_ref(c);
  o->sh = s;
  o->op = op;
  return o;
}

void fmh_flink_operation_free(fmh_flink_operation *o) {
  if (!o) return;
  json_decref(o->result);
  free(o->sh);
  free(o->op);
  fmh_flink_unref(o->c);
  free(o);
}

fmh_flink *fmh_flink_operation_client(const fmh_flink_operation *o) { return o->c; }
const char *fmh_flink_operation_session(const fmh_flink_operation *o) { return o->sh; }
const char *fmh_flink_operation_handle(const fmh_flink_operation *o) { return o->op; }

json_t *fmh_flink_operation_result(fmh_flink_operation *o, const char *row_format,
                                   long timeout_ms, long max_rows, fmh_error *err) {
  int json_rows = strcmp(row_format, "JSON") == 0;
  if (o->result && max_rows == 0 && json_rows) return json_incref(o->result);
  json_t *r = fmh_flink_op_fetch_all(o->c, o->sh, o->op, row_format, timeout_ms, max_rows, err);
  if (r && json_rows && json_is_true(json_object_get(r, "eos"))) {
    json_decref(o->result);
    o->result = json_incref(r);
  }
  return r;
}

int fmh_flink_operation_job_id(fmh_flink_operation *o, long timeout_ms, char *job_id, size_t n,
                               fmh_error *err) {
  json_t *r = fmh_flink_operation_result(o, "JSON", timeout_ms, 0, err);
  if (!r) return -1;
  const char *id = json_string_value(json_object_get(r, "job_id"));
  if (id) snprintf(job_id, n, "%s", id);
  else fmh_error_set(err, "flink", 0, 0, "operation %s has no job (it is not an INSERT or a query)", o->op);
  json_decref(r);
  return id ? 0 : -1;
}

int fmh_flink_operation_run(fmh_flink_operation *o, const char *row_format, long timeout_ms,
                            long max_rows, int close, json_t **result, fmh_error *err) {
  *result = NULL;
  char st[32] = "";
  if (fmh_flink_op_wait(o->c, o->sh, o->op, timeout_ms, st, sizeof st, err)) return -1;
  if (!(*result = fmh_flink_operation_result(o, row_format, timeout_ms, max_rows, err))) return -2;
  if (close) {
    fmh_error e2 = {0};
    fmh_flink_op_close(o->c, o->sh, o->op, &e2); /* the result is in hand */
    fmh_error_clear(&e2);
  }
  return 0;
}
