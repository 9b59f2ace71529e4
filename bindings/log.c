/* fmhost.log: Lua face of the JSON-lines logger.
 *
 * Lua sees:
 *   log.configure{level="info", stderr=true, file="path"}  -> true | nil, msg, info
 *   log.emit(level, event, fields)   fields: {code=, msg=, any=context}
 *   log.trace/debug/info/warn/error(event, fields)
 *   log.format(level, event, fields) -> the JSON line, not written
 *   log.level() -> name;  log.set_level(name);  log.tracing() -> bool
 * Context values may be strings, numbers, booleans; nested tables are
 * written as their type name (logs are for lines, not documents). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmhost/interp.h"
#include "fmhost/log.h"

#define MAX_FIELDS 48

static fmh_log_level check_level(lua_State *L, int i) {
  const char *name = luaL_checkstring(L, i);
  int lvl = fmh_log_parse_level(name);
  if (lvl < 0) luaL_argerror(L, i, lua_pushfstring(L, "unknown log level '%s'", name));
  return (fmh_log_level)lvl;
}

/* Collect code, msg and the context fields of table t. Strings stay
 * anchored in the table, so the pointers live as long as the call. */
static size_t collect(lua_State *L, int t, const char **code, const char **msg, fmh_log_field *f) {
  size_t n = 0;
  *code = *msg = NULL;
  if (lua_isnoneornil(L, t)) return 0;
  luaL_checktype(L, t, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, t) != 0 && n < MAX_FIELDS) {
    if (lua_type(L, -2) != LUA_TSTRING) { lua_pop(L, 1); continue; }
    const char *k = lua_tostring(L, -2);
    if (strcmp(k, "code") == 0) { lua_pop(L, 1); continue; } /* emit_at renders it */
    switch (lua_type(L, -1)) {
      case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        f[n++] = FMH_LSN(k, s, len);
        break;
      }
      case LUA_TBOOLEAN: f[n++] = FMH_LB(k, lua_toboolean(L, -1)); break;
      case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) f[n++] = FMH_LI(k, lua_tointeger(L, -1));
        else f[n++] = FMH_LN(k, lua_tonumber(L, -1));
        break;
      default: f[n++] = FMH_LS(k, luaL_typename(L, -1)); break;
    }
    lua_pop(L, 1);
  }
  return n;
}

static int emit_at(lua_State *L, fmh_log_level lvl, int ev, int t, int format_only) {
  const char *event = luaL_checkstring(L, ev);
  const char *code, *msg;
  fmh_log_field f[MAX_FIELDS];
  /* a numeric code is rendered into a string that must outlive collect() */
  lua_settop(L, t);
  size_t n = collect(L, t, &code, &msg, f);
  /* msg leads the context fields, whatever order the table iterated in */
  for (size_t i = 0; i < n; i++)
    if (strcmp(f[i].key, "msg") == 0) {
      fmh_log_field m = f[i];
      m.type = m.type == FMH_LF_STRN ? FMH_LF_MSGN : m.type;
      memmove(f + 1, f, i * sizeof *f);
      f[0] = m;
      break;
    }
  char codebuf[32];
  if (!lua_isnoneornil(L, t)) {
    lua_getfield(L, t, "code");
    if (lua_isinteger(L, -1)) {
      snprintf(codebuf, sizeof codebuf, "%lld", (long long)lua_tointeger(L, -1));
      code = codebuf;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      code = lua_tostring(L, -1); /* anchored by the table */
    }
    lua_pop(L, 1);
  }
  if (format_only) {
    char *line = fmh_log_format(lvl, event, code, msg, f, n);
    lua_pushstring(L, line);
    free(line);
    return 1;
  }
  fmh_log_emit(lvl, event, code, msg, f, n);
  return 0;
}

static int l_emit(lua_State *L) { return emit_at(L, check_level(L, 1), 2, 3, 0); }
static int l_format(lua_State *L) { return emit_at(L, check_level(L, 1), 2, 3, 1); }
static int l_trace(lua_State *L) { return emit_at(L, FMH_LOG_TRACE, 1, 2, 0); }
static int l_debug(lua_State *L) { return emit_at(L, FMH_LOG_DEBUG, 1, 2, 0); }
static int l_info(lua_State *L) { return emit_at(L, FMH_LOG_INFO, 1, 2, 0); }
static int l_warn(lua_State *L) { return emit_at(L, FMH_LOG_WARN, 1, 2, 0); }
static int l_error(lua_State *L) { return emit_at(L, FMH_LOG_ERROR, 1, 2, 0); }

static int l_configure(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *lname = fmh_opt_str(L, 1, "level", fmh_log_level_name(fmh_log_get_level()));
  int lvl = fmh_log_parse_level(lname);
  if (lvl < 0) return luaL_error(L, "unknown log level '%s'", lname);
  int to_stderr = fmh_opt_bool(L, 1, "stderr", 1);
  const char *file = fmh_opt_str(L, 1, "file", NULL);
  int trace = fmh_opt_bool(L, 1, "trace", fmh_log_tracing()); /* every option checked before anything changes */
  char err[512];
  if (fmh_log_configure((fmh_log_level)lvl, to_stderr, file, err, sizeof err) != 0) {
    fmh_error e = {0};
    fmh_error_set(&e, "os", 0, 0, "%s", err);
    return fmh_push_error(L, &e);
  }
  if (trace) fmh_log_set_trace(1);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_level(lua_State *L) {
  lua_pushstring(L, fmh_log_level_name(fmh_log_get_level()));
  return 1;
}

static int l_set_level(lua_State *L) {
  fmh_log_set_level(check_level(L, 1));
  return 0;
}

static int l_tracing(lua_State *L) {
  lua_pushboolean(L, fmh_log_tracing());
  return 1;
}

static int l_set_trace(lua_State *L) {
  fmh_log_set_trace(lua_toboolean(L, 1));
  return 0;
}

static const luaL_Reg log_funcs[] = {
    {"configure", l_configure}, {"emit", l_emit},   {"format", l_format},     {"trace", l_trace},
    {"debug", l_debug},         {"info", l_info},   {"warn", l_warn},         {"error", l_error},
    {"level", l_level},         {"set_level", l_set_level}, {"tracing", l_tracing},
    {"set_trace", l_set_trace}, {NULL, NULL}};

int luaopen_fmhost_log(lua_State *L) {
  /* not traced: logging the logger would only double every line */
  luaL_newlib(L, log_funcs);
  return 1;
}
