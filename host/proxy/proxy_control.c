/* fmhost.proxy control: toxic names and defaults, the toxic table callers
 * change (published to the loop thread and waited for), accessors and stats. */
#include "proxy_int.h"

static const char *const toxic_names[FMH_TOXIC_COUNT] = {
    "down", "reset_peer", "latency", "bandwidth", "blackhole", "slicer", "timeout"};

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

int fmh_proxy_port(const fmh_proxy *p) { return p->port; }
const char *fmh_proxy_name(const fmh_proxy *p) { return p->name; }
const char *fmh_proxy_upstream_host(const fmh_proxy *p) { return p->echo ? NULL : p->upstream_host; }
int fmh_proxy_upstream_port(const fmh_proxy *p) { return p->upstream_port; }
int fmh_proxy_is_echo(const fmh_proxy *p) { return p->echo; }

/* Called with mu held: publish the table and wait until the loop has it. */
static void publish_locked(fmh_proxy *p) {
  uint64_t gen = ++p->want_gen;
  fmh_proxy_wake(p);
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
    int slot = fmh_proxy_per_direction(t->kind) ? d : 0;
    if (fmh_proxy_per_direction(t->kind) && !(t->direction & (1 << d))) continue;
    p->want.on[t->kind][slot] = 1;
    p->want.t[t->kind][slot] = *t;
    p->want.serial[t->kind][slot]++;
    if (!fmh_proxy_per_direction(t->kind)) break;
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
    int slot = fmh_proxy_per_direction(kind) ? d : 0;
    if (fmh_proxy_per_direction(kind) && !(direction & (1 << d))) continue;
    if (p->want.on[kind][slot]) removed++;
    p->want.on[kind][slot] = 0;
    if (!fmh_proxy_per_direction(kind)) break;
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
    if (!fmh_proxy_per_direction((fmh_toxic_kind)k)) {
      if (on[0] && n < max) out[n++] = t[0];
      continue;
    }
    fmh_proxy_toxic a = t[0], b = t[1];
    a.direction = b.direction = 0;
    if (on[0] && on[1] && fmh_proxy_same_params(&a, &b)) {
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
