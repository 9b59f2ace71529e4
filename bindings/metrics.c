/* fmhost.metrics: Lua face of host/metrics/.
 *
 * Lua sees:
 *   metrics.histogram() -> h        log-linear, fixed memory (h:memory() bytes)
 *     h:record(v[, n=1])            v an integer >= 0 (choose the unit: µs, bytes);
 *                                   a float is rounded; negative or NaN raises
 *     h:count(), h:min(), h:max(), h:mean()   (nil when empty, count 0)
 *     h:percentile(q) -> v          q in [0, 100]: the nearest-rank value within
 *                                   metrics.relative_error (1/256) of the exact one
 *     h:summary() -> {count, min, max, mean, p50, p90, p95, p99, p999}
 *     h:merge(other) -> h           adds other's counts (equals the union's histogram)
 *     h:reset()
 *   metrics.relative_error          the bound above, 0.00390625
 *
 *   metrics.series{capacity=3600} -> s     one slot per wall-clock second
 *     s:add(v[, t=now])             t: unix seconds (fractions allowed); returns
 *                                   false when t is older than the ring (dropped)
 *     s:points() -> { {t=sec, n=, sum=, min=, max=, last=, mean=}, ... } oldest first
 *
 *   metrics.sampler{rest=url, job=id, pids={...}, pool=Pool, interval_ms=1000,
 *                   timeout_ms=interval_ms (at least 1000), max_samples=3600}
 *       -> smp | nil, msg, info     every source optional; job nil: the first
 *                                   RUNNING job at each tick. The sampler holds one
 *                                   connection of pool until it is closed.
 *     smp:samples() -> { {t=, flink_ok=, mysql_ok=, job_state=,
 *                         vertices={ {id=, name=, in_per_s=, out_per_s=, busy_ms_per_s=,
 *                                     backpressured_ms_per_s=}, ... },
 *                         checkpoints={completed=, failed=, last_id=, last_duration_ms=,
 *                                      last_size=} (fields nil when unknown),
 *                         procs={ {pid=, alive=, rss_bytes=, cpu=}, ... } (cpu in cores,
 *                                nil at the first sample),
 *                         mysql={rows_inserted=, rows_updated=, com_commit=,
 *                                handler_commit=, com_insert=, connections=,
 *                                threads_connected=, questions=} }, ... } oldest first;
 *                       a source not asked for or that failed leaves its fields nil
 *     smp:gaps() -> { {from=, to=, what='flink'|'mysql', msg=}, ... }  a source that
 *                       failed from `from` to `to` (consecutive failed ticks)
 *     smp:stats() -> {ticks=, cpu_s=, wall_s=, cpu_ratio=, running=}  the sampler
 *                       thread's own CPU time over its wall time
 *     smp:stop()         stops the thread; the data stays readable
 *     smp:close() -> true | false, 'already closed'   (also __gc and __close)
 *
 *   metrics.proc_usage(pid) -> {rss_bytes=, cpu_ticks=, hz=} | nil, msg
 *
 *   metrics.progress{label='progress', unit='rows', total=0, quiet=false,
 *                    tty=isatty(out), out=io.stderr} -> pr
 *     pr:add(n[, now]) -> line | nil   count n more (per batch, not per row); now
 *                       (seconds since the progress began) is for specs. At a
 *                       terminal at most one line a second, rewritten in place;
 *                       elsewhere a plain line every 10 s; nothing when quiet.
 *                       Returns the line written, if one was.
 *     pr:done([now]) -> line | nil     the final line (count, time, mean rate); once
 *     pr:count() -> n
 *     pr:close() -> true | false, 'already closed'  (also __gc and __close)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmhost/interp.h"
#include "fmhost/metrics.h"
#include "fmhost/pool_lua.h"
#include "fmhost/progress.h"

#define HIST_T "fmhost.metrics.Histogram"
#define SERIES_T "fmhost.metrics.Series"
#define SAMPLER_T "fmhost.metrics.Sampler"
#define PROGRESS_T "fmhost.metrics.Progress"

typedef struct {
  fmh_series s;
  int open;
} lseries;

typedef struct {
  fmh_sampler *s;
} lsampler;

typedef struct {
  fmh_progress p;
  int open;
} lprogress;

static void check_keys(lua_State *L, int t, const char *what, const char *const *allowed) {
  if (lua_isnoneornil(L, t)) return;
  luaL_checktype(L, t, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    int ok = 0;
    for (const char *const *a = allowed; k && *a; a++)
      if (strcmp(*a, k) == 0) ok = 1;
    if (!ok) luaL_error(L, "%s: unknown option '%s'", what, k ? k : luaL_typename(L, -1));
  }
}

/* --- histogram ---------------------------------------------------------------- */

static fmh_hist *check_hist(lua_State *L, int i) { return luaL_checkudata(L, i, HIST_T); }

static int l_histogram(lua_State *L) {
  fmh_hist *h = lua_newuserdatauv(L, sizeof *h, 0);
  fmh_hist_init(h);
  luaL_setmetatable(L, HIST_T);
  return 1;
}

static uint64_t check_value(lua_State *L, int i) {
  if (lua_isinteger(L, i)) {
    lua_Integer v = lua_tointeger(L, i);
    luaL_argcheck(L, v >= 0, i, "a histogram value must be >= 0");
    return (uint64_t)v;
  }
  lua_Number d = luaL_checknumber(L, i);
  luaL_argcheck(L, d >= 0 && d < 1.8e19, i, "a histogram value must be a number in 0 .. 2^64");
  return (uint64_t)llround(d);
}

static int l_hist_record(lua_State *L) {
  fmh_hist *h = check_hist(L, 1);
  uint64_t v = check_value(L, 2);
  lua_Integer n = luaL_optinteger(L, 3, 1);
  luaL_argcheck(L, n >= 0, 3, "count must be >= 0");
  fmh_hist_record(h, v, (uint64_t)n);
  return 0;
}

static void push_u64(lua_State *L, uint64_t v) {
  if (v <= (uint64_t)INT64_MAX) lua_pushinteger(L, (lua_Integer)v);
  else lua_pushnumber(L, (lua_Number)v);
}

static int l_hist_count(lua_State *L) {
  push_u64(L, check_hist(L, 1)->count);
  return 1;
}

static int l_hist_min(lua_State *L) {
  fmh_hist *h = check_hist(L, 1);
  if (h->count) push_u64(L, h->min);
  else lua_pushnil(L);
  return 1;
}

static int l_hist_max(lua_State *L) {
  fmh_hist *h = check_hist(L, 1);
  if (h->count) push_u64(L, h->max);
  else lua_pushnil(L);
  return 1;
}

static int l_hist_mean(lua_State *L) {
  fmh_hist *h = check_hist(L, 1);
  if (h->count) lua_pushnumber(L, h->sum / (double)h->count);
  else lua_pushnil(L);
  return 1;
}

static int l_hist_percentile(lua_State *L) {
  fmh_hist *h = check_hist(L, 1);
  lua_Number q = luaL_checknumber(L, 2);
  luaL_argcheck(L, q >= 0 && q <= 100, 2, "percentile must be in [0, 100]");
  if (!h->count) lua_pushnil(L);
  else push_u64(L, fmh_hist_percentile(h, q));
  return 1;
}

static int l_hist_summary(lua_State *L) {
  fmh_hist *h = check_hist(L, 1);
  static const struct { const char *k; double q; } qs[] = {
      {"p50", 50}, {"p90", 90}, {"p95", 95}, {"p99", 99}, {"p999", 99.9}};
  lua_createtable(L, 0, 9);
  push_u64(L, h->count);
  lua_setfield(L, -2, "count");
  if (h->count) {
    push_u64(L, h->min);
    lua_setfield(L, -2, "min");
    push_u64(L, h->max);
    lua_setfield(L, -2, "max");
    fmh_set_num(L, "mean", h->sum / (double)h->count);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
      push_u64(L, fmh_hist_percentile(h, qs[i].q));
      lua_setfield(L, -2, qs[i].k);
    }
  }
  return 1;
}

static int l_hist_merge(lua_State *L) {
  fmh_hist *h = check_hist(L, 1);
  fmh_hist *o = check_hist(L, 2);
  fmh_hist_merge(h, o);
  lua_settop(L, 1);
  return 1;
}

static int l_hist_reset(lua_State *L) {
  fmh_hist_init(check_hist(L, 1));
  return 0;
}

static int l_hist_memory(lua_State *L) {
  check_hist(L, 1);
  lua_pushinteger(L, (lua_Integer)sizeof(fmh_hist));
  return 1;
}

static int l_hist_tostring(lua_State *L) {
  fmh_hist *h = check_hist(L, 1);
  if (!h->count) lua_pushliteral(L, "fmhost.metrics.Histogram (empty)");
  else
    lua_pushfstring(L, "fmhost.metrics.Histogram n=%I p50=%I p99=%I max=%I", (lua_Integer)h->count,
                    (lua_Integer)fmh_hist_percentile(h, 50), (lua_Integer)fmh_hist_percentile(h, 99),
                    (lua_Integer)h->max);
  return 1;
}

/* --- series ------------------------------------------------------------------- */

static fmh_series *check_series(lua_State *L, int i) {
  lseries *u = luaL_checkudata(L, i, SERIES_T);
  if (!u->open) luaL_error(L, "series is closed");
  return &u->s;
}

static int l_series(lua_State *L) {
  static const char *const keys[] = {"capacity", NULL};
  check_keys(L, 1, "metrics.series", keys);
  lua_Integer cap = lua_istable(L, 1) ? fmh_opt_int(L, 1, "capacity", 3600) : 3600;
  if (cap < 1 || cap > 10000000) luaL_error(L, "metrics.series: capacity must be 1..10000000 seconds");
  lseries *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->open = 0;
  luaL_setmetatable(L, SERIES_T);
  if (fmh_series_init(&u->s, (size_t)cap) != 0) luaL_error(L, "metrics.series: out of memory");
  u->open = 1;
  return 1;
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int l_series_add(lua_State *L) {
  fmh_series *s = check_series(L, 1);
  lua_Number v = luaL_checknumber(L, 2);
  lua_Number t = luaL_opt(L, luaL_checknumber, 3, wall_now());
  luaL_argcheck(L, isfinite(t), 3, "time must be finite");
  lua_pushboolean(L, fmh_series_add(s, t, v) == 0);
  return 1;
}

static int l_series_points(lua_State *L) {
  fmh_series *s = check_series(L, 1);
  fmh_series_slot *pts = malloc(s->capacity * sizeof *pts);
  if (!pts) return luaL_error(L, "series: out of memory");
  size_t n = fmh_series_points(s, pts, s->capacity);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 7);
    fmh_set_int(L, "t", pts[i].sec);
    fmh_set_int(L, "n", (lua_Integer)pts[i].n);
    fmh_set_num(L, "sum", pts[i].sum);
    fmh_set_num(L, "min", pts[i].min);
    fmh_set_num(L, "max", pts[i].max);
    fmh_set_num(L, "last", pts[i].last);
    fmh_set_num(L, "mean", pts[i].sum / (double)pts[i].n);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free(pts);
  return 1;
}

static int l_series_close(lua_State *L) {
  lseries *u = luaL_checkudata(L, 1, SERIES_T);
  if (!u->open) return fmh_push_closed(L, 0);
  u->open = 0;
  fmh_series_free(&u->s);
  return fmh_push_closed(L, 1);
}

/* --- sampler ------------------------------------------------------------------ */

static fmh_sampler *check_sampler(lua_State *L, int i) {
  lsampler *u = luaL_checkudata(L, i, SAMPLER_T);
  if (!u->s) luaL_error(L, "sampler is closed");
  return u->s;
}

static int l_sampler(lua_State *L) {
  static const char *const keys[] = {"rest", "job", "pids", "pool", "interval_ms", "timeout_ms",
                                     "max_samples", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  check_keys(L, 1, "metrics.sampler", keys);
  fmh_sampler_opts o;
  memset(&o, 0, sizeof o);
  o.rest_url = fmh_opt_str(L, 1, "rest", NULL);
  o.job_id = fmh_opt_str(L, 1, "job", NULL);
  o.interval_ms = (long)fmh_opt_int(L, 1, "interval_ms", 1000);
  o.timeout_ms = (long)fmh_opt_int(L, 1, "timeout_ms", 0);
  lua_Integer ms = fmh_opt_int(L, 1, "max_samples", 3600);
  if (ms < 1 || ms > 1000000) luaL_error(L, "metrics.sampler: max_samples must be 1..1000000");
  o.max_samples = (size_t)ms;
  if (o.timeout_ms < 0 || o.timeout_ms > 3600000) luaL_error(L, "metrics.sampler: timeout_ms must be 0..3600000");
  int pids[FMH_SAMPLER_MAX_PIDS];
  lua_getfield(L, 1, "pids");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, -1);
    if (n > FMH_SAMPLER_MAX_PIDS) luaL_error(L, "metrics.sampler: at most %d pids", FMH_SAMPLER_MAX_PIDS);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      int isnum = 0;
      lua_Integer pid = lua_tointegerx(L, -1, &isnum);
      if (!isnum || pid <= 0 || pid > 0x7fffffff) luaL_error(L, "metrics.sampler: pids[%d] is not a process id", (int)i);
      pids[i - 1] = (int)pid;
      lua_pop(L, 1);
    }
    o.pids = pids;
    o.npids = (size_t)n;
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "pool");
  int pool_idx = lua_gettop(L);
  if (!lua_isnil(L, pool_idx)) o.pool = fmh_lua_checkpool(L, pool_idx);
  lsampler *u = lua_newuserdatauv(L, sizeof *u, 1);
  u->s = NULL;
  luaL_setmetatable(L, SAMPLER_T);
  /* the Pool value stays reachable while the sampler is (it holds a connection) */
  lua_pushvalue(L, pool_idx);
  lua_setiuservalue(L, -2, 1);
  fmh_error e = {0};
  u->s = fmh_sampler_start(&o, &e);
  if (!u->s) return fmh_fail(L, &e);
  return 1;
}

static void set_i64_pos(lua_State *L, const char *k, int64_t v) {
  if (v >= 0) fmh_set_int(L, k, v);
}

static int l_sampler_samples(lua_State *L) {
  fmh_sampler *s = check_sampler(L, 1);
  size_t n = fmh_sampler_sample_count(s);
  fmh_sample *xs = malloc((n ? n : 1) * sizeof *xs);
  char(*ids)[33] = malloc(FMH_SAMPLER_MAX_VERTICES * sizeof *ids);
  char(*names)[128] = malloc(FMH_SAMPLER_MAX_VERTICES * sizeof *names);
  if (!xs || !ids || !names) {
    free(xs);
    free(ids);
    free(names);
    return luaL_error(L, "sampler: out of memory");
  }
  n = fmh_sampler_samples(s, xs, n);
  size_t nv = fmh_sampler_vertices(s, ids, names, FMH_SAMPLER_MAX_VERTICES);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    fmh_sample *x = &xs[i];
    lua_createtable(L, 0, 8);
    fmh_set_num(L, "t", x->t);
    fmh_set_bool(L, "flink_ok", x->flink_ok);
    fmh_set_bool(L, "mysql_ok", x->mysql_ok);
    if (x->job_state[0]) fmh_set_str(L, "job_state", x->job_state);
    lua_createtable(L, (int)x->nvertices, 0);
    for (size_t k = 0; k < x->nvertices; k++) {
      fmh_sample_vertex *v = &x->v[k];
      lua_createtable(L, 0, 6);
      if (k < nv) {
        fmh_set_str(L, "id", ids[k]);
        fmh_set_str(L, "name", names[k]);
      }
      if (v->in_per_s >= 0) fmh_set_num(L, "in_per_s", v->in_per_s);
      if (v->out_per_s >= 0) fmh_set_num(L, "out_per_s", v->out_per_s);
      if (v->busy_ms_per_s >= 0) fmh_set_num(L, "busy_ms_per_s", v->busy_ms_per_s);
      if (v->backpressured_ms_per_s >= 0) fmh_set_num(L, "backpressured_ms_per_s", v->backpressured_ms_per_s);
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "vertices");
    lua_createtable(L, 0, 5);
    set_i64_pos(L, "completed", x->ckpt_completed);
    set_i64_pos(L, "failed", x->ckpt_failed);
    set_i64_pos(L, "last_id", x->ckpt_last_id);
    set_i64_pos(L, "last_duration_ms", x->ckpt_last_duration_ms);
    set_i64_pos(L, "last_size", x->ckpt_last_size);
    lua_setfield(L, -2, "checkpoints");
    lua_createtable(L, (int)x->npids, 0);
    const fmh_sample_proc *pp = x->p;
    for (size_t k = 0; k < x->npids; k++) {
      lua_createtable(L, 0, 4);
      fmh_set_int(L, "pid", pp[k].pid);
      fmh_set_bool(L, "alive", pp[k].alive);
      if (pp[k].alive) fmh_set_int(L, "rss_bytes", (lua_Integer)pp[k].rss_bytes);
      if (pp[k].cpu >= 0) fmh_set_num(L, "cpu", pp[k].cpu);
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "procs");
    lua_createtable(L, 0, 8);
    set_i64_pos(L, "rows_inserted", x->rows_inserted);
    set_i64_pos(L, "rows_updated", x->rows_updated);
    set_i64_pos(L, "com_commit", x->com_commit);
    set_i64_pos(L, "handler_commit", x->handler_commit);
    set_i64_pos(L, "com_insert", x->com_insert);
    set_i64_pos(L, "connections", x->connections);
    set_i64_pos(L, "threads_connected", x->threads_connected);
    set_i64_pos(L, "questions", x->questions);
    lua_setfield(L, -2, "mysql");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free(xs);
  free(ids);
  free(names);
  return 1;
}

static int l_sampler_gaps(lua_State *L) {
  fmh_sampler *s = check_sampler(L, 1);
  size_t n = fmh_sampler_gap_count(s);
  fmh_sampler_gap *g = malloc((n ? n : 1) * sizeof *g);
  if (!g) return luaL_error(L, "sampler: out of memory");
  n = fmh_sampler_gaps(s, g, n);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 4);
    fmh_set_num(L, "from", g[i].from);
    fmh_set_num(L, "to", g[i].to);
    fmh_set_str(L, "what", g[i].what);
    fmh_set_str(L, "msg", g[i].msg);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free(g);
  return 1;
}

static int l_sampler_stats(lua_State *L) {
  fmh_sampler_stats st;
  fmh_sampler_stats_get(check_sampler(L, 1), &st);
  lua_createtable(L, 0, 5);
  fmh_set_int(L, "ticks", (lua_Integer)st.ticks);
  fmh_set_num(L, "cpu_s", st.cpu_s);
  fmh_set_num(L, "wall_s", st.wall_s);
  fmh_set_num(L, "cpu_ratio", st.wall_s > 0 ? st.cpu_s / st.wall_s : 0);
  fmh_set_bool(L, "running", st.running);
  return 1;
}

static int l_sampler_stop(lua_State *L) {
  fmh_sampler_stop(check_sampler(L, 1));
  return 0;
}

static int l_sampler_close(lua_State *L) {
  lsampler *u = luaL_checkudata(L, 1, SAMPLER_T);
  if (!u->s) return fmh_push_closed(L, 0);
  fmh_sampler *s = u->s;
  u->s = NULL;
  fmh_sampler_free(s);
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  return fmh_push_closed(L, 1);
}

static int l_proc_usage(lua_State *L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, 1, "not a process id");
  uint64_t rss, ticks;
  if (fmh_proc_usage((int)pid, &rss, &ticks) != 0) {
    fmh_error e = {0};
    fmh_error_set(&e, "os", 0, 0, "process %d: no such process (or /proc unreadable)", (int)pid);
    return fmh_fail(L, &e);
  }
  lua_createtable(L, 0, 3);
  fmh_set_int(L, "rss_bytes", (lua_Integer)rss);
  fmh_set_int(L, "cpu_ticks", (lua_Integer)ticks);
  fmh_set_int(L, "hz", sysconf(_SC_CLK_TCK));
  return 1;
}

/* --- progress ----------------------------------------------------------------- */

static lprogress *check_progress(lua_State *L, int i) {
  lprogress *u = luaL_checkudata(L, i, PROGRESS_T);
  if (!u->open) luaL_error(L, "progress is closed");
  return u;
}

static int l_progress(lua_State *L) {
  static const char *const keys[] = {"label", "unit", "total", "quiet", "tty", "out", NULL};
  check_keys(L, 1, "metrics.progress", keys);
  int t = lua_istable(L, 1) ? 1 : 0;
  const char *label = t ? fmh_opt_str(L, 1, "label", "progress") : "progress";
  const char *unit = t ? fmh_opt_str(L, 1, "unit", "rows") : "rows";
  lua_Integer total = t ? fmh_opt_int(L, 1, "total", 0) : 0;
  if (total < 0) luaL_error(L, "metrics.progress: total must be >= 0");
  int quiet = t ? fmh_opt_bool(L, 1, "quiet", 0) : 0;
  int tty = -1;
  if (t) {
    lua_getfield(L, 1, "tty");
    if (!lua_isnil(L, -1)) tty = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  FILE *out = stderr;
  int out_idx = 0;
  if (t) {
    lua_getfield(L, 1, "out");
    if (!lua_isnil(L, -1)) {
      luaL_Stream *st = luaL_checkudata(L, -1, LUA_FILEHANDLE);
      if (!st->closef || !st->f) luaL_error(L, "metrics.progress: out is a closed file");
      out = st->f;
      out_idx = lua_gettop(L);
    } else {
      lua_pop(L, 1);
    }
  }
  lprogress *u = lua_newuserdatauv(L, sizeof *u, 1);
  u->open = 0;
  luaL_setmetatable(L, PROGRESS_T);
  if (out_idx) {  /* the file stays open while the progress is */
    lua_pushvalue(L, out_idx);
    lua_setiuservalue(L, -2, 1);
  }
  fmh_progress_init(&u->p, label, unit, (uint64_t)total, out, tty, quiet);
  u->open = 1;
  return 1;
}

static int l_progress_add(lua_State *L) {
  lprogress *u = check_progress(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0, 2, "count must be >= 0");
  double now = lua_isnoneornil(L, 3) ? -1 : u->p.start + luaL_checknumber(L, 3);
  char line[256];
  if (fmh_progress_add(&u->p, (uint64_t)n, now, line, sizeof line)) lua_pushstring(L, line);
  else lua_pushnil(L);
  return 1;
}

static int l_progress_done(lua_State *L) {
  lprogress *u = check_progress(L, 1);
  double now = lua_isnoneornil(L, 2) ? -1 : u->p.start + luaL_checknumber(L, 2);
  char line[256];
  if (fmh_progress_done(&u->p, now, line, sizeof line)) lua_pushstring(L, line);
  else lua_pushnil(L);
  return 1;
}

static int l_progress_count(lua_State *L) {
  lprogress *u = check_progress(L, 1);
  pthread_mutex_lock(&u->p.mu);
  uint64_t d = u->p.done;
  pthread_mutex_unlock(&u->p.mu);
  push_u64(L, d);
  return 1;
}

static int l_progress_close(lua_State *L) {
  lprogress *u = luaL_checkudata(L, 1, PROGRESS_T);
  if (!u->open) return fmh_push_closed(L, 0);
  u->open = 0;
  fmh_progress_destroy(&u->p);
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  return fmh_push_closed(L, 1);
}

/* --- registration ------------------------------------------------------------- */

static const luaL_Reg hist_methods[] = {
    {"record", l_hist_record}, {"count", l_hist_count},       {"min", l_hist_min},
    {"max", l_hist_max},       {"mean", l_hist_mean},         {"percentile", l_hist_percentile},
    {"summary", l_hist_summary}, {"merge", l_hist_merge},     {"reset", l_hist_reset},
    {"memory", l_hist_memory}, {NULL, NULL}};
static const luaL_Reg hist_meta[] = {{"__tostring", l_hist_tostring}, {NULL, NULL}};

static const luaL_Reg series_methods[] = {
    {"add", l_series_add}, {"points", l_series_points}, {"close", l_series_close}, {NULL, NULL}};
static const luaL_Reg series_meta[] = {{"__gc", l_series_close}, {"__close", l_series_close}, {NULL, NULL}};

static const luaL_Reg sampler_methods[] = {
    {"samples", l_sampler_samples}, {"gaps", l_sampler_gaps}, {"stats", l_sampler_stats},
    {"stop", l_sampler_stop},       {"close", l_sampler_close}, {NULL, NULL}};
static const luaL_Reg sampler_meta[] = {
    {"__gc", l_sampler_close}, {"__close", l_sampler_close}, {NULL, NULL}};

static const luaL_Reg progress_methods[] = {{"add", l_progress_add},     {"done", l_progress_done},
                                            {"count", l_progress_count}, {"close", l_progress_close},
                                            {NULL, NULL}};
static const luaL_Reg progress_meta[] = {
    {"__gc", l_progress_close}, {"__close", l_progress_close}, {NULL, NULL}};

static const luaL_Reg metrics_funcs[] = {{"histogram", l_histogram}, {"series", l_series},
                                         {"sampler", l_sampler},     {"proc_usage", l_proc_usage},
                                         {"progress", l_progress},   {NULL, NULL}};

int luaopen_fmhost_metrics(lua_State *L) {
  fmh_newclass(L, HIST_T, hist_methods, hist_meta);
  fmh_newclass(L, SERIES_T, series_methods, series_meta);
  fmh_newclass(L, SAMPLER_T, sampler_methods, sampler_meta);
  fmh_newclass(L, PROGRESS_T, progress_methods, progress_meta);
  fmh_newmodule(L, "fmhost.metrics", metrics_funcs);
  lua_pushnumber(L, FMH_HIST_REL_ERROR);
  lua_setfield(L, -2, "relative_error");
  return 1;
}
