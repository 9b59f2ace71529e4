/* fmhost.pool, the pool itself: bounded size, FIFO waiters with hand-off,
 * validation, eviction, the housekeeper thread, stats and state-change log
 * events (see include/fmhost/pool.h). Connections are opened in
 * pool_connect.c, statements live in pool_query.c, bulk loads in
 * pool_bulk.c, the stress driver in pool_stress.c. */
#include "fmhost/pool.h"

#include <errno.h>
#include <errmsg.h>
#include <fcntl.h>
#include <math.h>
#include <mysql/plugin_auth.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fmhost/log.h"
#include "fmhost/retry.h"
#include "pool_internal.h"

/* --- the log ----------------------------------------------------------- */

typedef struct {
  int active, idle, total, waiting, size, opening;
} counts;

static counts snap(const fmh_pool *p) {
  counts k = {p->active, p->idle, p->total, p->waiting, p->o.size, p->opening};
  return k;
}

static void log_state(const fmh_pool *p, fmh_log_level lvl, const char *change, const char *reason,
                      uint64_t serial, counts k, const char *msg) {
  if (!fmh_log_enabled(lvl)) return;
  fmh_log_field f[] = {FMH_LS("pool", p->o.name), FMH_LS("change", change),
                       FMH_LS("reason", reason),  FMH_LI("conn", serial),
                       FMH_LI("active", k.active), FMH_LI("idle", k.idle),
                       FMH_LI("total", k.total),  FMH_LI("opening", k.opening),
                       FMH_LI("waiting", k.waiting), FMH_LI("size", k.size)};
  size_t n = sizeof f / sizeof *f;
  if (!reason) { /* leave out an empty reason */
    memmove(&f[2], &f[3], (n - 3) * sizeof *f);
    n--;
  }
  fmh_log_emit(lvl, "pool.state", NULL, msg, f, n);
}

/* --- pool bookkeeping (p->mu held) -------------------------------------- */

static void idle_push_front(fmh_pool *p, fmh_conn *c) {
  c->prev = NULL;
  c->next = p->idle_head;
  if (p->idle_head) p->idle_head->prev = c;
  else p->idle_tail = c;
  p->idle_head = c;
  p->idle++;
}

static void idle_remove(fmh_pool *p, fmh_conn *c) {
  if (c->prev) c->prev->next = c->next;
  else p->idle_head = c->next;
  if (c->next) c->next->prev = c->prev;
  else p->idle_tail = c->prev;
  c->next = c->prev = NULL;
  p->idle--;
}

static fmh_waiter *wq_pop(fmh_pool *p) {
  fmh_waiter *w = p->wq_head;
  if (!w) return NULL;
  p->wq_head = w->next;
  if (!p->wq_head) p->wq_tail = NULL;
  w->next = NULL;
  w->queued = 0;
  p->waiting--;
  return w;
}

static void wq_remove(fmh_pool *p, fmh_waiter *w) {
  fmh_waiter **pp = &p->wq_head, *prev = NULL;
  while (*pp && *pp != w) { prev = *pp; pp = &(*pp)->next; }
  if (!*pp) return;
  *pp = w->next;
  if (p->wq_tail == w) p->wq_tail = prev;
  w->next = NULL;
  w->queued = 0;
  p->waiting--;
}

/* c goes to an acquirer (p->mu held): its grant number orders hand-outs. */
static void note_active(fmh_pool *p, fmh_conn *c) {
  if (p->active > p->peak_active) p->peak_active = p->active;
  c->grant = ++p->grants;
}

/* A slot (room for one more connection) became free: give it to the first
 * waiter, who will open a connection itself. */
static void grant_slot(fmh_pool *p) {
  if (p->closed || p->total >= p->o.size) return;
  fmh_waiter *w = wq_pop(p);
  if (!w) return;
  p->total++;
  p->opening++;
  w->slot = 1;
  pthread_cond_signal(&w->cv);
}

/* A usable connection: to the first waiter, else to the idle list. */
static void place(fmh_pool *p, fmh_conn *c) {
  fmh_waiter *w = wq_pop(p);
  if (w) {
    w->conn = c;
    p->active++;
    note_active(p, c);
    pthread_cond_signal(&w->cv);
    return;
  }
  c->last_used_ms = fmh_pool_now_ms();
  idle_push_front(p, c);
}

static void hist_add(fmh_pool *p, double ms) {
  double us = ms * 1000;
  int b = 0;
  while (b < FMH_POOL_HIST - 1 && us >= (double)(1ULL << b)) b++;
  p->hist[b]++;
  p->acq_sum_ms += ms;
  if (ms > p->acq_max_ms) p->acq_max_ms = ms;
}

static double hist_quantile(const fmh_pool *p, double q) {
  uint64_t n = 0;
  for (int b = 0; b < FMH_POOL_HIST; b++) n += p->hist[b];
  if (n == 0) return 0;
  uint64_t want = (uint64_t)ceil(q * (double)n), seen = 0;
  for (int b = 0; b < FMH_POOL_HIST; b++) {
    seen += p->hist[b];
    if (seen >= want && want > 0) return b == 0 ? 0.001 : (double)(1ULL << b) / 1000.0; /* upper bound, ms */
  }
  return p->acq_max_ms;
}

static void pool_unref(fmh_pool *p) {
  /* p->mu held; frees the pool when the owner closed it and nothing remains */
  if (--p->refs > 0) { pthread_mutex_unlock(&p->mu); return; }
  pthread_mutex_unlock(&p->mu);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->hk_cv);
  fmh_pool_free_opts(&p->o);
  free(p);
}

/* --- open / close ------------------------------------------------------- */

static void *housekeeper(void *arg);

fmh_pool *fmh_pool_open(const fmh_pool_opts *o, fmh_error *e) {
  pthread_once(&fmh_pool_lib_once, fmh_pool_lib_init);
  if (fmh_pool_check_opts(o, e) != 0) return NULL;
  fmh_pool *p = calloc(1, sizeof *p);
  if (!p) {
    fmh_error_set(e, "os", ENOMEM, 0, "pool: out of memory");
    return NULL;
  }
  fmh_pool_copy_opts(&p->o, o);
  if ((p->o.tls_mode == FMH_TLS_PREFERRED || p->o.tls_mode == FMH_TLS_REQUIRED) && p->o.tls_ca &&
      fmh_log_enabled(FMH_LOG_WARN)) {
    fmh_log_field f[] = {FMH_LS("pool", p->o.name), FMH_LS("mode", fmh_tls_mode_name(p->o.tls_mode)),
                         FMH_LS("ca", p->o.tls_ca)};
    fmh_log_emit(FMH_LOG_WARN, "pool.tls", NULL,
                 "tls ca is not used: this mode encrypts without checking the server certificate (verify-ca checks it)",
                 f, sizeof f / sizeof *f);
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->hk_cv, NULL);
  p->refs = 1;
  if (!o->lazy) {
    MYSQL *m = fmh_pool_connect_retrying(p, e);
    fmh_conn *c = m ? fmh_pool_conn_new(p, m) : NULL;
    if (!c) {
      if (m) { mysql_close(m); fmh_error_set(e, "os", ENOMEM, 0, "pool: out of memory"); }
      pthread_mutex_destroy(&p->mu);
      pthread_cond_destroy(&p->hk_cv);
      fmh_pool_free_opts(&p->o);
      free(p);
      return NULL;
    }
    c->serial = ++p->next_serial;
    p->total = 1;
    p->created = 1;
    idle_push_front(p, c);
  }
  log_state(p, FMH_LOG_INFO, "open", NULL, 0, snap(p), NULL);
  if (p->o.min_idle > 0 || p->o.idle_timeout_ms > 0 || p->o.max_lifetime_ms > 0) {
    p->hk_running = 1;
    if (pthread_create(&p->hk, NULL, housekeeper, p) != 0) p->hk_running = 0;
  }
  return p;
}

void fmh_pool_close(fmh_pool *p) {
  pthread_mutex_lock(&p->mu);
  if (p->closed) { pthread_mutex_unlock(&p->mu); return; }
  p->closed = 1;
  fmh_waiter *w;
  while ((w = wq_pop(p)) != NULL) {
    w->closed = 1;
    pthread_cond_signal(&w->cv);
  }
  fmh_conn *list = p->idle_head;
  int n = p->idle;
  p->idle_head = p->idle_tail = NULL;
  p->idle = 0;
  int hk = p->hk_running;
  pthread_cond_broadcast(&p->hk_cv);
  pthread_mutex_unlock(&p->mu);
  if (hk) pthread_join(p->hk, NULL);
  while (list) {
    fmh_conn *next = list->next;
    fmh_pool_conn_free(list);
    list = next;
  }
  pthread_mutex_lock(&p->mu);
  p->total -= n;
  p->destroyed += (uint64_t)n;
  log_state(p, FMH_LOG_INFO, "close", NULL, 0, snap(p), NULL);
  pool_unref(p);
}

/* --- acquire / release -------------------------------------------------- */

/* Open a connection into a slot already counted in total/opening. */
static fmh_conn *open_in_slot(fmh_pool *p, fmh_error *e) {
  MYSQL *m = fmh_pool_connect_retrying(p, e);
  fmh_conn *c = m ? fmh_pool_conn_new(p, m) : NULL;
  if (m && !c) { mysql_close(m); fmh_error_set(e, "os", ENOMEM, 0, "pool: out of memory"); }
  pthread_mutex_lock(&p->mu);
  p->opening--;
  if (!c) {
    p->total--;
    p->connect_failures++;
    grant_slot(p);
    counts k = snap(p);
    pthread_mutex_unlock(&p->mu);
    log_state(p, FMH_LOG_INFO, "connect_failed", NULL, 0, k, e->msg);
    return NULL;
  }
  c->serial = ++p->next_serial;
  p->created++;
  return c; /* mu still held: the caller places the connection */
}

static void error_closed(fmh_error *e) { fmh_error_set(e, "pool", 0, 0, "pool closed"); }

/* Drop the reference an acquire took, after a failure. */
static void unref_locked_or_not(fmh_pool *p, int locked) {
  if (!locked) pthread_mutex_lock(&p->mu);
  pool_unref(p);
}

int fmh_pool_acquire(fmh_pool *p, int timeout_ms, fmh_conn **out, fmh_error *e) {
  double t0 = fmh_pool_now_ms();
  if (timeout_ms < 0) timeout_ms = p->o.acquire_timeout_ms;
  *out = NULL;
  fmh_conn *c = NULL;
  pthread_mutex_lock(&p->mu);
  /* a connection in use holds a reference: the pool outlives a close()
   * racing with this acquire */
  p->refs++;
  for (;;) {
    if (p->closed) {
      error_closed(e);
      unref_locked_or_not(p, 1);
      return -1;
    }
    int need_open = 0;
    if (!p->wq_head && p->idle_head) {
      c = p->idle_head;
      idle_remove(p, c);
      p->active++;
      note_active(p, c);
    } else if (!p->wq_head && p->total < p->o.size) {
      p->total++;
      p->opening++;
      need_open = 1;
    } else {
      fmh_waiter w;
      memset(&w, 0, sizeof w);
      pthread_cond_init(&w.cv, NULL);
      w.queued = 1;
      if (p->wq_tail) p->wq_tail->next = &w;
      else p->wq_head = &w;
      p->wq_tail = &w;
      p->waiting++;
      log_state(p, FMH_LOG_DEBUG, "wait", NULL, 0, snap(p), NULL);
      struct timespec dl;
      clock_gettime(CLOCK_REALTIME, &dl);
      double rem = timeout_ms - (fmh_pool_now_ms() - t0);
      if (rem < 0) rem = 0;
      dl.tv_sec += (time_t)(rem / 1000);
      dl.tv_nsec += (long)(fmod(rem, 1000.0) * 1e6);
      if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
      int rc = 0;
      while (!w.conn && !w.slot && !w.closed && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w.cv, &p->mu, &dl);
      if (w.queued) wq_remove(p, &w);
      pthread_cond_destroy(&w.cv);
      if (w.conn) {
        c = w.conn; /* handed over, already counted active */
      } else if (w.slot) {
        need_open = 1;
      } else if (w.closed) {
        error_closed(e);
        unref_locked_or_not(p, 1);
        return -1;
      } else {
        p->timeouts++;
        counts k = snap(p);
        pthread_mutex_unlock(&p->mu);
        fmh_error_set(e, "timeout", 0, 1,
                      "pool exhausted after %d ms (size %d, active %d, waiting %d)", timeout_ms,
                      k.size, k.active, k.waiting);
        log_state(p, FMH_LOG_INFO, "timeout", NULL, 0, k, e->msg);
        unref_locked_or_not(p, 0);
        return -1;
      }
    }
    if (need_open) {
      pthread_mutex_unlock(&p->mu);
      c = open_in_slot(p, e);
      if (!c) { unref_locked_or_not(p, 0); return -1; }
      p->active++;
      note_active(p, c);
      counts k = snap(p);
      pthread_mutex_unlock(&p->mu);
      log_state(p, FMH_LOG_INFO, "connect", NULL, c->serial, k, NULL);
      break;
    }
    /* c came from the idle list or a hand-off: check it outside the lock */
    pthread_mutex_unlock(&p->mu);
    double now = fmh_pool_now_ms();
    const char *reason = NULL;
    if (p->o.max_lifetime_ms > 0 && now - c->created_ms >= p->o.max_lifetime_ms) {
      reason = "lifetime";
    } else if (p->o.validate_after_ms >= 0 && now - c->last_used_ms >= p->o.validate_after_ms) {
      int ok = mysql_ping(c->my) == 0;
      pthread_mutex_lock(&p->mu);
      p->validations++;
      if (!ok) p->validation_failures++;
      pthread_mutex_unlock(&p->mu);
      if (!ok) reason = "validation";
    }
    if (!reason) break;
    /* replace it in the same slot */
    uint64_t serial = c->serial;
    fmh_pool_conn_free(c);
    c = NULL;
    pthread_mutex_lock(&p->mu);
    p->active--;
    p->destroyed++;
    if (reason[0] == 'l') p->evicted_lifetime++;
    p->opening++;
    counts k = snap(p);
    pthread_mutex_unlock(&p->mu);
    log_state(p, FMH_LOG_INFO, "destroy", reason, serial, k, NULL);
    c = open_in_slot(p, e);
    if (!c) { unref_locked_or_not(p, 0); return -1; }
    p->active++;
    note_active(p, c);
    k = snap(p);
    pthread_mutex_unlock(&p->mu);
    log_state(p, FMH_LOG_INFO, "connect", NULL, c->serial, k, NULL);
    break;
  }
  double ms = fmh_pool_now_ms() - t0;
  pthread_mutex_lock(&p->mu);
  p->acquires++;
  hist_add(p, ms);
  counts k = snap(p);
  pthread_mutex_unlock(&p->mu);
  c->broken = 0;
  log_state(p, FMH_LOG_DEBUG, "acquire", NULL, c->serial, k, NULL);
  *out = c;
  return 0;
}

void fmh_pool_release(fmh_conn *c) {
  fmh_pool *p = c->pool;
  if (c->cursor) c->cursor_close(c->cursor);
  if (!c->broken && fmh_conn_in_transaction(c)) {
    /* a transaction left open must not leak into the next user */
    if (mysql_rollback(c->my) != 0) c->broken = 1;
  }
  double now = fmh_pool_now_ms();
  uint64_t serial = c->serial;
  pthread_mutex_lock(&p->mu);
  p->active--;
  p->releases++;
  const char *reason = NULL;
  if (c->broken) reason = "broken";
  else if (p->closed) reason = "closed";
  else if (p->o.max_lifetime_ms > 0 && now - c->created_ms >= p->o.max_lifetime_ms) reason = "lifetime";
  if (!reason) {
    c->last_used_ms = now;
    place(p, c);
    counts k = snap(p);
    pthread_mutex_unlock(&p->mu);
    log_state(p, FMH_LOG_DEBUG, "release", NULL, serial, k, NULL);
  } else {
    if (reason[0] == 'b') p->broken++;
    if (reason[0] == 'l') p->evicted_lifetime++;
    p->total--;
    p->destroyed++;
    grant_slot(p);
    counts k = snap(p);
    pthread_mutex_unlock(&p->mu);
    fmh_pool_conn_free(c);
    log_state(p, FMH_LOG_INFO, "destroy", reason, serial, k, NULL);
  }
  pthread_mutex_lock(&p->mu);
  pool_unref(p);
}

/* --- housekeeping ------------------------------------------------------- */

void fmh_pool_maintain(fmh_pool *p) {
  double now = fmh_pool_now_ms();
  fmh_conn *doomed = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->closed) { pthread_mutex_unlock(&p->mu); return; }
  /* oldest-used first: the idle list is most-recently-used first */
  for (fmh_conn *c = p->idle_tail, *prev; c; c = prev) {
    prev = c->prev;
    int lifetime = p->o.max_lifetime_ms > 0 && now - c->created_ms >= p->o.max_lifetime_ms;
    int idle = p->o.idle_timeout_ms > 0 && now - c->last_used_ms >= p->o.idle_timeout_ms &&
               p->idle > p->o.min_idle;
    if (!lifetime && !idle) continue;
    idle_remove(p, c);
    p->total--;
    p->destroyed++;
    if (lifetime) p->evicted_lifetime++;
    else p->evicted_idle++;
    c->evict_reason = lifetime ? "lifetime" : "idle";
    c->next = doomed;
    doomed = c;
  }
  pthread_mutex_unlock(&p->mu);
  while (doomed) {
    fmh_conn *next = doomed->next;
    uint64_t serial = doomed->serial;
    const char *why = doomed->evict_reason;
    fmh_pool_conn_free(doomed);
    pthread_mutex_lock(&p->mu);
    grant_slot(p);
    counts k = snap(p);
    pthread_mutex_unlock(&p->mu);
    log_state(p, FMH_LOG_INFO, "destroy", why, serial, k, NULL);
    doomed = next;
  }
  /* top up to min_idle */
  for (;;) {
    pthread_mutex_lock(&p->mu);
    if (p->closed || p->idle + p->opening >= p->o.min_idle || p->total >= p->o.size || p->wq_head) {
      pthread_mutex_unlock(&p->mu);
      return;
    }
    p->total++;
    p->opening++;
    pthread_mutex_unlock(&p->mu);
    fmh_error e = {0};
    fmh_conn *c = open_in_slot(p, &e);
    fmh_error_clear(&e);
    if (!c) return; /* logged; try again next period */
    if (p->closed) { /* closed while connecting: give it back */
      p->total--;
      p->destroyed++;
      pthread_mutex_unlock(&p->mu);
      fmh_pool_conn_free(c);
      return;
    }
    place(p, c);
    counts k = snap(p);
    pthread_mutex_unlock(&p->mu);
    log_state(p, FMH_LOG_INFO, "connect", "min_idle", c->serial, k, NULL);
  }
}

static void *housekeeper(void *arg) {
  fmh_pool *p = arg;
  pthread_mutex_lock(&p->mu);
  while (!p->closed) {
    pthread_mutex_unlock(&p->mu);
    fmh_pool_maintain(p);
    pthread_mutex_lock(&p->mu);
    if (p->closed) break;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    long ms = p->o.housekeeping_ms;
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(&p->hk_cv, &p->mu, &dl);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

void fmh_pool_stats_get(fmh_pool *p, fmh_pool_stats *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_lock(&p->mu);
  s->size = p->o.size;
  s->min_idle = p->o.min_idle;
  s->total = p->total;
  s->active = p->active;
  s->idle = p->idle;
  s->opening = p->opening;
  s->waiting = p->waiting;
  s->peak_active = p->peak_active;
  s->created = p->created;
  s->destroyed = p->destroyed;
  s->acquires = p->acquires;
  s->releases = p->releases;
  s->timeouts = p->timeouts;
  s->connect_failures = p->connect_failures;
  s->validations = p->validations;
  s->validation_failures = p->validation_failures;
  s->broken = p->broken;
  s->evicted_idle = p->evicted_idle;
  s->evicted_lifetime = p->evicted_lifetime;
  s->acquire_ms_avg = p->acquires ? p->acq_sum_ms / (double)p->acquires : 0;
  s->acquire_ms_max = p->acq_max_ms;
  s->acquire_ms_p50 = hist_quantile(p, 0.5);
  s->acquire_ms_p99 = hist_quantile(p, 0.99);
  s->closed = p->closed;
  pthread_mutex_unlock(&p->mu);
}
