/* fmhost.nats: a JetStream client over libnats (nats.c 3.4), for putting
 * test data into NATS JetStream and reading back what is there.
 *
 * A connection (fmh_nats) holds one NATS connection and one JetStream
 * context. It connects with a retry policy (fmhost.retry), reconnects by
 * itself after the server comes back, and bounds every blocking call by a
 * timeout. Stream and consumer management and the read helpers hand out
 * libnats' own objects (jsStreamInfo, jsConsumerInfo, natsMsg), which the
 * caller destroys with libnats' functions.
 *
 * Publishing: synchronously (one request, one ack) or asynchronously
 * (acks are counted on libnats' thread; fmh_nats_async_wait waits for all
 * of them, bounded). fmh_nats_bulk publishes rows of an fmhost.gen
 * generator, formatted in C (JSON lines or CSV, one row a message), spread
 * over subjects by a hash of the row's key or round robin, each with the
 * message id `<id_prefix><key>` (header Nats-Msg-Id), so that publishing
 * the same rows again is deduplicated by the stream.
 *
 * Errors fill an fmh_error: kind "nats" with code = the natsStatus, or kind
 * "jetstream" with code = the JetStream API error code (10059 stream not
 * found, ...). retryable is 1 for timeouts, no responders, and a lost or
 * refused connection. A publish that failed that way may still be stored
 * (at least once): publishing again with the same message id makes it once.
 *
 * A connection is used by one thread at a time (the asynchronous acks
 * arrive on libnats' own thread and only touch counters under a lock).
 * Without libnats at build time (FMH_HAVE_NATS unset) only the declarations
 * up to fmh_nats_available exist. */
#ifndef FMHOST_NATS_H
#define FMHOST_NATS_H

#include <stddef.h>
#include <stdint.h>

#include "fmhost/error.h"

/* 1 when fmhost was built with libnats. */
int fmh_nats_available(void);

#ifdef FMH_HAVE_NATS
#include <nats/nats.h>

#include "fmhost/gen.h"
#include "fmhost/retry.h"

typedef struct fmh_nats fmh_nats;

typedef struct fmh_nats_opts {
  const char *url;           /* "nats://127.0.0.1:4222" or a comma-separated list */
  const char *name;          /* connection name the server shows, or NULL */
  int connect_timeout_ms;    /* one connection attempt */
  int timeout_ms;            /* JetStream API requests, synchronous publishes */
  int max_pending;           /* asynchronous publishes in flight; a further one waits for half to be acked */
  fmh_retry_policy connect_retry;
  uint64_t retry_seed;
} fmh_nats_opts;

/* Defaults: 2 s connect timeout, 5 s request timeout, 4096 in flight,
 * 3 connection attempts 250 ms and 500 ms apart. */
void fmh_nats_opts_default(fmh_nats_opts *o);
fmh_nats *fmh_nats_connect(const fmh_nats_opts *o, fmh_error *e);
/* Drops unacknowledged asynchronous publishes and closes. NULL is fine. */
void fmh_nats_close(fmh_nats *n);
/* The URL of the server connected to ("" while disconnected). */
const char *fmh_nats_connected_url(fmh_nats *n, char *buf, size_t cap);
int fmh_nats_is_connected(fmh_nats *n);
/* The server's maximum payload, in bytes. */
int64_t fmh_nats_max_payload(fmh_nats *n);
jsCtx *fmh_nats_js(fmh_nats *n);
natsConnection *fmh_nats_conn(fmh_nats *n);

/* The short name of a natsStatus for info tables ("timeout",
 * "no_responders", "no_server", "not_found", ...) and whether a call that
 * failed with it may succeed later. */
const char *fmh_nats_status_name(int status);
int fmh_nats_status_retryable(int status);

/* ---- streams and consumers ---------------------------------------------- */

/* Add (update = 0) or update a stream. Adding a stream that exists with
 * the same configuration succeeds; with another, it fails with JetStream
 * error 10058. *out (may be NULL) receives the stream's info. */
int fmh_nats_stream_add(fmh_nats *n, jsStreamConfig *cfg, int update, jsStreamInfo **out, fmh_error *e);
/* subjects_filter: also count the messages per subject of the stream that
 * match it (">" for all), into out->State.Subjects. */
int fmh_nats_stream_info(fmh_nats *n, const char *stream, const char *subjects_filter, jsStreamInfo **out,
                         fmh_error *e);
/* Remove messages: all (subject NULL, seq 0, keep 0), those on subject,
 * those below seq, or all but the last keep. Sequences are not reset. */
int fmh_nats_stream_purge(fmh_nats *n, const char *stream, const char *subject, uint64_t seq, uint64_t keep,
                          fmh_error *e);
int fmh_nats_stream_delete(fmh_nats *n, const char *stream, fmh_error *e);
int fmh_nats_stream_names(fmh_nats *n, jsStreamNamesList **out, fmh_error *e);
int fmh_nats_consumer_add(fmh_nats *n, const char *stream, jsConsumerConfig *cfg, jsConsumerInfo **out,
                          fmh_error *e);
int fmh_nats_consumer_info(fmh_nats *n, const char *stream, const char *consumer, jsConsumerInfo **out,
                           fmh_error *e);
int fmh_nats_consumer_delete(fmh_nats *n, const char *stream, const char *consumer, fmh_error *e);
/* Every consumer of stream with its state; *out NULL when it has none. */
int fmh_nats_consumers(fmh_nats *n, const char *stream, jsConsumerInfoList **out, fmh_error *e);

/* ---- reading back ----------------------------------------------------------- */

/* The message at sequence seq of a stream (JetStream error 10037 when
 * there is none), or the last one on subject. */
int fmh_nats_get_msg(fmh_nats *n, const char *stream, uint64_t seq, natsMsg **out, fmh_error *e);
int fmh_nats_last_msg(fmh_nats *n, const char *stream, const char *subject, natsMsg **out, fmh_error *e);
/* Up to batch messages of an existing pull consumer, waiting up to
 * timeout_ms; ack: acknowledge each (AckSync on the last for a bounded
 * confirmation). An empty list is not an error. */
int fmh_nats_fetch(fmh_nats *n, const char *stream, const char *consumer, int batch, int64_t timeout_ms, int ack,
                   natsMsgList *out, fmh_error *e);
/* Up to count messages of a stream from sequence start_seq on (those on
 * subject only, when not NULL), in stream order, through an ephemeral pull
 * consumer that is deleted afterwards; stops early when the stream has no
 * more, or after timeout_ms. */
int fmh_nats_read(fmh_nats *n, const char *stream, uint64_t start_seq, int count, const char *subject,
                  int64_t timeout_ms, natsMsgList *out, fmh_error *e);

/* ---- publishing --------------------------------------------------------------- */

typedef struct fmh_nats_header {
  const char *key, *value;
} fmh_nats_header;

typedef struct fmh_nats_pub {
  const char *msg_id;              /* Nats-Msg-Id, or NULL */
  const char *expect_stream;       /* fail unless this stream stores it */
  uint64_t expect_last_seq;        /* fail unless the stream's last sequence is this (0: no check) */
  const fmh_nats_header *headers;  /* further headers */
  size_t nheaders;
  int64_t timeout_ms;              /* synchronous only; 0: the connection's */
} fmh_nats_pub;

/* Publish and wait for the stream's ack: *seq, *duplicate (may be NULL)
 * and the stream name into stream (may be NULL). */
int fmh_nats_publish(fmh_nats *n, const char *subject, const void *data, size_t len, const fmh_nats_pub *o,
                     uint64_t *seq, int *duplicate, char *stream, size_t stream_cap, fmh_error *e);

/* What the acks of asynchronous publishes said. */
typedef struct fmh_nats_acks {
  uint64_t published;     /* handed to the library */
  uint64_t acked;         /* stored by the stream (duplicates included) */
  uint64_t duplicates;    /* acked as a duplicate of an earlier message id */
  uint64_t failed;        /* a negative ack: an API error, no responders, ... */
  uint64_t unacked;       /* no ack within the wait: given up */
  uint64_t first_seq, last_seq; /* lowest and highest sequence acked (0 when none) */
  int error_status;       /* natsStatus of the first failure, 0 when none */
  int error_code;         /* its JetStream error code, 0 when none */
  char error[256];        /* its text */
} fmh_nats_acks;

/* Publish without waiting for the ack; when max_pending are in flight it
 * first waits until half of them are acked, up to the connection's
 * timeout_ms (then a retryable timeout, nothing published). */
int fmh_nats_publish_async(fmh_nats *n, const char *subject, const void *data, size_t len, const fmh_nats_pub *o,
                           fmh_error *e);
/* Wait up to timeout_ms for every ack of the asynchronous publishes so far
 * and take their counts (the next wait counts from zero). Unacked messages
 * at the timeout are given up (counted in unacked) and the call fails with
 * a retryable timeout; out is filled either way. */
int fmh_nats_async_wait(fmh_nats *n, int64_t timeout_ms, fmh_nats_acks *out, fmh_error *e);

/* ---- bulk publish from a generator ------------------------------------------------ */

typedef enum { FMH_NATS_HASH = 0, FMH_NATS_ROUND_ROBIN = 1 } fmh_nats_spread;

typedef struct fmh_nats_bulk_opts {
  const fmh_gen *gen;
  int64_t first, rows;          /* rows [first, first + rows) */
  fmh_gen_out out;              /* FMH_GEN_JSONL or FMH_GEN_CSV; one row a message, no newline */
  const char *const *subjects;  /* at least one */
  size_t nsubjects;
  fmh_nats_spread spread;       /* HASH: FNV-1a 64 of the key text mod nsubjects; ROUND_ROBIN: (row - first) mod n */
  const size_t *key_cols;       /* columns whose values make the key; none: the row index */
  size_t nkey_cols;
  int msg_ids;                  /* set Nats-Msg-Id = id_prefix + key */
  const char *id_prefix;        /* NULL = "" */
  int sync;                     /* publish one by one, each waiting for its ack (a baseline) */
  int64_t timeout_ms;           /* bound on waiting for acks (stalls and the final wait) */
} fmh_nats_bulk_opts;

typedef struct fmh_nats_bulk_result {
  fmh_nats_acks acks;
  uint64_t bytes;               /* payload bytes published */
  uint64_t *per_subject;        /* caller's array of nsubjects counts (published), or NULL */
  double wall_s;                /* from the first publish to the last ack */
} fmh_nats_bulk_result;

/* The key text of a row (what the message id and the hash are made of):
 * the key columns' values joined by ',' (integers and decimals as digits,
 * text as its bytes, other values as the CSV writer prints them), every
 * byte outside '!'..'~' and '%' (and ',' with several columns) written
 * %XX; the row index in decimal when there are no key columns. */
int fmh_nats_row_key(const fmh_nats_bulk_opts *o, fmh_gen_cursor *cur, int64_t row, fmh_buf *key,
                     fmh_error *e);
/* The subject index a key goes to (FNV-1a 64 mod n). */
size_t fmh_nats_key_slot(const char *key, size_t len, size_t n);

/* Publish the rows. Returns 0 when every message was acked; otherwise -1
 * with e set (the first negative ack, or a timeout with unacked messages)
 * and r filled with what happened. Publishing the same rows again into a
 * stream whose duplicate window still holds their ids stores nothing new
 * (r->acks.duplicates counts them). */
int fmh_nats_bulk(fmh_nats *n, const fmh_nats_bulk_opts *o, fmh_nats_bulk_result *r, fmh_error *e);

#endif /* FMH_HAVE_NATS */
#endif
