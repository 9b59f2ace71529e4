/* A client for Apache Flink's JobManager REST API (v1) and SQL Gateway REST
 * API (v2), over fmhost/http.h, with every response parsed by jansson.
 *
 * Functions returning json_t* return a new reference (json_decref it) or
 * NULL with err filled; functions returning int return 0 or -1 with err
 * filled. Failures follow http.h (kinds "curl", "timeout", "http", "json");
 * in addition kind "flink" marks a failure Flink itself reported: a job
 * that reached FAILED, a SQL statement the gateway rejected, a savepoint
 * that failed. When Flink sent an error body ({"errors":[...]}) err.msg
 * ends with its summary (fmh_flink_summarize: the cause line of the trace)
 * and err.detail holds the whole body or trace.
 *
 * A client is used by one thread at a time (it owns one connection). */
#ifndef FMHOST_FLINK_H
#define FMHOST_FLINK_H

#include <jansson.h>
#include <stddef.h>

#include "fmhost/error.h"

typedef struct fmh_flink fmh_flink;

typedef struct fmh_flink_options {
  const char *rest_url;     /* JobManager REST base, e.g. http://127.0.0.1:18081 */
  const char *gateway_url;  /* SQL Gateway base, e.g. http://127.0.0.1:18083; may be NULL */
  long timeout_ms;          /* every HTTP call; default 10000 */
  long poll_ms;             /* interval of the polling waits; default 200 */
} fmh_flink_options;

fmh_flink *fmh_flink_new(const fmh_flink_options *o, fmh_error *err);
/* Reference counting: children (sessions, jobs) keep their client alive. */
fmh_flink *fmh_flink_ref(fmh_flink *c);
void fmh_flink_unref(fmh_flink *c);
const char *fmh_flink_rest_url(const fmh_flink *c);
const char *fmh_flink_gateway_url(const fmh_flink *c);
long fmh_flink_timeout_ms(const fmh_flink *c);

/* Any call: path is relative to the base ("/overview"); body may be NULL. */
json_t *fmh_flink_rest(fmh_flink *c, const char *method, const char *path, const json_t *body,
                       long timeout_ms, fmh_error *err);
json_t *fmh_flink_gateway(fmh_flink *c, const char *method, const char *path, const json_t *body,
                          long timeout_ms, fmh_error *err);

/* The one-line summary of a Java stack trace or a Flink error body: the
 * first line of the deepest org.apache.flink.table.api exception in the
 * cause chain (a SQL error); else the deepest database driver's exception
 * (com.mysql., java.sql., org.mariadb.) of the chain, or failing that of a
 * "Suppressed:" block, followed by a deeper cause's message in parentheses
 * ("Communications link failure (Connection reset by peer)"); else the
 * deepest cause in the chain that is not a wrapper ("Recovery is
 * suppressed by ...", CompletionException, ...); else the deepest one. A
 * connector's exception above that cause ("Writing records to JDBC
 * failed.") leads as its context, the cause then without class names:
 * "JDBC write failed: Data truncation: Out of range value for column 'qty'
 * at row 1". The chain is the first exception line and the least indented
 * "Caused by:" lines: "Suppressed:" blocks and Java's "[CIRCULAR
 * REFERENCE: ...]" entries are not part of it. Writes at most n bytes
 * (NUL included; "..." where cut). */
char *fmh_flink_summarize(const char *text, char *out, size_t n);

/* ---- JobManager ------------------------------------------------------ */

json_t *fmh_flink_overview(fmh_flink *c, fmh_error *err);      /* GET /overview */
json_t *fmh_flink_config(fmh_flink *c, fmh_error *err);        /* GET /config */
json_t *fmh_flink_jobs(fmh_flink *c, fmh_error *err);          /* GET /jobs/overview */
json_t *fmh_flink_taskmanagers(fmh_flink *c, fmh_error *err);  /* GET /taskmanagers */
json_t *fmh_flink_job(fmh_flink *c, const char *job, fmh_error *err);            /* /jobs/:id */
int fmh_flink_job_state(fmh_flink *c, const char *job, char *state, size_t n, fmh_error *err);
json_t *fmh_flink_job_exceptions(fmh_flink *c, const char *job, int max, fmh_error *err);
/* The root exception in a /exceptions answer: the newest entry of
 * exceptionHistory, else the legacy root-exception. NULL when none. The
 * pointers are into ex. */
const char *fmh_flink_root_exception(const json_t *ex, const char **name);
json_t *fmh_flink_job_checkpoints(fmh_flink *c, const char *job, fmh_error *err);
/* How often the job restarted, into *n. The execution graph is the
 * authority: a restart starts each restarted subtask as a new attempt (0, 1,
 * ...), so the highest attempt of any subtask (GET /jobs/:id/vertices/:vid)
 * counts the restarts that reached it, for a finished job too. The
 * numRestarts metric is read as a floor only: REST serves metrics from a
 * store refreshed at most every metrics.fetcher.update-interval, so a job
 * that restarted and finished in between still shows 0 there. -1 when the
 * job cannot be read. */
int fmh_flink_job_restarts(fmh_flink *c, const char *job, long long *n, fmh_error *err);
/* A vertex named by its 32-hex id, its 1-based position in the job's
 * vertex list (index > 0), or a part of its name. */
int fmh_flink_vertex_id(fmh_flink *c, const char *job, const char *spec, int index, char vid[33],
                        fmh_error *err);
/* GET .../vertices/:vid/metrics?get=names (comma-separated; NULL: the list of ids) */
json_t *fmh_flink_vertex_metrics(fmh_flink *c, const char *job, const char *vid,
                                 const char *names, fmh_error *err);
/* GET .../vertices/:vid/subtasks/metrics?get=names&agg=agg (aggregated over subtasks) */
json_t *fmh_flink_subtask_metrics(fmh_flink *c, const char *job, const char *vid,
                                  const char *names, const char *agg, fmh_error *err);
json_t *fmh_flink_backpressure(fmh_flink *c, const char *job, const char *vid, fmh_error *err);
int fmh_flink_job_cancel(fmh_flink *c, const char *job, fmh_error *err);  /* PATCH ?mode=cancel */
/* POST /jobs/:id/stop and poll /jobs/:id/savepoints/:trigger until the
 * savepoint completes; *location is the savepoint path (malloc'ed). dir
 * NULL: the cluster's savepoint directory. A savepoint refused because the
 * job's tasks are not all running yet is triggered again until timeout_ms. */
int fmh_flink_job_stop(fmh_flink *c, const char *job, const char *dir, int drain,
                       long timeout_ms, char **location, fmh_error *err);
/* 1 when state is one of Flink's job states (RUNNING, FINISHED, ...). */
int fmh_flink_job_state_known(const char *state);
/* 1 when id is a Flink job id: 32 lower-case hex digits. */
int fmh_flink_job_id_valid(const char *id);
/* Poll the job's state until it is one of targets (0), or FAILED/CANCELED/
 * FINISHED that was not asked for, or the timeout (-1). state holds the last
 * state seen. On failure *root (malloc'ed, may stay NULL) is the root
 * exception's stack trace and err.msg names the state and its summary. */
int fmh_flink_job_wait(fmh_flink *c, const char *job, const char *const *targets, size_t ntargets,
                       long timeout_ms, char *state, size_t n, char **root, fmh_error *err);
/* POST /jars/upload (multipart "jarfile"); *jarid malloc'ed. */
int fmh_flink_jar_upload(fmh_flink *c, const char *path, char **jarid, fmh_error *err);
/* POST /jars/:jarid/run; parallelism <= 0 and NULL strings are left out. */
int fmh_flink_jar_run(fmh_flink *c, const char *jarid, const char *entry_class,
                      const char *const *args, size_t nargs, int parallelism,
                      const char *savepoint, int allow_non_restored, long timeout_ms,
                      char jobid[33], fmh_error *err);

/* ---- SQL Gateway (REST API v2) -------------------------------------- */

json_t *fmh_flink_gateway_info(fmh_flink *c, fmh_error *err);  /* GET /v2/info */
/* POST /v2/sessions {sessionName, properties}; *handle malloc'ed. */
int fmh_flink_session_open(fmh_flink *c, const char *name, const json_t *properties,
                           char **handle, fmh_error *err);
int fmh_flink_session_close(fmh_flink *c, const char *sh, long timeout_ms, fmh_error *err);
int fmh_flink_session_heartbeat(fmh_flink *c, const char *sh, fmh_error *err);
/* POST /v2/sessions/:sh/statements; exec_timeout_ms <= 0 leaves it out. */
int fmh_flink_statement(fmh_flink *c, const char *sh, const char *sql, const json_t *exec_config,
                        long exec_timeout_ms, char **op, fmh_error *err);
int fmh_flink_op_status(fmh_flink *c, const char *sh, const char *op, char *status, size_t n,
                        fmh_error *err);
/* Poll until the operation's status is terminal. FINISHED: 0. ERROR: -1
 * with kind "flink", the gateway's SQL error in msg, its body in detail.
 * CANCELED/CLOSED/TIMEOUT or the deadline: -1. */
int fmh_flink_op_wait(fmh_flink *c, const char *sh, const char *op, long timeout_ms, char *status,
                      size_t n, fmh_error *err);
int fmh_flink_op_cancel(fmh_flink *c, const char *sh, const char *op, fmh_error *err);
int fmh_flink_op_close(fmh_flink *c, const char *sh, const char *op, fmh_error *err);
/* Fetch result pages from token 0, following nextResultUri until EOS
 * (polling while NOT_READY), max_rows rows (> 0) or the deadline. Returns
 * {"columns":[ColumnInfo...], "rows":[[field...]...], "kinds":["INSERT"...],
 *  "job_id":"..."|null, "result_kind":"SUCCESS..."|null, "eos":bool}.
 * row_format "JSON" or "PLAIN_TEXT". */
json_t *fmh_flink_op_fetch_all(fmh_flink *c, const char *sh, const char *op,
                               const char *row_format, long timeout_ms, long max_rows,
                               fmh_error *err);

/* ---- a statement and its result ------------------------------------- */

/* A statement submitted to a session, with its complete result kept once
 * fetched: the gateway hands a finished result out only once, so asking
 * again (for the rows, for the job id) reuses it. The operation holds a
 * reference to its client. */
typedef struct fmh_flink_operation fmh_flink_operation;

/* fmh_flink_statement, kept as an operation; NULL with err filled. */
fmh_flink_operation *fmh_flink_operation_submit(fmh_flink *c, const char *sh, const char *sql,
                                                const json_t *exec_config, long exec_timeout_ms,
                                                fmh_error *err);
void fmh_flink_operation_free(fmh_flink_operation *o);
fmh_flink *fmh_flink_operation_client(const fmh_flink_operation *o);
const char *fmh_flink_operation_session(const fmh_flink_operation *o);
const char *fmh_flink_operation_handle(const fmh_flink_operation *o);
/* fmh_flink_op_fetch_all (a new reference), or the complete result fetched
 * before when JSON rows are asked for without max_rows. A complete JSON
 * result is kept. */
json_t *fmh_flink_operation_result(fmh_flink_operation *o, const char *row_format,
                                   long timeout_ms, long max_rows, fmh_error *err);
/* The job the statement started (its result's job_id; the result is fetched
 * and kept when it is not yet); -1 with kind "flink" when it has none. */
int fmh_flink_operation_job_id(fmh_flink_operation *o, long timeout_ms, char *job_id, size_t n,
                               fmh_error *err);
/* Wait for the operation (fmh_flink_op_wait), fetch its result
 * (fmh_flink_operation_result) into *result and, when close, close it on
 * the gateway (the result in hand, a failure to close is not one). 0; -1
 * when the wait failed; -2 when the fetch did. timeout_ms bounds each. */
int fmh_flink_operation_run(fmh_flink_operation *o, const char *row_format, long timeout_ms,
                            long max_rows, int close, json_t **result, fmh_error *err);

#endif
