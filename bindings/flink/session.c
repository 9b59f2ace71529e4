/* fmhost.flink.Session: a SQL Gateway session, which runs statements as
 * Operations (bindings/flink/operation.c). A part of the module
 * fmhost.flink (bindings/flink.c), not a module. */
#include <stdlib.h>
#include <string.h>

#include "flink_lua.h"

#define SESSION_T "fmhost.flink.Session"

typedef struct { fmh_flink *c; char *sh; long timeout_ms; } session_ud;

static session_ud *check_session(lua_State *L, int i) {
  session_ud *u = luaL_checkudata(L, i, SESSION_T);
  if (!u->sh) luaL_argerror(L, i, "the SQL gateway session is closed");
  return u;
}

int fmh_flink_lua_session(lua_State *L) {
  fmh_flink *c = fmh_flink_lua_check_client(L, 1);
  if (lua_isnoneornil(L, 2)) { lua_newtable(L); lua_replace(L, 2); }
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *name = fmh_opt_str(L, 2, "name", NULL);
  long timeout = fmh_flink_lua_opt_ms(L, 2, "timeout_ms", 60000);
  lua_getfield(L, 2, "properties"); /* last: nothing may raise while props is held */
  json_t *props = fmh_lua_tojson_strings(L, -1, "session properties");
  lua_pop(L, 1);
  fmh_error err = {0};
  char *sh = NULL;
  int rc = fmh_flink_session_open(c, name, props, &sh, &err);
  json_decref(props);
  if (rc) return fmh_fail(L, &err);
  session_ud *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->c = NULL;
  s->sh = NULL;
  luaL_setmetatable(L, SESSION_T);
  s->c = fmh_flink_ref(c);
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
    else n = fmh_flink_lua_push_outcome(L, rc, NULL, &err);
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
  return fmh_flink_lua_push_outcome(L, fmh_flink_session_heartbeat(s->c, s->sh, &err), NULL, &err);
}

/* s:execute(sql[, {timeout_ms=, execution_timeout_ms=, config={}}]) -> Operation */
static int session_execute(lua_State *L) {
  session_ud *s = check_session(L, 1);
  const char *sql = luaL_checkstring(L, 2);
  int has_opts = !lua_isnoneornil(L, 3);
  if (has_opts) luaL_checktype(L, 3, LUA_TTABLE);
  long timeout = has_opts ? fmh_flink_lua_opt_ms(L, 3, "timeout_ms", s->timeout_ms) : s->timeout_ms;
  long exec_timeout = has_opts ? fmh_flink_lua_opt_ms(L, 3, "execution_timeout_ms", 0) : 0;
  json_t *conf = NULL;
  if (has_opts) {
    lua_getfield(L, 3, "config");
    if (!lua_isnil(L, -1)) conf = fmh_lua_tojson_strings(L, -1, "execution config");
    lua_pop(L, 1);
  }
  return fmh_flink_lua_op_execute(L, 1, s->c, s->sh, sql, conf, exec_timeout, timeout);
}

/* s:run(sql[, opts]) = execute + wait + fetch_all (+ close) -> rows, result */
static int session_run(lua_State *L) {
  lua_settop(L, 3);
  if (session_execute(L) == 3) return 3;
  return fmh_flink_lua_op_run(L, 4, 3); /* stack: s sql opts op */
}

static const luaL_Reg session_methods[] = {
    {"handle", session_handle}, {"execute", session_execute}, {"run", session_run},
    {"heartbeat", session_heartbeat}, {"close", session_close}, {NULL, NULL}};
static const luaL_Reg session_meta[] = {
    {"__gc", session_gc}, {"__close", session_close}, {"__tostring", session_tostring},
    {NULL, NULL}};

void fmh_flink_lua_session_class(lua_State *L) {
  fmh_newclass(L, SESSION_T, session_methods, session_meta);
}
