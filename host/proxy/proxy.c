/* fmhost.proxy: a TCP fault proxy with one epoll thread per proxy.
 *
 * Each accepted connection has two pipes, up (client -> upstream) and down
 * (upstream -> client). What a pipe reads becomes chunks in a queue, each
 * with the time it may be written; toxics act where data enters the queue
 * (latency and slicer set the times, blackhole/timeout discard, reset_peer
 * counts its byte budget) and where it leaves (bandwidth spends tokens).
 * The queue is capped, so a slow side pushes back on the fast one through
 * TCP instead of growing memory.
 *
 * Callers never touch a socket: they change the toxic table under the
 * mutex, poke the eventfd and wait until the loop has applied that
 * generation, so a toxic is in force when the call returns.
 *
 * "down" stops the listening socket with shutdown(2), which on Linux puts it
 * back to the closed state while it keeps its explicitly bound port; a later
 * listen(2) on the same socket reopens the same port. That is why an
 * ephemeral port is first found with a probe socket and then bound
 * explicitly. */
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

static usec now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (usec)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* splitmix64: small, seedable, good enough for jitter */
static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

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

static const char *const toxic_names[FMH_TOXIC_COUNT] = {
    "down", "reset_peer", "latency", "bandwidth", "blackhole", "slicer", "timeout"};

/* Toxics that act on the whole connection keep one slot (index 0). */
static int per_direction(fmh_toxic_kind k) { return k != FMH_TOXIC_DOWN && k != FMH_TOXIC_RESET_PEER; }

const char *fmh_proxy_toxic_name(fmh_toxic_kind kind) {
  return (unsigned)kind < FMH_TOXIC_COUNT ? toxic_names[kind] : "?";
}

int fmh_proxy_toxic_kind_of(const char *name) {
  for (int i = 0; i < FMH_TOXIC_COUNT; i++)
    if (strcmp(name, toxic_names[i]) == 0) return i;
  return -1;
}

void fmh_proxy_toxic_defaults(fmh_toxic_kind kind, fmh_proxy_toxic *t) {
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->direction = FMH_DIR_BOTH;
  t->after_bytes = -1;
  t->rate_kib = 0; /* required */
  t->avg_size = 64;
  t->size_variation = 32;
  t->delay_us = 1000;
}

static void log_conn_event(const fmh_proxy *p, fmh_log_level lvl, const char *event, const conn *c,
                           const char *msg) {
  if (!fmh_log_enabled(lvl)) return;
  fmh_log_field f[] = {FMH_LS("proxy", p->name), FMH_LI("port", p->port),
                       FMH_LI("conn", c ? (long long)c->id : 0)};
  fmh_log_emit(lvl, event, NULL, msg, f, 3);
}

/* --- sockets ---------------------------------------------------------- */

static void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void set_abortive(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static int resolve(const char *host, int port, int passive, struct sockaddr_storage *out,
                   socklen_t *outlen, fmh_error *err, const char *what) {
  struct addrinfo hints = {0}, *res = NULL;
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  int rc = getaddrinfo(host, portstr, &hints, &res);
  if (rc != 0 || !res) {
    fmh_error_set(err, "os", rc, 0, "cannot resolve %s host '%s': %s", what, host, gai_strerror(rc));
    return -1;
  }
  /* "localhost" may list ::1 first while servers here listen on 127.0.0.1 */
  struct addrinfo *pick = res;
  for (struct addrinfo *r = res; r; r = r->ai_next)
    if (r->ai_family == AF_INET) {
      pick = r;
      break;
    }
  memcpy(out, pick->ai_addr, pick->ai_addrlen);
  *outlen = pick->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static void set_port(struct sockaddr_storage *a, int port) {
  if (a->ss_family == AF_INET) ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
  else if (a->ss_family == AF_INET6) ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
}

static int get_port(int fd) {
  struct sockaddr_storage a;
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) return -1;
  if (a.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
  return -1;
}

static int bound_socket(const struct sockaddr_storage *a, socklen_t len) {
  int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)a, len) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

/* A listening socket bound to an explicit port (see the file comment). */
static int open_listener(fmh_proxy *p, int port, fmh_error *err) {
  struct sockaddr_storage a = p->listen_addr;
  int probe = -1;
  if (port == 0) {
    probe = bound_socket(&a, p->listen_len);
    if (probe < 0 || (port = get_port(probe)) <= 0) goto fail;
  }
  set_port(&a, port);
  int fd = bound_socket(&a, p->listen_len);
  if (fd < 0) goto fail;
  if (probe >= 0) close(probe);
  if (listen(fd, 128) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    probe = -1;
    goto fail;
  }
  p->port = port;
  return fd;
fail : {
  int e = errno;
  if (probe >= 0) close(probe);
  char host[INET6_ADDRSTRLEN] = "?";
  const void *ip = a.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&a)->sin6_addr
                                           : (const void *)&((struct sockaddr_in *)&a)->sin_addr;
  inet_ntop(a.ss_family, ip, host, sizeof host);
  fmh_error_set(err, "os", e, 0, "proxy '%s': cannot listen on %s:%d: %s", p->name, host, port,
                strerror(e));
  return -1;
}
}

/* --- epoll bookkeeping ------------------------------------------------ */

static void ep_set(fmh_proxy *p, endpoint *e, uint32_t events) {
  if (e->fd < 0 || e->hup) return;
  if (e->registered && events == e->events) return;
  struct epoll_event ev = {.events = events, .data.ptr = e};
  if (!e->registered) {
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, e->fd, &ev) == 0) e->registered = 1;
  } else {
    epoll_ctl(p->epfd, EPOLL_CTL_MOD, e->fd, &ev);
  }
  e->events = events;
}

static void ep_forget(fmh_proxy *p, endpoint *e) {
  if (e->fd >= 0 && e->registered) epoll_ctl(p->epfd, EPOLL_CTL_DEL, e->fd, NULL);
  e->registered = 0;
}

/* --- connections ------------------------------------------------------ */

static void pipe_free(pipe_t *pp) {
  chunk *ch = pp->head;
  while (ch) {
    chunk *n = ch->next;
    free(ch);
    ch = n;
  }
  pp->head = pp->tail = NULL;
  pp->queued = 0;
}

/* Close both sides; with RST when abortive. The memory goes to the
 * graveyard because later events of this batch may still point at it. */
static void conn_close(fmh_proxy *p, conn *c, int abortive, const char *why) {
  if (c->dead) return;
  c->dead = 1;
  endpoint *eps[2] = {&c->cli, &c->srv};
  for (int i = 0; i < 2; i++) {
    endpoint *e = eps[i];
    if (e->fd < 0) continue;
    ep_forget(p, e);
    if (abortive) set_abortive(e->fd);
    close(e->fd);
    e->fd = -1;
  }
  for (int d = 0; d < 2; d++) pipe_free(&c->pipe[d]);
  if (c->prev) c->prev->next = c->next;
  else p->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->next = p->graveyard;
  p->graveyard = c;
  atomic_fetch_add(&p->closed, 1);
  log_conn_event(p, FMH_LOG_DEBUG, abortive ? "proxy.reset" : "proxy.close", c, why);
}

static const fmh_proxy_toxic *toxic_on(const fmh_proxy *p, fmh_toxic_kind k, int d) {
  int slot = per_direction(k) ? d : 0;
  return p->cur.on[k][slot] ? &p->cur.t[k][slot] : NULL;
}

static int drop_on(const fmh_proxy *p, int d) {
  return toxic_on(p, FMH_TOXIC_BLACKHOLE, d) || toxic_on(p, FMH_TOXIC_TIMEOUT, d);
}

/* The smallest positive timeout of the timeout toxic, in ms; 0 when none. */
static int timeout_ms(const fmh_proxy *p) {
  int ms = 0;
  for (int d = 0; d < 2; d++) {
    const fmh_proxy_toxic *t = toxic_on(p, FMH_TOXIC_TIMEOUT, d);
    if (t && t->timeout_ms > 0 && (ms == 0 || t->timeout_ms < ms)) ms = t->timeout_ms;
  }
  return ms;
}

static void enqueue(pipe_t *pp, usec at, const char *data, size_t len, int eof) {
  chunk *ch = malloc(sizeof *ch + len);
  if (!ch) abort(); /* a proxy that silently loses bytes would lie */
  ch->next = NULL;
  ch->at = at;
  ch->len = len;
  ch->off = 0;
  ch->eof = eof;
  if (len) memcpy(ch->data, data, len);
  if (pp->tail) pp->tail->next = ch;
  else pp->head = ch;
  pp->tail = ch;
  pp->queued += len;
  pp->last_at = at;
}

static usec latency_us(fmh_proxy *p, int d, int draw) {
  const fmh_proxy_toxic *t = toxic_on(p, FMH_TOXIC_LATENCY, d);
  if (!t) return 0;
  double ms = t->ms;
  if (draw && t->jitter_ms > 0) ms += t->jitter_ms * (2.0 * rng_unit(&p->rng) - 1.0);
  if (ms < 0) ms = 0;
  return (usec)(ms * 1000.0);
}

/* Data read from pipe d enters its queue, through the toxics. */
static void ingress(fmh_proxy *p, conn *c, int d, const char *buf, size_t n, usec now) {
  pipe_t *pp = &c->pipe[d];
  if (drop_on(p, d)) {
    atomic_fetch_add(&p->bytes_dropped, n);
    if (toxic_on(p, FMH_TOXIC_BLACKHOLE, d)) atomic_fetch_add(&p->act[FMH_TOXIC_BLACKHOLE], 1);
    return;
  }
  const fmh_proxy_toxic *rp = toxic_on(p, FMH_TOXIC_RESET_PEER, d);
  if (rp && c->budget >= 0 && (rp->direction & (1 << d))) {
    if ((long long)n > c->budget) {
      atomic_fetch_add(&p->bytes_dropped, n - (size_t)c->budget);
      n = (size_t)c->budget;
      pp->cut = 1;
    }
    c->budget -= (long long)n;
  }
  if (n == 0) return;
  usec delay = latency_us(p, d, 1);
  if (toxic_on(p, FMH_TOXIC_LATENCY, d)) atomic_fetch_add(&p->act[FMH_TOXIC_LATENCY], 1);
  usec at = now + delay;
  if (at < pp->last_at) at = pp->last_at;
  const fmh_proxy_toxic *sl = toxic_on(p, FMH_TOXIC_SLICER, d);
  if (!sl) {
    enqueue(pp, at, buf, n, 0);
    return;
  }
  atomic_fetch_add(&p->act[FMH_TOXIC_SLICER], 1);
  if (pp->head && at < pp->last_at + sl->delay_us) at = pp->last_at + sl->delay_us;
  size_t off = 0;
  int first = 1;
  while (off < n) {
    long size = sl->avg_size;
    if (sl->size_variation > 0)
      size += (long)(rng_next(&p->rng) % (uint64_t)(2 * sl->size_variation + 1)) - sl->size_variation;
    if (size < 1) size = 1;
    if ((size_t)size > n - off) size = (long)(n - off);
    if (!first) at += sl->delay_us;
    first = 0;
    enqueue(pp, at, buf + off, (size_t)size, 0);
    off += (size_t)size;
  }
}

static void reached_eof(fmh_proxy *p, conn *c, int d, usec now) {
  pipe_t *pp = &c->pipe[d];
  pp->src_eof = 1;
  if (drop_on(p, d) || pp->cut) {
    /* a blackhole forwards nothing, not even the end of the stream */
    pp->done = 1;
    pipe_free(pp);
    return;
  }
  usec at = now + latency_us(p, d, 0);
  if (at < pp->last_at) at = pp->last_at;
  enqueue(pp, at, NULL, 0, 1);
}

/* One side of the connection broke (reset, or a write failed). What it
 * had sent still goes to the other side, then the other side is reset too:
 * that is what the far end of a real network sees. */
static void endpoint_failed(fmh_proxy *p, conn *c, endpoint *e, int err) {
  if (e->failed) return;
  e->failed = 1;
  e->readable = 0;
  e->want_out = 0;
  ep_forget(p, e);
  e->hup = 1; /* keep it out of epoll */
  for (int d = 0; d < 2; d++) {
    pipe_t *pp = &c->pipe[d];
    if (pp->dst == e) { /* nothing can reach it any more */
      pipe_free(pp);
      pp->src_eof = pp->done = 1;
    } else if (pp->src == e) {
      pp->src_eof = 1;
    }
  }
  if (!c->failed) {
    c->failed = 1;
    c->why = strerror(err);
  }
}

static int can_read(const conn *c, const pipe_t *pp) {
  if (!pp->src || pp->src_eof || pp->cut || c->dead) return 0;
  if (pp->src == &c->srv && c->connecting) return 0;
  return pp->queued < QUEUE_CAP;
}

/* Read what the source has (until EAGAIN or the queue is full).
 * Returns -1 when the connection was closed. */
static int pump_in(fmh_proxy *p, conn *c, int d, usec now) {
  pipe_t *pp = &c->pipe[d];
  while (can_read(c, pp) && pp->src->readable) {
    ssize_t n = recv(pp->src->fd, p->buf, sizeof p->buf, 0);
    if (n > 0) {
      ingress(p, c, d, p->buf, (size_t)n, now);
    } else if (n == 0) {
      reached_eof(p, c, d, now);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pp->src->readable = 0;
    } else if (errno != EINTR) {
      endpoint_failed(p, c, pp->src, errno);
    }
  }
  return 0;
}

/* Bytes the bandwidth toxic allows now for a chunk with want bytes left;
 * 0 with *wake set when the pipe must wait. */
static size_t bandwidth_allow(fmh_proxy *p, pipe_t *pp, int d, size_t want, usec now, usec *wake) {
  const fmh_proxy_toxic *t = toxic_on(p, FMH_TOXIC_BANDWIDTH, d);
  if (!t) return want;
  double rate = t->rate_kib * 1024.0; /* bytes per second */
  double burst = rate / 20.0;          /* 50 ms worth */
  if (burst < 1) burst = 1;
  pp->tokens += (double)(now - pp->tok_at) * rate / 1e6;
  pp->tok_at = now;
  if (pp->tokens > burst) pp->tokens = burst;
  size_t need = (size_t)burst;
  if (need > want) need = want;
  if (pp->tokens < (double)need) {
    usec w = now + (usec)(((double)need - pp->tokens) / rate * 1e6) + 1;
    if (*wake == 0 || w < *wake) *wake = w;
    if (!pp->throttled) atomic_fetch_add(&p->act[FMH_TOXIC_BANDWIDTH], 1);
    pp->throttled = 1;
    return 0;
  }
  pp->throttled = 0;
  size_t allow = (size_t)pp->tokens; /* >= need >= 1 */
  return allow < want ? allow : want;
}

/* Write what is due. Returns -1 when the connection was closed. */
static int pump_out(fmh_proxy *p, conn *c, int d, usec now, usec *wake) {
  pipe_t *pp = &c->pipe[d];
  if (!pp->dst) return 0;
  while (pp->head) {
    chunk *ch = pp->head;
    if (ch->at > now) {
      if (*wake == 0 || ch->at < *wake) *wake = ch->at;
      break;
    }
    if (pp->dst == &c->srv && c->connecting) break;
    if (ch->eof) {
      shutdown(pp->dst->fd, SHUT_WR);
      pp->done = 1;
    } else {
      if (pp->dst->want_out) break;
      size_t allow = bandwidth_allow(p, pp, d, ch->len - ch->off, now, wake);
      if (allow == 0) break;
      ssize_t n = send(pp->dst->fd, ch->data + ch->off, allow, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          pp->dst->want_out = 1;
          break;
        }
        if (errno == EINTR) continue;
        endpoint_failed(p, c, pp->dst, errno);
        return 0;
      }
      ch->off += (size_t)n;
      pp->queued -= (size_t)n;
      if (toxic_on(p, FMH_TOXIC_BANDWIDTH, d)) pp->tokens -= (double)n;
      atomic_fetch_add(&p->bytes[d], (uint64_t)n);
      if (ch->off < ch->len) continue;
    }
    pp->head = ch->next;
    if (!pp->head) pp->tail = NULL;
    free(ch);
  }
  return 0;
}

static void check_connected(fmh_proxy *p, conn *c) {
  int soerr = 0;
  socklen_t len = sizeof soerr;
  if (getsockopt(c->srv.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
  if (soerr == 0) {
    c->connecting = 0;
    c->srv.want_out = 0;
    return;
  }
  atomic_fetch_add(&p->upstream_errors, 1);
  log_conn_event(p, FMH_LOG_INFO, "proxy.upstream_error", c, strerror(soerr));
  conn_close(p, c, 0, "upstream connect failed");
}

static void conn_update_interest(fmh_proxy *p, conn *c) {
  endpoint *eps[2] = {&c->cli, &c->srv};
  for (int i = 0; i < 2; i++) {
    endpoint *e = eps[i];
    if (e->fd < 0) continue;
    uint32_t ev = 0;
    if (e == &c->srv && c->connecting) {
      ev = EPOLLOUT;
    } else {
      for (int d = 0; d < 2; d++) {
        pipe_t *pp = &c->pipe[d];
        if (pp->src == e && can_read(c, pp)) ev |= EPOLLIN;
        if (pp->dst == e && e->want_out && pp->head) ev |= EPOLLOUT;
      }
    }
    ep_set(p, e, ev);
  }
}

/* Everything a connection can do now; *wake gets its next timer. */
static void conn_service(fmh_proxy *p, conn *c, usec now, usec *wake) {
  if (c->dead) return;
  if (c->reset_at && now >= c->reset_at) {
    atomic_fetch_add(&p->act[FMH_TOXIC_RESET_PEER], 1);
    conn_close(p, c, 1, "reset_peer");
    return;
  }
  if (c->close_at && now >= c->close_at) {
    atomic_fetch_add(&p->act[FMH_TOXIC_TIMEOUT], 1);
    conn_close(p, c, 0, "timeout");
    return;
  }
  if (c->connecting && now >= c->connect_deadline) {
    atomic_fetch_add(&p->upstream_errors, 1);
    log_conn_event(p, FMH_LOG_INFO, "proxy.upstream_error", c, "connect timed out");
    conn_close(p, c, 0, "upstream connect timed out");
    return;
  }
  for (int round = 0; round < 4; round++) {
    for (int d = 0; d < 2; d++) {
      if (pump_in(p, c, d, now) < 0) return;
      if (pump_out(p, c, d, now, wake) < 0) return;
    }
    /* a drained queue lets a still-readable source go on at once */
    int again = 0;
    for (int d = 0; d < 2; d++)
      if (c->pipe[d].src && c->pipe[d].src->readable && can_read(c, &c->pipe[d])) again = 1;
    if (!again) break;
  }
  /* an error epoll saw that reading did not consume: the side is broken */
  endpoint *eps[2] = {&c->cli, &c->srv};
  for (int i = 0; i < 2; i++)
    if (eps[i]->err && !eps[i]->failed && eps[i]->fd >= 0) {
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      getsockopt(eps[i]->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
      endpoint_failed(p, c, eps[i], soerr ? soerr : ECONNRESET);
    }
  if (c->failed) {
    int pending = 0;
    for (int d = 0; d < 2; d++)
      if (c->pipe[d].head && !c->pipe[d].done) pending = 1;
    if (!pending) {
      conn_close(p, c, 1, c->why);
      return;
    }
  }
  for (int d = 0; d < 2; d++) {
    if (c->pipe[d].cut && !c->pipe[d].head) {
      atomic_fetch_add(&p->act[FMH_TOXIC_RESET_PEER], 1);
      conn_close(p, c, 1, "reset_peer after bytes");
      return;
    }
  }
  if (c->pipe[0].done && c->pipe[1].done) {
    conn_close(p, c, 0, "both sides closed");
    return;
  }
  conn_update_interest(p, c);
  /* a hung-up source is out of epoll: poll it from here */
  for (int d = 0; d < 2; d++)
    if (c->pipe[d].src && c->pipe[d].src->hup && c->pipe[d].src->readable && can_read(c, &c->pipe[d]))
      *wake = now;
  usec timers[3] = {c->reset_at, c->close_at, c->connecting ? c->connect_deadline : 0};
  for (int i = 0; i < 3; i++)
    if (timers[i] && (*wake == 0 || timers[i] < *wake)) *wake = timers[i];
}

/* Arm reset_peer and timeout on a connection that exists when they are set
 * (from = now) or is accepted while they are (from = accept time). */
static void arm_reset(fmh_proxy *p, conn *c, usec from) {
  const fmh_proxy_toxic *t = toxic_on(p, FMH_TOXIC_RESET_PEER, 0);
  c->reset_at = 0;
  c->budget = -1;
  if (!t) return;
  if (t->after_bytes >= 0) c->budget = t->after_bytes;
  if (t->timeout_ms > 0) c->reset_at = from + (usec)t->timeout_ms * 1000;
}

static void arm_timeout(fmh_proxy *p, conn *c, usec from) {
  int ms = timeout_ms(p);
  c->close_at = ms > 0 ? from + (usec)ms * 1000 : 0;
}

static void init_endpoint(endpoint *e, conn *c, int fd) {
  memset(e, 0, sizeof *e);
  e->kind = EP_CONN;
  e->fd = fd;
  e->c = c;
}

static void accept_one(fmh_proxy *p, int fd, usec now) {
  atomic_fetch_add(&p->accepted, 1);
  const fmh_proxy_toxic *rp = toxic_on(p, FMH_TOXIC_RESET_PEER, 0);
  if (rp && rp->after_bytes < 0 && rp->timeout_ms == 0) {
    atomic_fetch_add(&p->act[FMH_TOXIC_RESET_PEER], 1);
    atomic_fetch_add(&p->closed, 1);
    set_abortive(fd);
    close(fd);
    return;
  }
  set_nodelay(fd);
  conn *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    atomic_fetch_add(&p->closed, 1);
    return;
  }
  c->id = ++p->next_id;
  init_endpoint(&c->cli, c, fd);
  init_endpoint(&c->srv, c, -1);
  if (p->echo) {
    c->pipe[0].src = c->pipe[0].dst = &c->cli;
    c->pipe[1].src_eof = c->pipe[1].done = 1;
  } else {
    int s = socket(p->up_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
      atomic_fetch_add(&p->upstream_errors, 1);
      close(fd);
      free(c);
      atomic_fetch_add(&p->closed, 1);
      return;
    }
    set_nodelay(s);
    c->srv.fd = s;
    c->pipe[0].src = &c->cli;
    c->pipe[0].dst = &c->srv;
    c->pipe[1].src = &c->srv;
    c->pipe[1].dst = &c->cli;
    if (connect(s, (struct sockaddr *)&p->up_addr, p->up_len) != 0) {
      if (errno != EINPROGRESS) {
        atomic_fetch_add(&p->upstream_errors, 1);
        log_conn_event(p, FMH_LOG_INFO, "proxy.upstream_error", c, strerror(errno));
        close(s);
        close(fd);
        free(c);
        atomic_fetch_add(&p->closed, 1);
        return;
      }
      c->connecting = 1;
      c->connect_deadline = now + (usec)p->connect_timeout_ms * 1000;
    }
  }
  c->cli.readable = 1; /* data may have arrived with the handshake */
  for (int d = 0; d < 2; d++) c->pipe[d].tok_at = now;
  arm_reset(p, c, now);
  arm_timeout(p, c, now);
  c->next = p->conns;
  if (p->conns) p->conns->prev = c;
  p->conns = c;
  log_conn_event(p, FMH_LOG_DEBUG, "proxy.accept", c, NULL);
}

static void accept_all(fmh_proxy *p, usec now) {
  for (int i = 0; i < ACCEPT_BATCH && p->listening; i++) {
    int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* the listener stays readable: pause accepting instead of spinning */
        log_conn_event(p, FMH_LOG_WARN, "proxy.accept_error", NULL, strerror(errno));
        ep_forget(p, &p->listen_ep);
        p->accept_resume_at = now + RELISTEN_RETRY_US;
      }
      break;
    }
    accept_one(p, fd, now);
  }
}

/* --- down: stop and restart listening --------------------------------- */

static void stop_listening(fmh_proxy *p) {
  p->accept_resume_at = 0;
  if (!p->listening) return;
  ep_forget(p, &p->listen_ep);
  shutdown(p->listen_fd, SHUT_RD); /* refuses from now on, keeps the port */
  p->listening = 0;
}

static void start_listening(fmh_proxy *p, usec now) {
  if (p->listening) return;
  if (listen(p->listen_fd, 128) != 0) {
    /* fall back to a new socket on the same port */
    fmh_error e = {0};
    int fd = open_listener(p, p->port, &e);
    if (fd < 0) {
      if (!p->relisten_at) log_conn_event(p, FMH_LOG_WARN, "proxy.listen_error", NULL, e.msg);
      p->relisten_at = now + RELISTEN_RETRY_US;
      return;
    }
    close(p->listen_fd);
    p->listen_fd = fd;
    p->listen_ep.fd = fd;
  }
  p->relisten_at = 0;
  p->listening = 1;
  p->listen_ep.registered = 0;
  ep_set(p, &p->listen_ep, EPOLLIN);
}

/* --- applying configuration (loop thread) ----------------------------- */

static int same_params(const fmh_proxy_toxic *a, const fmh_proxy_toxic *b) {
  return a->ms == b->ms && a->jitter_ms == b->jitter_ms && a->rate_kib == b->rate_kib &&
         a->avg_size == b->avg_size && a->size_variation == b->size_variation &&
         a->delay_us == b->delay_us && a->after_bytes == b->after_bytes &&
         a->timeout_ms == b->timeout_ms && a->reset == b->reset && a->direction == b->direction;
}

static void apply_config(fmh_proxy *p, const toxic_table *want, usec now) {
  toxic_table old = p->cur;
  p->cur = *want;
  int was_down = old.on[FMH_TOXIC_DOWN][0], is_down = want->on[FMH_TOXIC_DOWN][0];
  if (is_down && (!was_down || old.serial[FMH_TOXIC_DOWN][0] != want->serial[FMH_TOXIC_DOWN][0])) {
    stop_listening(p);
    int abortive = want->t[FMH_TOXIC_DOWN][0].reset;
    while (p->conns) {
      atomic_fetch_add(&p->act[FMH_TOXIC_DOWN], 1);
      conn_close(p, p->conns, abortive, "down");
    }
  } else if (!is_down && was_down) {
    start_listening(p, now);
  }

  int rp_changed = old.on[FMH_TOXIC_RESET_PEER][0] != want->on[FMH_TOXIC_RESET_PEER][0] ||
                   old.serial[FMH_TOXIC_RESET_PEER][0] != want->serial[FMH_TOXIC_RESET_PEER][0];
  int to_changed = 0, bw_changed[2] = {0, 0};
  for (int d = 0; d < 2; d++) {
    if (old.on[FMH_TOXIC_TIMEOUT][d] != want->on[FMH_TOXIC_TIMEOUT][d] ||
        old.serial[FMH_TOXIC_TIMEOUT][d] != want->serial[FMH_TOXIC_TIMEOUT][d])
      to_changed = 1;
    if (old.on[FMH_TOXIC_BANDWIDTH][d] != want->on[FMH_TOXIC_BANDWIDTH][d] ||
        old.serial[FMH_TOXIC_BANDWIDTH][d] != want->serial[FMH_TOXIC_BANDWIDTH][d])
      bw_changed[d] = 1;
  }
  const fmh_proxy_toxic *rp = toxic_on(p, FMH_TOXIC_RESET_PEER, 0);
  int reset_now = rp_changed && rp && rp->after_bytes < 0 && rp->timeout_ms == 0;
  conn *c = p->conns;
  while (c) {
    conn *next = c->next;
    if (reset_now) {
      atomic_fetch_add(&p->act[FMH_TOXIC_RESET_PEER], 1);
      conn_close(p, c, 1, "reset_peer");
      c = next;
      continue;
    }
    if (rp_changed) arm_reset(p, c, now);
    if (to_changed) arm_timeout(p, c, now);
    for (int d = 0; d < 2; d++)
      if (bw_changed[d]) {
        c->pipe[d].tokens = 0;
        c->pipe[d].tok_at = now;
      }
    c = next;
  }
}

/* --- the loop ---------------------------------------------------------- */

static void bury(fmh_proxy *p) {
  while (p->graveyard) {
    conn *c = p->graveyard;
    p->graveyard = c->next;
    free(c);
  }
}

static void *loop_main(void *arg) {
  fmh_proxy *p = arg;
  struct epoll_event evs[64];
  usec wake = 0;
  for (;;) {
    usec now = now_us();
    int timeout = -1;
    if (wake) timeout = wake <= now ? 0 : (int)((wake - now + 999) / 1000);
    int n = epoll_wait(p->epfd, evs, 64, timeout);
    if (n < 0 && errno != EINTR) break;
    now = now_us();
    int stop = 0;
    for (int i = 0; i < n; i++) {
      endpoint *e = evs[i].data.ptr;
      uint32_t ev = evs[i].events;
      if (e->kind == EP_WAKE) {
        uint64_t v;
        if (read(p->wakefd, &v, sizeof v) < 0) { /* nothing to do: level stays until read */
        }
        pthread_mutex_lock(&p->mu);
        toxic_table want = p->want;
        uint64_t gen = p->want_gen;
        unsigned kill = p->kill_serial;
        int kill_abortive = p->kill_abortive;
        stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        int killed = 0;
        if (!stop) {
          apply_config(p, &want, now);
          if (kill != p->kill_done) {
            p->kill_done = kill;
            while (p->conns) {
              conn_close(p, p->conns, kill_abortive, "closed on request");
              killed++;
            }
          }
        }
        pthread_mutex_lock(&p->mu);
        if (killed) p->kill_count = killed;
        p->applied_gen = gen;
        pthread_cond_broadcast(&p->applied_cv);
        pthread_mutex_unlock(&p->mu);
      } else if (e->kind == EP_LISTEN) {
        if (p->listening) accept_all(p, now);
      } else {
        if (e->c->dead || e->fd < 0) continue;
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) e->readable = 1;
        if (ev & (EPOLLOUT | EPOLLERR)) e->want_out = 0;
        if (e->c->connecting && e == &e->c->srv && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
          check_connected(p, e->c);
          if (e->c->dead) continue;
        } else if (ev & EPOLLERR) {
          /* read what is left (reading reports the error), then fail it;
           * out of epoll meanwhile, or the error would fire forever */
          e->err = 1;
          ep_forget(p, e);
          e->hup = 1;
          continue;
        }
        if ((ev & EPOLLHUP) && !(e->c->connecting && e == &e->c->srv)) {
          /* level-triggered HUP would fire forever: leave epoll, poll by hand */
          ep_forget(p, e);
          e->hup = 1;
          e->want_out = 0;
        }
      }
    }
    if (stop) break;
    if (p->relisten_at && now >= p->relisten_at && !toxic_on(p, FMH_TOXIC_DOWN, 0))
      start_listening(p, now);
    if (p->accept_resume_at && now >= p->accept_resume_at) {
      p->accept_resume_at = 0;
      if (p->listening) ep_set(p, &p->listen_ep, EPOLLIN);
    }
    wake = p->relisten_at;
    if (p->accept_resume_at && (!wake || p->accept_resume_at < wake)) wake = p->accept_resume_at;
    for (conn *c = p->conns, *next; c; c = next) {
      next = c->next;
      conn_service(p, c, now, &wake);
    }
    bury(p);
  }
  while (p->conns) conn_close(p, p->conns, 0, "proxy closed");
  bury(p);
  pthread_mutex_lock(&p->mu);
  p->thread_done = 1;
  pthread_cond_broadcast(&p->applied_cv);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* --- public API --------------------------------------------------------- */

static fmh_proxy *start(const fmh_proxy_opts *o, int echo, fmh_error *err) {
  fmh_proxy *p = calloc(1, sizeof *p);
  if (!p) {
    fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
    return NULL;
  }
  snprintf(p->name, sizeof p->name, "%s", o->name && *o->name ? o->name : (echo ? "echo" : "proxy"));
  p->echo = echo;
  p->listen_fd = p->epfd = p->wakefd = -1;
  p->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
  p->rng = o->seed;
  p->listening = 1;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->applied_cv, NULL);
  if (o->listen_port < 0 || o->listen_port > 65535) {
    fmh_error_set(err, "config", 0, 0, "proxy '%s': listen_port %d out of range", p->name, o->listen_port);
    goto fail;
  }
  if (!echo) {
    if (!o->upstream_host || !*o->upstream_host || o->upstream_port <= 0 || o->upstream_port > 65535) {
      fmh_error_set(err, "config", 0, 0, "proxy '%s': an upstream host and port (1-65535) are required",
                    p->name);
      goto fail;
    }
    snprintf(p->upstream_host, sizeof p->upstream_host, "%s", o->upstream_host);
    p->upstream_port = o->upstream_port;
    if (resolve(o->upstream_host, o->upstream_port, 0, &p->up_addr, &p->up_len, err, "upstream") != 0)
      goto fail;
  }
  const char *lh = o->listen_host && *o->listen_host ? o->listen_host : "127.0.0.1";
  if (resolve(lh, 0, 1, &p->listen_addr, &p->listen_len, err, "listen") != 0) goto fail;
  p->listen_fd = open_listener(p, o->listen_port, err);
  if (p->listen_fd < 0) goto fail;
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (p->epfd < 0 || p->wakefd < 0) {
    fmh_error_set(err, "os", errno, 0, "proxy '%s': %s", p->name, strerror(errno));
    goto fail;
  }
  p->wake_ep.kind = EP_WAKE;
  p->wake_ep.fd = p->wakefd;
  p->listen_ep.kind = EP_LISTEN;
  p->listen_ep.fd = p->listen_fd;
  ep_set(p, &p->wake_ep, EPOLLIN);
  ep_set(p, &p->listen_ep, EPOLLIN);
  int rc = pthread_create(&p->thread, NULL, loop_main, p);
  if (rc != 0) {
    fmh_error_set(err, "os", rc, 0, "proxy '%s': cannot start its thread: %s", p->name, strerror(rc));
    goto fail;
  }
  p->thread_started = 1;
  if (fmh_log_enabled(FMH_LOG_INFO)) {
    fmh_log_field f[] = {FMH_LS("proxy", p->name), FMH_LI("port", p->port),
                         FMH_LS("upstream_host", echo ? "(echo)" : p->upstream_host),
                         FMH_LI("upstream_port", p->upstream_port), FMH_LI("seed", (long long)o->seed)};
    fmh_log_emit(FMH_LOG_INFO, "proxy.start", NULL, NULL, f, 5);
  }
  return p;
fail:
  fmh_proxy_close(p);
  return NULL;
}

fmh_proxy *fmh_proxy_start(const fmh_proxy_opts *o, fmh_error *err) { return start(o, 0, err); }
fmh_proxy *fmh_proxy_start_echo(const fmh_proxy_opts *o, fmh_error *err) { return start(o, 1, err); }

static void wake(fmh_proxy *p) {
  uint64_t one = 1;
  if (write(p->wakefd, &one, sizeof one) < 0) { /* the counter is already non-zero: fine */
  }
}

void fmh_proxy_close(fmh_proxy *p) {
  if (!p) return;
  if (p->thread_started) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    pthread_join(p->thread, NULL);
    if (fmh_log_enabled(FMH_LOG_INFO)) {
      fmh_log_field f[] = {FMH_LS("proxy", p->name), FMH_LI("port", p->port),
                           FMH_LI("accepted", atomic_load(&p->accepted)),
                           FMH_LI("bytes_up", atomic_load(&p->bytes[0])),
                           FMH_LI("bytes_down", atomic_load(&p->bytes[1]))};
      fmh_log_emit(FMH_LOG_INFO, "proxy.stop", NULL, NULL, f, 5);
    }
  }
  if (p->listen_fd >= 0) close(p->listen_fd);
  if (p->epfd >= 0) close(p->epfd);
  if (p->wakefd >= 0) close(p->wakefd);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->applied_cv);
  free(p);
}

int fmh_proxy_port(const fmh_proxy *p) { return p->port; }
const char *fmh_proxy_name(const fmh_proxy *p) { return p->name; }
const char *fmh_proxy_upstream_host(const fmh_proxy *p) { return p->echo ? NULL : p->upstream_host; }
int fmh_proxy_upstream_port(const fmh_proxy *p) { return p->upstream_port; }
int fmh_proxy_is_echo(const fmh_proxy *p) { return p->echo; }

/* Called with mu held: publish the table and wait until the loop has it. */
static void publish_locked(fmh_proxy *p) {
  uint64_t gen = ++p->want_gen;
  wake(p);
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += APPLY_WAIT_MS / 1000;
  while (p->applied_gen < gen && !p->thread_done)
    if (pthread_cond_timedwait(&p->applied_cv, &p->mu, &dl) == ETIMEDOUT) break;
}

static int validate(const fmh_proxy_toxic *t, fmh_error *err) {
  const char *bad = NULL;
  if ((unsigned)t->kind >= FMH_TOXIC_COUNT) bad = "unknown toxic";
  else if (t->direction < FMH_DIR_UP || t->direction > FMH_DIR_BOTH) bad = "direction must be up, down or both";
  else if (t->kind == FMH_TOXIC_LATENCY && !(t->ms >= 0 && t->jitter_ms >= 0 && t->ms <= 3600e3 && t->jitter_ms <= 3600e3))
    bad = "latency: ms and jitter must be between 0 and 3600000";
  else if (t->kind == FMH_TOXIC_BANDWIDTH && !(t->rate_kib > 0 && t->rate_kib < 1e9))
    bad = "bandwidth: rate (KiB/s) must be > 0";
  else if (t->kind == FMH_TOXIC_SLICER &&
           (t->avg_size < 1 || t->size_variation < 0 || t->size_variation >= t->avg_size || t->delay_us < 0))
    bad = "slicer: needs avg_size >= 1, 0 <= size_variation < avg_size, delay_us >= 0";
  else if ((t->kind == FMH_TOXIC_RESET_PEER || t->kind == FMH_TOXIC_TIMEOUT) && t->timeout_ms < 0)
    bad = "timeout_ms must be >= 0";
  else if (t->kind == FMH_TOXIC_RESET_PEER && t->after_bytes < -1)
    bad = "reset_peer: after_bytes must be >= 0";
  if (bad) {
    fmh_error_set(err, "config", 0, 0, "%s", bad);
    return -1;
  }
  return 0;
}

static void log_toxic(const fmh_proxy *p, const char *event, const fmh_proxy_toxic *t, fmh_toxic_kind k,
                      int dir) {
  if (!fmh_log_enabled(FMH_LOG_INFO)) return;
  static const char *const dirs[] = {"", "up", "down", "both"};
  char params[160] = "";
  if (t) switch (k) {
      case FMH_TOXIC_DOWN: snprintf(params, sizeof params, "reset=%d", t->reset); break;
      case FMH_TOXIC_RESET_PEER:
        snprintf(params, sizeof params, "after_bytes=%lld timeout_ms=%d", t->after_bytes, t->timeout_ms);
        break;
      case FMH_TOXIC_LATENCY: snprintf(params, sizeof params, "ms=%g jitter=%g", t->ms, t->jitter_ms); break;
      case FMH_TOXIC_BANDWIDTH: snprintf(params, sizeof params, "rate=%g KiB/s", t->rate_kib); break;
      case FMH_TOXIC_SLICER:
        snprintf(params, sizeof params, "avg_size=%d size_variation=%d delay_us=%d", t->avg_size,
                 t->size_variation, t->delay_us);
        break;
      case FMH_TOXIC_TIMEOUT: snprintf(params, sizeof params, "timeout_ms=%d", t->timeout_ms); break;
      default: break;
    }
  fmh_log_field f[] = {FMH_LS("proxy", p->name), FMH_LI("port", p->port),
                       FMH_LS("toxic", fmh_proxy_toxic_name(k)), FMH_LS("direction", dirs[dir & 3]),
                       FMH_LS("params", params)};
  fmh_log_emit(FMH_LOG_INFO, event, NULL, NULL, f, t ? 5 : 4);
}

int fmh_proxy_set_toxic(fmh_proxy *p, const fmh_proxy_toxic *t, fmh_error *err) {
  if (validate(t, err) != 0) return -1;
  pthread_mutex_lock(&p->mu);
  for (int d = 0; d < 2; d++) {
    int slot = per_direction(t->kind) ? d : 0;
    if (per_direction(t->kind) && !(t->direction & (1 << d))) continue;
    p->want.on[t->kind][slot] = 1;
    p->want.t[t->kind][slot] = *t;
    p->want.serial[t->kind][slot]++;
    if (!per_direction(t->kind)) break;
  }
  publish_locked(p);
  pthread_mutex_unlock(&p->mu);
  log_toxic(p, "proxy.toxic", t, t->kind, t->direction);
  return 0;
}

int fmh_proxy_remove_toxic(fmh_proxy *p, fmh_toxic_kind kind, int direction) {
  if ((unsigned)kind >= FMH_TOXIC_COUNT) return 0;
  int removed = 0;
  pthread_mutex_lock(&p->mu);
  for (int d = 0; d < 2; d++) {
    int slot = per_direction(kind) ? d : 0;
    if (per_direction(kind) && !(direction & (1 << d))) continue;
    if (p->want.on[kind][slot]) removed++;
    p->want.on[kind][slot] = 0;
    if (!per_direction(kind)) break;
  }
  if (removed) publish_locked(p);
  pthread_mutex_unlock(&p->mu);
  if (removed) log_toxic(p, "proxy.remove", NULL, kind, direction);
  return removed;
}

int fmh_proxy_close_connections(fmh_proxy *p, int abortive) {
  pthread_mutex_lock(&p->mu);
  p->kill_serial++;
  p->kill_abortive = abortive;
  p->kill_count = 0;
  publish_locked(p);
  int n = p->kill_count;
  pthread_mutex_unlock(&p->mu);
  if (fmh_log_enabled(FMH_LOG_INFO)) {
    fmh_log_field f[] = {FMH_LS("proxy", p->name), FMH_LI("port", p->port), FMH_LI("closed", n),
                         FMH_LB("reset", abortive)};
    fmh_log_emit(FMH_LOG_INFO, "proxy.close_connections", NULL, NULL, f, 4);
  }
  return n;
}

void fmh_proxy_clear(fmh_proxy *p) {
  pthread_mutex_lock(&p->mu);
  memset(p->want.on, 0, sizeof p->want.on);
  publish_locked(p);
  pthread_mutex_unlock(&p->mu);
  if (fmh_log_enabled(FMH_LOG_INFO)) {
    fmh_log_field f[] = {FMH_LS("proxy", p->name), FMH_LI("port", p->port)};
    fmh_log_emit(FMH_LOG_INFO, "proxy.clear", NULL, NULL, f, 2);
  }
}

int fmh_proxy_list_toxics(fmh_proxy *p, fmh_proxy_toxic *out, int max) {
  int n = 0;
  pthread_mutex_lock(&p->mu);
  for (int k = 0; k < FMH_TOXIC_COUNT; k++) {
    const int *on = p->want.on[k];
    const fmh_proxy_toxic *t = p->want.t[k];
    if (!per_direction((fmh_toxic_kind)k)) {
      if (on[0] && n < max) out[n++] = t[0];
      continue;
    }
    fmh_proxy_toxic a = t[0], b = t[1];
    a.direction = b.direction = 0;
    if (on[0] && on[1] && same_params(&a, &b)) {
      if (n < max) { out[n] = t[0]; out[n++].direction = FMH_DIR_BOTH; }
      continue;
    }
    for (int d = 0; d < 2; d++)
      if (on[d] && n < max) { out[n] = t[d]; out[n++].direction = 1 << d; }
  }
  pthread_mutex_unlock(&p->mu);
  return n;
}

void fmh_proxy_get_stats(fmh_proxy *p, fmh_proxy_stats *s) {
  memset(s, 0, sizeof *s);
  s->bytes_up = atomic_load(&p->bytes[0]);
  s->bytes_down = atomic_load(&p->bytes[1]);
  s->bytes_dropped = atomic_load(&p->bytes_dropped);
  s->closed = atomic_load(&p->closed);
  s->accepted = atomic_load(&p->accepted);
  s->active = s->accepted >= s->closed ? s->accepted - s->closed : 0;
  s->upstream_errors = atomic_load(&p->upstream_errors);
  for (int k = 0; k < FMH_TOXIC_COUNT; k++) s->activations[k] = atomic_load(&p->act[k]);
}

/* --- the spec client ---------------------------------------------------- */

static int remaining_ms(usec deadline) {
  usec left = deadline - now_us();
  return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

static void os_error(fmh_error *err, int e, const char *what) {
  fmh_error_set(err, "os", e, e == ECONNREFUSED || e == ECONNRESET || e == EPIPE || e == ETIMEDOUT, "%s: %s",
                what, strerror(e));
}

int fmh_proxy_client_connect(const char *host, int port, int timeout_ms, fmh_error *err) {
  struct sockaddr_storage a;
  socklen_t len;
  if (resolve(host, port, 0, &a, &len, err, "client") != 0) return -1;
  int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    os_error(err, errno, "socket");
    return -1;
  }
  set_nodelay(fd);
  if (connect(fd, (struct sockaddr *)&a, len) == 0) return fd;
  if (errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    fmh_error_set(err, "os", e, 1, "connect to %s:%d: %s", host, port, strerror(e));
    return -1;
  }
  struct pollfd pf = {.fd = fd, .events = POLLOUT};
  int rc;
  do rc = poll(&pf, 1, timeout_ms);
  while (rc < 0 && errno == EINTR);
  if (rc == 0) {
    close(fd);
    fmh_error_set(err, "timeout", ETIMEDOUT, 1, "connect to %s:%d timed out after %d ms", host, port, timeout_ms);
    return -1;
  }
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
  if (rc < 0 || soerr != 0) {
    int e = rc < 0 ? errno : soerr;
    close(fd);
    fmh_error_set(err, "os", e, 1, "connect to %s:%d: %s", host, port, strerror(e));
    return -1;
  }
  return fd;
}

long fmh_proxy_client_exchange(int fd, const void *out, size_t outlen, void *in, size_t n, size_t *got,
                               int *eof, int timeout_ms, fmh_error *err) {
  usec deadline = now_us() + (usec)timeout_ms * 1000;
  size_t sent = 0;
  *got = 0;
  *eof = 0;
  while (sent < outlen || (*got < n && !*eof)) {
    struct pollfd pf = {.fd = fd, .events = 0};
    if (sent < outlen) pf.events |= POLLOUT;
    if (*got < n && !*eof) pf.events |= POLLIN;
    int left = remaining_ms(deadline);
    int rc = left > 0 ? poll(&pf, 1, left) : 0;
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      os_error(err, errno, "poll");
      return -1;
    }
    if (rc == 0) {
      fmh_error_set(err, "timeout", ETIMEDOUT, 1,
                    "timed out after %d ms (sent %zu of %zu bytes, received %zu of %zu)", timeout_ms, sent,
                    outlen, *got, n);
      return -1;
    }
    if ((pf.revents & (POLLIN | POLLHUP | POLLERR)) && *got < n && !*eof) {
      ssize_t r = recv(fd, (char *)in + *got, n - *got, 0);
      if (r > 0) *got += (size_t)r;
      else if (r == 0) *eof = 1;
      else if (errno != EAGAIN && errno != EINTR) {
        os_error(err, errno, "recv");
        return -1;
      }
    }
    if ((pf.revents & (POLLOUT | POLLERR)) && sent < outlen) {
      ssize_t w = send(fd, (const char *)out + sent, outlen - sent, MSG_NOSIGNAL);
      if (w > 0) sent += (size_t)w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        os_error(err, errno, "send");
        return -1;
      }
    }
  }
  return (long)*got;
}

int fmh_proxy_client_send(int fd, const void *buf, size_t len, int timeout_ms, fmh_error *err) {
  size_t got;
  int eof;
  return fmh_proxy_client_exchange(fd, buf, len, NULL, 0, &got, &eof, timeout_ms, err) < 0 ? -1 : 0;
}

long fmh_proxy_client_recv(int fd, void *buf, size_t n, size_t *got, int *eof, int timeout_ms, fmh_error *err) {
  return fmh_proxy_client_exchange(fd, NULL, 0, buf, n, got, eof, timeout_ms, err);
}
