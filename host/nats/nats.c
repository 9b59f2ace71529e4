/* fmhost.nats: a JetStream client over libnats (see include/fmhost/nats.h).
 * Connection with retries, stream and consumer management, reading back,
 * synchronous and asynchronous publishing with ack counting, and the bulk
 * publisher that turns generator rows into messages without leaving C. */
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

int fmh_nats_available(void) { return 1; }

struct fmh_nats {
  natsConnection *nc;
  natsOptions *nopts;
  jsCtx *js;
  int timeout_ms, max_pending;
  pthread_mutex_t mu;   /* guards acks: the ack handler runs on libnats' thread */
  fmh_nats_acks acks;   /* since the last fmh_nats_async_wait */
  int async_used;       /* libnats creates its table of pending messages on the first
                         * asynchronous publish; asking it for the list before crashes */
  /* The window of asynchronous publishes is ours, not libnats': its
   * MaxPending wakes the publisher on every ack once the window is full
   * (a context switch per message on a busy machine); here a full window
   * waits until half of it is acked. Guarded by mu. */
  pthread_cond_t room;
  uint64_t inflight;    /* handed to libnats, not yet acked, refused or given up */
  int waiting;
};

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
static int fail(fmh_error *e, natsStatus s, jsErrCode jerr, const char *what) {
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

static int oom(fmh_error *e) {
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
  fail(e, s, 0, what);
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
    oom(e);
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
    fail(e, s, 0, what);
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
    fail(e, s, 0, "nats: cannot create a JetStream context");
    fmh_nats_close(n);
    return NULL;
  }
  return n;
}

/* Wait (briefly) until no ack handler runs: after the pending list was
 * taken, libnats still counts a message whose handler is running. */
static void settle_acks(fmh_nats *n) {
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
      settle_acks(n);
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

/* ---- streams and consumers -------------------------------------------------- */

static void name_what(char *what, size_t cap, const char *kind, const char *name) {
  snprintf(what, cap, "nats: %s %s", kind, name ? name : "(none)");
}

int fmh_nats_stream_add(fmh_nats *n, jsStreamConfig *cfg, int update, jsStreamInfo **out, fmh_error *e) {
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus s = update ? js_UpdateStream(&si, n->js, cfg, NULL, &jerr) : js_AddStream(&si, n->js, cfg, NULL, &jerr);
  if (s != NATS_OK) {
    char what[400];
    snprintf(what, sizeof what, "nats: %s stream %s", update ? "updating" : "adding", cfg->Name ? cfg->Name : "(none)");
    return fail(e, s, jerr, what);
  }
  if (out) *out = si;
  else jsStreamInfo_Destroy(si);
  return 0;
}

int fmh_nats_stream_info(fmh_nats *n, const char *stream, const char *subjects_filter, jsStreamInfo **out,
                         fmh_error *e) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Info.SubjectsFilter = subjects_filter;
  jsErrCode jerr = 0;
  natsStatus s = js_GetStreamInfo(out, n->js, stream, &o, &jerr);
  if (s != NATS_OK) {
    char what[400];
    name_what(what, sizeof what, "stream", stream);
    return fail(e, s, jerr, what);
  }
  return 0;
}

int fmh_nats_stream_purge(fmh_nats *n, const char *stream, const char *subject, uint64_t seq, uint64_t keep,
                          fmh_error *e) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Subject = subject;
  o.Stream.Purge.Sequence = seq;
  o.Stream.Purge.Keep = keep;
  jsErrCode jerr = 0;
  natsStatus s = js_PurgeStream(n->js, stream, &o, &jerr);
  if (s != NATS_OK) {
    char what[400];
    snprintf(what, sizeof what, "nats: purging stream %s", stream ? stream : "(none)");
    return fail(e, s, jerr, what);
  }
  return 0;
}

int fmh_nats_stream_delete(fmh_nats *n, const char *stream, fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_DeleteStream(n->js, stream, NULL, &jerr);
  if (s != NATS_OK) {
    char what[400];
    snprintf(what, sizeof what, "nats: deleting stream %s", stream ? stream : "(none)");
    return fail(e, s, jerr, what);
  }
  return 0;
}

int fmh_nats_stream_names(fmh_nats *n, jsStreamNamesList **out, fmh_error *e) {
  jsErrCode jerr = 0;
  *out = NULL;
  natsStatus s = js_StreamNames(out, n->js, NULL, &jerr);
  if (s == NATS_NOT_FOUND && jerr == 0) return 0; /* no stream at all */
  if (s != NATS_OK) return fail(e, s, jerr, "nats: listing streams");
  return 0;
}

int fmh_nats_consumer_add(fmh_nats *n, const char *stream, jsConsumerConfig *cfg, jsConsumerInfo **out,
                          fmh_error *e) {
  jsConsumerInfo *ci = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_AddConsumer(&ci, n->js, stream, cfg, NULL, &jerr);
  if (s != NATS_OK) {
    char what[400];
    snprintf(what, sizeof what, "nats: adding consumer %s to stream %s",
             cfg->Durable ? cfg->Durable : (cfg->Name ? cfg->Name : "(ephemeral)"), stream ? stream : "(none)");
    return fail(e, s, jerr, what);
  }
  if (out) *out = ci;
  else jsConsumerInfo_Destroy(ci);
  return 0;
}

int fmh_nats_consumer_info(fmh_nats *n, const char *stream, const char *consumer, jsConsumerInfo **out,
                           fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_GetConsumerInfo(out, n->js, stream, consumer, NULL, &jerr);
  if (s != NATS_OK) {
    char what[400];
    snprintf(what, sizeof what, "nats: consumer %s of stream %s", consumer ? consumer : "(none)",
             stream ? stream : "(none)");
    return fail(e, s, jerr, what);
  }
  return 0;
}

int fmh_nats_consumer_delete(fmh_nats *n, const char *stream, const char *consumer, fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_DeleteConsumer(n->js, stream, consumer, NULL, &jerr);
  if (s != NATS_OK) {
    char what[400];
    snprintf(what, sizeof what, "nats: deleting consumer %s of stream %s", consumer ? consumer : "(none)",
             stream ? stream : "(none)");
    return fail(e, s, jerr, what);
  }
  return 0;
}

/* ---- reading back ----------------------------------------------------------- */

int fmh_nats_get_msg(fmh_nats *n, const char *stream, uint64_t seq, natsMsg **out, fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_GetMsg(out, n->js, stream, seq, NULL, &jerr);
  if (s != NATS_OK) {
    char what[400];
    snprintf(what, sizeof what, "nats: message %" PRIu64 " of stream %s", seq, stream ? stream : "(none)");
    return fail(e, s, jerr, what);
  }
  return 0;
}

int fmh_nats_last_msg(fmh_nats *n, const char *stream, const char *subject, natsMsg **out, fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_GetLastMsg(out, n->js, stream, subject, NULL, &jerr);
  if (s != NATS_OK) {
    char what[600];
    snprintf(what, sizeof what, "nats: last message on %s in stream %s", subject ? subject : "(none)",
             stream ? stream : "(none)");
    return fail(e, s, jerr, what);
  }
  return 0;
}

/* Move the messages of src to the end of dst (both libnats lists). */
static int list_append(natsMsgList *dst, natsMsgList *src) {
  if (src->Count == 0) return 0;
  natsMsg **m = realloc(dst->Msgs, (size_t)(dst->Count + src->Count) * sizeof *m);
  if (!m) return -1;
  memcpy(m + dst->Count, src->Msgs, (size_t)src->Count * sizeof *m);
  dst->Msgs = m;
  dst->Count += src->Count;
  free(src->Msgs); /* the messages now belong to dst */
  src->Msgs = NULL;
  src->Count = 0;
  return 0;
}

int fmh_nats_fetch(fmh_nats *n, const char *stream, const char *consumer, int batch, int64_t timeout_ms, int ack,
                   natsMsgList *out, fmh_error *e) {
  memset(out, 0, sizeof *out);
  char what[400];
  snprintf(what, sizeof what, "nats: fetching from consumer %s of stream %s", consumer ? consumer : "(none)",
           stream ? stream : "(none)");
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream;
  so.Consumer = consumer;
  so.ManualAck = true;
  natsSubscription *sub = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_PullSubscribe(&sub, n->js, NULL, NULL, NULL, &so, &jerr);
  if (s != NATS_OK) return fail(e, s, jerr, what);
  s = natsSubscription_Fetch(out, sub, batch, timeout_ms, &jerr);
  if (s == NATS_TIMEOUT && out->Count == 0) s = NATS_OK; /* nothing to fetch */
  if (s == NATS_OK && ack) {
    for (int i = 0; s == NATS_OK && i < out->Count; i++)
      s = i + 1 < out->Count ? natsMsg_Ack(out->Msgs[i], NULL) : natsMsg_AckSync(out->Msgs[i], NULL, &jerr);
  }
  /* bound to an existing consumer: destroying the subscription leaves it */
  natsSubscription_Destroy(sub);
  if (s != NATS_OK) {
    natsMsgList_Destroy(out);
    memset(out, 0, sizeof *out);
    return fail(e, s, jerr, what);
  }
  return 0;
}

int fmh_nats_read(fmh_nats *n, const char *stream, uint64_t start_seq, int count, const char *subject,
                  int64_t timeout_ms, natsMsgList *out, fmh_error *e) {
  memset(out, 0, sizeof *out);
  if (count <= 0) return 0;
  char what[400];
  snprintf(what, sizeof what, "nats: reading stream %s", stream ? stream : "(none)");
  /* an ephemeral pull consumer of our own, bound by name: it needs no
   * subject, takes the filter as given, and the server drops it after a
   * minute should we vanish before deleting it */
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.AckPolicy = js_AckNone;
  cc.DeliverPolicy = js_DeliverByStartSequence;
  cc.OptStartSeq = start_seq ? start_seq : 1;
  cc.FilterSubject = subject;
  cc.InactiveThreshold = (int64_t)60 * 1000000000;
  jsConsumerInfo *ci = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_AddConsumer(&ci, n->js, stream, &cc, NULL, &jerr);
  if (s != NATS_OK) return fail(e, s, jerr, what);
  uint64_t want = ci->NumPending < (uint64_t)count ? ci->NumPending : (uint64_t)count;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream;
  so.Consumer = ci->Name;
  natsSubscription *sub = NULL;
  if (want > 0) s = js_PullSubscribe(&sub, n->js, NULL, NULL, NULL, &so, &jerr);
  double deadline = fmh_retry_now_ms() + (double)timeout_ms;
  while (s == NATS_OK && (uint64_t)out->Count < want) {
    double left = deadline - fmh_retry_now_ms();
    if (left < 1) {
      s = NATS_TIMEOUT;
      break;
    }
    uint64_t need = want - (uint64_t)out->Count;
    natsMsgList part = {0};
    s = natsSubscription_Fetch(&part, sub, need > 1000 ? 1000 : (int)need, (int64_t)left, &jerr);
    if (s == NATS_OK || part.Count > 0) {
      s = NATS_OK;
      if (list_append(out, &part) != 0) {
        natsMsgList_Destroy(&part);
        s = NATS_NO_MEMORY;
      }
    }
  }
  if (sub) natsSubscription_Destroy(sub);
  jsErrCode derr = 0;
  js_DeleteConsumer(n->js, stream, ci->Name, NULL, &derr);
  jsConsumerInfo_Destroy(ci);
  if (s != NATS_OK) {
    natsMsgList_Destroy(out);
    memset(out, 0, sizeof *out);
    return fail(e, s, jerr, what);
  }
  return 0;
}

/* ---- publishing --------------------------------------------------------------- */

static void pub_opts(const fmh_nats_pub *o, jsPubOptions *po) {
  jsPubOptions_Init(po);
  if (!o) return;
  po->MsgId = o->msg_id;
  po->ExpectStream = o->expect_stream;
  po->ExpectLastSeq = o->expect_last_seq;
}

/* A message with the caller's headers, or NULL (status in *s). */
static natsMsg *new_msg(const char *subject, const void *data, size_t len, const fmh_nats_pub *o, natsStatus *s) {
  natsMsg *m = NULL;
  *s = natsMsg_Create(&m, subject, NULL, (const char *)data, (int)len);
  for (size_t i = 0; *s == NATS_OK && o && i < o->nheaders; i++)
    *s = natsMsgHeader_Add(m, o->headers[i].key, o->headers[i].value);
  if (*s != NATS_OK) {
    natsMsg_Destroy(m);
    return NULL;
  }
  return m;
}

static int too_big(fmh_nats *n, const char *subject, size_t len, fmh_error *e) {
  int64_t max = natsConnection_GetMaxPayload(n->nc);
  if (len > (size_t)INT32_MAX || (max > 0 && (int64_t)len > max)) {
    fmh_error_set(e, "nats", NATS_MAX_PAYLOAD, 0,
                  "nats: publishing to %s: the message has %zu bytes, more than the server's max_payload (%" PRId64 ")",
                  subject, len, max);
    return 1;
  }
  return 0;
}

int fmh_nats_publish(fmh_nats *n, const char *subject, const void *data, size_t len, const fmh_nats_pub *o,
                     uint64_t *seq, int *duplicate, char *stream, size_t stream_cap, fmh_error *e) {
  char what[400];
  snprintf(what, sizeof what, "nats: publishing to %s", subject ? subject : "(none)");
  if (too_big(n, subject, len, e)) return -1;
  natsStatus s;
  natsMsg *m = new_msg(subject, data, len, o, &s);
  if (!m) return fail(e, s, 0, what);
  jsPubOptions po;
  pub_opts(o, &po);
  po.MaxWait = o && o->timeout_ms > 0 ? o->timeout_ms : n->timeout_ms;
  jsPubAck *pa = NULL;
  jsErrCode jerr = 0;
  s = js_PublishMsg(&pa, n->js, m, &po, &jerr);
  natsMsg_Destroy(m);
  if (s != NATS_OK) return fail(e, s, jerr, what);
  if (seq) *seq = pa->Sequence;
  if (duplicate) *duplicate = pa->Duplicate;
  if (stream && stream_cap) snprintf(stream, stream_cap, "%s", pa->Stream ? pa->Stream : "");
  jsPubAck_Destroy(pa);
  return 0;
}

/* Hand m to libnats asynchronously. With max_pending in flight, first wait
 * until half of them are acked, up to deadline_ms (monotonic); NATS_TIMEOUT
 * when they are not. m is taken in every case. */
static natsStatus async_send(fmh_nats *n, natsMsg *m, jsPubOptions *po, double deadline_ms) {
  n->async_used = 1;
  pthread_mutex_lock(&n->mu);
  if (n->inflight >= (uint64_t)n->max_pending) {
    uint64_t low = (uint64_t)n->max_pending / 2;
    n->waiting++;
    while (n->inflight > low) {
      double left = deadline_ms - fmh_retry_now_ms();
      if (left <= 0) break;
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      long long ns = (long long)ts.tv_nsec + (long long)(left * 1e6);
      ts.tv_sec += (time_t)(ns / 1000000000LL);
      ts.tv_nsec = (long)(ns % 1000000000LL);
      pthread_cond_timedwait(&n->room, &n->mu, &ts);
    }
    n->waiting--;
    if (n->inflight >= (uint64_t)n->max_pending) {
      pthread_mutex_unlock(&n->mu);
      natsMsg_Destroy(m);
      return NATS_TIMEOUT;
    }
  }
  n->inflight++; /* before the publish: its ack may come before we get the lock back */
  pthread_mutex_unlock(&n->mu);
  natsStatus s = js_PublishMsgAsync(n->js, &m, po);
  natsMsg_Destroy(m); /* NULL when libnats took it */
  pthread_mutex_lock(&n->mu);
  if (s == NATS_OK) n->acks.published++;
  else if (n->inflight > 0) n->inflight--;
  pthread_mutex_unlock(&n->mu);
  return s;
}

int fmh_nats_publish_async(fmh_nats *n, const char *subject, const void *data, size_t len, const fmh_nats_pub *o,
                           fmh_error *e) {
  char what[400];
  snprintf(what, sizeof what, "nats: publishing to %s", subject ? subject : "(none)");
  if (too_big(n, subject, len, e)) return -1;
  natsStatus s;
  natsMsg *m = new_msg(subject, data, len, o, &s);
  if (!m) return fail(e, s, 0, what);
  jsPubOptions po;
  pub_opts(o, &po);
  s = async_send(n, m, &po, fmh_retry_now_ms() + n->timeout_ms);
  if (s != NATS_OK) {
    fail(e, s, 0, what);
    if (s == NATS_TIMEOUT)
      fmh_error_set(e, e->kind, e->code, 1, "%s: %d asynchronous publishes still unacknowledged after %d ms", what,
                    n->max_pending, n->timeout_ms);
    return -1;
  }
  return 0;
}

/* a += b, keeping a's first error unless it has none */
static void acks_add(fmh_nats_acks *a, const fmh_nats_acks *b) {
  a->published += b->published;
  a->acked += b->acked;
  a->duplicates += b->duplicates;
  a->failed += b->failed;
  a->unacked += b->unacked;
  if (b->first_seq && (!a->first_seq || b->first_seq < a->first_seq)) a->first_seq = b->first_seq;
  if (b->last_seq > a->last_seq) a->last_seq = b->last_seq;
  if (!a->error_status && b->error_status) {
    a->error_status = b->error_status;
    a->error_code = b->error_code;
    memcpy(a->error, b->error, sizeof a->error);
  }
}

int fmh_nats_async_wait(fmh_nats *n, int64_t timeout_ms, fmh_nats_acks *out, fmh_error *e) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = timeout_ms > 0 ? timeout_ms : 1;
  natsStatus s = js_PublishAsyncComplete(n->js, &po);
  uint64_t dropped = 0;
  if (s != NATS_OK && n->async_used) {
    natsMsgList pending = {0};
    if (js_PublishAsyncGetPendingList(&pending, n->js) == NATS_OK) {
      dropped = (uint64_t)pending.Count;
      natsMsgList_Destroy(&pending);
    }
    settle_acks(n); /* so that the counts below are final */
  }
  pthread_mutex_lock(&n->mu);
  n->acks.unacked += dropped;
  n->inflight = n->inflight > dropped ? n->inflight - dropped : 0;
  *out = n->acks;
  memset(&n->acks, 0, sizeof n->acks);
  pthread_mutex_unlock(&n->mu);
  if (s != NATS_OK) {
    if (s == NATS_TIMEOUT) {
      fmh_error_set(e, "nats", (int)s, 1, "nats: %" PRIu64 " of %" PRIu64 " asynchronous publishes were not "
                    "acknowledged within %" PRId64 " ms", out->unacked, out->published, timeout_ms);
      return -1;
    }
    return fail(e, s, 0, "nats: waiting for asynchronous publishes");
  }
  return 0;
}

/* ---- bulk publish from a generator ------------------------------------------------ */

size_t fmh_nats_key_slot(const char *key, size_t len, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)key[i];
    h *= 0x100000001b3ULL;
  }
  return n ? (size_t)(h % n) : 0;
}

static int put(fmh_buf *b, const char *s, size_t n) {
  if (n == 0) return 0;
  if (fmh_buf_reserve(b, n) != 0) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

/* Append bytes, writing %XX for what a header value or an id should not
 * hold. */
static int put_safe(fmh_buf *b, const char *s, size_t n, int escape_comma) {
  static const char hx[] = "0123456789ABCDEF";
  if (fmh_buf_reserve(b, 3 * n) != 0) return -1;
  char *o = b->p + b->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < '!' || c > '~' || c == '%' || (escape_comma && c == ',')) {
      *o++ = '%';
      *o++ = hx[c >> 4];
      *o++ = hx[c & 15];
    } else {
      *o++ = (char)c;
    }
  }
  b->len = (size_t)(o - b->p);
  return 0;
}

/* The key text of the values v (a generated row). */
static int key_of_values(const fmh_nats_bulk_opts *o, const fmh_gen_value *v, fmh_buf *key, fmh_buf *tmp) {
  int several = o->nkey_cols > 1;
  for (size_t k = 0; k < o->nkey_cols; k++) {
    const fmh_gen_value *x = &v[o->key_cols[k]];
    if (k && put(key, ",", 1) != 0) return -1;
    tmp->len = 0;
    switch (x->kind) {
      case FMH_GV_TEXT: case FMH_GV_DECIMAL: case FMH_GV_JSON: case FMH_GV_BYTES:
        if (put_safe(key, x->s, x->len, several) != 0) return -1;
        continue;
      default: {
        fmh_gen_out csv = {0};
        csv.format = FMH_GEN_CSV;
        if (fmh_gen_format_value(o->gen, o->key_cols[k], x, &csv, tmp) != 0) return -1;
        if (put_safe(key, tmp->p, tmp->len, several) != 0) return -1;
      }
    }
  }
  return 0;
}

static int row_index_key(int64_t row, fmh_buf *key) {
  char num[32];
  int len = snprintf(num, sizeof num, "%" PRId64, row);
  return put(key, num, (size_t)len);
}

/* The plain flags that generate only the key columns in full: every other
 * column takes its plain value, which costs next to nothing, and a cell
 * does not depend on the other columns of its row (the generator draws
 * each from its own stream), so the key is the row's. A key column keeps
 * the caller's flag. malloc'ed; NULL when out of memory. */
static unsigned char *key_only_flags(const fmh_nats_bulk_opts *o, size_t nc) {
  unsigned char *f = malloc(nc ? nc : 1);
  if (!f) return NULL;
  memset(f, 1, nc);
  for (size_t k = 0; k < o->nkey_cols; k++) f[o->key_cols[k]] = o->out.plain ? o->out.plain[o->key_cols[k]] : 0;
  return f;
}

int fmh_nats_row_key(const fmh_nats_bulk_opts *o, fmh_gen_cursor *cur, int64_t row, fmh_buf *key,
                     fmh_error *e) {
  key->len = 0;
  if (o->nkey_cols == 0) {
    if (row_index_key(row, key) != 0) return oom(e);
    return 0;
  }
  size_t nc = fmh_gen_ncols(o->gen);
  fmh_gen_value *v = malloc(nc * sizeof *v);
  unsigned char *flags = key_only_flags(o, nc);
  fmh_buf tmp = {0};
  int rc = 0;
  if (!v || !flags) rc = oom(e);
  else if (fmh_gen_row(cur, row, flags, v, e) != 0) rc = -1;
  else if (key_of_values(o, v, key, &tmp) != 0) rc = oom(e);
  fmh_buf_free(&tmp);
  free(flags);
  free(v);
  return rc;
}

/* Rows are formatted CHUNK at a time (one call of the writer), then cut
 * at the newlines: a JSON line or a CSV line holds no raw newline (the
 * writers escape it), which the count of lines confirms. */
#define CHUNK 256

typedef struct bulk_state {
  const fmh_nats_bulk_opts *o;
  fmh_gen_cursor *cur;
  fmh_gen_value *vals;
  unsigned char *key_flags; /* key_only_flags */
  fmh_buf text, key, id, tmp;
  size_t starts[CHUNK + 1];
} bulk_state;

/* Format rows [from, from+n) into st->text; st->starts[k] is where row
 * from+k begins, starts[n] the end (newlines excluded by the caller). */
static int format_chunk(bulk_state *st, int64_t from, int n, fmh_error *e) {
  st->text.len = 0;
  if (fmh_gen_append(st->cur, &st->o->out, from, from + n, &st->text, e) != 0) return -1;
  int k = 0;
  size_t pos = 0;
  st->starts[0] = 0;
  while (pos < st->text.len && k < n) {
    const char *nl = memchr(st->text.p + pos, '\n', st->text.len - pos);
    if (!nl) break;
    pos = (size_t)(nl - st->text.p) + 1;
    st->starts[++k] = pos;
  }
  if (k != n || pos != st->text.len) {
    /* a raw newline inside a row: format row by row instead */
    st->text.len = 0;
    for (int i = 0; i < n; i++) {
      st->starts[i] = st->text.len;
      if (fmh_gen_append(st->cur, &st->o->out, from + i, from + i + 1, &st->text, e) != 0) return -1;
    }
    st->starts[n] = st->text.len;
  }
  return 0;
}

int fmh_nats_bulk(fmh_nats *n, const fmh_nats_bulk_opts *o, fmh_nats_bulk_result *r, fmh_error *e) {
  uint64_t *per_subject = r->per_subject;
  memset(r, 0, sizeof *r);
  r->per_subject = per_subject;
  if (per_subject) memset(per_subject, 0, o->nsubjects * sizeof *per_subject);
  if (!o->gen || o->nsubjects == 0 || o->first < 0 || o->rows < 0 ||
      (o->out.format != FMH_GEN_JSONL && o->out.format != FMH_GEN_CSV)) {
    fmh_error_set(e, "usage", 0, 0, "nats bulk: needs a generator, at least one subject, rows >= 0 and the "
                  "format json or csv");
    return -1;
  }
  size_t nc = fmh_gen_ncols(o->gen);
  for (size_t k = 0; k < o->nkey_cols; k++) {
    if (o->key_cols[k] >= nc) {
      fmh_error_set(e, "usage", 0, 0, "nats bulk: key column %zu does not exist", o->key_cols[k]);
      return -1;
    }
  }
  int64_t end = o->first + o->rows;
  if (end > fmh_gen_row_limit(o->gen)) {
    fmh_error_set(e, "usage", 0, 0, "nats bulk: rows up to %" PRId64 " asked for, but the generator's unique "
                  "columns serve only %" PRId64, end, fmh_gen_row_limit(o->gen));
    return -1;
  }
  /* earlier asynchronous publishes first, so that their acks do not count
   * here; their counts are kept for the caller's next fmh_nats_async_wait */
  fmh_nats_acks before;
  memset(&before, 0, sizeof before);
  if (!o->sync) {
    fmh_error berr = {0};
    fmh_nats_async_wait(n, n->timeout_ms, &before, &berr);
    fmh_error_clear(&berr);
  }
  bulk_state st;
  memset(&st, 0, sizeof st);
  st.o = o;
  st.cur = fmh_gen_cursor_new(o->gen);
  st.vals = malloc((nc ? nc : 1) * sizeof *st.vals);
  st.key_flags = key_only_flags(o, nc);
  if (!st.cur || !st.vals || !st.key_flags) {
    fmh_gen_cursor_free(st.cur);
    free(st.vals);
    free(st.key_flags);
    return oom(e);
  }
  const char *prefix = o->id_prefix ? o->id_prefix : "";
  size_t plen = strlen(prefix);
  int64_t max_payload = natsConnection_GetMaxPayload(n->nc);
  double t0 = fmh_retry_now_ms();
  int64_t wait_ms = o->timeout_ms > 0 ? o->timeout_ms : n->timeout_ms;
  int rc = 0;
  natsStatus s = NATS_OK;
  jsErrCode jerr = 0;
  const char *subject = NULL;
  fmh_nats_acks sync_acks;
  memset(&sync_acks, 0, sizeof sync_acks);
  for (int64_t base = o->first; base < end && rc == 0; base += CHUNK) {
    int cn = end - base < CHUNK ? (int)(end - base) : CHUNK;
    if (format_chunk(&st, base, cn, e) != 0) { rc = -1; break; }
    for (int i = 0; i < cn; i++) {
      int64_t row = base + i;
      const char *data = st.text.p + st.starts[i];
      size_t len = st.starts[i + 1] - st.starts[i];
      if (len && data[len - 1] == '\n') len--;
      if (max_payload > 0 && (int64_t)len > max_payload) {
        fmh_error_set(e, "nats", NATS_MAX_PAYLOAD, 0, "nats bulk: row %" PRId64 " makes a message of %zu bytes, more "
                      "than the server's max_payload (%" PRId64 ")", row, len, max_payload);
        rc = -1;
        break;
      }
      /* the key: subject and message id */
      size_t slot;
      st.key.len = 0;
      if (o->nkey_cols == 0) {
        if (row_index_key(row, &st.key) != 0) { rc = oom(e); break; }
      } else {
        if (fmh_gen_row(st.cur, row, st.key_flags, st.vals, e) != 0) { rc = -1; break; }
        if (key_of_values(o, st.vals, &st.key, &st.tmp) != 0) { rc = oom(e); break; }
      }
      if (o->spread == FMH_NATS_ROUND_ROBIN) slot = (size_t)((row - o->first) % (int64_t)o->nsubjects);
      else slot = fmh_nats_key_slot(st.key.p, st.key.len, o->nsubjects);
      subject = o->subjects[slot];
      jsPubOptions po;
      jsPubOptions_Init(&po);
      if (o->msg_ids) {
        st.id.len = 0;
        if (put(&st.id, prefix, plen) != 0 || put(&st.id, st.key.p, st.key.len) != 0 || put(&st.id, "", 1) != 0) {
          rc = oom(e);
          break;
        }
        po.MsgId = st.id.p;
      }
      natsMsg *m = NULL;
      s = natsMsg_Create(&m, subject, NULL, data, (int)len);
      if (s != NATS_OK) break;
      if (o->sync) {
        jsPubAck *pa = NULL;
        po.MaxWait = wait_ms;
        s = js_PublishMsg(&pa, n->js, m, &po, &jerr);
        natsMsg_Destroy(m);
        if (s != NATS_OK) break;
        sync_acks.published++;
        sync_acks.acked++;
        if (pa->Duplicate) sync_acks.duplicates++;
        if (!sync_acks.first_seq || pa->Sequence < sync_acks.first_seq) sync_acks.first_seq = pa->Sequence;
        if (pa->Sequence > sync_acks.last_seq) sync_acks.last_seq = pa->Sequence;
        jsPubAck_Destroy(pa);
      } else {
        s = async_send(n, m, &po, fmh_retry_now_ms() + (double)wait_ms);
        if (s != NATS_OK) break;
      }
      r->bytes += len;
      if (per_subject) per_subject[slot]++;
    }
    if (s != NATS_OK) break;
  }
  fmh_gen_cursor_free(st.cur);
  free(st.vals);
  free(st.key_flags);
  fmh_buf_free(&st.text);
  fmh_buf_free(&st.key);
  fmh_buf_free(&st.id);
  fmh_buf_free(&st.tmp);
  if (s != NATS_OK && rc == 0) {
    char what[400];
    snprintf(what, sizeof what, "nats bulk: publishing to %s", subject ? subject : "(none)");
    rc = fail(e, s, jerr, what);
    if (s == NATS_TIMEOUT && !o->sync)
      fmh_error_set(e, e->kind, e->code, 1, "%s: %d asynchronous publishes stayed unacknowledged for %" PRId64 " ms",
                    what, n->max_pending, wait_ms);
  }
  if (o->sync) {
    r->acks = sync_acks;
  } else {
    /* the acks of what was sent, also after a failure (bounded) */
    fmh_error werr = {0};
    int wrc = fmh_nats_async_wait(n, wait_ms, &r->acks, &werr);
    if (rc == 0 && wrc != 0) {
      *e = werr;
      rc = -1;
    } else {
      fmh_error_clear(&werr);
    }
    if (rc == 0 && r->acks.failed > 0) {
      natsStatus fs = (natsStatus)r->acks.error_status;
      char what[400];
      snprintf(what, sizeof what, "nats bulk: %" PRIu64 " of %" PRIu64 " messages were refused, the first", r->acks.failed,
               r->acks.published);
      if (fs == NATS_NO_RESPONDERS || r->acks.error_code == 0) {
        fail(e, fs, 0, what);
      } else {
        fmh_error_set(e, "jetstream", r->acks.error_code, 0, "%s: %s (JetStream error %d)", what, r->acks.error,
                      r->acks.error_code);
      }
      rc = -1;
    }
  }
  r->wall_s = (fmh_retry_now_ms() - t0) / 1000.0;
  if (!o->sync) {
    pthread_mutex_lock(&n->mu);
    acks_add(&n->acks, &before);
    pthread_mutex_unlock(&n->mu);
  }
  return rc;
}

#endif /* FMH_HAVE_NATS */
