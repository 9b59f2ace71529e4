/* fmhost.retry: Lua face of retry policies and error classification.
 *
 * Lua sees:
 *   retry.policy{max_attempts=4, base_ms=1000, factor=2, cap_ms=30000, jitter=0,
 *                deadline_ms=0, seed=nil, sleep=true} -> Policy (fields readable: p.base_ms ...)
 *   p:run(fn, ...)   calls fn(attempt, ...) until its first result is not nil.
 *       success: fn's results, unchanged.
 *       failure: nil, msg, info - the last attempt's info table (or a new one)
 *                with attempts, delays, cause ('permanent'|'attempts'|'deadline')
 *                and elapsed_ms added; msg is prefixed "gave up after N attempts
 *                (attempts|deadline): " unless the error was permanent.
 *       A failure is retryable unless info.retryable == false; a raised error
 *       is not caught (it propagates at once).
 *   p:last()         -> {ok=, attempts=, delays={ms...}, cause=, elapsed_ms=} of the latest run
 *   p:schedule()     -> the delays a first run would wait when every attempt fails
 *   retry.classify_mysql(code) / classify_http(status) / classify_curl(code) -> retryable, class
 *   retry.classify(info) -> retryable, class (by info.kind and info.code/status)
 *   retry.sleep(ms)
 * With sleep=false a policy waits no real time: delays count as elapsed time
 * toward the deadline (for tests of schedules). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmhost/interp.h"
#include "fmhost/retry.h"

#define POLICY "fmhost.retry.Policy"

typedef struct {
  fmh_retry_policy p;
  uint64_t rng;        /* advances across runs: each run draws its own stream */
  int sleep;
  int have_last;
  fmh_retry_state last;
  double last_elapsed;
} Policy;

static Policy *check_policy(lua_State *L, int i) { return luaL_checkudata(L, i, POLICY); }

static uint64_t fresh_seed(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t s = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
  s ^= (uint64_t)getpid() << 32;
  return fmh_retry_rand(&s);
}

static int l_policy(lua_State *L) {
  fmh_retry_policy p;
  fmh_retry_policy_default(&p);
  int sleep = 1;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    p.max_attempts = (int)fmh_opt_int(L, 1, "max_attempts", p.max_attempts);
    p.base_ms = fmh_opt_num(L, 1, "base_ms", p.base_ms);
    p.factor = fmh_opt_num(L, 1, "factor", p.factor);
    p.cap_ms = fmh_opt_num(L, 1, "cap_ms", p.cap_ms);
    p.jitter = fmh_opt_num(L, 1, "jitter", p.jitter);
    p.deadline_ms = fmh_opt_num(L, 1, "deadline_ms", p.deadline_ms);
    sleep = fmh_opt_bool(L, 1, "sleep", 1);
    lua_getfield(L, 1, "seed");
    if (lua_isnil(L, -1)) p.seed = fresh_seed();
    else if (lua_isinteger(L, -1)) p.seed = (uint64_t)lua_tointeger(L, -1);
    else return luaL_error(L, "option 'seed' must be an integer");
    lua_pop(L, 1);
  } else {
    p.seed = fresh_seed();
  }
  fmh_error e = {0};
  if (fmh_retry_policy_check(&p, &e) != 0) return luaL_error(L, "%s", e.msg);
  Policy *P = lua_newuserdatauv(L, sizeof *P, 0);
  memset(P, 0, sizeof *P);
  P->p = p;
  P->rng = p.seed;
  P->sleep = sleep;
  luaL_setmetatable(L, POLICY);
  return 1;
}

static void push_delays(lua_State *L, const double *d, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, d[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* Set attempts, delays, cause and elapsed_ms in the table on top. */
static void set_outcome(lua_State *L, const fmh_retry_state *st, double elapsed) {
  fmh_set_int(L, "attempts", st->attempts);
  push_delays(L, st->delays, st->ndelays);
  lua_setfield(L, -2, "delays");
  fmh_set_str(L, "cause", fmh_retry_cause_name(st->cause));
  fmh_set_num(L, "elapsed_ms", elapsed);
}

static int l_run(lua_State *L) {
  Policy *P = check_policy(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int nextra = lua_gettop(L) - 2;
  int base = lua_gettop(L);
  fmh_retry_state st;
  fmh_retry_begin(&st, &P->p, fmh_retry_rand(&P->rng), !P->sleep);
  for (;;) {
    lua_settop(L, base);
    lua_pushvalue(L, 2);
    lua_pushinteger(L, st.attempts + 1);
    for (int i = 0; i < nextra; i++) lua_pushvalue(L, 3 + i);
    lua_call(L, 1 + nextra, LUA_MULTRET);
    int nres = lua_gettop(L) - base;
    if (nres > 0 && !lua_isnil(L, base + 1)) {
      st.attempts++;
      st.cause = FMH_RETRY_OK;
      P->last = st;
      P->last_elapsed = fmh_retry_elapsed_ms(&st);
      P->have_last = 1;
      return nres;
    }
    int retryable = 1;
    if (nres >= 3 && lua_istable(L, base + 3)) {
      lua_getfield(L, base + 3, "retryable");
      if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) retryable = 0;
      lua_pop(L, 1);
    }
    double d = fmh_retry_after_failure(&st, retryable);
    if (d < 0) break;
    if (P->sleep) fmh_retry_sleep_ms(d);
  }
  double elapsed = fmh_retry_elapsed_ms(&st);
  P->last = st;
  P->last_elapsed = elapsed;
  P->have_last = 1;
  int nres = lua_gettop(L) - base;
  const char *msg = (nres >= 2 && lua_type(L, base + 2) == LUA_TSTRING) ? lua_tostring(L, base + 2)
                                                                         : "no result";
  if (st.cause == FMH_RETRY_PERMANENT)
    lua_pushstring(L, msg);
  else
    lua_pushfstring(L, "gave up after %d attempts (%s): %s", st.attempts,
                    fmh_retry_cause_name(st.cause), msg);
  int imsg = lua_gettop(L);
  if (nres >= 3 && lua_istable(L, base + 3)) {
    lua_pushvalue(L, base + 3);
  } else {
    lua_createtable(L, 0, 8);
    fmh_set_str(L, "kind", "retry");
    fmh_set_bool(L, "retryable", st.cause != FMH_RETRY_PERMANENT);
    fmh_set_str(L, "message", msg);
  }
  set_outcome(L, &st, elapsed);
  luaL_pushfail(L);
  lua_pushvalue(L, imsg);
  lua_pushvalue(L, -3);
  return 3;
}

static int l_last(lua_State *L) {
  Policy *P = check_policy(L, 1);
  if (!P->have_last) { lua_pushnil(L); return 1; }
  lua_createtable(L, 0, 5);
  fmh_set_bool(L, "ok", P->last.cause == FMH_RETRY_OK);
  set_outcome(L, &P->last, P->last_elapsed);
  return 1;
}

static int l_schedule(lua_State *L) {
  Policy *P = check_policy(L, 1);
  uint64_t stream = P->p.seed;
  uint64_t rng = fmh_retry_rand(&stream);
  int n = P->p.max_attempts - 1;
  lua_createtable(L, n, 0);
  for (int k = 1; k <= n; k++) {
    lua_pushnumber(L, fmh_retry_delay_ms(&P->p, k, &rng));
    lua_rawseti(L, -2, k);
  }
  return 1;
}

static int l_policy_index(lua_State *L) {
  Policy *P = check_policy(L, 1);
  const char *k = luaL_checkstring(L, 2);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (strcmp(k, "max_attempts") == 0) lua_pushinteger(L, P->p.max_attempts);
  else if (strcmp(k, "base_ms") == 0) lua_pushnumber(L, P->p.base_ms);
  else if (strcmp(k, "factor") == 0) lua_pushnumber(L, P->p.factor);
  else if (strcmp(k, "cap_ms") == 0) lua_pushnumber(L, P->p.cap_ms);
  else if (strcmp(k, "jitter") == 0) lua_pushnumber(L, P->p.jitter);
  else if (strcmp(k, "deadline_ms") == 0) lua_pushnumber(L, P->p.deadline_ms);
  else if (strcmp(k, "seed") == 0) lua_pushinteger(L, (lua_Integer)P->p.seed);
  else if (strcmp(k, "sleep") == 0) lua_pushboolean(L, P->sleep);
  else lua_pushnil(L);
  return 1;
}

static int l_policy_tostring(lua_State *L) {
  Policy *P = check_policy(L, 1);
  lua_pushfstring(L, "retry.policy{max_attempts=%d, base_ms=%f, factor=%f, cap_ms=%f, jitter=%f, deadline_ms=%f}",
                  P->p.max_attempts, P->p.base_ms, P->p.factor, P->p.cap_ms, P->p.jitter,
                  P->p.deadline_ms);
  return 1;
}

typedef int (*classifier)(int, const char **);

static int push_class(lua_State *L, classifier f, lua_Integer code) {
  const char *cls;
  int r = f((int)code, &cls);
  lua_pushboolean(L, r);
  lua_pushstring(L, cls);
  return 2;
}

static int l_classify_mysql(lua_State *L) {
  return push_class(L, fmh_retry_classify_mysql, luaL_checkinteger(L, 1));
}
static int l_classify_http(lua_State *L) {
  return push_class(L, fmh_retry_classify_http, luaL_checkinteger(L, 1));
}
static int l_classify_curl(lua_State *L) {
  return push_class(L, fmh_retry_classify_curl, luaL_checkinteger(L, 1));
}

/* By kind: mysql and curl by code, http by status; anything else by its own
 * retryable flag (class = kind). */
static int l_classify(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "kind");
  const char *kind = lua_tostring(L, -1);
  lua_getfield(L, 1, "code");
  lua_Integer code = lua_tointeger(L, -1);
  lua_getfield(L, 1, "status");
  lua_Integer status = lua_tointeger(L, -1);
  if (kind && strcmp(kind, "mysql") == 0 && code) return push_class(L, fmh_retry_classify_mysql, code);
  if (kind && strcmp(kind, "http") == 0 && status) return push_class(L, fmh_retry_classify_http, status);
  if (kind && strcmp(kind, "curl") == 0 && code) return push_class(L, fmh_retry_classify_curl, code);
  lua_getfield(L, 1, "retryable");
  lua_pushboolean(L, lua_toboolean(L, -1));
  lua_pushstring(L, kind ? kind : "other");
  return 2;
}

static int l_sleep(lua_State *L) {
  lua_Number ms = luaL_checknumber(L, 1);
  luaL_argcheck(L, ms >= 0 && isfinite(ms), 1, "must be a finite number >= 0");
  fmh_retry_sleep_ms(ms);
  return 0;
}

static const luaL_Reg policy_methods[] = {
    {"run", l_run}, {"last", l_last}, {"schedule", l_schedule}, {NULL, NULL}};

static const luaL_Reg retry_funcs[] = {{"policy", l_policy},
                                       {"classify_mysql", l_classify_mysql},
                                       {"classify_http", l_classify_http},
                                       {"classify_curl", l_classify_curl},
                                       {"classify", l_classify},
                                       {"sleep", l_sleep},
                                       {NULL, NULL}};

int luaopen_fmhost_retry(lua_State *L) {
  static const luaL_Reg meta[] = {{"__tostring", l_policy_tostring}, {NULL, NULL}};
  fmh_newclass(L, POLICY, policy_methods, meta);
  /* fields as well as methods: __index looks in the methods table first */
  luaL_getmetatable(L, POLICY);
  lua_getfield(L, -1, "__index");
  lua_pushcclosure(L, l_policy_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  fmh_newmodule(L, "fmhost.retry", retry_funcs);
  return 1;
}
