/* fmhost.flink in C: the client, its REST plumbing and the JobManager REST
 * API as plain C calls over fmhost/http.h, every answer parsed with jansson.
 * The SQL Gateway calls live in flink_gateway.c, the summaries of Flink's
 * failures in flink_cause.c.
 *
 * Endpoints and shapes follow Flink 1.20's generated REST specifications
 * (rest_v1_dispatcher.yml, rest_v2_sql_gateway.yml). Waits poll with the
 * client's poll interval and never run past their deadline by more than
 * one HTTP timeout. Where Flink explains a failure in a Java stack trace,
 * the message carries the trace's deepest cause and the detail the whole
 * text, so a spec can both read the cause and show the trace. */
#include "fmhost/flink.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmhost/http.h"
#include "fmhost/log.h"
#include "flink_int.h"

/* ---- small helpers ----------------------------------------------------- */

char *fmh_flink_xstrdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s);
  char *p = malloc(n + 1);
  if (!p) abort();
  memcpy(p, s, n + 1);
  return p;
}

long long fmh_flink_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fmh_flink_sleep_ms(long ms) {
  if (ms <= 0) return;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

const char *fmh_flink_jstr(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

/* Percent-encode one path segment. */
void fmh_flink_put_segment(fmh_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '_' || *p == '.' || *p == '~') {
      fmh_buf_putn(b, (const char *)p, 1);
    } else {
      char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      fmh_buf_putn(b, e, 3);
    }
  }
}

/* Build a path from a format where each %s is one escaped segment and
 * everything else is copied. */
char *fmh_flink_path_of(const char *fmt, ...) {
  va_list ap;
  fmh_buf b = {0};
  va_start(ap, fmt);
  for (const char *p = fmt; *p; p++) {
    if (p[0] == '%' && p[1] == 's') {
      fmh_flink_put_segment(&b, va_arg(ap, const char *));
      p++;
    } else {
      fmh_buf_putn(&b, p, 1);
    }
  }
  va_end(ap);
  fmh_buf_putn(&b, "", 0);
  return b.p;
}

long fmh_flink_remaining(long long deadline, long cap) {
  long long left = deadline - fmh_flink_now_ms();
  if (left < 1000) left = 1000; /* a last call still gets a fair chance */
  return left < cap ? (long)left : cap;
}

/* ---- the client -------------------------------------------------------- */

static char *base_url(const char *u) {
  if (!u || !*u) return NULL;
  char *s = fmh_flink_xstrdup(u);
  size_t n = strlen(s);
  while (n && s[n - 1] == '/') s[--n] = '\0';
  return s;
}

fmh_flink *fmh_flink_new(const fmh_flink_options *o, fmh_error *err) {
  const char *urls[2] = {o->rest_url, o->gateway_url};
  for (int i = 0; i < 2; i++) {
    if (urls[i] && *urls[i] && strncmp(urls[i], "http://", 7) != 0 &&
        strncmp(urls[i], "https://", 8) != 0) {
      fmh_error_set(err, "config", 0, 0, "'%s' is not an http:// or https:// URL", urls[i]);
      return NULL;
    }
  }
  fmh_flink *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
  c->poll_ms = o->poll_ms > 0 ? o->poll_ms : 200;
  c->http = fmh_http_new(c->timeout_ms);
  if (!c->http) {
    fmh_error_set(err, "curl", 0, 0, "cannot initialise libcurl");
    free(c);
    return NULL;
  }
  c->rest = base_url(o->rest_url);
  c->gateway = base_url(o->gateway_url);
  atomic_init(&c->refs, 1);
  return c;
}

fmh_flink *fmh_flink_ref(fmh_flink *c) {
  atomic_fetch_add(&c->refs, 1);
  return c;
}

void fmh_flink_unref(fmh_flink *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
  fmh_http_free(c->http);
  free(c->rest);
  free(c->gateway);
  free(c);
}

const char *fmh_flink_rest_url(const fmh_flink *c) { return c->rest; }
const char *fmh_flink_gateway_url(const fmh_flink *c) { return c->gateway; }
long fmh_flink_timeout_ms(const fmh_flink *c) { return c->timeout_ms; }

static json_t *call(fmh_flink *c, const char *base, const char *which, const char *method,
                    const char *path, const json_t *body, long timeout_ms, fmh_error *err) {
  if (!base) {
    fmh_error_set(err, "config", 0, 0, "this client has no %s URL", which);
    return NULL;
  }
  size_t n = strlen(base) + strlen(path) + 2;
  char *url = malloc(n);
  if (!url) abort();
  snprintf(url, n, "%s%s%s", base, path[0] == '/' ? "" : "/", path);
  json_t *out = NULL;
  int rc = fmh_http_json(c->http, method, url, body, timeout_ms > 0 ? timeout_ms : c->timeout_ms,
                         &out, err);
  free(url);
  if (rc != 0) {
    fmh_flink_refine(err);
    return NULL;
  }
  return out;
}

json_t *fmh_flink_rest(fmh_flink *c, const char *method, const char *path, const json_t *body,
                       long timeout_ms, fmh_error *err) {
  return call(c, c->rest, "JobManager REST", method, path, body, timeout_ms, err);
}

json_t *fmh_flink_gateway(fmh_flink *c, const char *method, const char *path, const json_t *body,
                          long timeout_ms, fmh_error *err) {
  return call(c, c->gateway, "SQL gateway", method, path, body, timeout_ms, err);
}

/* The answer j of method path when it is a JSON object, else NULL and the
 * error; frees path (made by path_of or xstrdup). */
static json_t *want_obj(json_t *j, const char *method, char *path, fmh_error *err) {
  if (j && !json_is_object(j)) {
    fmh_error_set(err, "json", 0, 0, "%s %s: expected a JSON object in the answer", method, path);
    json_decref(j);
    j = NULL;
  }
  free(path);
  return j;
}

/* A call whose answer must be a JSON object. */
static json_t *rest_obj(fmh_flink *c, const char *method, char *path, const json_t *body,
                        long timeout_ms, fmh_error *err) {
  return want_obj(fmh_flink_rest(c, method, path, body, timeout_ms, err), method, path, err);
}

json_t *fmh_flink_gw_obj(fmh_flink *c, const char *method, char *path, const json_t *body,
                         long timeout_ms, fmh_error *err) {
  return want_obj(fmh_flink_gateway(c, method, path, body, timeout_ms, err), method, path, err);
}

/* A string field the answer must have. */
int fmh_flink_need_str(json_t *j, const char *key, const char *what, char **out, fmh_error *err) {
  const char *s = fmh_flink_jstr(j, key);
  if (!s) {
    char *dump = json_dumps(j, JSON_COMPACT);
    fmh_error_set(err, "json", 0, 0, "%s: the answer has no \"%s\"", what, key);
    if (dump) fmh_error_detail(err, dump, strlen(dump));
    free(dump);
    return -1;
  }
  *out = fmh_flink_xstrdup(s);
  return 0;
}

/* ---- JobManager -------------------------------------------------------- */

json_t *fmh_flink_overview(fmh_flink *c, fmh_error *err) {
  return rest_obj(c, "GET", fmh_flink_xstrdup("/overview"), NULL, 0, err);
}

json_t *fmh_flink_config(fmh_flink *c, fmh_error *err) {
  return rest_obj(c, "GET", fmh_flink_xstrdup("/config"), NULL, 0, err);
}

json_t *fmh_flink_jobs(fmh_flink *c, fmh_error *err) {
  return rest_obj(c, "GET", fmh_flink_xstrdup("/jobs/overview"), NULL, 0, err);
}

json_t *fmh_flink_taskmanagers(fmh_flink *c, fmh_error *err) {
  return rest_obj(c, "GET", fmh_flink_xstrdup("/taskmanagers"), NULL, 0, err);
}

json_t *fmh_flink_job(fmh_flink *c, const char *job, fmh_error *err) {
  return rest_obj(c, "GET", fmh_flink_path_of("/jobs/%s", job), NULL, 0, err);
}

static json_t *job_t(fmh_flink *c, const char *job, long timeout_ms, fmh_error *err) {
  return rest_obj(c, "GET", fmh_flink_path_of("/jobs/%s", job), NULL, timeout_ms, err);
}

int fmh_flink_job_state(fmh_flink *c, const char *job, char *state, size_t n, fmh_error *err) {
  json_t *j = fmh_flink_job(c, job, err);
  if (!j) return -1;
  const char *s = fmh_flink_jstr(j, "state");
  if (!s) {
    fmh_error_set(err, "json", 0, 0, "GET /jobs/%s: the answer has no \"state\"", job);
    json_decref(j);
    return -1;
  }
  snprintf(state, n, "%s", s);
  json_decref(j);
  return 0;
}

json_t *fmh_flink_job_exceptions(fmh_flink *c, const char *job, int max, fmh_error *err) {
  char *p = fmh_flink_path_of("/jobs/%s/exceptions", job);
  if (max > 0) {
    size_t l = strlen(p) + 32;
    char *q = malloc(l);
    if (!q) abort();
    snprintf(q, l, "%s?maxExceptions=%d", p, max);
    free(p);
    p = q;
  }
  return rest_obj(c, "GET", p, NULL, 0, err);
}

const char *fmh_flink_root_exception(const json_t *ex, const char **name) {
  if (name) *name = NULL;
  const json_t *entries = json_object_get(json_object_get(ex, "exceptionHistory"), "entries");
  const json_t *best = NULL;
  size_t i;
  json_t *e;
  json_array_foreach(entries, i, e) {
    if (!fmh_flink_jstr(e, "stacktrace")) continue;
    if (!best || json_integer_value(json_object_get(e, "timestamp")) >
                     json_integer_value(json_object_get(best, "timestamp")))
      best = e;
  }
  if (best) {
    if (name) *name = fmh_flink_jstr(best, "exceptionName");
    return fmh_flink_jstr(best, "stacktrace");
  }
  return fmh_flink_jstr(ex, "root-exception");
}

json_t *fmh_flink_job_checkpoints(fmh_flink *c, const char *job, fmh_error *err) {
  return rest_obj(c, "GET", fmh_flink_path_of("/jobs/%s/checkpoints", job), NULL, 0, err);
}

int fmh_flink_job_restarts(fmh_flink *c, const char *job, long long *n, fmh_error *err) {
  *n = 0;
  json_t *j = fmh_flink_job(c, job, err);
  if (!j) return -1;
  size_t i, k;
  json_t *v, *st;
  int rc = 0;
  json_array_foreach(json_object_get(j, "vertices"), i, v) {
    const char *vid = fmh_flink_jstr(v, "id");
    if (!vid) continue;
    char *path = fmh_flink_path_of("/jobs/%s/vertices/%s", job, vid);
    json_t *vd = rest_obj(c, "GET", path, NULL, 0, err);
    if (!vd) {
      rc = -1;
      break;
    }
    json_array_foreach(json_object_get(vd, "subtasks"), k, st) {
      json_t *a = json_object_get(st, "attempt");
      if (json_is_integer(a) && json_integer_value(a) > *n) *n = json_integer_value(a);
    }
    json_decref(vd);
  }
  json_decref(j);
  if (rc != 0) return rc;
  /* the metric: a floor, and only when the store has it */
  fmh_error ignore = {0};
  char *mpath = fmh_flink_path_of("/jobs/%s/metrics?get=numRestarts", job);
  json_t *m = fmh_flink_rest(c, "GET", mpath, NULL, 0, &ignore); /* a list */
  free(mpath);
  json_t *first = json_array_get(m, 0);
  const char *val = first ? fmh_flink_jstr(first, "value") : NULL;
  if (val) {
    char *end;
    long long r = strtoll(val, &end, 10);
    if (end != val && *end == '\0' && r > *n) *n = r;
  }
  json_decref(m);
  fmh_error_clear(&ignore);
  return 0;
}

static int is_hex32(const char *s) {
  if (!s || strlen(s) != 32) return 0;
  for (int i = 0; i < 32; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

int fmh_flink_vertex_id(fmh_flink *c, const char *job, const char *spec, int index, char vid[33],
                        fmh_error *err) {
  if (spec && is_hex32(spec)) {
    memcpy(vid, spec, 33);
    return 0;
  }
  json_t *j = fmh_flink_job(c, job, err);
  if (!j) return -1;
  json_t *vs = json_object_get(j, "vertices");
  size_t n = json_array_size(vs), i;
  int found = 0;
  json_t *v;
  json_array_foreach(vs, i, v) {
    const char *id = fmh_flink_jstr(v, "id"), *name = fmh_flink_jstr(v, "name");
    if (!id) continue;
    if ((index > 0 && (size_t)index == i + 1) || (spec && name && strstr(name, spec))) {
      snprintf(vid, 33, "%s", id);
      found = 1;
      break;
    }
  }
  json_decref(j);
  if (found) return 0;
  if (spec)
    fmh_error_set(err, "flink", 0, 0, "job %s has no vertex whose name contains '%s' (%zu vertices)",
                  job, spec, n);
  else
    fmh_error_set(err, "flink", 0, 0, "job %s has no vertex %d (it has %zu)", job, index, n);
  return -1;
}

static char *with_query(char *path, const char *k1, const char *v1, const char *k2, const char *v2) {
  fmh_buf b = {0};
  fmh_buf_puts(&b, path);
  free(path);
  char sep = '?';
  const char *ks[2] = {k1, k2}, *vs[2] = {v1, v2};
  for (int i = 0; i < 2; i++) {
    if (!ks[i] || !vs[i]) continue;
    fmh_buf_putn(&b, &sep, 1);
    fmh_buf_puts(&b, ks[i]);
    fmh_buf_putn(&b, "=", 1);
    /* metric names: letters, digits, dots, commas, underscores, dashes */
    for (const char *p = vs[i]; *p; p++) {
      if (*p == ' ') continue;
      if (*p == '&' || *p == '#' || *p == '?' || *p == '%') {
        char e[4];
        snprintf(e, sizeof e, "%%%02X", (unsigned char)*p);
        fmh_buf_puts(&b, e);
      } else {
        fmh_buf_putn(&b, p, 1);
      }
    }
    sep = '&';
  }
  return b.p;
}

json_t *fmh_flink_vertex_metrics(fmh_flink *c, const char *job, const char *vid,
                                 const char *names, fmh_error *err) {
  char *p = with_query(fmh_flink_path_of("/jobs/%s/vertices/%s/metrics", job, vid), "get", names, NULL, NULL);
  json_t *j = fmh_flink_rest(c, "GET", p, NULL, 0, err);
  free(p);
  return j;
}

json_t *fmh_flink_subtask_metrics(fmh_flink *c, const char *job, const char *vid,
                                  const char *names, const char *agg, fmh_error *err) {
  char *p = with_query(fmh_flink_path_of("/jobs/%s/vertices/%s/subtasks/metrics", job, vid), "get", names,
                       "agg", agg);
  json_t *j = fmh_flink_rest(c, "GET", p, NULL, 0, err);
  free(p);
  return j;
}

json_t *fmh_flink_backpressure(fmh_flink *c, const char *job, const char *vid, fmh_error *err) {
  return rest_obj(c, "GET", fmh_flink_path_of("/jobs/%s/vertices/%s/backpressure", job, vid), NULL, 0, err);
}

int fmh_flink_job_cancel(fmh_flink *c, const char *job, fmh_error *err) {
  char *p = fmh_flink_path_of("/jobs/%s?mode=cancel", job);
  json_t *j = fmh_flink_rest(c, "PATCH", p, NULL, 0, err);
  free(p);
  if (!j) return -1;
  json_decref(j);
  return 0;
}

/* Trigger stop-with-savepoint once; the trigger id (malloc'ed) or NULL. */
static char *stop_trigger(fmh_flink *c, const char *job, const char *dir, int drain,
                          long timeout_ms, fmh_error *err) {
  json_t *body = json_pack("{s:b}", "drain", drain ? 1 : 0);
  if (dir) json_object_set_new(body, "targetDirectory", json_string(dir));
  json_t *r = rest_obj(c, "POST", fmh_flink_path_of("/jobs/%s/stop", job), body, timeout_ms, err);
  json_decref(body);
  if (!r) return NULL;
  char *trigger = NULL;
  fmh_flink_need_str(r, "request-id", "POST /jobs/:id/stop", &trigger, err);
  json_decref(r);
  return trigger;
}

/* A savepoint that failed only because the job's tasks were not all
 * running yet (just after start or a restart): the same call succeeds a
 * moment later. */
static int not_all_running(const char *trace) {
  return trace && (strstr(trace, "Not all required tasks are currently running") ||
                   strstr(trace, "is not being executed at the moment"));
}

int fmh_flink_job_stop(fmh_flink *c, const char *job, const char *dir, int drain,
                       long timeout_ms, char **location, fmh_error *err) {
  *location = NULL;
  long long deadline = fmh_flink_now_ms() + (timeout_ms > 0 ? timeout_ms : 120000);
  int rc = -1, again = 1;
  while (again) {
    again = 0;
    char *trigger = stop_trigger(c, job, dir, drain, fmh_flink_remaining(deadline, c->timeout_ms), err);
    if (!trigger) return -1;
    char *path = fmh_flink_path_of("/jobs/%s/savepoints/%s", job, trigger);
    free(trigger);
    for (;;) {
      json_t *s = rest_obj(c, "GET", fmh_flink_xstrdup(path), NULL, fmh_flink_remaining(deadline, c->timeout_ms), err);
      if (!s) break;
      const char *st = fmh_flink_jstr(json_object_get(s, "status"), "id");
      if (st && strcmp(st, "COMPLETED") == 0) {
        json_t *op = json_object_get(s, "operation");
        const char *loc = fmh_flink_jstr(op, "location");
        json_t *fc = json_object_get(op, "failure-cause");
        const char *trace = fmh_flink_jstr(fc, "stack-trace");
        if (loc) {
          *location = fmh_flink_xstrdup(loc);
          rc = 0;
        } else if (not_all_running(trace) && fmh_flink_now_ms() + c->poll_ms < deadline) {
          again = 1;
        } else {
          char sum[600], ctx[200];
          fmh_flink_summarize(trace ? trace : fmh_flink_jstr(fc, "class"), sum, sizeof sum);
          snprintf(ctx, sizeof ctx, "stop-with-savepoint of job %s failed", job);
          err->status = 0;
          err->retryable = not_all_running(trace);
          fmh_flink_as_error(err, ctx, sum, trace);
        }
        json_decref(s);
        break;
      }
      char stbuf[32];
      snprintf(stbuf, sizeof stbuf, "%s", st ? st : "?");
      json_decref(s);
      if (fmh_flink_now_ms() >= deadline) {
        fmh_error_set(err, "timeout", 0, 1,
                      "the savepoint of job %s did not complete in time (status %s)", job, stbuf);
        break;
      }
      fmh_flink_sleep_ms(c->poll_ms);
    }
    free(path);
    if (again) fmh_flink_sleep_ms(c->poll_ms);
  }
  return rc;
}

static int in_list(const char *s, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (list[i] && strcmp(s, list[i]) == 0) return 1;
  return 0;
}

static void join_list(const char *const *list, size_t n, char *out, size_t len) {
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(out);
    snprintf(out + l, len - l, "%s%s", i ? "|" : "", list[i]);
  }
}

int fmh_flink_job_state_known(const char *state) {
  static const char *const known[] = {"INITIALIZING", "CREATED", "RUNNING", "FAILING", "FAILED",
                                      "CANCELLING", "CANCELED", "FINISHED", "RESTARTING",
                                      "SUSPENDED", "RECONCILING", NULL};
  for (int k = 0; known[k]; k++)
    if (strcmp(state, known[k]) == 0) return 1;
  return 0;
}

int fmh_flink_job_id_valid(const char *id) {
  size_t n = strlen(id);
  int ok = n == 32;
  for (size_t k = 0; ok && k < n; k++)
    ok = (id[k] >= '0' && id[k] <= '9') || (id[k] >= 'a' && id[k] <= 'f');
  return ok;
}

int fmh_flink_job_wait(fmh_flink *c, const char *job, const char *const *targets, size_t ntargets,
                       long timeout_ms, char *state, size_t n, char **root, fmh_error *err) {
  static const char *const terminal[] = {"FAILED", "CANCELED", "FINISHED"};
  long long deadline = fmh_flink_now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  char want[200];
  join_list(targets, ntargets, want, sizeof want);
  *root = NULL;
  snprintf(state, n, "%s", "");
  for (;;) {
    fmh_error e = {0};
    json_t *j = job_t(c, job, fmh_flink_remaining(deadline, c->timeout_ms), &e);
    if (!j) {
      if (!e.retryable || fmh_flink_now_ms() >= deadline) {
        fmh_error_clear(err);
        *err = e;
        return -1;
      }
      fmh_error_clear(&e);
    } else {
      const char *s = fmh_flink_jstr(j, "state");
      snprintf(state, n, "%s", s ? s : "?");
      json_decref(j);
      if (in_list(state, targets, ntargets)) return 0;
    }
    int failed = in_list(state, terminal, 3);
    int late = fmh_flink_now_ms() >= deadline;
    if (failed || late) {
      /* the root exception explains both a failure and a restart loop */
      const char *trace = NULL, *name = NULL;
      fmh_error e2 = {0};
      json_t *ex = fmh_flink_job_exceptions(c, job, 5, &e2);
      fmh_error_clear(&e2);
      if (ex) trace = fmh_flink_root_exception(ex, &name);
      if (trace) *root = fmh_flink_xstrdup(trace);
      char sum[600], ctx[400];
      fmh_flink_summarize(trace, sum, sizeof sum);
      if (failed) {
        snprintf(ctx, sizeof ctx, "job %s is %s (waiting for %s)", job, state, want);
        err->status = 0;
        err->retryable = 0;
        fmh_flink_as_error(err, ctx, trace ? sum : "no exception recorded", trace);
      } else {
        fmh_error_set(err, "timeout", 0, 1, "job %s did not reach %s within %ld ms (state %s%s%s)",
                      job, want, timeout_ms, state[0] ? state : "unknown",
                      trace ? "; last exception: " : "", trace ? sum : "");
        if (trace) fmh_error_detail(err, trace, strlen(trace));
      }
      json_decref(ex);
      return -1;
    }
    fmh_flink_sleep_ms(c->poll_ms);
  }
}

int fmh_flink_jar_upload(fmh_flink *c, const char *path, char **jarid, fmh_error *err) {
  *jarid = NULL;
  if (!c->rest) {
    fmh_error_set(err, "config", 0, 0, "this client has no JobManager REST URL");
    return -1;
  }
  size_t n = strlen(c->rest) + 16;
  char *url = malloc(n);
  if (!url) abort();
  snprintf(url, n, "%s/jars/upload", c->rest);
  fmh_http_request req = {.method = "POST", .url = url, .upload_field = "jarfile",
                          .upload_path = path, .upload_type = "application/x-java-archive",
                          .timeout_ms = c->timeout_ms < 60000 ? 60000 : c->timeout_ms};
  fmh_http_response resp;
  int rc = fmh_http_perform(c->http, &req, &resp, err);
  json_t *j = NULL;
  if (rc == 0) {
    j = fmh_http_parse_json(resp.body, resp.len, "POST /jars/upload", err);
    if (!j) rc = -1;
  } else {
    fmh_flink_refine(err);
  }
  fmh_http_response_free(&resp);
  free(url);
  if (rc) return -1;
  const char *fn = fmh_flink_jstr(j, "filename");
  const char *st = fmh_flink_jstr(j, "status");
  if (!fn || !st || strcmp(st, "success") != 0) {
    char *dump = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    fmh_error_set(err, "flink", 0, 0, "uploading %s did not succeed", path);
    if (dump) fmh_error_detail(err, dump, strlen(dump));
    free(dump);
    json_decref(j);
    return -1;
  }
  const char *slash = strrchr(fn, '/');
  *jarid = fmh_flink_xstrdup(slash ? slash + 1 : fn);
  json_decref(j);
  return 0;
}

int fmh_flink_jar_run(fmh_flink *c, const char *jarid, const char *entry_class,
                      const char *const *args, size_t nargs, int parallelism,
                      const char *savepoint, int allow_non_restored, long timeout_ms,
                      char jobid[33], fmh_error *err) {
  json_t *body = json_object();
  if (entry_class) json_object_set_new(body, "entryClass", json_string(entry_class));
  json_t *list = json_array();
  for (size_t i = 0; i < nargs; i++) json_array_append_new(list, json_string(args[i]));
  json_object_set_new(body, "programArgsList", list);
  if (parallelism > 0) json_object_set_new(body, "parallelism", json_integer(parallelism));
  if (savepoint) {
    json_object_set_new(body, "savepointPath", json_string(savepoint));
    json_object_set_new(body, "allowNonRestoredState", json_boolean(allow_non_restored));
  }
  /* running a jar runs its main() on the JobManager: give it time */
  long t = timeout_ms > 0 ? timeout_ms : (c->timeout_ms < 60000 ? 60000 : c->timeout_ms);
  json_t *r = rest_obj(c, "POST", fmh_flink_path_of("/jars/%s/run", jarid), body, t, err);
  json_decref(body);
  if (!r) return -1;
  char *id = NULL;
  int rc = fmh_flink_need_str(r, "jobid", "POST /jars/:jarid/run", &id, err);
  json_decref(r);
  if (rc) return -1;
  snprintf(jobid, 33, "%s", id);
  free(id);
  return 0;
}
