/* fmhost.nats internals shared by nats.c (errors and the connection),
 * nats_streams.c (streams, consumers, reading back) and nats_publish.c
 * (publishing and the bulk publisher); not a public API. */
#ifndef FMHOST_NATS_INT_H
#define FMHOST_NATS_INT_H

#include <pthread.h>

#include "fmhost/nats.h"

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

/* ---- nats.c: errors and the connection ---------------------------------- */

int fmh_nats_fail(fmh_error *e, natsStatus s, jsErrCode jerr, const char *what);
int fmh_nats_oom(fmh_error *e);
void fmh_nats_settle_acks(fmh_nats *n);

#endif
