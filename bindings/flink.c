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
 * state/job_id/root_exception from job:wait); misuse raises.
 *
 * This file is the module and its Client; each other class is a file of
 * bindings/flink/ (job.c, session.c, operation.c, stub.c), which share
 * bindings/flink/flink_lua.h. */
#include <stdlib.h>
#include <string.h>

#include "flink/flink_lua.h"

#define CLIENT_T "fmhost.flink.Client"

typedef struct { fmh_flink *c; } client_ud;

/* ---- values ----------------------------------------------------------- */

/* Push j (stealing the reference); on NULL push the error. Clears err. */
int fmh_flink_lua_push_json(lua_State *L, json_t *j, fmh_error *err) {
  if (!j) return fmh_fail(L, err);
  fmh_lua_pushjson(L, j, 0);
  json_decref(j);
  fmh_error_clear(err);
  return 1;
}

/* Push text (true when NULL) or, when rc is not 0, the error. Clears err. */
int fmh_flink_lua_push_outcome(lua_State *L, int rc, const char *text, fmh_error *err) {
  if (rc) return fmh_fail(L, err);
  if (text) lua_pushstring(L, text);
  else lua_pushboolean(L, 1);
  fmh_error_clear(err);
  return 1;
}

long fmh_flink_lua_opt_ms(lua_State *L, int t, const char *k, long def) {
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

fmh_flink *fmh_flink_lua_check_client(lua_State *L, int i) { return check_client(L, i)->c; }

static const char *check_job_id(lua_State *L, int i) {
  const char *id = luaL_checkstring(L, i);
  if (!fmh_flink_job_id_valid(id))
    luaL_argerror(L, i, lua_pushfstring(L, "'%s' is not a Flink job id (32 hex digits)", id));
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
  o.timeout_ms = fmh_flink_lua_opt_ms(L, t, "timeout_ms", def_timeout);
  o.poll_ms = fmh_flink_lua_opt_ms(L, t, "poll_ms", 200);
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
  return fmh_flink_lua_push_json(L, j, &err);
}

static int l_config(lua_State *L) {
  fmh_error err = {0};
  json_t *j = fmh_flink_config(check_client(L, 1)->c, &err);
  return fmh_flink_lua_push_json(L, j, &err);
}

/* Push the array under key of j (an empty list when absent). Clears err. */
int fmh_flink_lua_push_list(lua_State *L, json_t *j, const char *key, fmh_error *err) {
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
  return fmh_flink_lua_push_list(L, fmh_flink_jobs(check_client(L, 1)->c, &err), "jobs", &err);
}

static int l_taskmanagers(lua_State *L) {
  fmh_error err = {0};
  return fmh_flink_lua_push_list(L, fmh_flink_taskmanagers(check_client(L, 1)->c, &err), "taskmanagers", &err);
}

static int l_job(lua_State *L) {
  client_ud *u = check_client(L, 1);
  const char *id = check_job_id(L, 2);
  fmh_error err = {0};
  return fmh_flink_lua_push_json(L, fmh_flink_job(u->c, id, &err), &err);
}

static int l_job_handle(lua_State *L) {
  client_ud *u = check_client(L, 1);
  fmh_flink_lua_new_job(L, u->c, check_job_id(L, 2));
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
  long timeout = fmh_flink_lua_opt_ms(L, 3, "timeout_ms", 0);
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
  fmh_flink_lua_new_job(L, u->c, jobid);
  return 1;
}

static int l_gateway_info(lua_State *L) {
  fmh_error err = {0};
  return fmh_flink_lua_push_json(L, fmh_flink_gateway_info(check_client(L, 1)->c, &err), &err);
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
  return fmh_flink_lua_push_json(L, j, &err);
}

static int l_rest(lua_State *L) { return raw_call(L, 0); }
static int l_gateway(lua_State *L) { return raw_call(L, 1); }

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
    {"run_jar", l_run_jar}, {"session", fmh_flink_lua_session}, {"gateway_info", l_gateway_info},
    {"rest", l_rest}, {"gateway", l_gateway}, {"urls", l_urls}, {"close", l_client_close}, {NULL, NULL}};
static const luaL_Reg client_meta[] = {
    {"__gc", l_client_close}, {"__close", l_client_close}, {"__tostring", l_client_tostring},
    {NULL, NULL}};
static const luaL_Reg flink_funcs[] = {
    {"client", l_client}, {"summarize", l_summarize}, {"_summarize", l_summarize}, {"_stub_server", fmh_flink_lua_stub_server},
    {NULL, NULL}};
int luaopen_fmhost_flink(lua_State *L) {
  fmh_newclass(L, CLIENT_T, client_methods, client_meta);
  fmh_flink_lua_job_class(L);
  fmh_flink_lua_session_class(L);
  fmh_flink_lua_op_class(L);
  fmh_flink_lua_stub_class(L);
  fmh_newmodule(L, "fmhost.flink", flink_funcs);
  fmh_lua_json_null(L);
  lua_setfield(L, -2, "NULL");
  return 1;
}
