/* fmhost.retry: retry policies and error classification, usable from any
 * C thread.
 *
 * A policy is exponential backoff with a cap, jitter, an attempt limit and
 * an overall deadline. Before retry k (k = 1 for the second attempt) the
 * nominal delay is d = min(cap_ms, base_ms * factor^(k-1)); with jitter j
 * (0..1) the delay actually waited is uniform in [d*(1-j), d]: j = 0 waits
 * exactly d, j = 0.5 is "equal jitter", j = 1 is "full jitter". The uniform
 * numbers come from fmhost's own PRNG (splitmix64) seeded by the policy, so
 * a seed replays the same delays.
 *
 * The default policy is the seed's: 4 attempts (the first plus 3 retries)
 * after 1 s, 2 s and 4 s, no jitter, no deadline.
 *
 * Classification reads codes, never message text: fmh_retry_classify_*
 * return 1 when the same call may succeed later, and name a class. */
#ifndef FMHOST_RETRY_H
#define FMHOST_RETRY_H

#include <stdint.h>

#include "fmhost/error.h"

#define FMH_RETRY_MAX_ATTEMPTS 1000

typedef struct fmh_retry_policy {
  int max_attempts;    /* total attempts, the first included; >= 1 */
  double base_ms;      /* nominal delay before the first retry */
  double factor;       /* growth per retry; >= 1 */
  double cap_ms;       /* no nominal delay exceeds this; 0 = no cap */
  double jitter;       /* 0..1, see above */
  double deadline_ms;  /* no retry starts after this much time since the start; 0 = none */
  uint64_t seed;       /* PRNG seed for jitter */
} fmh_retry_policy;

/* Why a run stopped. */
typedef enum {
  FMH_RETRY_OK = 0,    /* an attempt succeeded */
  FMH_RETRY_PERMANENT, /* an attempt failed with a non-retryable error */
  FMH_RETRY_ATTEMPTS,  /* max_attempts reached */
  FMH_RETRY_DEADLINE   /* the next delay would end after the deadline */
} fmh_retry_cause;

/* The state of one run; fill it with fmh_retry_begin. */
typedef struct fmh_retry_state {
  fmh_retry_policy p;
  uint64_t rng;
  int attempts;        /* attempts made so far */
  int ndelays;
  double delays[64];   /* the first 64 delays waited, in ms */
  double slept_ms;     /* sum of all delays */
  double start_ms;     /* monotonic clock at begin */
  int virtual_time;    /* delays are not slept but counted as elapsed */
  fmh_retry_cause cause;
} fmh_retry_state;

void fmh_retry_policy_default(fmh_retry_policy *p);
/* 0, or -1 with a "config" error naming the bad field. */
int fmh_retry_policy_check(const fmh_retry_policy *p, fmh_error *e);
/* The nominal (jitter-free) delay before retry k (k >= 1). */
double fmh_retry_nominal_ms(const fmh_retry_policy *p, int k);
/* The next number of the splitmix64 stream in *state. */
uint64_t fmh_retry_rand(uint64_t *state);
/* The delay before retry k, drawing one number from *rng when jitter > 0. */
double fmh_retry_delay_ms(const fmh_retry_policy *p, int k, uint64_t *rng);

/* Start a run with its own PRNG stream seeded by rng_seed. With
 * virtual_time, fmh_retry_after_failure does not count real sleep: the
 * caller decides whether to sleep, and the delays count as elapsed time. */
void fmh_retry_begin(fmh_retry_state *st, const fmh_retry_policy *p, uint64_t rng_seed,
                     int virtual_time);
/* Record a failed attempt. Returns the delay in ms to wait before the next
 * attempt, or -1 when the run stops (st->cause says why). */
double fmh_retry_after_failure(fmh_retry_state *st, int retryable);
/* Milliseconds since begin (plus the virtual delays under virtual_time). */
double fmh_retry_elapsed_ms(const fmh_retry_state *st);
const char *fmh_retry_cause_name(fmh_retry_cause c);
/* Sleep ms milliseconds (restarting after signals). */
void fmh_retry_sleep_ms(double ms);
double fmh_retry_now_ms(void);

/* Run fn until it returns 0, or fails with e->retryable == 0, or the
 * policy runs out. fn gets the attempt number (1-based) and fills e on
 * failure (returning non-zero). Returns 0 on success, else -1 with the last
 * error in e, its message prefixed when attempts ran out. st may be NULL. */
int fmh_retry_run(const fmh_retry_policy *p, uint64_t rng_seed,
                  int (*fn)(void *ctx, int attempt, fmh_error *e), void *ctx, fmh_error *e,
                  fmh_retry_state *st);

/* Classification: returns 1 when retryable, sets *cls (may be NULL) to a
 * static class name. */
int fmh_retry_classify_mysql(int code, const char **cls);
int fmh_retry_classify_http(int status, const char **cls);
int fmh_retry_classify_curl(int code, const char **cls);

#endif
