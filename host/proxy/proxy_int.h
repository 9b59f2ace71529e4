/* fmhost.proxy internals shared by proxy.c (the relay loop), proxy_control.c
 * (the toxic table, accessors and stats) and proxy_net.c (sockets and the
 * spec client); not a public API. */
#ifndef FMHOST_PROXY_INT_H
#define FMHOST_PROXY_INT_H

#include "fmhost/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fmhost/log.h"

#define READ_CHUNK 65536
#define QUEUE_CAP (1u << 20)     /* bytes queued per pipe before reading pauses */
#define ACCEPT_BATCH 64
#define APPLY_WAIT_MS 10000      /* a configuration call never waits longer */
#define RELISTEN_RETRY_US 200000

typedef int64_t usec;

/* --- data structures -------------------------------------------------- */

enum { EP_WAKE, EP_LISTEN, EP_CONN };

struct conn;

typedef struct {
  int kind;           /* EP_*; first so that epoll's data.ptr can be typed */
  int fd;
  uint32_t events;    /* interest registered with epoll */
  int registered;
  int readable;       /* readiness seen, not yet consumed (cleared on EAGAIN) */
  int want_out;       /* a write would block: wait for EPOLLOUT */
  int hup;            /* removed from epoll: peer hung up, read what is left */
  int err;            /* epoll reported an error (a reset, mostly) */
  int failed;         /* broken: nothing more is read from or written to it */
  struct conn *c;
} endpoint;

typedef struct chunk {
  struct chunk *next;
  usec at;            /* not written before this time */
  size_t len, off;
  int eof;            /* a marker: shut the destination's write side */
  char data[];
} chunk;

typedef struct {
  endpoint *src, *dst;
  chunk *head, *tail;
  size_t queued;
  usec last_at;       /* time of the last queued chunk: order is kept */
  int src_eof;        /* nothing more will be read */
  int done;           /* end of stream delivered (or swallowed) */
  int cut;            /* reset_peer budget spent: reset once the queue drains */
  double tokens;      /* bandwidth */
  usec tok_at;
  int throttled;      /* waiting for tokens (counted once per wait) */
} pipe_t;

typedef struct conn {
  struct conn *next, *prev;
  uint64_t id;
  endpoint cli, srv;
  pipe_t pipe[2];     /* 0: up, 1: down */
  int connecting;
  usec connect_deadline;
  usec reset_at;      /* reset_peer timer; 0: none */
  usec close_at;      /* timeout timer; 0: none */
  long long budget;   /* reset_peer bytes left; -1: none */
  int failed;         /* one side broke: drain toward the other, then reset it */
  const char *why;    /* of the failure */
  int dead;
} conn;

typedef struct {
  int on[FMH_TOXIC_COUNT][2];
  unsigned serial[FMH_TOXIC_COUNT][2]; /* bumped on every set: a re-set re-arms */
  fmh_proxy_toxic t[FMH_TOXIC_COUNT][2];
} toxic_table;

struct fmh_proxy {
  char name[64];
  char upstream_host[256];
  int upstream_port;
  int echo;
  int port;
  struct sockaddr_storage listen_addr, up_addr;
  socklen_t listen_len, up_len;
  int connect_timeout_ms;
  uint64_t rng;

  int listen_fd, epfd, wakefd;
  endpoint wake_ep, listen_ep;
  pthread_t thread;
  int thread_started;

  pthread_mutex_t mu;
  pthread_cond_t applied_cv;
  toxic_table want;      /* under mu */
  uint64_t want_gen, applied_gen;
  unsigned kill_serial;  /* a one-shot "close every connection" request */
  int kill_abortive, kill_count;
  int stop, thread_done;

  /* loop thread only */
  toxic_table cur;
  unsigned kill_done;
  conn *conns;
  conn *graveyard;       /* freed after the current batch of events */
  uint64_t next_id;
  int listening;
  usec relisten_at;
  usec accept_resume_at; /* accepting paused (out of descriptors) until then */
  char buf[READ_CHUNK];

  _Atomic uint64_t bytes[2], bytes_dropped, accepted, closed, upstream_errors;
  _Atomic uint64_t act[FMH_TOXIC_COUNT];
};

/* proxy.c */
int fmh_proxy_per_direction(fmh_toxic_kind k);
int fmh_proxy_same_params(const fmh_proxy_toxic *a, const fmh_proxy_toxic *b);
void fmh_proxy_wake(fmh_proxy *p);

/* proxy_net.c */
usec fmh_proxy_now_us(void);
void fmh_proxy_set_nodelay(int fd);
void fmh_proxy_set_abortive(int fd);
int fmh_proxy_resolve(const char *host, int port, int passive, struct sockaddr_storage *out,
                      socklen_t *outlen, fmh_error *err, const char *what);
int fmh_proxy_open_listener(fmh_proxy *p, int port, fmh_error *err);

#endif
