/* Measurements of a running pipeline: a log-linear histogram, a per-second
 * series, and a sampler thread that reads Flink's REST metrics, the JVMs'
 * /proc figures and MariaDB's status counters while a job runs.
 *
 * Histogram (HDR-style): values are integers >= 0 (choose the unit: µs,
 * bytes). Values below 2^(FMH_HIST_BITS+1) have a bucket each; above, every
 * power of two is cut into 2^FMH_HIST_BITS equal buckets, so a bucket spans
 * at most 1/2^FMH_HIST_BITS of its lowest value. A percentile is the
 * nearest-rank value (rank ceil(q/100 * n) of the sorted values) reported as
 * its bucket's midpoint clamped to [min, max]: off by at most
 * FMH_HIST_REL_ERROR of the true value. Memory is fixed (the struct), two
 * histograms merge by adding counts, and the merge equals the histogram of
 * the union. Not locked: one thread at a time.
 *
 * Series: one slot per wall-clock second in a ring of `capacity` seconds;
 * each slot keeps the sum, count, min, max and last value added in that
 * second. Seconds older than the ring are dropped. Not locked.
 *
 * Sampler: a thread that every interval_ms reads (each source optional)
 *   - Flink REST, for one job (or the first RUNNING job when none is named):
 *     per vertex the records in/out per second, busy and backpressured
 *     ms per second (task metrics summed over subtasks), and the job's
 *     completed checkpoints with the latest one's duration and size;
 *   - /proc/<pid>/stat and statm of up to FMH_SAMPLER_MAX_PIDS processes:
 *     RSS and CPU (cores used over the last interval);
 *   - MariaDB's SHOW GLOBAL STATUS counters over one connection it holds
 *     from the pool for the whole run (so the pool's memory outlives it).
 * A source that fails (the REST endpoint gone, the server killed) opens a
 * gap {from, to, what, msg} that the next failure of the same source
 * extends; the sampler never stops on its own. Its own CPU time is
 * measured (CLOCK_THREAD_CPUTIME_ID) and returned by fmh_sampler_stats. */
#ifndef FMHOST_METRICS_H
#define FMHOST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "fmhost/error.h"
#include "fmhost/pool.h"

/* ---- histogram -------------------------------------------------------- */

#define FMH_HIST_BITS 7
#define FMH_HIST_BUCKETS ((64 - FMH_HIST_BITS + 1) << FMH_HIST_BITS)
/* 2^-(FMH_HIST_BITS+1): half a bucket over its lowest value */
#define FMH_HIST_REL_ERROR (1.0 / (double)(2u << FMH_HIST_BITS))

typedef struct fmh_hist {
  uint64_t count, min, max;
  double sum;
  uint64_t buckets[FMH_HIST_BUCKETS];
} fmh_hist;

void fmh_hist_init(fmh_hist *h);
void fmh_hist_record(fmh_hist *h, uint64_t v, uint64_t n);
void fmh_hist_merge(fmh_hist *into, const fmh_hist *from);
/* q in [0, 100]; 0 when empty. q = 100 is the max, q = 0 the min. */
uint64_t fmh_hist_percentile(const fmh_hist *h, double q);
size_t fmh_hist_bucket_index(uint64_t v);
/* The lowest value and the width of bucket i. */
void fmh_hist_bucket_range(size_t i, uint64_t *lo, uint64_t *width);

/* ---- per-second series ------------------------------------------------ */

typedef struct fmh_series_slot {
  int64_t sec;   /* wall-clock second (unix time); INT64_MIN when empty */
  uint64_t n;
  double sum, min, max, last;
} fmh_series_slot;

typedef struct fmh_series {
  size_t capacity;
  int64_t newest;
  fmh_series_slot *slots;
} fmh_series;

/* capacity 1 .. 10^7 seconds; -1 when out of memory. */
int fmh_series_init(fmh_series *s, size_t capacity);
void fmh_series_free(fmh_series *s);
/* Add v at wall time t (seconds, fractions allowed). Returns 0, or -1 when
 * t is older than the ring and the value was dropped. */
int fmh_series_add(fmh_series *s, double t, double v);
/* The filled slots, oldest first, into out (at most max); returns how many. */
size_t fmh_series_points(const fmh_series *s, fmh_series_slot *out, size_t max);

/* ---- sampler ---------------------------------------------------------- */

#define FMH_SAMPLER_MAX_VERTICES 16
#define FMH_SAMPLER_MAX_PIDS 8

typedef struct fmh_sampler fmh_sampler;

typedef struct fmh_sampler_opts {
  const char *rest_url;     /* Flink JobManager REST; NULL: no Flink figures */
  const char *job_id;       /* NULL: the first RUNNING job at each tick */
  const int *pids;          /* processes to read from /proc */
  size_t npids;
  fmh_pool *pool;           /* NULL: no MariaDB figures */
  long interval_ms;         /* default 1000, at least 50 */
  long timeout_ms;          /* every REST call and the pool acquire; default interval_ms */
  size_t max_samples;       /* oldest dropped beyond; default 3600 */
} fmh_sampler_opts;

typedef struct fmh_sample_vertex {
  double in_per_s, out_per_s, busy_ms_per_s, backpressured_ms_per_s;
} fmh_sample_vertex;

typedef struct fmh_sample_proc {
  int pid, alive;
  uint64_t rss_bytes;
  double cpu;               /* cores used since the previous sample (-1: first sample) */
} fmh_sample_proc;

typedef struct fmh_sample {
  double t;                 /* wall-clock seconds */
  int flink_ok, mysql_ok;
  char job_state[24];
  size_t nvertices;         /* index into fmh_sampler_vertex */
  fmh_sample_vertex v[FMH_SAMPLER_MAX_VERTICES];
  int64_t ckpt_completed, ckpt_failed;         /* -1 when unknown */
  int64_t ckpt_last_id, ckpt_last_duration_ms, ckpt_last_size;
  size_t npids;
  fmh_sample_proc p[FMH_SAMPLER_MAX_PIDS];
  /* MariaDB SHOW GLOBAL STATUS; -1 when unknown. rows_inserted/updated are
   * Innodb_rows_* where the server has them, else Handler_write/_update */
  int64_t rows_inserted, rows_updated, com_commit, handler_commit, com_insert, connections,
      threads_connected, questions;
} fmh_sample;

typedef struct fmh_sampler_gap {
  double from, to;          /* first and last failed tick */
  char what[8];             /* "flink" | "mysql" */
  char msg[200];
} fmh_sampler_gap;

typedef struct fmh_sampler_stats {
  uint64_t ticks;
  double cpu_s;             /* the sampler thread's own CPU time */
  double wall_s;            /* since start */
  int running;
} fmh_sampler_stats;

/* Validates the options and starts the thread (acquiring the connection
 * first). NULL with e filled (kind "config" for bad options, the pool's
 * error when no connection could be had). */
fmh_sampler *fmh_sampler_start(const fmh_sampler_opts *o, fmh_error *e);
/* Stop the thread (a tick in progress ends first) and keep the data. */
void fmh_sampler_stop(fmh_sampler *s);
/* Stop, release the connection, free everything. */
void fmh_sampler_free(fmh_sampler *s);
void fmh_sampler_stats_get(fmh_sampler *s, fmh_sampler_stats *st);

/* Copies under the sampler's lock: callers pass arrays and get counts. The
 * _count calls size them; a sample or gap added in between is left out. */
size_t fmh_sampler_sample_count(fmh_sampler *s);
size_t fmh_sampler_samples(fmh_sampler *s, fmh_sample *out, size_t max);
size_t fmh_sampler_gap_count(fmh_sampler *s);
size_t fmh_sampler_gaps(fmh_sampler *s, fmh_sampler_gap *out, size_t max);
/* The vertices seen (index as in fmh_sample.v): 32-hex id and name. */
size_t fmh_sampler_vertices(fmh_sampler *s, char ids[][33], char names[][128], size_t max);

/* /proc/<pid>: resident set in bytes and CPU ticks (utime + stime) since
 * the process started. -1 when the process is gone or unreadable. */
int fmh_proc_usage(int pid, uint64_t *rss_bytes, uint64_t *cpu_ticks);

#endif
