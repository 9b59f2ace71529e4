/* Measurements of a running pipeline (see fmhost/metrics.h): the
 * log-linear histogram, the per-second series, and the sampler thread that
 * reads Flink REST, /proc and MariaDB's status counters. Lua-free. */
#include "fmhost/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fmhost/flink.h"

/* ---- histogram -------------------------------------------------------- */

void fmh_hist_init(fmh_hist *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

size_t fmh_hist_bucket_index(uint64_t v) {
  if (v < (2u << FMH_HIST_BITS)) return (size_t)v;
  int msb = 63 - __builtin_clzll(v);
  int k = msb - FMH_HIST_BITS;
  return ((size_t)k << FMH_HIST_BITS) + (size_t)(v >> k);
}

void fmh_hist_bucket_range(size_t i, uint64_t *lo, uint64_t *width) {
  if (i < (2u << FMH_HIST_BITS)) {
    *lo = i;
    *width = 1;
    return;
  }
  int k = (int)(i >> FMH_HIST_BITS) - 1;
  uint64_t mant = (i & ((1u << FMH_HIST_BITS) - 1)) + (1u << FMH_HIST_BITS);
  *lo = mant << k;
  *width = (uint64_t)1 << k;
}

void fmh_hist_record(fmh_hist *h, uint64_t v, uint64_t n) {
  if (n == 0) return;
  h->buckets[fmh_hist_bucket_index(v)] += n;
  h->count += n;
  h->sum += (double)v * (double)n;
  if (v < h->min) h->min = v;
  if (v > h->max) h->max = v;
}

void fmh_hist_merge(fmh_hist *into, const fmh_hist *from) {
  if (from->count == 0) return;
  for (size_t i = 0; i < FMH_HIST_BUCKETS; i++) into->buckets[i] += from->buckets[i];
  into->count += from->count;
  into->sum += from->sum;
  if (from->min < into->min) into->min = from->min;
  if (from->max > into->max) into->max = from->max;
}

uint64_t fmh_hist_percentile(const fmh_hist *h, double q) {
  if (h->count == 0) return 0;
  if (q <= 0) return h->min;
  if (q >= 100) return h->max;
  /* nearest rank: the smallest value with at least ceil(q/100 n) values <= it */
  double r = ceil(q / 100.0 * (double)h->count);
  uint64_t rank = r < 1 ? 1 : (uint64_t)r;
  if (rank > h->count) rank = h->count;
  uint64_t seen = 0;
  for (size_t i = 0; i < FMH_HIST_BUCKETS; i++) {
    seen += h->buckets[i];
    if (seen >= rank) {
      uint64_t lo, w;
      fmh_hist_bucket_range(i, &lo, &w);
      uint64_t mid = lo + w / 2;
      if (mid < h->min) mid = h->min;
      if (mid > h->max) mid = h->max;
      return mid;
    }
  }
  return h->max;
}

/* ---- series ----------------------------------------------------------- */

int fmh_series_init(fmh_series *s, size_t capacity) {
  s->capacity = capacity;
  s->newest = INT64_MIN;
  s->slots = calloc(capacity, sizeof *s->slots);
  if (!s->slots) return -1;
  for (size_t i = 0; i < capacity; i++) s->slots[i].sec = INT64_MIN;
  return 0;
}

void fmh_series_free(fmh_series *s) {
  free(s->slots);
  s->slots = NULL;
}

int fmh_series_add(fmh_series *s, double t, double v) {
  int64_t sec = (int64_t)floor(t);
  if (s->newest != INT64_MIN && sec <= s->newest - (int64_t)s->capacity) return -1;
  size_t i = (size_t)(((sec % (int64_t)s->capacity) + (int64_t)s->capacity) % (int64_t)s->capacity);
  fmh_series_slot *x = &s->slots[i];
  if (x->sec != sec) {
    x->sec = sec;
    x->n = 0;
    x->sum = 0;
    x->min = v;
    x->max = v;
  }
  x->n++;
  x->sum += v;
  if (v < x->min) x->min = v;
  if (v > x->max) x->max = v;
  x->last = v;
  if (s->newest == INT64_MIN || sec > s->newest) s->newest = sec;
  return 0;
}

size_t fmh_series_points(const fmh_series *s, fmh_series_slot *out, size_t max) {
  if (s->newest == INT64_MIN) return 0;
  size_t n = 0;
  for (int64_t sec = s->newest - (int64_t)s->capacity + 1; sec <= s->newest && n < max; sec++) {
    size_t i = (size_t)(((sec % (int64_t)s->capacity) + (int64_t)s->capacity) % (int64_t)s->capacity);
    if (s->slots[i].sec == sec && s->slots[i].n > 0) out[n++] = s->slots[i];
  }
  return n;
}

/* ---- /proc ------------------------------------------------------------ */

int fmh_proc_usage(int pid, uint64_t *rss_bytes, uint64_t *cpu_ticks) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  /* the command name may hold spaces and parentheses: fields start after the last ')' */
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  char state = 0;
  /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
  if (sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &ut, &st) != 3)
    return -1;
  if (state == 'Z' || state == 'X') return -1;
  snprintf(path, sizeof path, "/proc/%d/statm", pid);
  f = fopen(path, "r");
  if (!f) return -1;
  unsigned long long size = 0, res = 0;
  int ok = fscanf(f, "%llu %llu", &size, &res) == 2;
  fclose(f);
  if (!ok) return -1;
  *rss_bytes = (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
  *cpu_ticks = (uint64_t)(ut + st);
  return 0;
}

/* ---- sampler ---------------------------------------------------------- */

struct fmh_sampler {
  fmh_sampler_opts o;
  char *rest_url, *job_id;
  int pids[FMH_SAMPLER_MAX_PIDS];
  fmh_flink *flink;
  fmh_conn *conn;

  pthread_t thread;
  int started, stop;
  pthread_mutex_t mu;
  pthread_cond_t cv;

  /* under mu */
  fmh_sample *samples;      /* ring of max_samples */
  size_t head, nsamples;
  fmh_sampler_gap *gaps;
  size_t ngaps, capgaps;
  int open_gap[2];          /* 0 flink, 1 mysql: index+1 of the gap still open */
  char vid[FMH_SAMPLER_MAX_VERTICES][33];
  char vname[FMH_SAMPLER_MAX_VERTICES][128];
  size_t nvert;
  char cur_job[33];
  uint64_t ticks;
  double cpu_s, t0;

  /* thread-only */
  uint64_t prev_ticks[FMH_SAMPLER_MAX_PIDS];
  double prev_t;
};

static double now_wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mu held */
static void gap(fmh_sampler *s, int which, double t, const char *msg) {
  if (s->open_gap[which]) {
    fmh_sampler_gap *g = &s->gaps[s->open_gap[which] - 1];
    g->to = t;
    return;
  }
  if (s->ngaps == s->capgaps) {
    size_t cap = s->capgaps ? s->capgaps * 2 : 8;
    fmh_sampler_gap *ng = realloc(s->gaps, cap * sizeof *ng);
    if (!ng) return;
    s->gaps = ng;
    s->capgaps = cap;
  }
  fmh_sampler_gap *g = &s->gaps[s->ngaps++];
  g->from = g->to = t;
  snprintf(g->what, sizeof g->what, "%s", which ? "mysql" : "flink");
  snprintf(g->msg, sizeof g->msg, "%s", msg);
  s->open_gap[which] = (int)s->ngaps;
}

static double jnum(const json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : -1;
}

/* The job's vertices (ids and names), once per job. mu not held: the names
 * are published under mu. */
static int load_vertices(fmh_sampler *s, const char *job, fmh_error *e) {
  json_t *j = fmh_flink_job(s->flink, job, e);
  if (!j) return -1;
  json_t *vs = json_object_get(j, "vertices");
  pthread_mutex_lock(&s->mu);
  size_t n = 0;
  for (size_t i = 0; i < json_array_size(vs) && n < FMH_SAMPLER_MAX_VERTICES; i++) {
    json_t *v = json_array_get(vs, i);
    const char *id = json_string_value(json_object_get(v, "id"));
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!id) continue;
    snprintf(s->vid[n], sizeof s->vid[n], "%s", id);
    snprintf(s->vname[n], sizeof s->vname[n], "%s", name ? name : id);
    n++;
  }
  s->nvert = n;
  snprintf(s->cur_job, sizeof s->cur_job, "%s", job);
  pthread_mutex_unlock(&s->mu);
  json_decref(j);
  return 0;
}

static int sample_flink(fmh_sampler *s, fmh_sample *x, fmh_error *e) {
  char job[33] = "";
  if (s->job_id) {
    snprintf(job, sizeof job, "%s", s->job_id);
  } else {
    json_t *jobs = fmh_flink_jobs(s->flink, e);
    if (!jobs) return -1;
    json_t *list = json_object_get(jobs, "jobs");
    for (size_t i = 0; i < json_array_size(list); i++) {
      json_t *jj = json_array_get(list, i);
      const char *st = json_string_value(json_object_get(jj, "state"));
      const char *id = json_string_value(json_object_get(jj, "jid"));
      if (st && id && strcmp(st, "RUNNING") == 0) {
        snprintf(job, sizeof job, "%s", id);
        break;
      }
    }
    json_decref(jobs);
    if (!job[0]) {
      snprintf(x->job_state, sizeof x->job_state, "NONE");
      return 0;  /* the cluster answers; no job to read */
    }
  }
  if (strcmp(job, s->cur_job) != 0 && load_vertices(s, job, e) != 0) return -1;
  if (fmh_flink_job_state(s->flink, job, x->job_state, sizeof x->job_state, e) != 0) return -1;
  size_t nv = s->nvert;  /* only this thread writes it */
  for (size_t i = 0; i < nv; i++) {
    json_t *m = fmh_flink_subtask_metrics(s->flink, job, s->vid[i],
                                          "numRecordsInPerSecond,numRecordsOutPerSecond,"
                                          "busyTimeMsPerSecond,backPressuredTimeMsPerSecond",
                                          "sum", e);
    if (!m) return -1;
    fmh_sample_vertex *v = &x->v[i];
    v->in_per_s = v->out_per_s = v->busy_ms_per_s = v->backpressured_ms_per_s = -1;
    for (size_t k = 0; k < json_array_size(m); k++) {
      json_t *it = json_array_get(m, k);
      const char *id = json_string_value(json_object_get(it, "id"));
      double val = jnum(it, "sum");
      if (!id) continue;
      if (strcmp(id, "numRecordsInPerSecond") == 0) v->in_per_s = val;
      else if (strcmp(id, "numRecordsOutPerSecond") == 0) v->out_per_s = val;
      else if (strcmp(id, "busyTimeMsPerSecond") == 0) v->busy_ms_per_s = val;
      else if (strcmp(id, "backPressuredTimeMsPerSecond") == 0) v->backpressured_ms_per_s = val;
    }
    json_decref(m);
  }
  x->nvertices = nv;
  json_t *c = fmh_flink_job_checkpoints(s->flink, job, e);
  if (!c) return -1;
  json_t *counts = json_object_get(c, "counts");
  x->ckpt_completed = (int64_t)jnum(counts, "completed");
  x->ckpt_failed = (int64_t)jnum(counts, "failed");
  json_t *last = json_object_get(json_object_get(c, "latest"), "completed");
  if (json_is_object(last)) {
    x->ckpt_last_id = (int64_t)jnum(last, "id");
    x->ckpt_last_duration_ms = (int64_t)jnum(last, "end_to_end_duration");
    double size = jnum(last, "checkpointed_size");
    if (size < 0) size = jnum(last, "state_size");
    x->ckpt_last_size = (int64_t)size;
  }
  json_decref(c);
  return 0;
}

static int sample_mysql(fmh_sampler *s, fmh_sample *x, fmh_error *e) {
  static const char sql[] =
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_rows_inserted','Innodb_rows_updated',"
      "'Handler_write','Handler_update','Com_commit','Handler_commit','Com_insert','Connections',"
      "'Threads_connected','Questions')";
  /* MariaDB 10.6+ has no Innodb_rows_*: Handler_write/Handler_update count the
   * rows written to tables (temporary tables count in Handler_tmp_*) */
  int64_t hw = -1, hu = -1;
  if (fmh_conn_is_broken(s->conn)) {
    /* a fresh connection before the broken one goes back: the pool's memory
     * stays alive as long as this sampler holds one */
    fmh_conn *c2 = NULL;
    if (fmh_pool_acquire(fmh_conn_pool(s->conn), (int)s->o.timeout_ms, &c2, e) != 0) return -1;
    fmh_pool_release(s->conn);
    s->conn = c2;
  }
  fmh_cursor *q = NULL;
  fmh_exec_result r;
  if (fmh_conn_run(s->conn, sql, sizeof sql - 1, NULL, 0, 0, &q, &r, e) != 0) return -1;
  if (!q) {
    fmh_error_set(e, "mysql", 0, 0, "SHOW GLOBAL STATUS returned no rows");
    return -1;
  }
  const fmh_value *row;
  int rc;
  while ((rc = fmh_cursor_fetch(q, &row, e)) == 1) {
    if (row[0].t != FMH_V_STRING || (row[1].t != FMH_V_STRING && row[1].t != FMH_V_INT)) continue;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)row[0].len, row[0].s);
    int64_t v = row[1].t == FMH_V_INT ? row[1].i : strtoll(row[1].s, NULL, 10);
    if (strcasecmp(name, "Innodb_rows_inserted") == 0) x->rows_inserted = v;
    else if (strcasecmp(name, "Innodb_rows_updated") == 0) x->rows_updated = v;
    else if (strcasecmp(name, "Handler_write") == 0) hw = v;
    else if (strcasecmp(name, "Handler_update") == 0) hu = v;
    else if (strcasecmp(name, "Com_commit") == 0) x->com_commit = v;
    else if (strcasecmp(name, "Handler_commit") == 0) x->handler_commit = v;
    else if (strcasecmp(name, "Com_insert") == 0) x->com_insert = v;
    else if (strcasecmp(name, "Connections") == 0) x->connections = v;
    else if (strcasecmp(name, "Threads_connected") == 0) x->threads_connected = v;
    else if (strcasecmp(name, "Questions") == 0) x->questions = v;
  }
  fmh_cursor_close(q);
  if (x->rows_inserted < 0) x->rows_inserted = hw;
  if (x->rows_updated < 0) x->rows_updated = hu;
  return rc < 0 ? -1 : 0;
}

static void tick(fmh_sampler *s) {
  double c0 = thread_cpu();
  fmh_sample x;
  memset(&x, 0, sizeof x);
  x.t = now_wall();
  x.ckpt_completed = x.ckpt_failed = x.ckpt_last_id = x.ckpt_last_duration_ms = x.ckpt_last_size = -1;
  x.rows_inserted = x.rows_updated = x.com_commit = x.handler_commit = x.com_insert = x.connections =
      x.threads_connected = x.questions = -1;
  fmh_error fe = {0}, me = {0};
  int fok = 1, mok = 1;
  if (s->flink) {
    fok = sample_flink(s, &x, &fe) == 0;
    x.flink_ok = fok;
    if (!fok) {
      x.nvertices = 0;
      snprintf(x.job_state, sizeof x.job_state, "?");
    }
  }
  if (s->conn) {
    mok = sample_mysql(s, &x, &me) == 0;
    x.mysql_ok = mok;
  }
  double dt = s->prev_t > 0 ? x.t - s->prev_t : 0;
  long hz = sysconf(_SC_CLK_TCK);
  x.npids = s->o.npids;
  for (size_t i = 0; i < s->o.npids; i++) {
    uint64_t rss = 0, t = 0;
    fmh_sample_proc *p = &x.p[i];
    p->cpu = -1;
    p->pid = s->pids[i];
    if (fmh_proc_usage(s->pids[i], &rss, &t) == 0) {
      p->alive = 1;
      p->rss_bytes = rss;
      if (dt > 0 && s->prev_ticks[i] != UINT64_MAX && t >= s->prev_ticks[i])
        p->cpu = (double)(t - s->prev_ticks[i]) / (double)hz / dt;
      s->prev_ticks[i] = t;
    } else {
      s->prev_ticks[i] = UINT64_MAX;
    }
  }
  s->prev_t = x.t;

  pthread_mutex_lock(&s->mu);
  size_t slot = (s->head + s->nsamples) % s->o.max_samples;
  if (s->nsamples == s->o.max_samples) {
    s->head = (s->head + 1) % s->o.max_samples;
  } else {
    s->nsamples++;
  }
  s->samples[slot] = x;
  if (s->flink) {
    if (fok) s->open_gap[0] = 0;
    else gap(s, 0, x.t, fe.msg);
  }
  if (s->conn) {
    if (mok) s->open_gap[1] = 0;
    else gap(s, 1, x.t, me.msg);
  }
  s->ticks++;
  s->cpu_s += thread_cpu() - c0;
  pthread_mutex_unlock(&s->mu);
  if (fe.detail) free(fe.detail);
  if (me.detail) free(me.detail);
}

static void *run(void *arg) {
  fmh_sampler *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stop) {
    pthread_mutex_unlock(&s->mu);
    tick(s);
    pthread_mutex_lock(&s->mu);
    if (s->stop) break;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ns = ts.tv_nsec + (s->o.interval_ms % 1000) * 1000000L;
    ts.tv_sec += s->o.interval_ms / 1000 + ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT) {
    }
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

fmh_sampler *fmh_sampler_start(const fmh_sampler_opts *o, fmh_error *e) {
  if (o->npids > FMH_SAMPLER_MAX_PIDS) {
    fmh_error_set(e, "config", 0, 0, "sampler: at most %d pids", FMH_SAMPLER_MAX_PIDS);
    return NULL;
  }
  if (o->interval_ms != 0 && (o->interval_ms < 50 || o->interval_ms > 3600000)) {
    fmh_error_set(e, "config", 0, 0, "sampler: interval_ms must be 50..3600000, got %ld", o->interval_ms);
    return NULL;
  }
  if (o->job_id && (strlen(o->job_id) != 32 || strspn(o->job_id, "0123456789abcdef") != 32)) {
    fmh_error_set(e, "config", 0, 0, "sampler: job '%s' is not a 32-hex Flink job id", o->job_id);
    return NULL;
  }
  fmh_sampler *s = calloc(1, sizeof *s);
  if (!s) {
    fmh_error_set(e, "os", ENOMEM, 0, "sampler: out of memory");
    return NULL;
  }
  s->o = *o;
  if (!s->o.interval_ms) s->o.interval_ms = 1000;
  if (s->o.timeout_ms <= 0) s->o.timeout_ms = s->o.interval_ms < 1000 ? 1000 : s->o.interval_ms;
  if (!s->o.max_samples) s->o.max_samples = 3600;
  for (size_t i = 0; i < o->npids; i++) s->pids[i] = o->pids[i];
  s->o.pids = NULL;
  s->samples = calloc(s->o.max_samples, sizeof *s->samples);
  s->rest_url = o->rest_url ? strdup(o->rest_url) : NULL;
  s->job_id = o->job_id ? strdup(o->job_id) : NULL;
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (!s->samples || (o->rest_url && !s->rest_url) || (o->job_id && !s->job_id)) {
    fmh_error_set(e, "os", ENOMEM, 0, "sampler: out of memory");
    fmh_sampler_free(s);
    return NULL;
  }
  if (s->rest_url) {
    fmh_flink_options fo = {.rest_url = s->rest_url, .timeout_ms = s->o.timeout_ms};
    s->flink = fmh_flink_new(&fo, e);
    if (!s->flink) {
      fmh_sampler_free(s);
      return NULL;
    }
  }
  if (o->pool && fmh_pool_acquire(o->pool, (int)s->o.timeout_ms, &s->conn, e) != 0) {
    s->conn = NULL;
    fmh_sampler_free(s);
    return NULL;
  }
  s->o.pool = NULL;  /* only s->conn reaches the pool from here on */
  s->t0 = now_wall();
  if (pthread_create(&s->thread, NULL, run, s) != 0) {
    fmh_error_set(e, "os", errno, 0, "sampler: cannot start its thread");
    fmh_sampler_free(s);
    return NULL;
  }
  s->started = 1;
  return s;
}

void fmh_sampler_stop(fmh_sampler *s) {
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_signal(&s->cv);
  int joined = !s->started;
  s->started = 0;
  pthread_mutex_unlock(&s->mu);
  if (!joined) pthread_join(s->thread, NULL);
}

void fmh_sampler_free(fmh_sampler *s) {
  if (!s) return;
  fmh_sampler_stop(s);
  if (s->conn) fmh_pool_release(s->conn);
  if (s->flink) fmh_flink_unref(s->flink);
  free(s->samples);
  free(s->gaps);
  free(s->rest_url);
  free(s->job_id);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}

void fmh_sampler_stats_get(fmh_sampler *s, fmh_sampler_stats *st) {
  pthread_mutex_lock(&s->mu);
  st->ticks = s->ticks;
  st->cpu_s = s->cpu_s;
  st->wall_s = now_wall() - s->t0;
  st->running = s->started;
  pthread_mutex_unlock(&s->mu);
}

size_t fmh_sampler_sample_count(fmh_sampler *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->nsamples;
  pthread_mutex_unlock(&s->mu);
  return n;
}

size_t fmh_sampler_samples(fmh_sampler *s, fmh_sample *out, size_t max) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->nsamples < max ? s->nsamples : max;
  for (size_t i = 0; i < n; i++) out[i] = s->samples[(s->head + i) % s->o.max_samples];
  pthread_mutex_unlock(&s->mu);
  return n;
}

size_t fmh_sampler_gap_count(fmh_sampler *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->ngaps;
  pthread_mutex_unlock(&s->mu);
  return n;
}

size_t fmh_sampler_gaps(fmh_sampler *s, fmh_sampler_gap *out, size_t max) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->ngaps < max ? s->ngaps : max;
  if (n) memcpy(out, s->gaps, n * sizeof *out);
  pthread_mutex_unlock(&s->mu);
  return n;
}

size_t fmh_sampler_vertices(fmh_sampler *s, char ids[][33], char names[][128], size_t max) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->nvert < max ? s->nvert : max;
  for (size_t i = 0; i < n; i++) {
    memcpy(ids[i], s->vid[i], 33);
    memcpy(names[i], s->vname[i], 128);
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}
