/* fmhost.retry: backoff schedules, the retry loop and the classification of
 * MySQL/MariaDB, HTTP and curl errors into retryable or not (see
 * include/fmhost/retry.h for the policy's meaning). */
#include "fmhost/retry.h"

#include <curl/curl.h>
#include <errno.h>
#include <errmsg.h>
#include <math.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void fmh_retry_policy_default(fmh_retry_policy *p) {
  p->max_attempts = 4;
  p->base_ms = 1000;
  p->factor = 2;
  p->cap_ms = 30000;
  p->jitter = 0;
  p->deadline_ms = 0;
  p->seed = 0x6a09e667f3bcc908ULL;
}

int fmh_retry_policy_check(const fmh_retry_policy *p, fmh_error *e) {
  const char *bad = NULL;
  if (p->max_attempts < 1 || p->max_attempts > FMH_RETRY_MAX_ATTEMPTS) bad = "max_attempts must be 1..1000";
  else if (!(p->base_ms >= 0) || !isfinite(p->base_ms)) bad = "base_ms must be >= 0";
  else if (!(p->factor >= 1) || !isfinite(p->factor)) bad = "factor must be >= 1";
  else if (!(p->cap_ms >= 0) || !isfinite(p->cap_ms)) bad = "cap_ms must be >= 0";
  else if (!(p->jitter >= 0 && p->jitter <= 1)) bad = "jitter must be in 0..1";
  else if (!(p->deadline_ms >= 0) || !isfinite(p->deadline_ms)) bad = "deadline_ms must be >= 0";
  if (!bad) return 0;
  fmh_error_set(e, "config", 0, 0, "retry policy: %s", bad);
  return -1;
}

double fmh_retry_nominal_ms(const fmh_retry_policy *p, int k) {
  if (k < 1) return 0;
  /* pow may overflow to inf for large k: the cap (or inf) takes over */
  double d = p->base_ms * pow(p->factor, (double)(k - 1));
  if (p->cap_ms > 0 && !(d <= p->cap_ms)) d = p->cap_ms;
  return d;
}

uint64_t fmh_retry_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double fmh_retry_delay_ms(const fmh_retry_policy *p, int k, uint64_t *rng) {
  double d = fmh_retry_nominal_ms(p, k);
  if (p->jitter <= 0) return d;
  double u = (double)(fmh_retry_rand(rng) >> 11) * 0x1.0p-53; /* [0,1) */
  return d * (1.0 - p->jitter * u);
}

double fmh_retry_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void fmh_retry_sleep_ms(double ms) {
  if (!(ms > 0)) return;
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
  if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void fmh_retry_begin(fmh_retry_state *st, const fmh_retry_policy *p, uint64_t rng_seed,
                     int virtual_time) {
  memset(st, 0, sizeof *st);
  st->p = *p;
  st->rng = rng_seed;
  st->virtual_time = virtual_time;
  st->start_ms = fmh_retry_now_ms();
  st->cause = FMH_RETRY_OK;
}

double fmh_retry_elapsed_ms(const fmh_retry_state *st) {
  double e = fmh_retry_now_ms() - st->start_ms;
  return st->virtual_time ? e + st->slept_ms : e;
}

double fmh_retry_after_failure(fmh_retry_state *st, int retryable) {
  st->attempts++;
  if (!retryable) { st->cause = FMH_RETRY_PERMANENT; return -1; }
  if (st->attempts >= st->p.max_attempts) { st->cause = FMH_RETRY_ATTEMPTS; return -1; }
  double d = fmh_retry_delay_ms(&st->p, st->attempts, &st->rng);
  if (st->p.deadline_ms > 0 && fmh_retry_elapsed_ms(st) + d > st->p.deadline_ms) {
    st->cause = FMH_RETRY_DEADLINE;
    return -1;
  }
  if (st->ndelays < (int)(sizeof st->delays / sizeof *st->delays)) st->delays[st->ndelays++] = d;
  st->slept_ms += d;
  return d;
}

const char *fmh_retry_cause_name(fmh_retry_cause c) {
  switch (c) {
    case FMH_RETRY_OK: return "ok";
    case FMH_RETRY_PERMANENT: return "permanent";
    case FMH_RETRY_ATTEMPTS: return "attempts";
    case FMH_RETRY_DEADLINE: return "deadline";
  }
  return "?";
}

int fmh_retry_run(const fmh_retry_policy *p, uint64_t rng_seed,
                  int (*fn)(void *ctx, int attempt, fmh_error *e), void *ctx, fmh_error *e,
                  fmh_retry_state *st) {
  fmh_retry_state local;
  if (!st) st = &local;
  fmh_retry_begin(st, p, rng_seed, 0);
  for (;;) {
    fmh_error_clear(e);
    if (fn(ctx, st->attempts + 1, e) == 0) {
      st->attempts++;
      st->cause = FMH_RETRY_OK;
      return 0;
    }
    double d = fmh_retry_after_failure(st, e->retryable);
    if (d < 0) break;
    fmh_retry_sleep_ms(d);
  }
  if (st->cause != FMH_RETRY_PERMANENT) {
    char last[sizeof e->msg];
    snprintf(last, sizeof last, "%s", e->msg);
    /* keep kind, code and retryable of the last error: callers further up
     * may still decide to retry the whole operation */
    fmh_error_set(e, e->kind, e->code, e->retryable, "gave up after %d attempts (%s): %s",
                  st->attempts, st->cause == FMH_RETRY_DEADLINE ? "deadline" : "attempts", last);
  }
  return -1;
}

/* --- classification -------------------------------------------------- */

int fmh_retry_classify_mysql(int code, const char **cls) {
  const char *c;
  int r;
  switch (code) {
    case 0: c = "ok"; r = 0; break;
    /* the connection is gone or never came: a new one may work */
    case CR_SOCKET_CREATE_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_IPSOCK_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_HANDSHAKE_ERR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_ABORTING_CONNECTION:
    case ER_NEW_ABORTING_CONNECTION:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
    case 4031: /* MariaDB >= 10.6: disconnected by the server after inactivity */
      c = "connection"; r = 1; break;
    case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS:
    case ER_OUT_OF_RESOURCES:
    case ER_LOCK_TABLE_FULL:
    case 1637: /* too many active concurrent transactions */
      c = "overload"; r = 1; break;
    case ER_LOCK_WAIT_TIMEOUT: c = "lock_timeout"; r = 1; break;
    case ER_LOCK_DEADLOCK:
    case ER_XA_RBDEADLOCK:
    case ER_USER_LOCK_DEADLOCK:
      c = "deadlock"; r = 1; break;
    case ER_QUERY_INTERRUPTED:
    case ER_CONNECTION_KILLED:
      c = "interrupted"; r = 1; break;
    case ER_SERVER_SHUTDOWN: c = "shutdown"; r = 1; break;
    case ER_STATEMENT_TIMEOUT:
    case 3024: /* MySQL: max_execution_time exceeded */
      c = "timeout"; r = 1; break;
    /* the same statement fails the same way next time */
    case ER_DUP_ENTRY:
    case 1586: /* duplicate entry for key (with key name) */
    case 1557: /* foreign duplicate key */
      c = "duplicate"; r = 0; break;
    case 1064: /* parse error */
    case 1149: /* syntax error */
    case 1136: /* column count doesn't match value count */
    case 1058: /* column count doesn't match */
    case 1210: /* incorrect arguments */
    case 1295: /* not supported in prepared statement protocol */
      c = "syntax"; r = 0; break;
    case 1146: /* unknown table */
    case 1054: /* unknown column */
    case 1049: /* unknown database */
    case 1051: /* unknown table (drop) */
    case 1050: /* table exists */
    case 1060: /* duplicate column name */
    case 1091: /* can't drop; check that it exists */
    case 1305: /* function/procedure does not exist */
    case 1109: /* unknown table in multi-table statement */
    case 1052: /* ambiguous column */
      c = "schema"; r = 0; break;
    case 1406: /* data too long */
    case 1264: /* out of range */
    case 1366: /* incorrect value */
    case 1048: /* column cannot be null */
    case 1364: /* field has no default */
    case 1292: /* truncated incorrect value */
    case 1265: /* data truncated */
    case 1690: /* value out of range in expression */
    case 1365: /* division by 0 */
    case 1367: /* illegal value */
    case 1411: /* incorrect value for function */
    case 3140: /* MySQL: invalid JSON */
    case 4038: /* MariaDB: syntax error in JSON */
      c = "data"; r = 0; break;
    case 1451: /* foreign key: parent row referenced */
    case 1452: /* foreign key: no parent row */
    case 1216:
    case 1217:
    case ER_CONSTRAINT_FAILED: /* CHECK constraint */
      c = "constraint"; r = 0; break;
    case 1045: /* access denied for user */
    case 1044: /* access denied to database */
    case 1142: /* table access denied */
    case 1143: /* column access denied */
    case 1227: /* privilege needed */
    case 1251: /* client does not support auth protocol */
    case 1698: /* access denied (plugin) */
    case 1129: /* host blocked after connection errors */
    case 1130: /* host not allowed */
    case CR_AUTH_PLUGIN_CANNOT_LOAD:
    case CR_AUTH_PLUGIN_ERR:
      c = "auth"; r = 0; break;
    case CR_SSL_CONNECTION_ERROR: c = "tls"; r = 0; break;
    case CR_UNKNOWN_HOST:
    case CR_WRONG_HOST_INFO:
    case CR_VERSION_ERROR:
    case CR_CANT_READ_CHARSET:
    case CR_CONN_UNKNOWN_PROTOCOL:
      c = "config"; r = 0; break;
    case ER_NET_PACKET_TOO_LARGE:
    case CR_NET_PACKET_TOO_LARGE:
      c = "too_large"; r = 0; break;
    default:
      c = (code >= 2000 && code < 3000) || (code >= 5000 && code < 6000) ? "client" : "other";
      r = 0;
  }
  if (cls) *cls = c;
  return r;
}

int fmh_retry_classify_http(int status, const char **cls) {
  const char *c;
  int r = 0;
  if (status >= 200 && status < 300) c = "ok";
  else if (status >= 100 && status < 200) c = "informational";
  else if (status >= 300 && status < 400) c = "redirect";
  else if (status == 408) { c = "timeout"; r = 1; }
  else if (status == 429) { c = "overload"; r = 1; }
  else if (status == 401 || status == 403) c = "auth";
  else if (status == 404) c = "not_found";
  else if (status == 409) c = "conflict";
  else if (status >= 400 && status < 500) c = "client_error";
  else if (status == 502 || status == 503 || status == 504) { c = "unavailable"; r = 1; }
  /* 500 is not retried: Flink's REST API answers 500 for many permanent
   * failures (a SQL error, a bad jar, an unknown operation) */
  else if (status >= 500 && status < 600) c = "server_error";
  else c = "invalid";
  if (cls) *cls = c;
  return r;
}

int fmh_retry_classify_curl(int code, const char **cls) {
  const char *c;
  int r = 0;
  switch ((CURLcode)code) {
    case CURLE_OK: c = "ok"; break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN:
      c = "connection"; r = 1; break;
    case CURLE_OPERATION_TIMEDOUT: c = "timeout"; r = 1; break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      c = "dns"; break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      c = "tls"; break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
      c = "usage"; break;
    case CURLE_HTTP_RETURNED_ERROR: c = "http"; break; /* classify the status instead */
    case CURLE_ABORTED_BY_CALLBACK: c = "aborted"; break;
    default: c = "other"; break;
  }
  if (cls) *cls = c;
  return r;
}
