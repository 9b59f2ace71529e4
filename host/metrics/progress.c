/* Progress lines for long work (see fmhost/progress.h): rate-limited, a
 * rewritten line at a terminal, a plain line every 10 s elsewhere. */
#include "fmhost/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

double fmh_progress_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fmh_progress_init(fmh_progress *p, const char *label, const char *unit, uint64_t total,
                       FILE *out, int tty, int quiet) {
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label ? label : "progress");
  snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "rows");
  p->total = total;
  p->out = out ? out : stderr;
  p->tty = tty >= 0 ? tty : isatty(fileno(p->out));
  p->quiet = quiet;
  p->interval = p->tty ? 1.0 : 10.0;
  p->start = fmh_progress_clock();
  p->last = p->start;
  pthread_mutex_init(&p->mu, NULL);
}

void fmh_progress_destroy(fmh_progress *p) { pthread_mutex_destroy(&p->mu); }

/* 1234567 -> "1,234,567" */
static void grouped(uint64_t v, char *buf, size_t cap) {
  char raw[32];
  int n = snprintf(raw, sizeof raw, "%llu", (unsigned long long)v);
  size_t j = 0;
  for (int i = 0; i < n && j + 2 < cap; i++) {
    if (i > 0 && (n - i) % 3 == 0) buf[j++] = ',';
    buf[j++] = raw[i];
  }
  buf[j] = 0;
}

/* 245123.4 -> "245k" */
static void short_rate(double r, char *buf, size_t cap) {
  if (r >= 1e6) snprintf(buf, cap, "%.2fM", r / 1e6);
  else if (r >= 1e4) snprintf(buf, cap, "%.0fk", r / 1e3);
  else if (r >= 1e3) snprintf(buf, cap, "%.1fk", r / 1e3);
  else snprintf(buf, cap, "%.0f", r);
}

static void duration(double s, char *buf, size_t cap) {
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void fmh_progress_format(const fmh_progress *p, uint64_t done, double elapsed, int final, char *buf,
                         size_t cap) {
  char d[32], t[32], r[32], eta[32];
  grouped(done, d, sizeof d);
  double rate = elapsed > 0 ? (double)done / elapsed : 0;
  short_rate(rate, r, sizeof r);
  if (final) {
    duration(elapsed, eta, sizeof eta);
    snprintf(buf, cap, "%s: %s %s in %s (%s %s/s)", p->label, d, p->unit, eta, r, p->unit);
  } else if (p->total > 0) {
    grouped(p->total, t, sizeof t);
    int pct = (int)((double)done * 100.0 / (double)p->total);
    if (rate > 0 && done < p->total) duration((double)(p->total - done) / rate, eta, sizeof eta);
    else snprintf(eta, sizeof eta, "?");
    snprintf(buf, cap, "%s: %s / %s %s  %d%%  %s %s/s  ETA %s", p->label, d, t, p->unit, pct, r, p->unit,
             eta);
  } else {
    snprintf(buf, cap, "%s: %s %s  %s %s/s", p->label, d, p->unit, r, p->unit);
  }
}

int fmh_progress_add(fmh_progress *p, uint64_t n, double now, char *line, size_t cap) {
  if (line && cap) line[0] = 0;
  if (now < 0) now = fmh_progress_clock();
  pthread_mutex_lock(&p->mu);
  p->done += n;
  int due = !p->quiet && !p->finished && now - p->last >= p->interval;
  if (due) {
    char buf[256];
    fmh_progress_format(p, p->done, now - p->start, 0, buf, sizeof buf);
    p->last = now;
    /* at a terminal the line is rewritten: \r, the text, erase to the end */
    if (p->tty) fprintf(p->out, "\r%s\033[K", buf);
    else fprintf(p->out, "%s\n", buf);
    fflush(p->out);
    if (line && cap) snprintf(line, cap, "%s", buf);
  }
  pthread_mutex_unlock(&p->mu);
  return due;
}

int fmh_progress_done(fmh_progress *p, double now, char *line, size_t cap) {
  if (line && cap) line[0] = 0;
  if (now < 0) now = fmh_progress_clock();
  pthread_mutex_lock(&p->mu);
  int write = !p->quiet && !p->finished;
  p->finished = 1;
  if (write) {
    char buf[256];
    fmh_progress_format(p, p->done, now - p->start, 1, buf, sizeof buf);
    if (p->tty) fprintf(p->out, "\r%s\033[K\n", buf);
    else fprintf(p->out, "%s\n", buf);
    fflush(p->out);
    if (line && cap) snprintf(line, cap, "%s", buf);
  }
  pthread_mutex_unlock(&p->mu);
  return write;
}
