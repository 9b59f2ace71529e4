/* fmhost.flink._stub_server, TEST SUPPORT ONLY: a scripted local HTTP
 * server (host/flink/httpstub.c) the specs point a client at to check how
 * failures are reported. A part of the module fmhost.flink
 * (bindings/flink.c), not a module. */
#include <string.h>

#include "flink_lua.h"
#include "fmhost/httpstub.h"

#define STUB_T "fmhost.flink.Stub"

typedef struct { fmh_httpstub *s; } stub_ud;

int fmh_flink_lua_stub_server(lua_State *L) {
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

static const luaL_Reg stub_methods[] = {
    {"url", stub_url}, {"port", stub_port}, {"requests", stub_requests}, {"close", stub_close},
    {NULL, NULL}};
static const luaL_Reg stub_meta[] = {{"__gc", stub_close}, {"__close", stub_close}, {NULL, NULL}};

void fmh_flink_lua_stub_class(lua_State *L) { fmh_newclass(L, STUB_T, stub_methods, stub_meta); }
