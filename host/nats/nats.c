/* fmhost.nats: a JetStream client over libnats (see include/fmhost/nats.h).
 * This file: its errors and the connection with retries. Stream and
 * consumer management and reading back live in nats_streams.c, publishing
 * and the bulk publisher in nats_publish.c. */
#include "fmhost/nats.h"

#ifndef FMH_HAVE_NATS

int fmh_nats_available(void) { return 0; }

#else

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nats_int.h"

int fmh_nats_available(void) { return 1; }

/* ---- errors -------------------------------------------------------------- */

const char *fmh_nats_status_name(int s) {
  switch ((natsStatus)s) {
    case NATS_OK: return "ok";
    case NATS_ERR: return "error";
    case NATS_PROTOCOL_ERROR: return "protocol_error";
    case NATS_IO_ERROR: return "io_error";
    case NATS_LINE_TOO_LONG: return "line_too_long";
    case NATS_CONNECTION_CLOSED: return "connection_closed";
    case NATS_NO_SERVER: return "no_server";
    case NATS_STALE_CONNECTION: return "stale_connection";
    case NATS_SECURE_CONNECTION_WANTED: return "secure_connection_wanted";
    case NATS_SECURE_CONNECTION_REQUIRED: return "secure_connection_required";
    case NATS_CONNECTION_DISCONNECTED: return "disconnected";
    case NATS_CONNECTION_AUTH_FAILED: return "auth_failed";
    case NATS_NOT_PERMITTED: return "not_permitted";
    case NATS_NOT_FOUND: return "not_found";
    case NATS_ADDRESS_MISSING: return "address_missing";
    case NATS_INVALID_SUBJECT: return "invalid_subject";
    case NATS_INVALID_ARG: return "invalid_arg";
    case NATS_INVALID_SUBSCRIPTION: return "invalid_subscription";
    case NATS_INVALID_TIMEOUT: return "invalid_timeout";
    case NATS_ILLEGAL_STATE: return "illegal_state";
    case NATS_SLOW_CONSUMER: return "slow_consumer";
    case NATS_MAX_PAYLOAD: return "max_payload";
    case NATS_MAX_DELIVERED_MSGS: return "max_delivered_msgs";
    case NATS_INSUFFICIENT_BUFFER: return "insufficient_buffer";
    case NATS_NO_MEMORY: return "no_memory";
    case NATS_SYS_ERROR: return "sys_error";
    case NATS_TIMEOUT: return "timeout";
    case NATS_FAILED_TO_INITIALIZE: return "failed_to_initialize";
    case NATS_NOT_INITIALIZED: return "not_initialized";
    case NATS_SSL_ERROR: return "ssl_error";
    case NATS_NO_SERVER_SUPPORT: return "no_server_support";
    case NATS_NOT_YET_CONNECTED: return "not_yet_connected";
    case NATS_DRAINING: return "draining";
    case NATS_INVALID_QUEUE_NAME: return "invalid_queue_name";
    case NATS_NO_RESPONDERS: return "no_responders";
    case NATS_MISMATCH: return "mismatch";
    case NATS_MISSED_HEARTBEAT: return "missed_heartbeat";
  }
  return "unknown";
}

int fmh_nats_status_retryable(int s) {
  switch ((natsStatus)s) {
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS: /* no stream yet, or JetStream still starting */
    case NATS_NO_SERVER:
    case NATS_IO_ERROR:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_NOT_YET_CONNECTED:
      return 1;
    default:
      return 0;
  }
}

/* The texts of the JetStream errors that libnats reports as NATS_NOT_FOUND
 * without a text of its own. */
static const char *js_text(int code) {
  switch (code) {
    case 10059: return "stream not found";
    case 10014: return "consumer not found";
    case 10037: return "no message found";
    case 10058: return "stream name already in use with a different configuration";
    case 10065: return "subjects overlap with an existing stream";
    case 10071: return "wrong last sequence";
    case 10076: return "JetStream not enabled";
    default: return NULL;
  }
}

/* libnats' thread-local last error text when it belongs to status s,
 * without the "(file.c:123): " prefix; "" otherwise. libnats does not
 * reset the text on success, hence the status check. */
static const char *lib_text(natsStatus s) {
  natsStatus ls = NATS_OK;
  const char *t = nats_GetLastError(&ls);
  if (!t || ls != s) return "";
  if (t[0] == '(') {
    const char *p = strstr(t, "): ");
    if (p) t = p + 3;
  }
  return t;
}

/* Fill e for a failed call: what names the operation ("stream ORDERS").
 * Transport-like statuses (timeout, no responders, connection) are kind
 * "nats"; an answer of the JetStream API with an error code is kind
 * "jetstream" with that code. Always returns -1. */
int fmh_nats_fail(fmh_error *e, natsStatus s, jsErrCode jerr, const char *what) {
  const char *st = natsStatus_GetText(s);
  if (s == NATS_NO_RESPONDERS) {
    fmh_error_set(e, "nats", (int)s, 1, "%s: no responders (no stream captures the subject, or JetStream is not "
                  "enabled on the server)", what);
    return -1;
  }
  if (jerr != 0 && !fmh_nats_status_retryable((int)s)) {
    const char *t = lib_text(s);
    if (!*t || s != NATS_ERR) t = js_text((int)jerr) ? js_text((int)jerr) : (*t ? t : st);
    fmh_error_set(e, "jetstream", (int)jerr, 0, "%s: %s (JetStream error %d)", what, t, (int)jerr);
    return -1;
  }
  const char *t = lib_text(s);
  if (*t && strcmp(t, st) != 0)
    fmh_error_set(e, "nats", (int)s, fmh_nats_status_retryable((int)s), "%s: %s: %s", what, st, t);
  else
    fmh_error_set(e, "nats", (int)s, fmh_nats_status_retryable((int)s), "%s: %s", what, st);
  return -1;
}

int fmh_nats_oom(fmh_error *e) {
  fmh_error_set(e, "os", ENOMEM, 0, "nats: out of memory");
  return -1;
}

/* ---- connection ------------------------------------------------------------ */

void fmh_nats_opts_default(fmh_nats_opts *o) {
  memset(o, 0, sizeof *o);
  o->url = "nats://127.0.0.1:4222";
  o->connect_timeout_ms = 2000;
  o->timeout_ms = 5000;
  o->max_pending = 4096;
  fmh_retry_policy_default(&o->connect_retry);
  o->connect_retry.max_attempts = 3;
  o->connect_retry.base_ms = 250;
  o->connect_retry.factor = 2;
  o->connect_retry.cap_ms = 10000;
  o->retry_seed = 0x9e3779b97f4a7c15ULL;
}

/* Every asynchronous ack: count it; libnats hands us the message to free. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
  (void)js;
  fmh_nats *n = closure;
  pthread_mutex_lock(&n->mu);
  fmh_nats_acks *a = &n->acks;
  if (n->inflight > 0) n->inflight--;
  if (n->waiting && n->inflight <= (uint64_t)n->max_pending / 2) pthread_cond_signal(&n->room);
  if (pa) {
    a->acked++;
    if (pa->Duplicate) a->duplicates++;
    if (pa->Sequence) {
      if (!a->first_seq || pa->Sequence < a->first_seq) a->first_seq = pa->Sequence;
      if (pa->Sequence > a->last_seq) a->last_seq = pa->Sequence;
    }
  } else if (pae) {
    a->failed++;
    if (!a->error_status) {
      a->error_status = (int)pae->Err;
      a->error_code = (int)pae->ErrCode;
      snprintf(a->error, sizeof a->error, "%s", pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
    }
  }
  pthread_mutex_unlock(&n->mu);
  natsMsg_Destroy(msg);
}

struct connect_ctx {
  fmh_nats *n;
  const char *url;
};

static int connect_once(void *ctx, int attempt, fmh_error *e) {
  (void)attempt;
  struct connect_ctx *c = ctx;
  natsStatus s = natsConnection_Connect(&c->n->nc, c->n->nopts);
  if (s == NATS_OK) return 0;
  c->n->nc = NULL;
  char what[600];
  snprintf(what, sizeof what, "nats: cannot connect to %s", c->url);
  fmh_nats_fail(e, s, 0, what);
  if (s == NATS_NO_SERVER) /* libnats says only "no server available"; say what that means here */
    fmh_error_set(e, e->kind, e->code, 1, "%s: no server available (nothing accepts connections there, or it "
                  "did not answer within the connect timeout)", what);
  return -1;
}

fmh_nats *fmh_nats_connect(const fmh_nats_opts *o, fmh_error *e) {
  if (fmh_retry_policy_check(&o->connect_retry, e) != 0) return NULL;
  if (!o->url || !*o->url) {
    fmh_error_set(e, "config", 0, 0, "nats: no server URL");
    return NULL;
  }
  if (o->connect_timeout_ms <= 0 || o->timeout_ms <= 0 || o->max_pending <= 0) {
    fmh_error_set(e, "config", 0, 0, "nats: connect_timeout_ms, timeout_ms and max_pending must be positive");
    return NULL;
  }
  fmh_nats *n = calloc(1, sizeof *n);
  if (!n) {
    fmh_nats_oom(e);
    return NULL;
  }
  pthread_mutex_init(&n->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&n->room, &ca);
  pthread_condattr_destroy(&ca);
  n->timeout_ms = o->timeout_ms;
  n->max_pending = o->max_pending;
  natsStatus s = natsOptions_Create(&n->nopts);
  if (s == NATS_OK) s = natsOptions_SetURL(n->nopts, o->url);
  if (s == NATS_OK && o->name) s = natsOptions_SetName(n->nopts, o->name);
  if (s == NATS_OK) s = natsOptions_SetTimeout(n->nopts, o->connect_timeout_ms);
  /* after a server restart the connection comes back by itself; requests
   * fail at once while it is away (a retryable "disconnected") instead of
   * waiting for their timeout */
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(n->nopts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(n->nopts, 250);
  if (s == NATS_OK) s = natsOptions_SetFailRequestsOnDisconnect(n->nopts, true);
  if (s == NATS_OK) s = natsOptions_SetIOBufSize(n->nopts, 256 * 1024);
  if (s != NATS_OK) {
    char what[600];
    snprintf(what, sizeof what, "nats: bad connection options for %s", o->url);
    fmh_nats_fail(e, s, 0, what);
    e->retryable = 0;
    fmh_nats_close(n);
    return NULL;
  }
  struct connect_ctx cc = {n, o->url};
  int rc = o->connect_retry.max_attempts == 1 ? connect_once(&cc, 1, e)
                                              : fmh_retry_run(&o->connect_retry, o->retry_seed, connect_once, &cc, e, NULL);
  if (rc != 0) {
    fmh_nats_close(n);
    return NULL;
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = o->timeout_ms;
  jo.PublishAsync.MaxPending = 0; /* unlimited: async_send keeps the window */
  jo.PublishAsync.AckHandler = on_ack;
  jo.PublishAsync.AckHandlerClosure = n;
  s = natsConnection_JetStream(&n->js, n->nc, &jo);
  if (s != NATS_OK) {
    fmh_nats_fail(e, s, 0, "nats: cannot create a JetStream context");
    fmh_nats_close(n);
    return NULL;
  }
  return n;
}

/* Wait (briefly) until no ack handler runs: after the pending list was
 * taken, libnats still counts a message whose handler is running. */
void fmh_nats_settle_acks(fmh_nats *n) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 5000;
  js_PublishAsyncComplete(n->js, &po);
}

void fmh_nats_close(fmh_nats *n) {
  if (!n) return;
  if (n->js) {
    if (n->async_used) {
      /* unacked asynchronous publishes are given up; then an ack handler
       * already running (libnats counts its message until it returns) is
       * waited for, since it uses n */
      natsMsgList pending = {0};
      if (js_PublishAsyncGetPendingList(&pending, n->js) == NATS_OK) natsMsgList_Destroy(&pending);
      fmh_nats_settle_acks(n);
    }
    jsCtx_Destroy(n->js);
  }
  if (n->nc) natsConnection_Destroy(n->nc);
  if (n->nopts) natsOptions_Destroy(n->nopts);
  pthread_cond_destroy(&n->room);
  pthread_mutex_destroy(&n->mu);
  free(n);
}

const char *fmh_nats_connected_url(fmh_nats *n, char *buf, size_t cap) {
  if (cap == 0) return buf;
  buf[0] = '\0';
  if (natsConnection_GetConnectedUrl(n->nc, buf, cap) != NATS_OK) buf[0] = '\0';
  return buf;
}

int fmh_nats_is_connected(fmh_nats *n) { return natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED; }
int64_t fmh_nats_max_payload(fmh_nats *n) { return natsConnection_GetMaxPayload(n->nc); }
jsCtx *fmh_nats_js(fmh_nats *n) { return n->js; }
natsConnection *fmh_nats_conn(fmh_nats *n) { return n->nc; }

#endif /* FMH_HAVE_NATS */
