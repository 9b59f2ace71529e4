/* fmhost.flink in C: the JobManager REST API and the SQL Gateway REST API v2
 * as plain C calls over fmhost/http.h, every answer parsed with jansson.
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

struct fmh_flink {
  atomic_int refs;
  fmh_http *http;
  char *rest;
  char *gateway;
  long timeout_ms;
  long poll_ms;
};

/* ---- small helpers ----------------------------------------------------- */

static char *xstrdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s);
  char *p = malloc(n + 1);
  if (!p) abort();
  memcpy(p, s, n + 1);
  return p;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  if (ms <= 0) return;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static const char *jstr(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

/* Percent-encode one path segment. */
static void put_segment(fmh_buf *b, const char *s) {
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
static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...) {
  va_list ap;
  fmh_buf b = {0};
  va_start(ap, fmt);
  for (const char *p = fmt; *p; p++) {
    if (p[0] == '%' && p[1] == 's') {
      put_segment(&b, va_arg(ap, const char *));
      p++;
    } else {
      fmh_buf_putn(&b, p, 1);
    }
  }
  va_end(ap);
  fmh_buf_putn(&b, "", 0);
  return b.p;
}

static long remaining(long long deadline, long cap) {
  long long left = deadline - now_ms();
  if (left < 1000) left = 1000; /* a last call still gets a fair chance */
  return left < cap ? (long)left : cap;
}

/* ---- error bodies ------------------------------------------------------ */

/* A Flink or JDK exception that only wraps its cause: never the cause a
 * summary leads with while a deeper one is known. */
static int is_wrapper(const char *line, size_t len) {
  static const char *const classes[] = {
      "org.apache.flink.runtime.JobException",
      "org.apache.flink.runtime.client.JobExecutionException",
      "org.apache.flink.runtime.client.JobInitializationException",
      "org.apache.flink.runtime.rest.handler.RestHandlerException",
      "org.apache.flink.table.gateway.api.utils.SqlGatewayException",
      "org.apache.flink.table.gateway.service.utils.SqlExecutionException",
      "org.apache.flink.util.FlinkException: Global failure triggered by OperatorCoordinator",
      "java.util.concurrent.CompletionException",
      "java.util.concurrent.ExecutionException",
      "java.lang.reflect.InvocationTargetException",
      "java.lang.reflect.UndeclaredThrowableException",
  };
  static const char *const messages[] = {"Recovery is suppressed by ", "Job execution failed",
                                         "Exception on server side:"};
  for (size_t i = 0; i < sizeof classes / sizeof *classes; i++) {
    size_t l = strlen(classes[i]);
    if (len >= l && strncmp(line, classes[i], l) == 0 && (len == l || line[l] == ':')) return 1;
  }
  for (size_t i = 0; i < sizeof messages / sizeof *messages; i++) {
    size_t l = strlen(messages[i]);
    for (size_t k = 0; k + l <= len; k++)
      if (strncmp(line + k, messages[i], l) == 0) return 1;
  }
  return 0;
}

/* Connector-level context of a failure: an exception a connector throws
 * around the cause, named in a few words ("Writing records to JDBC
 * failed." -> "JDBC write failed"). */
static const struct {
  const char *marker, *context;
} contexts[] = {
    {"Writing records to JDBC failed", "JDBC write failed"},
    {"unable to flush; interrupted", "JDBC write interrupted"},
    {"unable to open JDBC writer", "JDBC sink could not open"},
    {"Reestablish JDBC connection failed", "JDBC reconnect failed"},
    {"reestablish connection failed", "JDBC reconnect failed"},
    {"Close JDBC writer failed", "JDBC sink close failed"},
    {"Execution of JDBC statement failed", "JDBC lookup failed"},
};

/* A connector's frame in a stack trace that gives a failure its context
 * where no exception of the connector's says it: the JDBC sink's flush at a
 * checkpoint (or when its batch is full) throws the driver's exception
 * wrapped in a bare IOException, with no "Writing records to JDBC failed". */
static const struct {
  const char *frame, *context;
} frame_contexts[] = {
    {"org.apache.flink.connector.jdbc.internal.JdbcOutputFormat.flush(", "JDBC write failed"},
    {"org.apache.flink.connector.jdbc.internal.JdbcOutputFormat.attemptFlush(", "JDBC write failed"},
    {"org.apache.flink.connector.jdbc.core.datastream.sink.writer.JdbcWriter.flush(", "JDBC write failed"},
};

static const char *frame_context_of(const char *line, size_t len) {
  if (len < 3 || strncmp(line, "at ", 3) != 0) return NULL;
  for (size_t i = 0; i < sizeof frame_contexts / sizeof *frame_contexts; i++) {
    size_t l = strlen(frame_contexts[i].frame);
    if (len - 3 >= l && strncmp(line + 3, frame_contexts[i].frame, l) == 0) return frame_contexts[i].context;
  }
  return NULL;
}

static const char *context_of(const char *line, size_t len) {
  for (size_t i = 0; i < sizeof contexts / sizeof *contexts; i++) {
    size_t l = strlen(contexts[i].marker);
    for (size_t k = 0; k + l <= len; k++)
      if (strncmp(line + k, contexts[i].marker, l) == 0) return contexts[i].context;
  }
  return NULL;
}

/* An exception of a database driver or of JDBC itself: the cause a
 * database refusal or a broken connection is best said by. */
static int is_driver(const char *line, size_t len) {
  static const char *const prefixes[] = {"com.mysql.", "java.sql.", "org.mariadb.", "org.postgresql."};
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
    size_t l = strlen(prefixes[i]);
    if (len >= l && strncmp(line, prefixes[i], l) == 0) return 1;
  }
  return 0;
}

/* The message of an exception line without its class names
 * ("java.io.IOException: java.sql.BatchUpdateException: Data truncation:
 * ..." -> "Data truncation: ..."); a class alone gives its simple name. */
static const char *message_of(const char *line, size_t *len) {
  const char *p = line, *end = line + *len;
  for (;;) {
    const char *q = p;
    int dots = 0;
    while (q < end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
                       *q == '_' || *q == '$' || *q == '.'))
      dots += *q++ == '.';
    if (!dots || q == p) break;
    if (q == end) { /* a class without a message: its simple name */
      const char *s = q;
      while (s > p && s[-1] != '.') s--;
      *len = (size_t)(end - s);
      return s;
    }
    if (end - q < 2 || q[0] != ':' || q[1] != ' ') break;
    p = q + 2;
  }
  *len = (size_t)(end - p);
  return p;
}

/* One entry of a trace: its line (the first line of its message). */
typedef struct {
  const char *s;
  size_t len;
} tline;

/* The summary being written: at most n bytes, NUL included, "..." where cut. */
typedef struct {
  char *p;
  size_t n, at;
  int cut;
} sumbuf;

static void put_out(sumbuf *b, const char *s, size_t len) {
  if (b->cut) return;
  size_t room = b->n - 1 - b->at;
  if (len > room) {
    len = room;
    b->cut = 1;
  }
  memcpy(b->p + b->at, s, len);
  b->at += len;
  b->p[b->at] = '\0';
  if (b->cut && b->n >= 8) memcpy(b->p + b->n - 4, "...", 4);
}

char *fmh_flink_summarize(const char *text, char *out, size_t n) {
  if (!n) return out;
  out[0] = '\0';
  if (!text) return out;
  /* The cause chain of a Java stack trace is its first exception line and
   * the "Caused by: " lines of least indentation ("\tSuppressed:" blocks
   * and their causes are indented deeper and belong to cleanup, not to the
   * failure). The deepest cause is the root of a job failure, but Java
   * prints an exception met twice as "[CIRCULAR REFERENCE: ...]" (the JDBC
   * driver's BatchUpdateException does that): such an entry and Flink's
   * wrappers ("Recovery is suppressed by NoRestartBackoffTimeStrategy")
   * are skipped. For a SQL statement the deepest
   * org.apache.flink.table.api exception reads best: it says "SQL parse
   * failed. ..." or "Could not find any factory for identifier ..." where
   * the causes below it are Calcite's fragments of the same. Where a
   * database driver's exception is in the chain (else in a Suppressed
   * block), the deepest of them is the cause, followed by a deeper
   * network one ("Communications link failure (Connection reset by
   * peer)"); a connector's exception above the cause gives it its
   * context ("JDBC write failed: ..."). */
  static const char table_api[] = "org.apache.flink.table.api.";
  static const char caused[] = "Caused by: ";
  static const char suppressed[] = "Suppressed: ";
  static const char circular[] = "[CIRCULAR REFERENCE: ";
  size_t min_indent = (size_t)-1;
  for (const char *p = text; *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p), ind = 0;
    while (ind < len && (p[ind] == ' ' || p[ind] == '\t')) ind++;
    if (len - ind >= sizeof caused - 1 && strncmp(p + ind, caused, sizeof caused - 1) == 0 && ind < min_indent)
      min_indent = ind;
    if (!eol) break;
    p = eol + 1;
  }
  /* chain positions count entries of the chain; side_driver is a driver's
   * exception met in a Suppressed block (or below one) */
  tline first = {0}, deepest = {0}, real = {0}, sql = {0}, driver = {0}, side_driver = {0};
  int n_entries = 0, real_at = -1, driver_at = -1, deepest_at = -1;
  const char *context = NULL, *frame_context = NULL;
  int context_at = -1, frame_context_at = -1;
  for (const char *p = text; *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p), ind = 0;
    while (ind < len && (p[ind] == ' ' || p[ind] == '\t')) ind++;
    while (len > ind && (p[len - 1] == '\r' || p[len - 1] == ' ')) len--;
    const char *line = p + ind, *entry = NULL, *side = NULL;
    size_t ll = len - ind;
    if (ind == min_indent && ll >= sizeof caused - 1 && strncmp(line, caused, sizeof caused - 1) == 0) {
      entry = line + sizeof caused - 1;
    } else if (!first.s && ll > 0 && line[0] != '<' && strncmp(line, "at ", 3) != 0 &&
               strncmp(line, "Exception on server side:", 25) != 0 && strncmp(line, "...", 3) != 0 &&
               strncmp(line, "End of exception on server side", 31) != 0) {
      entry = first.s = line;
      first.len = ll;
    } else if (ll >= sizeof caused - 1 && strncmp(line, caused, sizeof caused - 1) == 0) {
      side = line + sizeof caused - 1;
    } else if (ll >= sizeof suppressed - 1 && strncmp(line, suppressed, sizeof suppressed - 1) == 0) {
      side = line + sizeof suppressed - 1;
    }
    if (entry) {
      size_t el = len - (size_t)(entry - p);
      if (!(el >= sizeof circular - 1 && strncmp(entry, circular, sizeof circular - 1) == 0)) {
        tline t = {entry, el};
        const char *cx = context_of(entry, el);
        if (cx) {
          context = cx;
          context_at = n_entries;
        }
        deepest = t;
        deepest_at = n_entries;
        if (!is_wrapper(entry, el) && !cx) {
          real = t;
          real_at = n_entries;
        }
        if (is_driver(entry, el)) {
          driver = t;
          driver_at = n_entries;
        }
        if (strncmp(entry, table_api, sizeof table_api - 1) == 0) sql = t;
        n_entries++;
      }
    } else if (side) {
      size_t el = len - (size_t)(side - p);
      if (is_driver(side, el)) side_driver = (tline){side, el};
    } else if (!frame_context && n_entries > 0) {
      /* a frame of the entry before it (the chain's, or a Suppressed block's) */
      const char *fc = frame_context_of(line, ll);
      if (fc) {
        frame_context = fc;
        frame_context_at = n_entries - 1;
      }
    }
    if (!eol) break;
    p = eol + 1;
  }
  tline main = {0}, tail = {0};
  int main_at = -1;
  if (sql.s) {
    main = sql;
  } else if (driver.s) {
    main = driver;
    main_at = driver_at;
    if (real_at > driver_at && !is_driver(real.s, real.len)) tail = real;
  } else if (side_driver.s) {
    main = side_driver;
    main_at = n_entries; /* below every entry of the chain */
  } else if (real.s) {
    main = real;
    main_at = real_at;
  } else if (deepest.s) {
    main = deepest;
    main_at = deepest_at;
  }
  if (!main.s) return out;
  if (main_at >= 0 && context_at >= main_at) context = NULL;
  /* a frame's context holds for the exception thrown there and those it wraps */
  if (!context && frame_context && !(main_at >= 0 && frame_context_at > main_at)) context = frame_context;
  if (sql.s) context = NULL;
  sumbuf b = {out, n, 0, 0};
  size_t ml = main.len;
  const char *m = main.s;
  if (context) {
    put_out(&b, context, strlen(context));
    put_out(&b, ": ", 2);
    m = message_of(main.s, &ml);
  }
  put_out(&b, m, ml);
  if (tail.s) {
    size_t tl = tail.len;
    const char *t = message_of(tail.s, &tl);
    /* the deeper cause only where it says something the main one does not */
    int said = 0;
    for (size_t k = 0; tl && k + tl <= ml; k++)
      if (strncmp(m + k, t, tl) == 0) said = 1;
    if (!said && tl) {
      put_out(&b, " (", 2);
      put_out(&b, t, tl);
      put_out(&b, ")", 1);
    }
  }
  return out;
}

/* The summary of an error body: of Flink's {"errors":[...]}, the longest
 * entry (the one with the trace); any other body as it is. */
static void summarize_body(const char *body, char *out, size_t n) {
  out[0] = '\0';
  if (!body) return;
  json_t *j = json_loads(body, JSON_DECODE_ANY, NULL);
  const json_t *errs = j ? json_object_get(j, "errors") : NULL;
  if (json_is_array(errs)) {
    const char *best = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e) {
      const char *s = json_string_value(e);
      if (s && (!best || strlen(s) > strlen(best))) best = s;
    }
    fmh_flink_summarize(best, out, n);
  } else {
    fmh_flink_summarize(body, out, n);
  }
  json_decref(j);
}

/* Append Flink's own explanation to an HTTP error's message. */
static void refine(fmh_error *err) {
  if (!err->kind || strcmp(err->kind, "http") != 0 || !err->detail) return;
  char sum[600];
  summarize_body(err->detail, sum, sizeof sum);
  if (!sum[0]) return;
  size_t l = strlen(err->msg);
  snprintf(err->msg + l, sizeof err->msg - l, ": %s", sum);
}

/* Turn an error into a Flink-reported failure with a leading context. */
static void as_flink_error(fmh_error *err, const char *context, const char *summary,
                           const char *detail) {
  char sum[700];
  snprintf(sum, sizeof sum, "%s", summary ? summary : "");
  int status = err->status, retry = err->retryable;
  if (sum[0])
    fmh_error_set(err, "flink", 0, retry, "%s: %s", context, sum);
  else
    fmh_error_set(err, "flink", 0, retry, "%s", context);
  err->status = status;
  if (detail) fmh_error_detail(err, detail, strlen(detail));
}

/* ---- the client -------------------------------------------------------- */

static char *base_url(const char *u) {
  if (!u || !*u) return NULL;
  char *s = xstrdup(u);
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
    refine(err);
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

static json_t *gw_obj(fmh_flink *c, const char *method, char *path, const json_t *body,
                      long timeout_ms, fmh_error *err) {
  return want_obj(fmh_flink_gateway(c, method, path, body, timeout_ms, err), method, path, err);
}

/* A string field the answer must have. */
static int need_str(json_t *j, const char *key, const char *what, char **out, fmh_error *err) {
  const char *s = jstr(j, key);
  if (!s) {
    char *dump = json_dumps(j, JSON_COMPACT);
    fmh_error_set(err, "json", 0, 0, "%s: the answer has no \"%s\"", what, key);
    if (dump) fmh_error_detail(err, dump, strlen(dump));
    free(dump);
    return -1;
  }
  *out = xstrdup(s);
  return 0;
}

/* ---- JobManager -------------------------------------------------------- */

json_t *fmh_flink_overview(fmh_flink *c, fmh_error *err) {
  return rest_obj(c, "GET", xstrdup("/overview"), NULL, 0, err);
}

json_t *fmh_flink_config(fmh_flink *c, fmh_error *err) {
  return rest_obj(c, "GET", xstrdup("/config"), NULL, 0, err);
}

json_t *fmh_flink_jobs(fmh_flink *c, fmh_error *err) {
  return rest_obj(c, "GET", xstrdup("/jobs/overview"), NULL, 0, err);
}

json_t *fmh_flink_taskmanagers(fmh_flink *c, fmh_error *err) {
  return rest_obj(c, "GET", xstrdup("/taskmanagers"), NULL, 0, err);
}

json_t *fmh_flink_job(fmh_flink *c, const char *job, fmh_error *err) {
  return rest_obj(c, "GET", path_of("/jobs/%s", job), NULL, 0, err);
}

static json_t *job_t(fmh_flink *c, const char *job, long timeout_ms, fmh_error *err) {
  return rest_obj(c, "GET", path_of("/jobs/%s", job), NULL, timeout_ms, err);
}

int fmh_flink_job_state(fmh_flink *c, const char *job, char *state, size_t n, fmh_error *err) {
  json_t *j = fmh_flink_job(c, job, err);
  if (!j) return -1;
  const char *s = jstr(j, "state");
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
  char *p = path_of("/jobs/%s/exceptions", job);
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
    if (!jstr(e, "stacktrace")) continue;
    if (!best || json_integer_value(json_object_get(e, "timestamp")) >
                     json_integer_value(json_object_get(best, "timestamp")))
      best = e;
  }
  if (best) {
    if (name) *name = jstr(best, "exceptionName");
    return jstr(best, "stacktrace");
  }
  return jstr(ex, "root-exception");
}

json_t *fmh_flink_job_checkpoints(fmh_flink *c, const char *job, fmh_error *err) {
  return rest_obj(c, "GET", path_of("/jobs/%s/checkpoints", job), NULL, 0, err);
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
    const char *id = jstr(v, "id"), *name = jstr(v, "name");
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
  char *p = with_query(path_of("/jobs/%s/vertices/%s/metrics", job, vid), "get", names, NULL, NULL);
  json_t *j = fmh_flink_rest(c, "GET", p, NULL, 0, err);
  free(p);
  return j;
}

json_t *fmh_flink_subtask_metrics(fmh_flink *c, const char *job, const char *vid,
                                  const char *names, const char *agg, fmh_error *err) {
  char *p = with_query(path_of("/jobs/%s/vertices/%s/subtasks/metrics", job, vid), "get", names,
                       "agg", agg);
  json_t *j = fmh_flink_rest(c, "GET", p, NULL, 0, err);
  free(p);
  return j;
}

json_t *fmh_flink_backpressure(fmh_flink *c, const char *job, const char *vid, fmh_error *err) {
  return rest_obj(c, "GET", path_of("/jobs/%s/vertices/%s/backpressure", job, vid), NULL, 0, err);
}

int fmh_flink_job_cancel(fmh_flink *c, const char *job, fmh_error *err) {
  char *p = path_of("/jobs/%s?mode=cancel", job);
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
  json_t *r = rest_obj(c, "POST", path_of("/jobs/%s/stop", job), body, timeout_ms, err);
  json_decref(body);
  if (!r) return NULL;
  char *trigger = NULL;
  need_str(r, "request-id", "POST /jobs/:id/stop", &trigger, err);
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
  long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 120000);
  int rc = -1, again = 1;
  while (again) {
    again = 0;
    char *trigger = stop_trigger(c, job, dir, drain, remaining(deadline, c->timeout_ms), err);
    if (!trigger) return -1;
    char *path = path_of("/jobs/%s/savepoints/%s", job, trigger);
    free(trigger);
    for (;;) {
      json_t *s = rest_obj(c, "GET", xstrdup(path), NULL, remaining(deadline, c->timeout_ms), err);
      if (!s) break;
      const char *st = jstr(json_object_get(s, "status"), "id");
      if (st && strcmp(st, "COMPLETED") == 0) {
        json_t *op = json_object_get(s, "operation");
        const char *loc = jstr(op, "location");
        json_t *fc = json_object_get(op, "failure-cause");
        const char *trace = jstr(fc, "stack-trace");
        if (loc) {
          *location = xstrdup(loc);
          rc = 0;
        } else if (not_all_running(trace) && now_ms() + c->poll_ms < deadline) {
          again = 1;
        } else {
          char sum[600], ctx[200];
          fmh_flink_summarize(trace ? trace : jstr(fc, "class"), sum, sizeof sum);
          snprintf(ctx, sizeof ctx, "stop-with-savepoint of job %s failed", job);
          err->status = 0;
          err->retryable = not_all_running(trace);
          as_flink_error(err, ctx, sum, trace);
        }
        json_decref(s);
        break;
      }
      char stbuf[32];
      snprintf(stbuf, sizeof stbuf, "%s", st ? st : "?");
      json_decref(s);
      if (now_ms() >= deadline) {
        fmh_error_set(err, "timeout", 0, 1,
                      "the savepoint of job %s did not complete in time (status %s)", job, stbuf);
        break;
      }
      sleep_ms(c->poll_ms);
    }
    free(path);
    if (again) sleep_ms(c->poll_ms);
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
  long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  char want[200];
  join_list(targets, ntargets, want, sizeof want);
  *root = NULL;
  snprintf(state, n, "%s", "");
  for (;;) {
    fmh_error e = {0};
    json_t *j = job_t(c, job, remaining(deadline, c->timeout_ms), &e);
    if (!j) {
      if (!e.retryable || now_ms() >= deadline) {
        fmh_error_clear(err);
        *err = e;
        return -1;
      }
      fmh_error_clear(&e);
    } else {
      const char *s = jstr(j, "state");
      snprintf(state, n, "%s", s ? s : "?");
      json_decref(j);
      if (in_list(state, targets, ntargets)) return 0;
    }
    int failed = in_list(state, terminal, 3);
    int late = now_ms() >= deadline;
    if (failed || late) {
      /* the root exception explains both a failure and a restart loop */
      const char *trace = NULL, *name = NULL;
      fmh_error e2 = {0};
      json_t *ex = fmh_flink_job_exceptions(c, job, 5, &e2);
      fmh_error_clear(&e2);
      if (ex) trace = fmh_flink_root_exception(ex, &name);
      if (trace) *root = xstrdup(trace);
      char sum[600], ctx[400];
      fmh_flink_summarize(trace, sum, sizeof sum);
      if (failed) {
        snprintf(ctx, sizeof ctx, "job %s is %s (waiting for %s)", job, state, want);
        err->status = 0;
        err->retryable = 0;
        as_flink_error(err, ctx, trace ? sum : "no exception recorded", trace);
      } else {
        fmh_error_set(err, "timeout", 0, 1, "job %s did not reach %s within %ld ms (state %s%s%s)",
                      job, want, timeout_ms, state[0] ? state : "unknown",
                      trace ? "; last exception: " : "", trace ? sum : "");
        if (trace) fmh_error_detail(err, trace, strlen(trace));
      }
      json_decref(ex);
      return -1;
    }
    sleep_ms(c->poll_ms);
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
    refine(err);
  }
  fmh_http_response_free(&resp);
  free(url);
  if (rc) return -1;
  const char *fn = jstr(j, "filename");
  const char *st = jstr(j, "status");
  if (!fn || !st || strcmp(st, "success") != 0) {
    char *dump = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    fmh_error_set(err, "flink", 0, 0, "uploading %s did not succeed", path);
    if (dump) fmh_error_detail(err, dump, strlen(dump));
    free(dump);
    json_decref(j);
    return -1;
  }
  const char *slash = strrchr(fn, '/');
  *jarid = xstrdup(slash ? slash + 1 : fn);
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
  json_t *r = rest_obj(c, "POST", path_of("/jars/%s/run", jarid), body, t, err);
  json_decref(body);
  if (!r) return -1;
  char *id = NULL;
  int rc = need_str(r, "jobid", "POST /jars/:jarid/run", &id, err);
  json_decref(r);
  if (rc) return -1;
  snprintf(jobid, 33, "%s", id);
  free(id);
  return 0;
}

/* ---- SQL Gateway ------------------------------------------------------- */

json_t *fmh_flink_gateway_info(fmh_flink *c, fmh_error *err) {
  return gw_obj(c, "GET", xstrdup("/v1/info"), NULL, 0, err);
}

int fmh_flink_session_open(fmh_flink *c, const char *name, const json_t *properties,
                           char **handle, fmh_error *err) {
  *handle = NULL;
  json_t *body = json_object();
  if (name) json_object_set_new(body, "sessionName", json_string(name));
  json_object_set_new(body, "properties",
                      properties ? json_incref((json_t *)properties) : json_object());
  json_t *r = gw_obj(c, "POST", xstrdup("/v2/sessions"), body, 0, err);
  json_decref(body);
  if (!r) return -1;
  int rc = need_str(r, "sessionHandle", "POST /v2/sessions", handle, err);
  json_decref(r);
  return rc;
}

int fmh_flink_session_close(fmh_flink *c, const char *sh, long timeout_ms, fmh_error *err) {
  json_t *r = gw_obj(c, "DELETE", path_of("/v2/sessions/%s", sh), NULL, timeout_ms, err);
  if (!r) return -1;
  json_decref(r);
  return 0;
}

int fmh_flink_session_heartbeat(fmh_flink *c, const char *sh, fmh_error *err) {
  char *p = path_of("/v2/sessions/%s/heartbeat", sh);
  json_t *body = json_object();
  json_t *r = fmh_flink_gateway(c, "POST", p, body, 0, err);
  json_decref(body);
  free(p);
  if (!r) return -1;
  json_decref(r);
  return 0;
}

int fmh_flink_statement(fmh_flink *c, const char *sh, const char *sql, const json_t *exec_config,
                        long exec_timeout_ms, char **op, fmh_error *err) {
  *op = NULL;
  json_t *body = json_pack("{s:s}", "statement", sql);
  if (!body) {
    fmh_error_set(err, "config", 0, 0, "the statement is not valid UTF-8");
    return -1;
  }
  if (exec_config) json_object_set(body, "executionConfig", (json_t *)exec_config);
  if (exec_timeout_ms > 0) json_object_set_new(body, "executionTimeout", json_integer(exec_timeout_ms));
  json_t *r = gw_obj(c, "POST", path_of("/v2/sessions/%s/statements", sh), body, 0, err);
  json_decref(body);
  if (!r) return -1;
  int rc = need_str(r, "operationHandle", "POST /v2/sessions/:sh/statements", op, err);
  json_decref(r);
  return rc;
}

static int op_call(fmh_flink *c, const char *method, const char *sh, const char *op,
                   const char *verb, long timeout_ms, char *status, size_t n, fmh_error *err) {
  char fmt[64];
  snprintf(fmt, sizeof fmt, "/v2/sessions/%%s/operations/%%s/%s", verb);
  /* the format holds only %s segment markers, filled by path_of */
  fmh_buf b = {0};
  const char *segs[2] = {sh, op};
  int k = 0;
  for (const char *p = fmt; *p; p++) {
    if (p[0] == '%' && p[1] == 's' && k < 2) {
      put_segment(&b, segs[k++]);
      p++;
    } else {
      fmh_buf_putn(&b, p, 1);
    }
  }
  json_t *body = strcmp(method, "POST") == 0 ? json_object() : NULL; /* Flink wants {} on POST */
  json_t *r = gw_obj(c, method, b.p, body, timeout_ms, err);
  json_decref(body);
  if (!r) return -1;
  if (status) {
    const char *s = jstr(r, "status");
    snprintf(status, n, "%s", s ? s : "?");
  }
  json_decref(r);
  return 0;
}

int fmh_flink_op_status(fmh_flink *c, const char *sh, const char *op, char *status, size_t n,
                        fmh_error *err) {
  return op_call(c, "GET", sh, op, "status", 0, status, n, err);
}

int fmh_flink_op_cancel(fmh_flink *c, const char *sh, const char *op, fmh_error *err) {
  return op_call(c, "POST", sh, op, "cancel", 0, NULL, 0, err);
}

int fmh_flink_op_close(fmh_flink *c, const char *sh, const char *op, fmh_error *err) {
  return op_call(c, "DELETE", sh, op, "close", 0, NULL, 0, err);
}

static char *result_path(const char *sh, const char *op, const char *row_format) {
  char *p = path_of("/v2/sessions/%s/operations/%s/result/0", sh, op);
  size_t l = strlen(p) + 32;
  char *q = malloc(l);
  if (!q) abort();
  snprintf(q, l, "%s?rowFormat=%s", p, row_format ? row_format : "JSON");
  free(p);
  return q;
}

/* A failed statement: the gateway answers the fetch with its exception. */
static void sql_error(fmh_error *err) {
  if (!err->kind || strcmp(err->kind, "http") != 0 || err->status != 500) return;
  char sum[600];
  summarize_body(err->detail, sum, sizeof sum);
  char *detail = err->detail ? xstrdup(err->detail) : NULL;
  as_flink_error(err, "SQL statement failed", sum, detail);
  free(detail);
}

/* Below this many rows a result page counts as small (see fetch_all). */
#define SMALL_PAGE 500

/* ---- result pages: exact DECIMALs ------------------------------------ */

/* Flink writes a DECIMAL into JSON rows as a JSON number with its trailing
 * zeros stripped (1.5000 -> 1.5, 1000 -> 1E+3). Parsed as a double it would
 * lose digits, and jansson refuses integers beyond 64 bits outright (a
 * DECIMAL(20,0) of 2^64-1). So a page is also parsed from a copy of its
 * text in which such numbers are quoted, and DECIMAL fields are taken from
 * there as exact strings in plain notation with the column's scale: the
 * form MariaDB gives for DECIMAL(p,s) too. */

/* Does this number token need its text kept (fraction/exponent, or an
 * integer outside int64)? */
static int keep_text(const char *t, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (t[i] == '.' || t[i] == 'e' || t[i] == 'E') return 1;
  size_t digits = n - (t[0] == '-');
  if (digits < 19) return 0;
  if (digits > 19) return 1;
  return strncmp(t + (t[0] == '-'), t[0] == '-' ? "9223372036854775808" : "9223372036854775807",
                 19) > 0;
}

/* A copy of a JSON text with those number tokens turned into strings. */
static char *quote_numbers(const char *s, size_t n, size_t *outlen) {
  fmh_buf b = {0};
  size_t i = 0;
  while (i < n) {
    char ch = s[i];
    if (ch == '"') {
      size_t j = i + 1;
      while (j < n && s[j] != '"') j += (s[j] == '\\') ? 2 : 1;
      j = j < n ? j + 1 : n;
      fmh_buf_putn(&b, s + i, j - i);
      i = j;
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
      size_t j = i + 1;
      while (j < n && strchr("0123456789.eE+-", s[j])) j++;
      if (keep_text(s + i, j - i)) {
        fmh_buf_putn(&b, "\"", 1);
        fmh_buf_putn(&b, s + i, j - i);
        fmh_buf_putn(&b, "\"", 1);
      } else {
        fmh_buf_putn(&b, s + i, j - i);
      }
      i = j;
    } else {
      fmh_buf_putn(&b, s + i, 1);
      i++;
    }
  }
  fmh_buf_putn(&b, "", 0);
  *outlen = b.len;
  return b.p;
}

/* A JSON number's text as a plain decimal with exactly `scale` fraction
 * digits (more when the text has more; nothing is rounded). */
static json_t *decimal_plain(const char *t, int scale) {
  int neg = *t == '-';
  if (*t == '-' || *t == '+') t++;
  fmh_buf d = {0};
  long frac = 0, exp10 = 0;
  int seen_dot = 0;
  for (; *t && *t != 'e' && *t != 'E'; t++) {
    if (*t == '.') { seen_dot = 1; continue; }
    fmh_buf_putn(&d, t, 1);
    if (seen_dot) frac++;
  }
  if (*t == 'e' || *t == 'E') exp10 = strtol(t + 1, NULL, 10);
  fmh_buf_putn(&d, "", 0);
  long p = exp10 - frac; /* value = digits * 10^p */
  fmh_buf ip = {0}, fp = {0};
  size_t len = d.len;
  if (p >= 0) {
    fmh_buf_putn(&ip, d.p, len);
    for (long k = 0; k < p && k < 4096; k++) fmh_buf_putn(&ip, "0", 1);
  } else {
    size_t k = (size_t)-p;
    if (len > k) {
      fmh_buf_putn(&ip, d.p, len - k);
      fmh_buf_putn(&fp, d.p + len - k, k);
    } else {
      fmh_buf_putn(&ip, "0", 1);
      for (size_t z = len; z < k && z < 4096; z++) fmh_buf_putn(&fp, "0", 1);
      fmh_buf_putn(&fp, d.p, len);
    }
  }
  fmh_buf_putn(&ip, "", 0);
  fmh_buf_putn(&fp, "", 0);
  while (fp.len < (size_t)scale) fmh_buf_putn(&fp, "0", 1);
  const char *ipart = ip.p;
  while (ipart[0] == '0' && ipart[1]) ipart++;
  int zero = strspn(ipart, "0") == strlen(ipart) && strspn(fp.p, "0") == fp.len;
  fmh_buf out = {0};
  if (neg && !zero) fmh_buf_putn(&out, "-", 1);
  fmh_buf_puts(&out, ipart);
  if (fp.len) {
    fmh_buf_putn(&out, ".", 1);
    fmh_buf_putn(&out, fp.p, fp.len);
  }
  json_t *j = json_stringn(out.p, out.len);
  free(d.p);
  free(ip.p);
  free(fp.p);
  free(out.p);
  return j;
}

/* Replace the DECIMAL fields of page's rows by exact strings from alt (the
 * same page parsed with numbers quoted). When page is NULL (jansson refused
 * it), alt becomes the page and its other quoted numbers turn back into
 * JSON reals where the column is FLOAT or DOUBLE. */
static json_t *exact_decimals(json_t *page, json_t *alt) {
  json_t *res = json_object_get(alt, "results");
  json_t *cols = json_object_get(res, "columns");
  json_t *rows = json_object_get(res, "data");
  json_t *prow = page ? json_object_get(json_object_get(page, "results"), "data") : NULL;
  size_t ci, ri;
  json_t *col, *row;
  json_array_foreach(cols, ci, col) {
    json_t *lt = json_object_get(col, "logicalType");
    const char *type = jstr(lt, "type");
    if (!type) continue;
    int dec = strcmp(type, "DECIMAL") == 0;
    int real = strcmp(type, "FLOAT") == 0 || strcmp(type, "DOUBLE") == 0;
    int scale = (int)json_integer_value(json_object_get(lt, "scale"));
    json_array_foreach(rows, ri, row) {
      json_t *fields = json_object_get(row, "fields");
      json_t *v = json_array_get(fields, ci);
      const char *text = json_string_value(v);
      json_t *nv = NULL;
      if (dec && (json_is_number(v) || text)) {
        char num[64];
        if (!text) {
          snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
          text = num;
        }
        nv = decimal_plain(text, scale);
        json_t *target = page ? json_object_get(json_array_get(prow, ri), "fields") : fields;
        json_array_set_new(target, ci, nv);
      } else if (real && text && !page) {
        json_array_set_new(fields, ci, json_real(strtod(text, NULL)));
      }
    }
  }
  if (page) return page;
  return json_incref(alt);
}

static int has_decimal(const json_t *page) {
  size_t i;
  json_t *col;
  json_array_foreach(json_object_get(json_object_get(page, "results"), "columns"), i, col) {
    const char *type = jstr(json_object_get(col, "logicalType"), "type");
    if (type && strcmp(type, "DECIMAL") == 0) return 1;
  }
  return 0;
}

/* GET one result page of the gateway. */
static json_t *result_page(fmh_flink *c, const char *path, int json_rows, long timeout_ms,
                           fmh_error *err) {
  size_t n = strlen(c->gateway) + strlen(path) + 2;
  char *url = malloc(n);
  if (!url) abort();
  snprintf(url, n, "%s%s", c->gateway, path);
  fmh_http_request req = {.method = "GET", .url = url, .timeout_ms = timeout_ms};
  fmh_http_response resp;
  json_t *page = NULL;
  if (fmh_http_perform(c->http, &req, &resp, err) != 0) {
    refine(err);
  } else {
    page = json_loadb(resp.body, resp.len, JSON_DECODE_ANY, NULL);
    if (json_rows && (!page || has_decimal(page))) {
      size_t qlen;
      char *q = quote_numbers(resp.body, resp.len, &qlen);
      json_t *alt = json_loadb(q, qlen, JSON_DECODE_ANY, NULL);
      free(q);
      if (alt) {
        json_t *fixed = exact_decimals(page, alt);
        json_decref(alt);
        page = fixed;
      }
    }
    if (!page) {
      char what[1200];
      snprintf(what, sizeof what, "GET %s", url);
      page = fmh_http_parse_json(resp.body, resp.len, what, err); /* for its message */
    }
  }
  fmh_http_response_free(&resp);
  free(url);
  return page;
}

int fmh_flink_op_wait(fmh_flink *c, const char *sh, const char *op, long timeout_ms, char *status,
                      size_t n, fmh_error *err) {
  long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  long pause = 20;
  for (;;) {
    if (op_call(c, "GET", sh, op, "status", remaining(deadline, c->timeout_ms), status, n, err))
      return -1;
    if (strcmp(status, "FINISHED") == 0) return 0;
    if (strcmp(status, "ERROR") == 0) {
      char *p = result_path(sh, op, "JSON");
      json_t *r = fmh_flink_gateway(c, "GET", p, NULL, remaining(deadline, c->timeout_ms), err);
      free(p);
      if (r) {
        json_decref(r);
        fmh_error_set(err, "flink", 0, 0, "SQL statement failed (operation %s is ERROR)", op);
      } else {
        sql_error(err);
      }
      return -1;
    }
    if (strcmp(status, "CANCELED") == 0 || strcmp(status, "CLOSED") == 0 ||
        strcmp(status, "TIMEOUT") == 0) {
      fmh_error_set(err, "flink", 0, 0, "operation %s ended %s", op, status);
      return -1;
    }
    if (now_ms() >= deadline) {
      fmh_error_set(err, "timeout", 0, 1, "operation %s is still %s after %ld ms", op, status,
                    timeout_ms);
      return -1;
    }
    sleep_ms(pause);
    pause = pause * 2 > c->poll_ms ? c->poll_ms : pause * 2;
  }
}

json_t *fmh_flink_op_fetch_all(fmh_flink *c, const char *sh, const char *op,
                               const char *row_format, long timeout_ms, long max_rows,
                               fmh_error *err) {
  long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  json_t *out = json_pack("{s:[],s:[],s:[],s:n,s:n,s:b}", "columns", "rows", "kinds", "job_id",
                          "result_kind", "eos", 0);
  json_t *rows = json_object_get(out, "rows"), *kinds = json_object_get(out, "kinds");
  char *path = result_path(sh, op, row_format);
  long pause = 20, small_pause = 2;
  int pages = 0;
  int json_rows = !row_format || strcmp(row_format, "JSON") == 0;
  if (!c->gateway) {
    fmh_error_set(err, "config", 0, 0, "this client has no SQL gateway URL");
    free(path);
    json_decref(out);
    return NULL;
  }
  for (;;) {
    json_t *r = result_page(c, path, json_rows, remaining(deadline, c->timeout_ms), err);
    if (!r) {
      sql_error(err);
      goto fail;
    }
    pages++;
    const char *type = jstr(r, "resultType");
    const char *next = jstr(r, "nextResultUri");
    const char *jid = jstr(r, "jobID");
    const char *kind = jstr(r, "resultKind");
    if (jid) json_object_set_new(out, "job_id", json_string(jid));
    if (kind) json_object_set_new(out, "result_kind", json_string(kind));
    if (!type) {
      char *dump = json_dumps(r, JSON_COMPACT);
      fmh_error_set(err, "json", 0, 0, "GET %s: the answer has no \"resultType\"", path);
      if (dump) fmh_error_detail(err, dump, strlen(dump));
      free(dump);
      json_decref(r);
      goto fail;
    }
    int not_ready = strcmp(type, "NOT_READY") == 0;
    size_t got = json_array_size(json_object_get(json_object_get(r, "results"), "data"));
    if (strcmp(type, "PAYLOAD") == 0 || strcmp(type, "EOS") == 0) {
      json_t *res = json_object_get(r, "results");
      json_t *cols = json_object_get(res, "columns");
      if (json_array_size(cols) && !json_array_size(json_object_get(out, "columns")))
        json_object_set(out, "columns", cols);
      size_t i;
      json_t *row;
      json_array_foreach(json_object_get(res, "data"), i, row) {
        json_t *fields = json_object_get(row, "fields");
        json_array_append(rows, fields ? fields : json_array());
        const char *k = jstr(row, "kind");
        json_array_append_new(kinds, json_string(k ? k : "INSERT"));
      }
    }
    if (strcmp(type, "EOS") == 0 || (!not_ready && !next)) {
      json_object_set_new(out, "eos", json_true());
      json_decref(r);
      break;
    }
    if (max_rows > 0 && (long)json_array_size(rows) >= max_rows) {
      json_decref(r);
      break;
    }
    if (next) {
      free(path);
      path = xstrdup(next);
    }
    json_decref(r);
    if (now_ms() >= deadline) {
      fmh_error_set(err, "timeout", 0, 1,
                    "the result of operation %s was not complete after %ld ms (%zu rows in %d pages)",
                    op, timeout_ms, json_array_size(rows), pages);
      goto fail;
    }
    if (not_ready) {
      sleep_ms(pause);
      pause = pause * 2 > c->poll_ms ? c->poll_ms : pause * 2;
    } else if (got < SMALL_PAGE) {
      /* The gateway answers with the rows it holds at that moment: asked
       * again at once it hands out pages of a row or two, and the calls,
       * not the job, set the pace. A short pause lets a page fill up. */
      sleep_ms(small_pause);
      small_pause = small_pause * 2 > 50 ? 50 : small_pause * 2;
      pause = 20;
    } else {
      small_pause = 2;
      pause = 20;
    }
  }
  free(path);
  return out;
fail:
  free(path);
  json_decref(out);
  return NULL;
}
