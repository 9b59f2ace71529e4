/* Progress of long work (loads, pipeline runs, validating millions of rows)
 * for a person watching: at a terminal one line rewritten in place at most
 * once per second ("label: 1,234,567 / 4,000,000 rows  31%  245k rows/s
 * ETA 0:11"); when the output is not a terminal a plain line every 10 s;
 * nothing at all when quiet. The last line (fmh_progress_done) always ends
 * with a newline unless quiet.
 *
 * Call fmh_progress_add once per batch, not per row: it takes a mutex (so
 * the threads of a load may share one) and reads the clock. total 0 means
 * unknown (no percentage, no ETA). */
#ifndef FMHOST_PROGRESS_H
#define FMHOST_PROGRESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct fmh_progress {
  char label[64];
  char unit[16];
  uint64_t total, done;
  double start, last;     /* monotonic seconds: start and the last line written */
  double interval;        /* seconds between lines: 1 at a terminal, 10 otherwise */
  int tty, quiet, finished;
  FILE *out;
  pthread_mutex_t mu;
} fmh_progress;

/* out NULL: stderr. tty < 0: ask isatty(out); 0/1 force it. */
void fmh_progress_init(fmh_progress *p, const char *label, const char *unit, uint64_t total,
                       FILE *out, int tty, int quiet);
void fmh_progress_destroy(fmh_progress *p);
/* Count n more units done at monotonic time now (< 0: the clock). Writes
 * the line when it is due; the line written (without "\r"/"\n") goes to
 * line when not NULL (empty when nothing was written). Returns 1 when a
 * line was written. */
int fmh_progress_add(fmh_progress *p, uint64_t n, double now, char *line, size_t cap);
/* Write the final line (done, mean rate, elapsed); idempotent. */
int fmh_progress_done(fmh_progress *p, double now, char *line, size_t cap);
/* The text of the line for done units at elapsed seconds. */
void fmh_progress_format(const fmh_progress *p, uint64_t done, double elapsed, int final, char *buf,
                         size_t cap);
double fmh_progress_clock(void);

#endif
