/* fmhost.flink: reading Flink's failures. Summarizes a Java stack trace
 * or a REST error body to its deepest cause and turns an HTTP error into a
 * Flink-reported one with that cause in its message. */
#include "fmhost/flink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flink_int.h"

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
void fmh_flink_summarize_body(const char *body, char *out, size_t n) {
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
void fmh_flink_refine(fmh_error *err) {
  if (!err->kind || strcmp(err->kind, "http") != 0 || !err->detail) return;
  char sum[600];
  fmh_flink_summarize_body(err->detail, sum, sizeof sum);
  if (!sum[0]) return;
  size_t l = strlen(err->msg);
  snprintf(err->msg + l, sizeof err->msg - l, ": %s", sum);
}

/* Turn an error into a Flink-reported failure with a leading context. */
void fmh_flink_as_error(fmh_error *err, const char *context, const char *summary,
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
