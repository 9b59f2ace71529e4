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
#include "proxy_int.h"

/* splitmix64: small, seedable, good enough for jitter */
static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

/* Toxics that act on the whole connection keep one slot (index 0). */
int fmh_proxy_per_direction(fmh_toxic_kind k) { return k != FMH_TOXIC_DOWN && k != FMH_TOXIC_RESET_PEER; }

static void log_conn_event(const fmh_proxy *p, fmh_log_level lvl, const char *event, const conn *c,
                           const char *msg) {
  if (!fmh_log_enabled(lvl)) return;
  fmh_log_field f[] = {FMH_LS("proxy", p->name), FMH_LI("port", p->port),
                       FMH_LI("conn", c ? (long long)c->id : 0)};
  fmh_log_emit(lvl, event, NULL, msg, f, 3);
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
    if (abortive) fmh_proxy_set_abortive(e->fd);
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
  int slot = fmh_proxy_per_direction(k) ? d : 0;
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
    fmh_proxy_set_abortive(fd);
    close(fd);
    return;
  }
  fmh_proxy_set_nodelay(fd);
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
    fmh_proxy_set_nodelay(s);
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
    int fd = fmh_proxy_open_listener(p, p->port, &e);
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

int fmh_proxy_same_params(const fmh_proxy_toxic *a, const fmh_proxy_toxic *b) {
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
    usec now = fmh_proxy_now_us();
    int timeout = -1;
    if (wake) timeout = wake <= now ? 0 : (int)((wake - now + 999) / 1000);
    int n = epoll_wait(p->epfd, evs, 64, timeout);
    if (n < 0 && errno != EINTR) break;
    now = fmh_proxy_now_us();
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
    if (fmh_proxy_resolve(o->upstream_host, o->upstream_port, 0, &p->up_addr, &p->up_len, err, "upstream") != 0)
      goto fail;
  }
  const char *lh = o->listen_host && *o->listen_host ? o->listen_host : "127.0.0.1";
  if (fmh_proxy_resolve(lh, 0, 1, &p->listen_addr, &p->listen_len, err, "listen") != 0) goto fail;
  p->listen_fd = fmh_proxy_open_listener(p, o->listen_port, err);
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

void fmh_proxy_wake(fmh_proxy *p) {
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
    fmh_proxy_wake(p);
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
