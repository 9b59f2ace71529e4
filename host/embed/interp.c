/* The embedding: builds the Lua state fmhost runs everything in, and holds
 * the helpers that every binding shares.
 *
 * Modules are registered in package.preload from the list CMake generates
 * out of the bindings/ files, so `require "fmhost.pool"` works in scripts, specs
 * and the REPL alike, and busted's per-file insulation can re-require them
 * (luaopen_* keeps no state of its own). Calls from the host into Lua always
 * go through fmh_docall: a traceback handler, and a Ctrl-C hook that stops
 * the running Lua code (a second Ctrl-C ends the process). */
#include "fmhost/interp.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lualib.h>

#include "fmh_build.h"
#include "fmhost/log.h"

static const luaL_Reg preloads[] = {
#define FMH_MODULE(name) {"fmhost." #name, luaopen_fmhost_##name},
#include "fmh_modules.h"
#undef FMH_MODULE
    {NULL, NULL}};

const char *fmh_interp_scripts_dir(void) {
  const char *p = getenv("FMHOST_SCRIPTS");
  return (p && *p) ? p : FMH_SCRIPTS_DIR;
}

const char *fmh_interp_root_dir(void) {
  const char *p = getenv("FMHOST_ROOT");
  return (p && *p) ? p : FMH_SOURCE_DIR;
}

/* package.path: FMHOST_PATH (';;' stands for the rest), then scripts/,
 * then Lua's default, which already holds Debian's /usr/share/lua/5.4. */
static void set_paths(lua_State *L) {
  const char *dir = fmh_interp_scripts_dir();
  const char *user = getenv("FMHOST_PATH");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  const char *def = lua_tostring(L, -1);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (user && *user) {
    luaL_addstring(&b, user);
    luaL_addchar(&b, ';');
  }
  luaL_addstring(&b, dir);
  luaL_addstring(&b, "/?.lua;");
  luaL_addstring(&b, dir);
  luaL_addstring(&b, "/?/init.lua;");
  luaL_addstring(&b, def ? def : "");
  luaL_pushresult(&b);
  lua_remove(L, -2);             /* drop old path */
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);                 /* package */
}

lua_State *fmh_interp_new(void) {
  lua_State *L = luaL_newstate();
  if (!L) return NULL;
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const luaL_Reg *r = preloads; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_setfield(L, -2, r->name);
  }
  lua_pop(L, 1);                 /* preload table */
  set_paths(L);
  lua_pushstring(L, FMH_VERSION);
  lua_setglobal(L, "_FMHOST_VERSION");
  lua_pushstring(L, fmh_interp_root_dir());
  lua_setglobal(L, "_FMHOST_ROOT");
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    lua_pushstring(L, exe);      /* specs start this same binary as a child */
    lua_setglobal(L, "_FMHOST_EXE");
  }
  return L;
}

/* --- protected calls -------------------------------------------------- */

static lua_State *globalL = NULL;

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void laction(int i) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  signal(i, SIG_DFL);            /* a second Ctrl-C ends the process */
  lua_sethook(globalL, lstop, flag, 1);
}

/* Replace the value on top by its short text: numbers and booleans as
 * tostring, strings quoted and cut at 80 bytes, tables as {...}, the rest
 * by type. (A buffer in use allows only luaL_addvalue with a value above
 * it, so the text is made first.) */
static void to_short_text(lua_State *L) {
  switch (lua_type(L, -1)) {
    case LUA_TNUMBER:
    case LUA_TBOOLEAN: luaL_tolstring(L, -1, NULL); break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, -1, &len);
      lua_pushliteral(L, "\"");
      lua_pushlstring(L, s, len > 80 ? 80 : len);
      lua_pushstring(L, len > 80 ? "...\"" : "\"");
      lua_concat(L, 3);
      break;
    }
    case LUA_TTABLE: lua_pushliteral(L, "{...}"); break;
    default: lua_pushstring(L, luaL_typename(L, -1));
  }
  lua_remove(L, -2);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k = v, k = v" for the fields of the table at t, string keys sorted,
 * skipping the key named skip; at most 32 fields. */
static void add_error_fields(lua_State *L, luaL_Buffer *b, int t, const char *skip) {
  const char *keys[32];
  size_t n = 0, other = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1); /* the table holds the key */
      if ((!skip || strcmp(k, skip) != 0) && n < 32) keys[n++] = k;
    } else {
      other++;
    }
  }
  qsort(keys, n, sizeof *keys, cmp_str);
  for (size_t i = 0; i < n; i++) {
    if (i > 0) luaL_addstring(b, ", ");
    luaL_addstring(b, keys[i]);
    luaL_addstring(b, " = ");
    lua_getfield(L, t, keys[i]);
    to_short_text(L);
    luaL_addvalue(b);
  }
  if (other > 0) {
    if (n > 0) luaL_addstring(b, ", ");
    lua_pushfstring(L, "%d more", (int)other);
    luaL_addvalue(b);
  }
}

const char *fmh_push_error_text(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 8, "error text");
  if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER) {
    lua_pushvalue(L, idx);
    return lua_tostring(L, -1);
  }
  if (luaL_callmeta(L, idx, "__tostring")) {
    if (lua_type(L, -1) == LUA_TSTRING) return lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  if (lua_isnil(L, idx)) return lua_pushliteral(L, "error object is nil");
  if (lua_type(L, idx) != LUA_TTABLE) {
    if (lua_type(L, idx) == LUA_TBOOLEAN)
      return lua_pushfstring(L, "error object is a boolean (%s)", lua_toboolean(L, idx) ? "true" : "false");
    return lua_pushfstring(L, "error object is a %s value", luaL_typename(L, idx));
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  const char *msgkey = NULL;
  if (lua_getfield(L, idx, "msg") == LUA_TSTRING) msgkey = "msg";
  else {
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "message") == LUA_TSTRING) msgkey = "message";
  }
  if (msgkey) {
    luaL_addvalue(&b);           /* the message itself */
    size_t before = luaL_bufflen(&b);
    luaL_addstring(&b, " (");
    size_t mark = luaL_bufflen(&b);
    add_error_fields(L, &b, idx, msgkey);
    if (luaL_bufflen(&b) == mark) luaL_buffsub(&b, (int)(mark - before));
    else luaL_addchar(&b, ')');
  } else {
    lua_pop(L, 1);
    luaL_addstring(&b, "error object is a table: {");
    add_error_fields(L, &b, idx, NULL);
    luaL_addchar(&b, '}');
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) msg = fmh_push_error_text(L, 1);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int fmh_docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  /* sigaction, so that the handler before (the REPL's) comes back with
   * its own flags */
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = laction;
  sigemptyset(&sa.sa_mask);
  int saved = sigaction(SIGINT, &sa, &old) == 0;
  int status = lua_pcall(L, narg, nres, base);
  if (saved) sigaction(SIGINT, &old, NULL);
  else signal(SIGINT, SIG_DFL);
  lua_remove(L, base);
  return status;
}

void fmh_report(lua_State *L, const char *progname) {
  fflush(stdout);                /* keep the error after what was printed before it */
  const char *msg = fmh_push_error_text(L, -1);
  if (progname) fprintf(stderr, "%s: ", progname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
  lua_pop(L, 2);
}

/* --- errors ----------------------------------------------------------- */

void fmh_push_error_info(lua_State *L, const fmh_error *e) {
  lua_createtable(L, 0, 6);
  lua_pushstring(L, e->kind ? e->kind : "error");
  lua_setfield(L, -2, "kind");
  if (e->code) { lua_pushinteger(L, e->code); lua_setfield(L, -2, "code"); }
  if (e->sqlstate[0]) { lua_pushstring(L, e->sqlstate); lua_setfield(L, -2, "sqlstate"); }
  if (e->status) { lua_pushinteger(L, e->status); lua_setfield(L, -2, "status"); }
  lua_pushboolean(L, e->retryable);
  lua_setfield(L, -2, "retryable");
  if (e->detail) { lua_pushstring(L, e->detail); lua_setfield(L, -2, "detail"); }
  lua_pushstring(L, e->msg);
  lua_setfield(L, -2, "message");
}

int fmh_push_error(lua_State *L, const fmh_error *e) {
  luaL_pushfail(L);
  lua_pushstring(L, e->msg);
  fmh_push_error_info(L, e);
  return 3;
}

int fmh_fail(lua_State *L, fmh_error *e) {
  int n = fmh_push_error(L, e);
  fmh_error_clear(e);
  return n;
}

int fmh_raise(lua_State *L, fmh_error *e) {
  char msg[sizeof e->msg];
  snprintf(msg, sizeof msg, "%s", e->msg);
  fmh_error_clear(e);            /* luaL_error does not return */
  return luaL_error(L, "%s", msg);
}

int fmh_fail_or_raise(lua_State *L, fmh_error *e, const char *key, const char *value) {
  if (e->kind && strcmp(e->kind, "usage") == 0) return fmh_raise(L, e);
  fmh_push_error(L, e);
  if (key) {
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
  }
  fmh_error_clear(e);
  return 3;
}

int fmh_push_closed(lua_State *L, int closed_now) {
  lua_pushboolean(L, closed_now);
  if (closed_now) return 1;
  lua_pushliteral(L, "already closed");
  return 2;
}

/* --- table fields ----------------------------------------------------- */

void fmh_set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

void fmh_set_num(lua_State *L, const char *k, lua_Number v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

void fmh_set_bool(lua_State *L, const char *k, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

void fmh_set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

void fmh_push_strings(lua_State *L, const char *const *v, size_t n) {
  lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, v[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

void fmh_push_pool_null(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "fmhost.pool");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
    lua_getfield(L, -1, "NULL");
    lua_remove(L, -2);
  } else {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 0);
  }
}

/* --- classes and modules, with the --trace wrapper -------------------- */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A short, secret-free rendering of the arguments: scalars as they are
 * (strings cut at 80 bytes), tables and handles by type only. */
static void describe_args(lua_State *L, int n, luaL_Buffer *b) {
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addstring(b, ", ");
    switch (lua_type(L, i)) {
      case LUA_TNUMBER:
      case LUA_TBOOLEAN:
      case LUA_TNIL: {
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(b);
        break;
      }
      case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        luaL_addchar(b, '"');
        luaL_addlstring(b, s, len > 80 ? 80 : len);
        if (len > 80) luaL_addstring(b, "...");
        luaL_addchar(b, '"');
        break;
      }
      default: luaL_addstring(b, luaL_typename(L, i));
    }
  }
}

static int traced_call(lua_State *L) {
  int n = lua_gettop(L);
  const char *name = lua_tostring(L, lua_upvalueindex(2));
  char args[512] = "";
  {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    describe_args(L, n, &b);
    luaL_pushresult(&b);
    snprintf(args, sizeof args, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  double t0 = now_ms();
  int status = lua_pcall(L, n, LUA_MULTRET, 0);
  double dt = now_ms() - t0;
  int nres = lua_gettop(L);
  int failed = status != LUA_OK || (nres >= 1 && lua_isnil(L, 1) && nres >= 2);
  fmh_log_field f[] = {FMH_LS("fn", name), FMH_LS("args", args), FMH_LN("ms", dt),
                       FMH_LB("ok", !failed),
                       FMH_LS("error", failed ? lua_tostring(L, status != LUA_OK ? -1 : 2) : NULL)};
  fmh_log_emit(FMH_LOG_TRACE, "trace.call", NULL, NULL, f, sizeof f / sizeof *f);
  if (status != LUA_OK) return lua_error(L);
  return nres;
}

/* Set the functions of the table on top; wrap them when tracing. */
static void setfuncs_traced(lua_State *L, const char *prefix, char sep, const luaL_Reg *l) {
  int trace = fmh_log_tracing();
  for (; l && l->name; l++) {
    if (!l->func) continue;
    lua_pushcfunction(L, l->func);
    if (trace && l->name[0] != '_') {
      lua_pushfstring(L, "%s%c%s", prefix, sep, l->name);
      lua_pushcclosure(L, traced_call, 2);
    }
    lua_setfield(L, -2, l->name);
  }
}

void fmh_newclass(lua_State *L, const char *tname, const luaL_Reg *methods, const luaL_Reg *meta) {
  luaL_newmetatable(L, tname);
  if (meta) luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  setfuncs_traced(L, tname, ':', methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);                 /* metatable */
}

void fmh_newmodule(lua_State *L, const char *name, const luaL_Reg *funcs) {
  lua_newtable(L);
  setfuncs_traced(L, name, '.', funcs);
}

/* --- option tables ---------------------------------------------------- */

lua_Integer fmh_opt_int(lua_State *L, int t, const char *k, lua_Integer def) {
  if (lua_isnoneornil(L, t)) return def;
  lua_getfield(L, t, k);
  lua_Integer v = def;
  if (!lua_isnil(L, -1)) {
    int isnum;
    v = lua_tointegerx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "option '%s' must be an integer", k);
  }
  lua_pop(L, 1);
  return v;
}

lua_Number fmh_opt_num(lua_State *L, int t, const char *k, lua_Number def) {
  if (lua_isnoneornil(L, t)) return def;
  lua_getfield(L, t, k);
  lua_Number v = def;
  if (!lua_isnil(L, -1)) {
    int isnum;
    v = lua_tonumberx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "option '%s' must be a number", k);
  }
  lua_pop(L, 1);
  return v;
}

/* The string stays valid while the options table holds it; a number is not
 * accepted, since its string form would be a temporary the table does not
 * hold. */
const char *fmh_opt_str(lua_State *L, int t, const char *k, const char *def) {
  if (lua_isnoneornil(L, t)) return def;
  lua_getfield(L, t, k);
  const char *v = def;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", k);
    v = lua_tostring(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

int fmh_opt_bool(lua_State *L, int t, const char *k, int def) {
  if (lua_isnoneornil(L, t)) return def;
  lua_getfield(L, t, k);
  int v = def;
  if (!lua_isnil(L, -1)) {
    if (!lua_isboolean(L, -1)) luaL_error(L, "option '%s' must be a boolean", k);
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}
