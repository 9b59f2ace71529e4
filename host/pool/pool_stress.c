/* fmhost.pool, the concurrency stress driver: threads acquiring, querying
 * and releasing against one pool, and the FIFO probe that checks waiters are
 * served in arrival order. */
#include <errmsg.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmhost/calendar.h"
#include "fmhost/pool.h"
#include "fmhost/progress.h"
#include "fmhost/retry.h"
#include "pool_internal.h"

/* --- stress --------------------------------------------------------------- */

typedef struct stress_shared {
  fmh_pool *pool;
  const fmh_stress_opts *o;
  atomic_int in_use, max_in_use;
  atomic_uint_fast64_t acquired, timeouts, errors, queries;
  pthread_mutex_t mu;
  char first_error[256];
} stress_shared;

typedef struct {
  stress_shared *sh;
  int index;
  pthread_t th;
} stress_job;

static void stress_note_error(stress_shared *sh, const char *msg) {
  pthread_mutex_lock(&sh->mu);
  if (!sh->first_error[0]) snprintf(sh->first_error, sizeof sh->first_error, "%.255s", msg);
  pthread_mutex_unlock(&sh->mu);
}

static void *stress_thread(void *arg) {
  stress_job *j = arg;
  stress_shared *sh = j->sh;
  uint64_t rng = sh->o->seed ^ ((uint64_t)(j->index + 1) * 0x9E3779B97F4A7C15ULL);
  for (int a = 0; a < sh->o->acquires; a++) {
    fmh_error e = {0};
    fmh_conn *c;
    if (fmh_pool_acquire(sh->pool, sh->o->timeout_ms, &c, &e) != 0) {
      if (e.kind && strcmp(e.kind, "timeout") == 0) atomic_fetch_add(&sh->timeouts, 1);
      else atomic_fetch_add(&sh->errors, 1);
      stress_note_error(sh, e.msg);
      fmh_error_clear(&e);
      continue;
    }
    atomic_fetch_add(&sh->acquired, 1);
    int now = atomic_fetch_add(&sh->in_use, 1) + 1;
    int seen = atomic_load(&sh->max_in_use);
    while (now > seen && !atomic_compare_exchange_weak(&sh->max_in_use, &seen, now)) {
    }
    if (sh->o->query) {
      if (fmh_conn_exec(c, "SELECT 1", 8, &e) != 0) {
        atomic_fetch_add(&sh->errors, 1);
        stress_note_error(sh, e.msg);
        fmh_error_clear(&e);
      } else {
        atomic_fetch_add(&sh->queries, 1);
      }
    }
    if (sh->o->hold_us_max > 0) {
      long us = (long)(fmh_retry_rand(&rng) % (uint64_t)(sh->o->hold_us_max + 1));
      struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
    atomic_fetch_sub(&sh->in_use, 1);
    fmh_pool_release(c);
  }
  return NULL;
}

int fmh_pool_stress(fmh_pool *p, const fmh_stress_opts *o, fmh_stress_result *r, fmh_error *e) {
  memset(r, 0, sizeof *r);
  if (o->threads < 1 || o->threads > 1024 || o->acquires < 0 || o->hold_us_max < 0) {
    fmh_error_set(e, "usage", 0, 0, "stress: threads must be 1..1024, acquires and hold_us_max >= 0");
    return -1;
  }
  stress_shared sh;
  memset(&sh, 0, sizeof sh);
  sh.pool = p;
  sh.o = o;
  pthread_mutex_init(&sh.mu, NULL);
  stress_job *jobs = calloc((size_t)o->threads, sizeof *jobs);
  if (!jobs) {
    pthread_mutex_destroy(&sh.mu);
    fmh_error_set(e, "os", ENOMEM, 0, "stress: out of memory");
    return -1;
  }
  double t0 = fmh_pool_now_ms();
  int started = 0;
  for (; started < o->threads; started++) {
    jobs[started].sh = &sh;
    jobs[started].index = started;
    if (pthread_create(&jobs[started].th, NULL, stress_thread, &jobs[started]) != 0) break;
  }
  for (int i = 0; i < started; i++) pthread_join(jobs[i].th, NULL);
  r->wall_s = (fmh_pool_now_ms() - t0) / 1000.0;
  r->acquired = atomic_load(&sh.acquired);
  r->timeouts = atomic_load(&sh.timeouts);
  r->errors = atomic_load(&sh.errors);
  r->queries = atomic_load(&sh.queries);
  r->max_in_use = atomic_load(&sh.max_in_use);
  snprintf(r->first_error, sizeof r->first_error, "%s", sh.first_error);
  free(jobs);
  pthread_mutex_destroy(&sh.mu);
  if (started < o->threads) {
    fmh_error_set(e, "os", errno, 0, "stress: could only start %d of %d threads", started, o->threads);
    return -1;
  }
  return 0;
}

/* --- FIFO probe -------------------------------------------------------- */

typedef struct {
  fmh_pool *pool;
  int index;
  uint64_t base;      /* hand-outs before the waiters queued */
  int n;
  int *served;        /* served[k] = index of the k-th waiter served */
  int failed;
  pthread_t th;
} fifo_job;

static void *fifo_thread(void *arg) {
  fifo_job *j = arg;
  fmh_error e = {0};
  fmh_conn *c;
  if (fmh_pool_acquire(j->pool, 30000, &c, &e) != 0) {
    j->failed = 1;
    fmh_error_clear(&e);
    return NULL;
  }
  /* the hand-out number, taken under the pool's lock, orders the waiters
   * however the threads are scheduled afterwards */
  uint64_t k = c->grant - j->base - 1;
  if (k < (uint64_t)j->n) j->served[k] = j->index;
  else j->failed = 1;
  fmh_pool_release(c);
  return NULL;
}

static int wait_waiting(fmh_pool *p, int n) {
  for (int i = 0; i < 30000; i++) {
    fmh_pool_stats s;
    fmh_pool_stats_get(p, &s);
    if (s.waiting >= n) return 0;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  return -1;
}

int fmh_pool_fifo_probe(fmh_pool *p, int n, int *served, fmh_error *e) {
  fmh_pool_stats s;
  fmh_pool_stats_get(p, &s);
  if (n < 1 || n > 256) {
    fmh_error_set(e, "usage", 0, 0, "fifo probe: 1..256 waiters");
    return -1;
  }
  /* hold every connection the pool may open, so the waiters must queue */
  fmh_conn **held = calloc((size_t)s.size, sizeof *held);
  fifo_job *jobs = calloc((size_t)n, sizeof *jobs);
  int nheld = 0, started = 0, rc = 0;
  if (!held || !jobs) {
    fmh_error_set(e, "os", ENOMEM, 0, "fifo probe: out of memory");
    rc = -1;
    goto done;
  }
  for (; nheld < s.size; nheld++) {
    if (fmh_pool_acquire(p, -1, &held[nheld], e) != 0) { rc = -1; goto done; }
  }
  pthread_mutex_lock(&p->mu);
  uint64_t base = p->grants;
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < n; i++) served[i] = 0;
  for (; started < n; started++) {
    jobs[started] = (fifo_job){p, started + 1, base, n, served, 0, 0};
    if (pthread_create(&jobs[started].th, NULL, fifo_thread, &jobs[started]) != 0) {
      fmh_error_set(e, "os", errno, 0, "fifo probe: cannot start a thread");
      rc = -1;
      break;
    }
    /* the next waiter starts only once this one is queued */
    if (wait_waiting(p, started + 1) != 0) {
      fmh_error_set(e, "timeout", 0, 0, "fifo probe: waiter %d never queued", started + 1);
      rc = -1;
      started++;
      break;
    }
  }
done:
  while (nheld > 0) fmh_pool_release(held[--nheld]);
  for (int i = 0; i < started; i++) {
    pthread_join(jobs[i].th, NULL);
    if (jobs[i].failed && rc == 0) {
      fmh_error_set(e, "timeout", 0, 0, "fifo probe: waiter %d was not served", i + 1);
      rc = -1;
    }
  }
  free(held);
  free(jobs);
  return rc;
}
