/* fmhost.nats: publishing, synchronous and asynchronous with ack
 * counting, and the bulk publisher that turns generator rows into
 * messages without leaving C. */
#include "fmhost/nats.h"

#ifdef FMH_HAVE_NATS

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats_int.h"

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

/* What both publishing calls do first: name the call in what, refuse a
 * message larger than the server takes, build the message with the caller's
 * headers and the publish options. NULL (with e set) when any of it fails. */
static natsMsg *prepare(fmh_nats *n, const char *subject, const void *data, size_t len, const fmh_nats_pub *o,
                        char *what, size_t what_cap, jsPubOptions *po, fmh_error *e) {
  snprintf(what, what_cap, "nats: publishing to %s", subject ? subject : "(none)");
  if (too_big(n, subject, len, e)) return NULL;
  natsStatus s;
  natsMsg *m = new_msg(subject, data, len, o, &s);
  if (!m) {
    fmh_nats_fail(e, s, 0, what);
    return NULL;
  }
  pub_opts(o, po);
  return m;
}

int fmh_nats_publish(fmh_nats *n, const char *subject, const void *data, size_t len, const fmh_nats_pub *o,
                     uint64_t *seq, int *duplicate, char *stream, size_t stream_cap, fmh_error *e) {
  char what[400];
  jsPubOptions po;
  natsMsg *m = prepare(n, subject, data, len, o, what, sizeof what, &po, e);
  if (!m) return -1;
  po.MaxWait = o && o->timeout_ms > 0 ? o->timeout_ms : n->timeout_ms;
  jsPubAck *pa = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_PublishMsg(&pa, n->js, m, &po, &jerr);
  natsMsg_Destroy(m);
  if (s != NATS_OK) return fmh_nats_fail(e, s, jerr, what);
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
  jsPubOptions po;
  natsMsg *m = prepare(n, subject, data, len, o, what, sizeof what, &po, e);
  if (!m) return -1;
  natsStatus s = async_send(n, m, &po, fmh_retry_now_ms() + n->timeout_ms);
  if (s != NATS_OK) {
    fmh_nats_fail(e, s, 0, what);
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
    fmh_nats_settle_acks(n); /* so that the counts below are final */
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
    return fmh_nats_fail(e, s, 0, "nats: waiting for asynchronous publishes");
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
    if (row_index_key(row, key) != 0) return fmh_nats_oom(e);
    return 0;
  }
  size_t nc = fmh_gen_ncols(o->gen);
  fmh_gen_value *v = malloc(nc * sizeof *v);
  unsigned char *flags = key_only_flags(o, nc);
  fmh_buf tmp = {0};
  int rc = 0;
  if (!v || !flags) rc = fmh_nats_oom(e);
  else if (fmh_gen_row(cur, row, flags, v, e) != 0) rc = -1;
  else if (key_of_values(o, v, key, &tmp) != 0) rc = fmh_nats_oom(e);
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
    return fmh_nats_oom(e);
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
        if (row_index_key(row, &st.key) != 0) { rc = fmh_nats_oom(e); break; }
      } else {
        if (fmh_gen_row(st.cur, row, st.key_flags, st.vals, e) != 0) { rc = -1; break; }
        if (key_of_values(o, st.vals, &st.key, &st.tmp) != 0) { rc = fmh_nats_oom(e); break; }
      }
      if (o->spread == FMH_NATS_ROUND_ROBIN) slot = (size_t)((row - o->first) % (int64_t)o->nsubjects);
      else slot = fmh_nats_key_slot(st.key.p, st.key.len, o->nsubjects);
      subject = o->subjects[slot];
      jsPubOptions po;
      jsPubOptions_Init(&po);
      if (o->msg_ids) {
        st.id.len = 0;
        if (put(&st.id, prefix, plen) != 0 || put(&st.id, st.key.p, st.key.len) != 0 || put(&st.id, "", 1) != 0) {
          rc = fmh_nats_oom(e);
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
    rc = fmh_nats_fail(e, s, jerr, what);
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
        fmh_nats_fail(e, fs, 0, what);
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
