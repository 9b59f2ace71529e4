/* fmhost.nats: JetStream stream and consumer management (add, update,
 * info, purge, delete, list) and reading messages back (by sequence, the
 * last on a subject, fetching from a consumer, reading a range). */
#include "fmhost/nats.h"

#ifdef FMH_HAVE_NATS

#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats_int.h"

/* ---- streams and consumers -------------------------------------------------- */

static void name_what(char *what, size_t cap, const char *kind, const char *name) {
  snprintf(what, cap, "nats: %s %s", kind, name ? name : "(none)");
}

/* Fill e for a failed call on a stream, consumer or message, naming it
 * with a printf format (in at most 399 characters); returns -1. */
static int fail_on(fmh_error *e, natsStatus s, jsErrCode jerr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_on(fmh_error *e, natsStatus s, jsErrCode jerr, const char *fmt, ...) {
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return fmh_nats_fail(e, s, jerr, what);
}

int fmh_nats_stream_add(fmh_nats *n, jsStreamConfig *cfg, int update, jsStreamInfo **out, fmh_error *e) {
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus s = update ? js_UpdateStream(&si, n->js, cfg, NULL, &jerr) : js_AddStream(&si, n->js, cfg, NULL, &jerr);
  if (s != NATS_OK)
    return fail_on(e, s, jerr, "nats: %s stream %s", update ? "updating" : "adding",
                   cfg->Name ? cfg->Name : "(none)");
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
    return fmh_nats_fail(e, s, jerr, what);
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
  if (s != NATS_OK) return fail_on(e, s, jerr, "nats: purging stream %s", stream ? stream : "(none)");
  return 0;
}

int fmh_nats_stream_delete(fmh_nats *n, const char *stream, fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_DeleteStream(n->js, stream, NULL, &jerr);
  if (s != NATS_OK) return fail_on(e, s, jerr, "nats: deleting stream %s", stream ? stream : "(none)");
  return 0;
}

int fmh_nats_stream_names(fmh_nats *n, jsStreamNamesList **out, fmh_error *e) {
  jsErrCode jerr = 0;
  *out = NULL;
  natsStatus s = js_StreamNames(out, n->js, NULL, &jerr);
  if (s == NATS_NOT_FOUND && jerr == 0) return 0; /* no stream at all */
  if (s != NATS_OK) return fmh_nats_fail(e, s, jerr, "nats: listing streams");
  return 0;
}

int fmh_nats_consumer_add(fmh_nats *n, const char *stream, jsConsumerConfig *cfg, jsConsumerInfo **out,
                          fmh_error *e) {
  jsConsumerInfo *ci = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_AddConsumer(&ci, n->js, stream, cfg, NULL, &jerr);
  if (s != NATS_OK)
    return fail_on(e, s, jerr, "nats: adding consumer %s to stream %s",
                   cfg->Durable ? cfg->Durable : (cfg->Name ? cfg->Name : "(ephemeral)"), stream ? stream : "(none)");
  if (out) *out = ci;
  else jsConsumerInfo_Destroy(ci);
  return 0;
}

int fmh_nats_consumer_info(fmh_nats *n, const char *stream, const char *consumer, jsConsumerInfo **out,
                           fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_GetConsumerInfo(out, n->js, stream, consumer, NULL, &jerr);
  if (s != NATS_OK)
    return fail_on(e, s, jerr, "nats: consumer %s of stream %s", consumer ? consumer : "(none)",
                   stream ? stream : "(none)");
  return 0;
}

int fmh_nats_consumer_delete(fmh_nats *n, const char *stream, const char *consumer, fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_DeleteConsumer(n->js, stream, consumer, NULL, &jerr);
  if (s != NATS_OK)
    return fail_on(e, s, jerr, "nats: deleting consumer %s of stream %s", consumer ? consumer : "(none)",
                   stream ? stream : "(none)");
  return 0;
}

int fmh_nats_consumers(fmh_nats *n, const char *stream, jsConsumerInfoList **out, fmh_error *e) {
  jsErrCode jerr = 0;
  *out = NULL;
  natsStatus s = js_Consumers(out, n->js, stream, NULL, &jerr);
  if (s == NATS_NOT_FOUND && jerr == 0) return 0; /* a stream without consumers */
  if (s != NATS_OK) return fail_on(e, s, jerr, "nats: listing the consumers of stream %s", stream ? stream : "(none)");
  return 0;
}

/* ---- reading back ----------------------------------------------------------- */

int fmh_nats_get_msg(fmh_nats *n, const char *stream, uint64_t seq, natsMsg **out, fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_GetMsg(out, n->js, stream, seq, NULL, &jerr);
  if (s != NATS_OK)
    return fail_on(e, s, jerr, "nats: message %" PRIu64 " of stream %s", seq, stream ? stream : "(none)");
  return 0;
}

int fmh_nats_last_msg(fmh_nats *n, const char *stream, const char *subject, natsMsg **out, fmh_error *e) {
  jsErrCode jerr = 0;
  natsStatus s = js_GetLastMsg(out, n->js, stream, subject, NULL, &jerr);
  if (s != NATS_OK) {
    char what[600];
    snprintf(what, sizeof what, "nats: last message on %s in stream %s", subject ? subject : "(none)",
             stream ? stream : "(none)");
    return fmh_nats_fail(e, s, jerr, what);
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
  if (s != NATS_OK) return fmh_nats_fail(e, s, jerr, what);
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
    return fmh_nats_fail(e, s, jerr, what);
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
  if (s != NATS_OK) return fmh_nats_fail(e, s, jerr, what);
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
    return fmh_nats_fail(e, s, jerr, what);
  }
  return 0;
}

#endif /* FMH_HAVE_NATS */
