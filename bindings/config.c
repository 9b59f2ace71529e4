/* fmhost.config: Lua face of the configuration (host/config/config.c).
 *
 * Lua sees:
 *   config.load{dir=, env=, set={"k.k=v", ...}, environ=true|{NAME=value}, schema=, root=}
 *       -> cfg | nil, msg, info
 *     cfg is a plain nested table of typed values (integers, booleans, floats,
 *     strings); info = {kind="config", file=, line=, column=, key=, expected=,
 *     got=, suggestion=, code=, message=}.
 *   config.origin(cfg, "mysql.port") -> "config/default.yaml:12" | "environment FMHOST_MYSQL_PORT"
 *                                       | "--set" | nil
 *   config.show(cfg) -> "key = value    (origin)\n" lines, secrets as ***
 *   config.get(cfg, "mysql.port") -> the value at a dotted path (nil if absent)
 *   config.warnings(cfg) -> {"environment variable FMHOST_MYSQL_PROT sets nothing and is
 *       ignored; did you mean FMHOST_MYSQL_PORT (mysql.port)?", ...}: FMHOST_* variables
 *       (of environ) close to a key's but setting none; {} for a table no load made
 *   config.schema([path]) -> the keys in declaration order, each also under its name:
 *       {key=, type=, doc=, required=, secret=, env=, expected=, min=, max=, values=, when_empty=, line=}
 * The loaded C configuration hangs off cfg in a weak-keyed registry table,
 * so cfg stays a table the user indexes and may even change: show() marks a
 * value changed after loading. */
#include <stdlib.h>
#include <string.h>

#include "fmhost/config.h"
#include "fmhost/interp.h"

#define LOADED_KEY "fmhost.config.loaded"
#define BOX_TYPE "fmhost.config.Loaded"

typedef struct box {
  fmh_config *c;
} box;

static int box_gc(lua_State *L) {
  box *b = luaL_checkudata(L, 1, BOX_TYPE);
  fmh_config_free(b->c);
  b->c = NULL;
  return 0;
}

/* registry[LOADED_KEY]: cfg -> box, weak keys */
static void push_loaded(lua_State *L) {
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, LOADED_KEY) == 0) {
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
}

static const fmh_config *loaded_of(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE) return NULL;
  idx = lua_absindex(L, idx);
  push_loaded(L);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  box *b = luaL_testudata(L, -1, BOX_TYPE);
  lua_pop(L, 2);
  return b ? b->c : NULL;
}

static void push_value(lua_State *L, const fmh_config_value *v) {
  switch (v->spec->type) {
    case FMH_CFG_INT:
    case FMH_CFG_PORT:
    case FMH_CFG_DURATION_MS: lua_pushinteger(L, (lua_Integer)v->i); break;
    case FMH_CFG_BOOL: lua_pushboolean(L, (int)v->i); break;
    case FMH_CFG_NUMBER: lua_pushnumber(L, (lua_Number)v->n); break;
    default: lua_pushstring(L, v->text); break;
  }
}

/* Leave on the stack the table for the section of key (creating it), and
 * return the last segment. */
static const char *section_for(lua_State *L, int root, const char *key, int create) {
  lua_pushvalue(L, root);
  const char *seg = key;
  for (const char *dot = strchr(seg, '.'); dot; dot = strchr(seg, '.')) {
    lua_pushlstring(L, seg, (size_t)(dot - seg));
    lua_pushvalue(L, -1);
    lua_gettable(L, -3);
    if (lua_type(L, -1) != LUA_TTABLE) {
      lua_pop(L, 1);
      if (!create) {
        lua_pop(L, 2);
        lua_pushnil(L);
        return NULL;
      }
      lua_newtable(L);
      lua_pushvalue(L, -2);      /* name */
      lua_pushvalue(L, -2);      /* table */
      lua_settable(L, -5);
    }
    lua_remove(L, -2);           /* name */
    lua_remove(L, -2);           /* parent */
    seg = dot + 1;
  }
  return seg;
}

/* Push the value at a dotted path of the table at idx, or nil. */
static void get_path(lua_State *L, int idx, const char *key) {
  idx = lua_absindex(L, idx);
  const char *leaf = section_for(L, idx, key, 0);
  if (!leaf) return;             /* nil pushed */
  lua_getfield(L, -1, leaf);
  lua_remove(L, -2);
}

static void push_cfg(lua_State *L, const fmh_config *c) {
  lua_newtable(L);
  int t = lua_gettop(L);
  for (size_t i = 0; i < fmh_config_count(c); i++) {
    const fmh_config_value *v = fmh_config_at(c, i);
    const char *leaf = section_for(L, t, v->spec->key, 1);
    if (v->set) {
      push_value(L, v);
      lua_setfield(L, -2, leaf);
    }
    lua_pop(L, 1);
  }
}

/* t[k] = v, only for a non-empty v */
static void set_nonempty(lua_State *L, const char *k, const char *v) {
  if (!v || !*v) return;
  fmh_set_str(L, k, v);
}

static int push_config_error(lua_State *L, const fmh_config_error *err) {
  luaL_pushfail(L);
  lua_pushstring(L, err->e.msg);
  fmh_push_error_info(L, &err->e);
  set_nonempty(L, "file", err->file);
  if (err->line) fmh_set_int(L, "line", err->line);
  if (err->column) fmh_set_int(L, "column", err->column);
  set_nonempty(L, "key", err->key);
  set_nonempty(L, "expected", err->expected);
  set_nonempty(L, "got", err->got);
  set_nonempty(L, "suggestion", err->suggestion);
  return 3;
}

static int l_load(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  fmh_config_opts o = {0};
  char dirbuf[4096];
  o.dir = fmh_opt_str(L, 1, "dir", NULL);
  o.root = fmh_opt_str(L, 1, "root", NULL);
  if (!o.dir) {
    snprintf(dirbuf, sizeof dirbuf, "%s/config", fmh_interp_root_dir());
    o.dir = dirbuf;
    if (!o.root) o.root = fmh_interp_root_dir();
  }
  o.schema = fmh_opt_str(L, 1, "schema", NULL);
  o.env = fmh_opt_str(L, 1, "env", NULL);

  /* set: a list of strings, anchored by the options table */
  lua_getfield(L, 1, "set");
  int set_idx = lua_gettop(L);
  if (!lua_isnil(L, set_idx)) {
    if (!lua_istable(L, set_idx)) return luaL_error(L, "option 'set' must be a list of \"key=value\" strings");
    lua_Integer n = luaL_len(L, set_idx);
    const char **items = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *items, 0);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, set_idx, i);
      if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "option 'set' must be a list of \"key=value\" strings (item %d is a %s)",
                          (int)i, luaL_typename(L, -1));
      items[i - 1] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    o.set = items;
    o.nset = (size_t)n;
  }

  /* environ: true (the process's), a table {NAME=value}, or false/nil */
  lua_getfield(L, 1, "environ");
  int env_idx = lua_gettop(L);
  if (lua_istable(L, env_idx)) {
    lua_newtable(L);             /* anchors the "NAME=value" strings */
    int anchor = lua_gettop(L);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, env_idx)) {
      if (lua_type(L, -2) == LUA_TSTRING && (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)) {
        lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
        lua_rawseti(L, anchor, (lua_Integer)++n);
      }
      lua_pop(L, 1);
    }
    const char **list = lua_newuserdatauv(L, (n + 1) * sizeof *list, 0);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, anchor, (lua_Integer)i + 1);
      list[i] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    list[n] = NULL;
    o.use_environ = 1;
    o.environ_list = list;
  } else if (!lua_isnil(L, env_idx)) {
    if (!lua_isboolean(L, env_idx)) return luaL_error(L, "option 'environ' must be a boolean or a table");
    o.use_environ = lua_toboolean(L, env_idx);
  }

  /* the box exists before the load, so a raise below cannot leak it */
  box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->c = NULL;
  luaL_setmetatable(L, BOX_TYPE);
  int box_idx = lua_gettop(L);
  fmh_config_error err;
  b->c = fmh_config_load(&o, &err);
  if (!b->c) return push_config_error(L, &err);
  push_cfg(L, b->c);
  push_loaded(L);
  lua_pushvalue(L, -2);
  lua_pushvalue(L, box_idx);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  return 1;
}

static int l_origin(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *key = luaL_checkstring(L, 2);
  const fmh_config *c = loaded_of(L, 1);
  const fmh_config_value *v = c ? fmh_config_get(c, key) : NULL;
  if (!v || !v->set) { lua_pushnil(L); return 1; }
  lua_pushstring(L, v->origin);
  return 1;
}

static int l_warnings(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const fmh_config *c = loaded_of(L, 1);
  size_t n = c ? fmh_config_warning_count(c) : 0;
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, fmh_config_warning(c, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int l_get(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  get_path(L, 1, luaL_checkstring(L, 2));
  return 1;
}

/* Is the Lua value on top the one loaded? */
static int same_as_loaded(lua_State *L, const fmh_config_value *v) {
  if (!v->set) return lua_isnil(L, -1);
  switch (v->spec->type) {
    case FMH_CFG_INT:
    case FMH_CFG_PORT:
    case FMH_CFG_DURATION_MS:
      return lua_isinteger(L, -1) && lua_tointeger(L, -1) == (lua_Integer)v->i;
    case FMH_CFG_BOOL: return lua_isboolean(L, -1) && lua_toboolean(L, -1) == (int)v->i;
    case FMH_CFG_NUMBER: return lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) == v->n;
    default: return lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), v->text) == 0;
  }
}

static int needs_quotes(const char *s, size_t len) {
  if (len == 0) return 1;
  if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t') return 1;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < 0x20) return 1;
  return 0;
}

/* Push the shown form of the value on top (replacing it). */
static void shown_value(lua_State *L, int secret) {
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushliteral(L, "(unset)");
  } else if (secret) {
    lua_pop(L, 1);
    lua_pushliteral(L, "***");
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (needs_quotes(s, len)) {
      lua_getglobal(L, "string");
      lua_getfield(L, -1, "format");
      lua_pushliteral(L, "%q");
      lua_pushvalue(L, -4);
      lua_call(L, 2, 1);
      lua_replace(L, -3);
      lua_pop(L, 1);
    }
  } else {
    luaL_tolstring(L, -1, NULL);
    lua_remove(L, -2);
  }
}

static int is_secret_name(const char *k) {
  return strstr(k, "password") || strstr(k, "secret") || strstr(k, "token") || strstr(k, "passwd");
}

/* show() of a table no load made: every scalar leaf, sorted, secret-looking
 * names masked. Rows go to the table at rows as {line-without-origin, origin}. */
static void walk_plain(lua_State *L, int t, const char *prefix, int rows, int depth) {
  if (depth > 16) return;
  lua_newtable(L);
  int keys = lua_gettop(L);
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      lua_pushvalue(L, -1);
      lua_rawseti(L, keys, ++n);
    }
  }
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, keys);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, keys, i);
    const char *k = lua_tostring(L, -1);
    const char *full = lua_pushfstring(L, "%s%s%s", prefix, *prefix ? "." : "", k);
    lua_getfield(L, t, k);
    if (lua_type(L, -1) == LUA_TTABLE) {
      walk_plain(L, lua_gettop(L), full, rows, depth + 1);
      lua_pop(L, 1);
    } else {
      shown_value(L, is_secret_name(k));
      lua_pushfstring(L, "%s = %s", full, lua_tostring(L, -1));
      lua_createtable(L, 2, 0);
      lua_insert(L, -2);
      lua_rawseti(L, -2, 1);
      lua_pushliteral(L, "not loaded by fmhost.config");
      lua_rawseti(L, -2, 2);
      lua_rawseti(L, rows, (lua_Integer)luaL_len(L, rows) + 1);
      lua_pop(L, 1);             /* shown value */
    }
    lua_pop(L, 2);               /* full, key */
  }
  lua_pop(L, 1);                 /* keys */
}

static int l_show(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const fmh_config *c = loaded_of(L, 1);
  lua_newtable(L);
  int rows = lua_gettop(L);
  if (!c) {
    walk_plain(L, 1, "", rows, 0);
  } else {
    for (size_t i = 0; i < fmh_config_count(c); i++) {
      const fmh_config_value *v = fmh_config_at(c, i);
      get_path(L, 1, v->spec->key);
      int same = same_as_loaded(L, v);
      shown_value(L, v->spec->secret);
      lua_pushfstring(L, "%s = %s", v->spec->key, lua_tostring(L, -1));
      lua_createtable(L, 2, 0);
      lua_insert(L, -2);
      lua_rawseti(L, -2, 1);
      if (same) lua_pushstring(L, v->set ? v->origin : "no default, not set");
      else lua_pushfstring(L, "changed after loading; loaded from %s", v->origin);
      lua_rawseti(L, -2, 2);
      lua_rawseti(L, rows, (lua_Integer)i + 1);
      lua_pop(L, 1);
    }
  }
  lua_Integer n = luaL_len(L, rows);
  size_t width = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, rows, i);
    lua_rawgeti(L, -1, 1);
    size_t len = luaL_len(L, -1);
    if (len > width) width = len;
    lua_pop(L, 2);
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, rows, i);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    size_t len;
    const char *line = lua_tolstring(L, -2, &len);
    const char *origin = lua_tostring(L, -1);
    lua_pop(L, 3);               /* the strings stay anchored in rows */
    luaL_addlstring(&b, line, len);
    for (size_t j = len; j < width + 4; j++) luaL_addchar(&b, ' ');
    luaL_addchar(&b, '(');
    luaL_addstring(&b, origin);
    luaL_addstring(&b, ")\n");
  }
  luaL_pushresult(&b);
  return 1;
}

static void push_key(lua_State *L, const fmh_config_key *k) {
  lua_createtable(L, 0, 12);
  fmh_set_str(L, "key", k->key);
  fmh_set_str(L, "type", k->type_name);
  fmh_set_str(L, "doc", k->doc);
  fmh_set_bool(L, "required", k->required);
  fmh_set_bool(L, "secret", k->secret);
  fmh_set_str(L, "expected", k->expected);
  fmh_set_int(L, "line", k->line);
  if (k->env) fmh_set_str(L, "env", k->env);
  if (k->when_empty) fmh_set_str(L, "when_empty", k->when_empty);
  int integral = k->type != FMH_CFG_NUMBER;
  if (k->has_min) {
    if (integral) lua_pushinteger(L, (lua_Integer)k->min); else lua_pushnumber(L, k->min);
    lua_setfield(L, -2, "min");
  }
  if (k->has_max) {
    if (integral) lua_pushinteger(L, (lua_Integer)k->max); else lua_pushnumber(L, k->max);
    lua_setfield(L, -2, "max");
  }
  if (k->values) {
    fmh_push_strings(L, k->values, k->nvalues);
    lua_setfield(L, -2, "values");
  }
}

static int l_schema(lua_State *L) {
  char buf[4096];
  const char *path = luaL_optstring(L, 1, NULL);
  if (!path) {
    snprintf(buf, sizeof buf, "%s/config/schema.yaml", fmh_interp_root_dir());
    path = buf;
  }
  fmh_config_error err;
  memset(&err, 0, sizeof err);
  fmh_config_schema *s = fmh_config_schema_load(path, &err);
  if (!s) return push_config_error(L, &err);
  size_t n = fmh_config_schema_count(s);
  lua_createtable(L, (int)n, (int)n);
  for (size_t i = 0; i < n; i++) {
    const fmh_config_key *k = fmh_config_schema_at(s, i);
    push_key(L, k);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    lua_setfield(L, -2, k->key);
  }
  fmh_config_schema_free(s);
  return 1;
}

static const luaL_Reg funcs[] = {
    {"load", l_load},
    {"origin", l_origin},
    {"show", l_show},
    {"get", l_get},
    {"warnings", l_warnings},
    {"schema", l_schema},
    {NULL, NULL}};

int luaopen_fmhost_config(lua_State *L) {
  static const luaL_Reg box_meta[] = {{"__gc", box_gc}, {NULL, NULL}};
  if (luaL_newmetatable(L, BOX_TYPE)) luaL_setfuncs(L, box_meta, 0);
  lua_pop(L, 1);
  fmh_newmodule(L, "fmhost.config", funcs);
  return 1;
}
