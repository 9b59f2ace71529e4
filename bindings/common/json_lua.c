/* JSON (jansson) to Lua and back for the bindings: the one converter every
 * binding that hands JSON to Lua shares (include/fmhost/json_lua.h). Not a
 * module: CMake compiles the files under bindings/ subfolders in without
 * adding them to the preload list. */
#include "fmhost/json_lua.h"

#include <stdio.h>

#include "fmhost/interp.h"

/* registry: the NULL sentinel, fetched once (fmhost.pool's when it loads) */
static const char NULL_KEY = 'j';

void fmh_lua_json_null(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &NULL_KEY) != LUA_TNIL) return;
  lua_pop(L, 1);
  fmh_push_pool_null(L);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &NULL_KEY);
}

static void push_json(lua_State *L, const json_t *j, int rows, int depth) {
  if (depth > 200) luaL_error(L, "JSON nested too deeply");
  luaL_checkstack(L, 3, "JSON nested too deeply"); /* each level holds a table and a value */
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      lua_createtable(L, 0, (int)json_object_size(j));
      const char *k;
      json_t *v;
      json_object_foreach((json_t *)j, k, v) {
        if (json_is_null(v) && !rows) continue;
        push_json(L, v, rows, depth + 1);
        lua_setfield(L, -2, k);
      }
      break;
    }
    case JSON_ARRAY: {
      lua_createtable(L, (int)json_array_size(j), 0);
      size_t i;
      json_t *v;
      json_array_foreach(j, i, v) {
        push_json(L, v, rows, depth + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(j), json_string_length(j)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(j)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(j)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    case JSON_NULL: fmh_lua_json_null(L); break;
  }
}

void fmh_lua_pushjson(lua_State *L, const json_t *j, int rows) { push_json(L, j, rows, 0); }

static json_t *to_json(lua_State *L, int i, int depth, char *why, size_t cap) {
  i = lua_absindex(L, i);
  if (depth > 100 || !lua_checkstack(L, 3)) { /* each level holds a key and a value */
    snprintf(why, cap, "body nested too deeply");
    return NULL;
  }
  switch (lua_type(L, i)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, i));
    case LUA_TNUMBER:
      return lua_isinteger(L, i) ? json_integer(lua_tointeger(L, i)) : json_real(lua_tonumber(L, i));
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, i, &n);
      return json_stringn(s, n);
    }
    case LUA_TLIGHTUSERDATA:
    case LUA_TUSERDATA: {
      fmh_lua_json_null(L);
      int is_null = lua_rawequal(L, i, -1) || lua_touserdata(L, i) == NULL;
      lua_pop(L, 1);
      if (is_null) return json_null();
      break;
    }
    case LUA_TTABLE: {
      lua_Integer n = (lua_Integer)lua_rawlen(L, i);
      int is_array = 1;
      lua_pushnil(L);
      while (lua_next(L, i)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n) {
          is_array = 0;
          lua_pop(L, 1);
          break;
        }
      }
      json_t *out;
      if (is_array && n > 0) {
        out = json_array();
        for (lua_Integer k = 1; k <= n; k++) {
          lua_rawgeti(L, i, k);
          json_t *v = to_json(L, -1, depth + 1, why, cap);
          lua_pop(L, 1);
          if (!v) {
            json_decref(out);
            return NULL;
          }
          json_array_append_new(out, v);
        }
      } else {
        out = json_object();
        lua_pushnil(L);
        while (lua_next(L, i)) {
          json_t *v = NULL;
          if (lua_type(L, -2) != LUA_TSTRING) snprintf(why, cap, "a JSON object needs string keys");
          else v = to_json(L, -1, depth + 1, why, cap);
          if (!v) {
            lua_pop(L, 2);
            json_decref(out);
            return NULL;
          }
          json_object_set_new(out, lua_tostring(L, -2), v);
          lua_pop(L, 1);
        }
      }
      return out;
    }
    default: break;
  }
  snprintf(why, cap, "cannot send a %s as JSON", luaL_typename(L, i));
  return NULL;
}

json_t *fmh_lua_tojson(lua_State *L, int i, char *why, size_t cap) { return to_json(L, i, 0, why, cap); }

json_t *fmh_lua_tojson_strings(lua_State *L, int t, const char *what) {
  json_t *o = json_object();
  if (lua_isnoneornil(L, t)) return o;
  if (lua_type(L, t) != LUA_TTABLE) {
    json_decref(o);
    luaL_error(L, "%s must be a table of key = value", what);
  }
  t = lua_absindex(L, t);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      json_decref(o);
      luaL_error(L, "%s: keys must be strings", what);
    }
    const char *k = lua_tostring(L, -2);
    const char *v;
    int tv = lua_type(L, -1);
    if (tv == LUA_TBOOLEAN) {
      v = lua_toboolean(L, -1) ? "true" : "false";
    } else if (tv == LUA_TSTRING || tv == LUA_TNUMBER) {
      v = luaL_tolstring(L, -1, NULL);
      lua_replace(L, -2);
    } else {
      json_decref(o);
      luaL_error(L, "%s: the value of '%s' must be a string, number or boolean", what, k);
      return NULL;
    }
    json_object_set_new(o, k, json_string(v));
    lua_pop(L, 1);
  }
  return o;
}
