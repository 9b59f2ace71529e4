/* JSON (jansson) to Lua and back, for every binding that hands JSON to Lua
 * or sends a Lua value as JSON. Defined in bindings/common/json_lua.c.
 *
 * JSON null and the SQL NULL sentinel (fmhost.pool.NULL, see
 * fmh_push_pool_null) are the same value on both sides, so a row read as
 * JSON compares equal to the same row read through the pool. */
#ifndef FMHOST_JSON_LUA_H
#define FMHOST_JSON_LUA_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

/* Push the NULL sentinel JSON null stands for. */
void fmh_lua_json_null(lua_State *L);

/* Push j as Lua: objects and arrays as tables, strings, numbers and
 * booleans as they are. rows 0: null object fields are left out and null
 * array elements become NULL (so positions hold); rows 1: JSON null becomes
 * NULL everywhere. Raises when j is nested too deeply. */
void fmh_lua_pushjson(lua_State *L, const json_t *j, int rows);

/* The Lua value at i as JSON (a new reference): nil and NULL as null, a
 * table 1..n as an array, any other table as an object with string keys.
 * NULL, with the reason in why, when the value cannot be sent; nothing
 * built so far is left allocated, so the caller may raise at once. */
json_t *fmh_lua_tojson(lua_State *L, int i, char *why, size_t cap);

/* A Lua table of scalar values at t as a JSON object of strings (a Java
 * Map<String,String>); an empty object when t is none or nil. Raises,
 * naming what, on any other value. */
json_t *fmh_lua_tojson_strings(lua_State *L, int t, const char *what);

#endif
