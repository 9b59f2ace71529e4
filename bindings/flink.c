/* fmhost.flink: the Lua face of host/flink/flink.c, a client for Flink's
 * JobManager REST API and SQL Gateway REST API v2. JSON is parsed in C and
 * handed to Lua as tables.
 *
 * Lua sees:
 *   flink.client{rest=, gateway=, timeout_ms=, poll_ms=}  -> Client; defaults from cfg.flink
 *                                  (rest_url/gateway_url, else 127.0.0.1 and rest_port/gateway_port;
 *                                  http_timeout_ms)
 *   flink.NULL                     SQL NULL in result rows: fmhost.pool.NULL
 *   flink.summarize(text)          the one-line cause of a Java stack trace: the driver's cause where
 *                                  there is one (with a deeper network cause in parentheses), else
 *                                  the deepest cause of its chain that is not a wrapper ("Recovery is
 *                                  suppressed by ...") nor a "[CIRCULAR REFERENCE: ...]"; a connector's
 *                                  context leads ("JDBC write failed: Data truncation: Out of range
 *                                  value for column 'qty' at row 1") (flink._summarize: the same)
 *   flink._stub_server{replies=}   TEST SUPPORT ONLY: a scripted local HTTP server
 *   Client: overview() config() jobs() job(id) job_handle(id) taskmanagers()
 *           upload_jar(path) run_jar(jarid, opts) session(opts) gateway_info()
 *           rest(method, path[, body]) gateway(method, path[, body]) urls() close()
 *   Job (fmhost.flink.Job): id() state() detail() vertices() exceptions() root_exception()
 *           checkpoints() metrics(vertex[, names[, opts]]) vertex_metrics(vertex[, names])
 *           backpressure(vertex) cancel() stop(opts) wait(states[, timeout_ms]) close()
 *   Session (fmhost.flink.Session): handle() execute(sql[, opts]) run(sql[, opts])
 *           heartbeat() close()
 *   Operation (fmhost.flink.Operation): handle() status() wait([opts]) fetch_all([opts])
 *           job_id() cancel() close()
 * Every close() (also __close) returns true, or false, "already closed".
 * Failures return nil, msg, info (info.kind/status/retryable/detail, plus
 * state/job_id/root_exception from job:wait); misuse raises. */
#include <stdlib.h>
#include <string.h>

#include "fmhost/flink.h"
#include "fmhost/httpstub.h"
#include "fmhost/interp.h"
#include "fmhost/json_lua.h"

#define CLIENT_T "fmhost.flink.Client"
#define JOB_T "fmhost.flink.Job"
#define SESSION_T "fmhost.flink.Session"
#define OP_T "fmhost.flink.Operation"
#define STUB_T "fmhost.flink.Stub"

typedef struct { fmh_flink *c; } client_ud;
typedef struct { fmh_flink *c; char id[33]; } job_ud;
typedef struct { fmh_flink *c; char *sh; long timeout_ms; } session_ud;
typedef struct { fmh_flink_operation *o; long timeout_ms; int closed; } op_ud;
typedef struct { fmh_httpstub *s; } stub_ud;

/* ---- values ----------------------------------------------------------- */

/* Push j (stealing the reference); on NULL push the error. Clears err. */
static int push_json_or_error(lua_State *L, json_t *j, fmh_error *err) {
  if (!j) return fmh_fail(L, err);
  fmh_lua_pushjson(L, j, 0);
  json_decref(j);
  fmh_error_clear(err);
  return 1;
}

/* Push text (true when NULL) or, when rc is not 0, the error. Clears err. */
static int push_outcome(lua_State *L, int rc, const char *text, fmh_error *err) {
  if (rc) return fmh_fail(L, err);
  if (text) lua_pushstring(L, text);
  else lua_pushboolean(L, 1);
  fmh_error_clear(err);
  return 1;
}

static long opt_ms(lua_State *L, int t, const char *k, long def) {
  if (lua_type(L, t) != LUA_TTABLE) return def;
  lua_Integer v = fmh_opt_int(L, t, k, def);
  if (v < 0) luaL_error(L, "%s must not be negative", k);
  return (long)v;
}

/* ---- checkers --------------------------------------------------------- */

static client_ud *check_client(lua_State *L, int i) {
  client_ud *u = luaL_checkudata(L, i, CLIENT_T);
  if (!u->c) luaL_argerror(L, i, "the Flink client is closed");
  return u;
}

static job_ud *check_job(lua_State *L, int i) {
  job_ud *j = luaL_checkudata(L, i, JOB_T);
  if (!j->c) luaL_argerror(L, i, "the job handle is closed");
  return j;
}

static session_ud *check_session(lua_State *L, int i) {
  session_ud *u = luaL_checkudata(L, i, SESSION_T);
  if (!u->sh) luaL_argerror(L, i, "the SQL gateway session is closed");
  return u;
}

static op_ud *check_op(lua_State *L, int i) {
  op_ud *u = luaL_checkudata(L, i, OP_T);
  if (u->closed) luaL_argerror(L, i, "the operation is closed");
  return u;
}

static const char *check_job_id(lua_State *L, int i) {
  const char *id = luaL_checkstring(L, i);
  size_t n = strlen(id);
  int ok = n == 32;
  for (size_t k = 0; ok && k < n; k++)
    ok = (id[k] >= '0' && id[k] <= '9') || (id[k] >= 'a' && id[k] <= 'f');
  if (!ok) luaL_argerror(L, i, lua_pushfstring(L, "'%s' is not a Flink job id (32 hex digits)", id));
  return id;
}

/* ---- the client ------------------------------------------------------- */

/* A default URL from the global cfg: cfg.flink.<url_key> when it is set,
 * else http://127.0.0.1:<cfg.flink.<port_key>>. The string is left on the
 * stack, which anchors it. */
static const char *cfg_url(lua_State *L, const char *url_key, const char *port_key, int def_port) {
  lua_Integer port = def_port;
  if (lua_getglobal(L, "cfg") == LUA_TTABLE && lua_getfield(L, -1, "flink") == LUA_TTABLE) {
    if (lua_getfield(L, -1, url_key) == LUA_TSTRING && lua_rawlen(L, -1) > 0) return lua_tostring(L, -1);
    if (lua_getfield(L, -2, port_key) == LUA_TNUMBER) port = lua_tointeger(L, -1);
  }
  return lua_pushfstring(L, "http://127.0.0.1:%d", (int)port);
}

static int l_client(lua_State *L) {
  int t = 1;
  if (lua_isnoneornil(L, 1)) {
    lua_newtable(L);
    lua_replace(L, 1);
  }
  luaL_checktype(L, t, LUA_TTABLE);
  fmh_flink_options o = {0};
  o.rest_url = fmh_opt_str(L, t, "rest", NULL);
  o.gateway_url = fmh_opt_str(L, t, "gateway", NULL);
  if (!o.rest_url) o.rest_url = cfg_url(L, "rest_url", "rest_port", 18081);
  if (!o.gateway_url) o.gateway_url = cfg_url(L, "gateway_url", "gateway_port", 18083);
  long def_timeout = 10000;
  if (lua_getglobal(L, "cfg") == LUA_TTABLE && lua_getfield(L, -1, "flink") == LUA_TTABLE &&
      lua_getfield(L, -1, "http_timeout_ms") == LUA_TNUMBER)
    def_timeout = (long)lua_tointeger(L, -1);
  o.timeout_ms = opt_ms(L, t, "timeout_ms", def_timeout);
  o.poll_ms = opt_ms(L, t, "poll_ms", 200);
  if (o.timeout_ms == 0) luaL_error(L, "timeout_ms must be positive");
  fmh_error err = {0};
  client_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->c = NULL;
  luaL_setmetatable(L, CLIENT_T);
  u->c = fmh_flink_new(&o, &err);
  if (!u->c) {
    /* a bad URL is a caller's mistake */
    luaL_error(L, "flink.client: %s", err.msg);
  }
  return 1;
}

static int l_client_close(lua_State *L) {
  client_ud *u = luaL_checkudata(L, 1, CLIENT_T);
  if (!u->c) return fmh_push_closed(L, 0);
  fmh_flink_unref(u->c);
  u->c = NULL;
  return fmh_push_closed(L, 1);
}

static int l_client_tostring(lua_State *L) {
  client_ud *u = luaL_checkudata(L, 1, CLIENT_T);
  if (!u->c) lua_pushstring(L, "fmhost.flink.Client (closed)");
  else
    lua_pushfstring(L, "fmhost.flink.Client (%s, %s)", fmh_flink_rest_url(u->c),
                    fmh_flink_gateway_url(u->c) ? fmh_flink_gateway_url(u->c) : "no gateway");
  return 1;
}

static int l_urls(lua_State *L) {
  client_ud *u = check_client(L, 1);
  lua_pushstring(L, fmh_flink_rest_url(u->c));
  lua_pushstring(L, fmh_flink_gateway_url(u->c));
  return 2;
}

static int l_overview(lua_State *L) {
  fmh_error err = {0};
  json_t *j = fmh_flink_overview(check_client(L, 1)->c, &err);
  return push_json_or_error(L, j, &err);
}

static int l_config(lua_State *L) {
  fmh_error err = {0};
  json_t *j = fmh_flink_config(check_client(L, 1)->c, &err);
  return push_json_or_error(L, j, &err);
}

/* Push the array under key of j (an empty list when absent). Clears err. */
static int push_list_of(lua_State *L, json_t *j, const char *key, fmh_error *err) {
  if (!j) return fmh_fail(L, err);
  json_t *a = json_object_get(j, key);
  if (a) fmh_lua_pushjson(L, a, 0);
  else lua_newtable(L);
  json_decref(j);
  fmh_error_clear(err);
  return 1;
}

static int l_jobs(lua_State *L) {
  fmh_error err = {0};
  return push_list_of(L, fmh_flink_jobs(check_client(L, 1)->c, &err), "jobs", &err);
}

static int l_taskmanagers(lua_State *L) {
  fmh_error err = {0};
  return push_list_of(L, fmh_flink_taskmanagers(check_client(L, 1)->c, &err), "taskmanagers", &err);
}

static int l_job(lua_State *L) {
  client_ud *u = check_client(L, 1);
  const char *id = check_job_id(L, 2);
  fmh_error err = {0};
  return push_json_or_error(L, fmh_flink_job(u->c, id, &err), &err);
}

static void new_job(lua_State *L, fmh_flink *c, const char *id) {
  job_ud *j = lua_newuserdatauv(L, sizeof *j, 0);
  j->c = NULL;
  luaL_setmetatable(L, JOB_T);
  j->c = fmh_flink_ref(c);
  snprintf(j->id, sizeof j->id, "%s", id);
}

static int l_job_handle(lua_State *L) {
  client_ud *u = check_client(L, 1);
  new_job(L, u->c, check_job_id(L, 2));
  return 1;
}

static int l_upload_jar(lua_State *L) {
  client_ud *u = check_client(L, 1);
  const char *path = luaL_checkstring(L, 2);
  fmh_error err = {0};
  char *jarid = NULL;
  if (fmh_flink_jar_upload(u->c, path, &jarid, &err)) return fmh_fail(L, &err);
  lua_pushstring(L, jarid);
  free(jarid);
  return 1;
}

static int l_run_jar(lua_State *L) {
  client_ud *u = check_client(L, 1);
  const char *jarid = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  else { lua_newtable(L); lua_replace(L, 3); }
  const char *entry = fmh_opt_str(L, 3, "entry_class", NULL);
  int par = (int)fmh_opt_int(L, 3, "parallelism", 0);
  const char *sp = fmh_opt_str(L, 3, "savepoint", NULL);
  int anr = fmh_opt_bool(L, 3, "allow_non_restored", 0);
  long timeout = opt_ms(L, 3, "timeout_ms", 0);
  size_t nargs = 0;
  const char **args = NULL;
  int at = lua_gettop(L) + 1;
  if (lua_getfield(L, 3, "args") == LUA_TTABLE) {
    nargs = lua_rawlen(L, at);
    lua_createtable(L, (int)nargs, 0); /* at+1: anchors the argument strings */
    args = lua_newuserdatauv(L, (nargs ? nargs : 1) * sizeof *args, 0);
    for (size_t i = 0; i < nargs; i++) {
      lua_rawgeti(L, at, (lua_Integer)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "run_jar: args[%d] must be a string", (int)i + 1);
      args[i] = lua_tostring(L, -1);
      lua_rawseti(L, at + 1, (lua_Integer)i + 1);
    }
  } else if (!lua_isnil(L, at)) {
    luaL_error(L, "run_jar: args must be a list of strings");
  }
  fmh_error err = {0};
  char jobid[33];
  if (fmh_flink_jar_run(u->c, jarid, entry, args, nargs, par, sp, anr, timeout, jobid, &err)) return fmh_fail(L, &err);
  new_job(L, u->c, jobid);
  return 1;
}

static int l_gateway_info(lua_State *L) {
  fmh_error err = {0};
  return push_json_or_error(L, fmh_flink_gateway_info(check_client(L, 1)->c, &err), &err);
}

/* c:rest(method, path[, body]) / c:gateway(method, path[, body]): any call,
 * the body a Lua table sent as JSON, the answer decoded. */
static int raw_call(lua_State *L, int gateway) {
  client_ud *u = check_client(L, 1);
  const char *method = luaL_checkstring(L, 2);
  const char *path = luaL_checkstring(L, 3);
  json_t *body = NULL;
  if (!lua_isnoneornil(L, 4)) {
    char why[96];
    if (!(body = fmh_lua_tojson(L, 4, why, sizeof why))) return luaL_error(L, "%s", why);
  }
  fmh_error err = {0};
  json_t *j = gateway ? fmh_flink_gateway(u->c, method, path, body, 0, &err)
                      : fmh_flink_rest(u->c, method, path, body, 0, &err);
  json_decref(body);
  return push_json_or_error(L, j, &err);
}

static int l_rest(lua_State *L) { return raw_call(L, 0); }
static int l_gateway(lua_State *L) { return raw_call(L, 1); }

/* ---- jobs ------------------------------------------------------------- */

/* close(), __close and __gc: lets go of the client (the job runs on). */
static int job_close(lua_State *L) {
  job_ud *j = luaL_checkudata(L, 1, JOB_T);
  if (!j->c) return fmh_push_closed(L, 0);
  fmh_flink_unref(j->c);
  j->c = NULL;
  return fmh_push_closed(L, 1);
}

static int job_tostring(lua_State *L) {
  job_ud *j = luaL_checkudata(L, 1, JOB_T);
  lua_pushfstring(L, "fmhost.flink.Job (%s%s)", j->id, j->c ? "" : ", closed");
  return 1;
}

static int job_id(lua_State *L) {
  lua_pushstring(L, check_job(L, 1)->id);
  return 1;
}

static int job_state(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  char st[32];
  return push_outcome(L, fmh_flink_job_state(j->c, j->id, st, sizeof st, &err), st, &err);
}

static int job_detail(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  return push_json_or_error(L, fmh_flink_job(j->c, j->id, &err), &err);
}

static int job_vertices(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  return push_list_of(L, fmh_flink_job(j->c, j->id, &err), "vertices", &err);
}

static int job_exceptions(lua_State *L) {
  job_ud *j = check_job(L, 1);
  int max = (int)luaL_optinteger(L, 2, 0);
  fmh_error err = {0};
  return push_json_or_error(L, fmh_flink_job_exceptions(j->c, j->id, max, &err), &err);
}

static int job_root_exception(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  json_t *ex = fmh_flink_job_exceptions(j->c, j->id, 1, &err);
  if (!ex) return fmh_fail(L, &err);
  const char *name = NULL;
  const char *trace = fmh_flink_root_exception(ex, &name);
  if (trace) lua_pushstring(L, trace);
  else lua_pushnil(L);
  if (name) lua_pushstring(L, name);
  else lua_pushnil(L);
  json_decref(ex);
  return 2;
}

static int job_checkpoints(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  return push_json_or_error(L, fmh_flink_job_checkpoints(j->c, j->id, &err), &err);
}

/* The vertex argument: a 32-hex id, a 1-based index or part of a name. */
static int vertex_arg(lua_State *L, job_ud *j, int i, char vid[33], fmh_error *err) {
  if (lua_isinteger(L, i)) {
    lua_Integer k = lua_tointeger(L, i);
    if (k < 1) luaL_argerror(L, i, "vertex index starts at 1");
    return fmh_flink_vertex_id(j->c, j->id, NULL, (int)k, vid, err);
  }
  const char *spec = luaL_checkstring(L, i);
  return fmh_flink_vertex_id(j->c, j->id, spec, 0, vid, err);
}

/* Names as a comma list: a list of strings, one string, or the default. */
static const char *names_arg(lua_State *L, int i, const char *def) {
  if (lua_isnoneornil(L, i)) return def;
  if (lua_type(L, i) == LUA_TSTRING) return lua_tostring(L, i);
  luaL_checktype(L, i, LUA_TTABLE);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_Integer n = (lua_Integer)lua_rawlen(L, i);
  for (lua_Integer k = 1; k <= n; k++) {
    if (k > 1) luaL_addchar(&b, ',');
    lua_rawgeti(L, i, k);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, i, "metric names must be strings");
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  lua_replace(L, i);
  return lua_tostring(L, i);
}

/* A metric value as a number when it is one. */
static void push_metric_value(lua_State *L, const json_t *v) {
  if (json_is_string(v)) {
    lua_pushstring(L, json_string_value(v));
    if (lua_stringtonumber(L, lua_tostring(L, -1))) lua_remove(L, -2);
  } else {
    fmh_lua_pushjson(L, v, 0);
  }
}

static const char *const default_metrics =
    "numRecordsIn,numRecordsOut,numRecordsInPerSecond,numRecordsOutPerSecond,numBytesIn,numBytesOut";

/* job:metrics(vertex[, names[, {agg=}]]) -> {name = value aggregated over the subtasks} */
static int job_metrics(lua_State *L) {
  job_ud *j = check_job(L, 1);
  lua_settop(L, 4);
  const char *names = names_arg(L, 3, default_metrics);
  const char *agg = "sum";
  if (lua_type(L, 4) == LUA_TTABLE) agg = fmh_opt_str(L, 4, "agg", "sum");
  fmh_error err = {0};
  char vid[33];
  json_t *r = NULL;
  if (vertex_arg(L, j, 2, vid, &err) == 0) r = fmh_flink_subtask_metrics(j->c, j->id, vid, names, agg, &err);
  if (!r) return fmh_fail(L, &err);
  lua_newtable(L);
  size_t i;
  json_t *m;
  json_array_foreach(r, i, m) {
    const char *id = json_string_value(json_object_get(m, "id"));
    json_t *v = json_object_get(m, agg);
    if (!id) continue;
    if (v) push_metric_value(L, v);
    else fmh_lua_pushjson(L, m, 0); /* several aggregations: the whole entry */
    lua_setfield(L, -2, id);
  }
  json_decref(r);
  return 1;
}

/* job:vertex_metrics(vertex[, names]) -> {["0.numRecordsIn"] = value, ...} per subtask */
static int job_vertex_metrics(lua_State *L) {
  job_ud *j = check_job(L, 1);
  lua_settop(L, 3);
  const char *names = names_arg(L, 3, NULL);
  fmh_error err = {0};
  char vid[33];
  json_t *r = NULL;
  if (vertex_arg(L, j, 2, vid, &err) == 0) r = fmh_flink_vertex_metrics(j->c, j->id, vid, names, &err);
  if (!r) return fmh_fail(L, &err);
  lua_newtable(L);
  size_t i;
  json_t *m;
  json_array_foreach(r, i, m) {
    const char *id = json_string_value(json_object_get(m, "id"));
    if (!id) continue;
    json_t *v = json_object_get(m, "value");
    if (v) push_metric_value(L, v);
    else lua_pushboolean(L, 1); /* without get=, Flink lists the ids only */
    lua_setfield(L, -2, id);
  }
  json_decref(r);
  return 1;
}

static int job_backpressure(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  char vid[33];
  json_t *r = NULL;
  if (vertex_arg(L, j, 2, vid, &err) == 0) r = fmh_flink_backpressure(j->c, j->id, vid, &err);
  return push_json_or_error(L, r, &err);
}

static int job_cancel(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  return push_outcome(L, fmh_flink_job_cancel(j->c, j->id, &err), NULL, &err);
}

/* job:stop{savepoint_dir=, drain=false, timeout_ms=120000} -> savepoint path */
static int job_stop(lua_State *L) {
  job_ud *j = check_job(L, 1);
  if (lua_isnoneornil(L, 2)) { lua_newtable(L); lua_replace(L, 2); }
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *dir = fmh_opt_str(L, 2, "savepoint_dir", NULL);
  int drain = fmh_opt_bool(L, 2, "drain", 0);
  long timeout = opt_ms(L, 2, "timeout_ms", 120000);
  fmh_error err = {0};
  char *loc = NULL;
  int rc = fmh_flink_job_stop(j->c, j->id, dir, drain, timeout, &loc, &err);
  int n = push_outcome(L, rc, loc, &err);
  free(loc);
  return n;
}

/* job:wait(states[, timeout_ms]) -> state | nil, msg, info{state, job_id, root_exception} */
static int job_wait(lua_State *L) {
  job_ud *j = check_job(L, 1);
  const char *targets[16];
  size_t nt = 0;
  if (lua_type(L, 2) == LUA_TSTRING) {
    targets[nt++] = lua_tostring(L, 2);
  } else {
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t len = lua_rawlen(L, 2);
    if (len == 0 || len > 16) luaL_argerror(L, 2, "give 1 to 16 target states");
    for (size_t i = 0; i < len; i++) {
      lua_rawgeti(L, 2, (lua_Integer)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, 2, "states must be strings");
      targets[nt++] = lua_tostring(L, -1); /* anchored by the table */
      lua_pop(L, 1);
    }
  }
  for (size_t i = 0; i < nt; i++)
    if (!fmh_flink_job_state_known(targets[i]))
      luaL_argerror(L, 2, lua_pushfstring(L, "'%s' is not a Flink job state", targets[i]));
  lua_Integer timeout = luaL_optinteger(L, 3, 60000);
  if (timeout <= 0) luaL_argerror(L, 3, "the timeout must be positive");
  fmh_error err = {0};
  char state[32];
  char *root = NULL;
  if (fmh_flink_job_wait(j->c, j->id, targets, nt, (long)timeout, state, sizeof state, &root,
                         &err) == 0) {
    lua_pushstring(L, state);
    fmh_error_clear(&err);
    return 1;
  }
  fmh_push_error(L, &err);
  if (state[0]) fmh_set_str(L, "state", state);
  fmh_set_str(L, "job_id", j->id);
  if (root) fmh_set_str(L, "root_exception", root);
  free(root);
  fmh_error_clear(&err);
  return 3;
}

/* ---- sessions --------------------------------------------------------- */

static int l_session(lua_State *L) {
  client_ud *u = check_client(L, 1);
  if (lua_isnoneornil(L, 2)) { lua_newtable(L); lua_replace(L, 2); }
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *name = fmh_opt_str(L, 2, "name", NULL);
  long timeout = opt_ms(L, 2, "timeout_ms", 60000);
  lua_getfield(L, 2, "properties"); /* last: nothing may raise while props is held */
  json_t *props = fmh_lua_tojson_strings(L, -1, "session properties");
  lua_pop(L, 1);
  fmh_error err = {0};
  char *sh = NULL;
  int rc = fmh_flink_session_open(u->c, name, props, &sh, &err);
  json_decref(props);
  if (rc) return fmh_fail(L, &err);
  session_ud *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->c = NULL;
  s->sh = NULL;
  luaL_setmetatable(L, SESSION_T);
  s->c = fmh_flink_ref(u->c);
  s->sh = sh;
  s->timeout_ms = timeout;
  return 1;
}

static int session_close_impl(lua_State *L, int from_gc) {
  session_ud *s = luaL_checkudata(L, 1, SESSION_T);
  int n = 0;
  if (s->sh) {
    fmh_error err = {0};
    /* from the collector: best effort and quick */
    int rc = fmh_flink_session_close(s->c, s->sh, from_gc ? 1000 : 0, &err);
    free(s->sh);
    s->sh = NULL;
    if (from_gc) fmh_error_clear(&err);
    else n = push_outcome(L, rc, NULL, &err);
  } else if (!from_gc) {
    n = fmh_push_closed(L, 0);
  }
  if (s->c && from_gc) {
    fmh_flink_unref(s->c);
    s->c = NULL;
  }
  return n;
}

static int session_close(lua_State *L) { return session_close_impl(L, 0); }
static int session_gc(lua_State *L) { return session_close_impl(L, 1); }

static int session_tostring(lua_State *L) {
  session_ud *s = luaL_checkudata(L, 1, SESSION_T);
  lua_pushfstring(L, "fmhost.flink.Session (%s)", s->sh ? s->sh : "closed");
  return 1;
}

static int session_handle(lua_State *L) {
  lua_pushstring(L, check_session(L, 1)->sh);
  return 1;
}

static int session_heartbeat(lua_State *L) {
  session_ud *s = check_session(L, 1);
  fmh_error err = {0};
  return push_outcome(L, fmh_flink_session_heartbeat(s->c, s->sh, &err), NULL, &err);
}

/* s:execute(sql[, {timeout_ms=, execution_timeout_ms=, config={}}]) -> Operation */
static int session_execute(lua_State *L) {
  session_ud *s = check_session(L, 1);
  const char *sql = luaL_checkstring(L, 2);
  int has_opts = !lua_isnoneornil(L, 3);
  if (has_opts) luaL_checktype(L, 3, LUA_TTABLE);
  long timeout = has_opts ? opt_ms(L, 3, "timeout_ms", s->timeout_ms) : s->timeout_ms;
  long exec_timeout = has_opts ? opt_ms(L, 3, "execution_timeout_ms", 0) : 0;
  json_t *conf = NULL;
  if (has_opts) {
    lua_getfield(L, 3, "config");
    if (!lua_isnil(L, -1)) conf = fmh_lua_tojson_strings(L, -1, "execution config");
    lua_pop(L, 1);
  }
  op_ud *o = lua_newuserdatauv(L, sizeof *o, 1);
  memset(o, 0, sizeof *o);
  luaL_setmetatable(L, OP_T);
  fmh_error err = {0};
  o->o = fmh_flink_operation_submit(s->c, s->sh, sql, conf, exec_timeout, &err);
  json_decref(conf);
  if (!o->o) {
    o->closed = 1;
    return fmh_fail(L, &err);
  }
  o->timeout_ms = timeout;
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the operation pins its session */
  return 1;
}

/* ---- operations ------------------------------------------------------- */

static int op_gc(lua_State *L) {
  op_ud *o = luaL_checkudata(L, 1, OP_T);
  fmh_flink_operation_free(o->o);
  o->o = NULL;
  o->closed = 1;
  return 0;
}

static int op_tostring(lua_State *L) {
  op_ud *o = luaL_checkudata(L, 1, OP_T);
  lua_pushfstring(L, "fmhost.flink.Operation (%s)", o->o ? fmh_flink_operation_handle(o->o) : "closed");
  return 1;
}

static int op_handle(lua_State *L) {
  lua_pushstring(L, fmh_flink_operation_handle(check_op(L, 1)->o));
  return 1;
}

/* The gateway call on an operation: its client, session and handle. */
#define OP_ARGS(u)                                                          \
  fmh_flink_operation_client((u)->o), fmh_flink_operation_session((u)->o), \
      fmh_flink_operation_handle((u)->o)

static int op_status(lua_State *L) {
  op_ud *o = check_op(L, 1);
  fmh_error err = {0};
  char st[32];
  return push_outcome(L, fmh_flink_op_status(OP_ARGS(o), st, sizeof st, &err), st, &err);
}

/* op:wait([timeout_ms | {timeout_ms=}]) -> final status | nil, msg, info */
static int op_wait(lua_State *L) {
  op_ud *o = check_op(L, 1);
  long timeout = lua_isinteger(L, 2) ? (long)lua_tointeger(L, 2)
                                     : opt_ms(L, 2, "timeout_ms", o->timeout_ms);
  if (timeout <= 0) luaL_argerror(L, 2, "the timeout must be positive");
  fmh_error err = {0};
  char st[32] = "";
  int n;
  if (fmh_flink_op_wait(OP_ARGS(o), timeout, st, sizeof st, &err)) {
    n = fmh_push_error(L, &err);
    if (st[0]) fmh_set_str(L, "state", st);
  } else {
    lua_pushstring(L, st);
    n = 1;
  }
  fmh_error_clear(&err);
  return n;
}

/* Push rows (a list of lists, NULL for SQL NULL) and the result table;
 * takes r's reference. Returns 2. */
static int push_result(lua_State *L, json_t *r) {
  json_t *rows = json_object_get(r, "rows");
  lua_createtable(L, (int)json_array_size(rows), 0);
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    fmh_lua_pushjson(L, row, 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_createtable(L, 0, 8);
  json_t *cols = json_object_get(r, "columns");
  lua_createtable(L, (int)json_array_size(cols), 0);
  lua_createtable(L, (int)json_array_size(cols), 0);
  json_t *col;
  json_array_foreach(cols, i, col) {
    const char *name = json_string_value(json_object_get(col, "name"));
    lua_pushstring(L, name ? name : "");
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    const char *type = json_string_value(json_object_get(json_object_get(col, "logicalType"), "type"));
    lua_pushstring(L, type ? type : "");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -3, "types");
  lua_setfield(L, -2, "columns");
  fmh_lua_pushjson(L, cols, 0);
  lua_setfield(L, -2, "column_info");
  fmh_lua_pushjson(L, json_object_get(r, "kinds"), 0);
  lua_setfield(L, -2, "kinds");
  const char *jid = json_string_value(json_object_get(r, "job_id"));
  if (jid) fmh_set_str(L, "job_id", jid);
  const char *rk = json_string_value(json_object_get(r, "result_kind"));
  if (rk) fmh_set_str(L, "result_kind", rk);
  fmh_set_bool(L, "eos", json_is_true(json_object_get(r, "eos")));
  fmh_set_int(L, "count", (lua_Integer)json_array_size(rows));
  json_decref(r);
  return 2;
}

/* The fetch options {row_format=, max_rows=, timeout_ms=} at opts. */
static const char *fetch_opts(lua_State *L, op_ud *o, int opts, long *max_rows, long *timeout) {
  const char *fmt = "JSON";
  *max_rows = 0;
  *timeout = o->timeout_ms;
  if (lua_type(L, opts) == LUA_TTABLE) {
    fmt = fmh_opt_str(L, opts, "row_format", "JSON");
    *max_rows = (long)fmh_opt_int(L, opts, "max_rows", 0);
    *timeout = opt_ms(L, opts, "timeout_ms", o->timeout_ms);
  }
  if (strcmp(fmt, "JSON") != 0 && strcmp(fmt, "PLAIN_TEXT") != 0)
    luaL_error(L, "row_format must be JSON or PLAIN_TEXT");
  return fmt;
}

/* op:fetch_all([{row_format=, max_rows=, timeout_ms=}]) -> rows, result */
static int op_fetch_all(lua_State *L) {
  op_ud *o = check_op(L, 1);
  long max_rows, timeout;
  const char *fmt = fetch_opts(L, o, 2, &max_rows, &timeout);
  fmh_error err = {0};
  json_t *r = fmh_flink_operation_result(o->o, fmt, timeout, max_rows, &err);
  return r ? push_result(L, r) : fmh_fail(L, &err);
}

static int op_job_id(lua_State *L) {
  op_ud *o = check_op(L, 1);
  fmh_error err = {0};
  char id[64];
  return push_outcome(L, fmh_flink_operation_job_id(o->o, o->timeout_ms, id, sizeof id, &err), id, &err);
}

static int op_cancel(lua_State *L) {
  op_ud *o = check_op(L, 1);
  fmh_error err = {0};
  return push_outcome(L, fmh_flink_op_cancel(OP_ARGS(o), &err), NULL, &err);
}

static int op_close(lua_State *L) {
  op_ud *o = luaL_checkudata(L, 1, OP_T);
  if (o->closed) return fmh_push_closed(L, 0);
  fmh_error err = {0};
  int n = push_outcome(L, fmh_flink_op_close(OP_ARGS(o), &err), NULL, &err);
  o->closed = 1;
  return n;
}

/* s:run(sql[, opts]) = execute + wait + fetch_all (+ close) -> rows, result */
static int session_run(lua_State *L) {
  lua_settop(L, 3);
  int n = session_execute(L);
  if (n == 3) return 3;
  op_ud *o = lua_touserdata(L, -1); /* stack: s sql opts op */
  int close = lua_type(L, 3) == LUA_TTABLE ? fmh_opt_bool(L, 3, "close", 1) : 1;
  long max_rows, timeout;
  const char *fmt = fetch_opts(L, o, 3, &max_rows, &timeout);
  fmh_error err = {0};
  json_t *r = NULL;
  int rc = fmh_flink_operation_run(o->o, fmt, timeout, max_rows, close, &r, &err);
  if (rc == -1) {
    n = fmh_push_error(L, &err);
    fmh_set_str(L, "operation", fmh_flink_operation_handle(o->o));
    fmh_error_clear(&err);
    return n;
  }
  if (rc) return fmh_fail(L, &err);
  if (close) o->closed = 1;
  return push_result(L, r);
}

/* ---- the stub server (TEST SUPPORT ONLY) ------------------------------ */

static int l_stub_server(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_getfield(L, 1, "replies") != LUA_TTABLE) luaL_error(L, "_stub_server needs replies = {...}");
  int rt = lua_gettop(L);
  size_t n = lua_rawlen(L, rt);
  if (n == 0 || n > 1000) luaL_error(L, "_stub_server needs 1 to 1000 replies");
  fmh_httpstub_reply *r = lua_newuserdatauv(L, n * sizeof *r, 0);
  memset(r, 0, n * sizeof *r);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, rt, (lua_Integer)i + 1);
    int t = lua_gettop(L);
    luaL_checktype(L, t, LUA_TTABLE);
    r[i].status = (int)fmh_opt_int(L, t, "status", 200);
    if (lua_getfield(L, t, "body") == LUA_TSTRING) {
      r[i].body = lua_tolstring(L, -1, &r[i].body_len); /* anchored in the table */
    }
    lua_pop(L, 1);
    r[i].content_type = fmh_opt_str(L, t, "content_type", NULL);
    r[i].delay_ms = (long)fmh_opt_int(L, t, "delay_ms", 0);
    r[i].hang = fmh_opt_bool(L, t, "hang", 0);
    r[i].close = fmh_opt_bool(L, t, "close", 0);
    lua_pop(L, 1);
  }
  fmh_error err = {0};
  stub_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = NULL;
  luaL_setmetatable(L, STUB_T);
  u->s = fmh_httpstub_start(r, n, &err);
  if (!u->s) return fmh_fail(L, &err);
  return 1;
}

static stub_ud *check_stub(lua_State *L) {
  stub_ud *u = luaL_checkudata(L, 1, STUB_T);
  if (!u->s) luaL_argerror(L, 1, "the stub server is closed");
  return u;
}

static int stub_url(lua_State *L) {
  lua_pushfstring(L, "http://127.0.0.1:%d", fmh_httpstub_port(check_stub(L)->s));
  return 1;
}

static int stub_port(lua_State *L) {
  lua_pushinteger(L, fmh_httpstub_port(check_stub(L)->s));
  return 1;
}

static int stub_requests(lua_State *L) {
  stub_ud *u = check_stub(L);
  fmh_httpstub_seen *seen = NULL;
  size_t n = fmh_httpstub_requests(u->s, &seen);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 4);
    fmh_set_str(L, "method", seen[i].method);
    fmh_set_str(L, "path", seen[i].target);
    fmh_set_str(L, "content_type", seen[i].content_type);
    lua_pushlstring(L, seen[i].body, seen[i].body_len);
    lua_setfield(L, -2, "body");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  fmh_httpstub_seen_free(seen, n);
  return 1;
}

static int stub_close(lua_State *L) {
  stub_ud *u = luaL_checkudata(L, 1, STUB_T);
  if (!u->s) return fmh_push_closed(L, 0);
  fmh_httpstub_stop(u->s);
  u->s = NULL;
  return fmh_push_closed(L, 1);
}

/* ---- module ----------------------------------------------------------- */

static int l_summarize(lua_State *L) {
  const char *text = luaL_checkstring(L, 1);
  char out[1024];
  fmh_flink_summarize(text, out, sizeof out);
  lua_pushstring(L, out);
  return 1;
}

static const luaL_Reg client_methods[] = {
    {"overview", l_overview}, {"config", l_config}, {"jobs", l_jobs}, {"job", l_job},
    {"job_handle", l_job_handle}, {"taskmanagers", l_taskmanagers}, {"upload_jar", l_upload_jar},
    {"run_jar", l_run_jar}, {"session", l_session}, {"gateway_info", l_gateway_info},
    {"rest", l_rest}, {"gateway", l_gateway}, {"urls", l_urls}, {"close", l_client_close}, {NULL, NULL}};
static const luaL_Reg client_meta[] = {
    {"__gc", l_client_close}, {"__close", l_client_close}, {"__tostring", l_client_tostring},
    {NULL, NULL}};

static const luaL_Reg job_methods[] = {
    {"id", job_id}, {"state", job_state}, {"detail", job_detail}, {"vertices", job_vertices},
    {"exceptions", job_exceptions}, {"root_exception", job_root_exception},
    {"checkpoints", job_checkpoints}, {"metrics", job_metrics},
    {"vertex_metrics", job_vertex_metrics}, {"backpressure", job_backpressure},
    {"cancel", job_cancel}, {"stop", job_stop}, {"wait", job_wait}, {"close", job_close}, {NULL, NULL}};
static const luaL_Reg job_meta[] = {
    {"__gc", job_close}, {"__close", job_close}, {"__tostring", job_tostring}, {NULL, NULL}};

static const luaL_Reg session_methods[] = {
    {"handle", session_handle}, {"execute", session_execute}, {"run", session_run},
    {"heartbeat", session_heartbeat}, {"close", session_close}, {NULL, NULL}};
static const luaL_Reg session_meta[] = {
    {"__gc", session_gc}, {"__close", session_close}, {"__tostring", session_tostring},
    {NULL, NULL}};

static const luaL_Reg op_methods[] = {
    {"handle", op_handle}, {"status", op_status}, {"wait", op_wait}, {"fetch_all", op_fetch_all},
    {"job_id", op_job_id}, {"cancel", op_cancel}, {"close", op_close}, {NULL, NULL}};
/* __close closes the operation on the gateway as close() does; __gc only
 * frees (the collector must not wait on the network). */
static const luaL_Reg op_meta[] = {
    {"__gc", op_gc}, {"__close", op_close}, {"__tostring", op_tostring}, {NULL, NULL}};

static const luaL_Reg stub_methods[] = {
    {"url", stub_url}, {"port", stub_port}, {"requests", stub_requests}, {"close", stub_close},
    {NULL, NULL}};
static const luaL_Reg stub_meta[] = {{"__gc", stub_close}, {"__close", stub_close}, {NULL, NULL}};

static const luaL_Reg flink_funcs[] = {
    {"client", l_client}, {"summarize", l_summarize}, {"_summarize", l_summarize}, {"_stub_server", l_stub_server},
    {NULL, NULL}};

int luaopen_fmhost_flink(lua_State *L) {
  fmh_newclass(L, CLIENT_T, client_methods, client_meta);
  fmh_newclass(L, JOB_T, job_methods, job_meta);
  fmh_newclass(L, SESSION_T, session_methods, session_meta);
  fmh_newclass(L, OP_T, op_methods, op_meta);
  fmh_newclass(L, STUB_T, stub_methods, stub_meta);
  fmh_newmodule(L, "fmhost.flink", flink_funcs);
  fmh_lua_json_null(L);
  lua_setfield(L, -2, "NULL");
  return 1;
}
