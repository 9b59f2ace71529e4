/* fmhost.gen: Lua face of the deterministic data generator.
 *
 * Lua sees:
 *   gen.new(spec [, {seed=}]) -> Gen | nil, msg, info
 *       spec = {seed=, name=, time_zone=, dst_zone=, collation=,
 *               columns = {{name=, type=, ...column keys...}, ...}}
 *   gen.load(path_or_name [, {seed=}]) -> Gen | nil, msg, info   (YAML; a bare
 *       name is looked up as config/schemas/NAME.yaml)
 *   gen.flatten(json, paths) -> values, kinds | nil, msg, info
 *   gen.check_row(g [, opts]) -> a fmhost.check generator of rows
 *   gen.format_double(x [, "float"|"sql"]) -> shortest round-trip text
 *   gen.NULL (the same sentinel as pool.NULL), gen.is_null(v)
 *   g:row(i [, {plain=}]) -> array of values     g:record(i [, opts]) -> by name
 *   g:rows(from, to [, opts]) -> array of arrays   g:explain(i) -> kinds by name
 *   g:cell(i, col) -> value    g:text(i, col [, format]) -> the writer's text
 *   g:csv / g:jsonl / g:sql_values(from, to [, opts]) -> string
 *   g:write(path, from, to [, {format=, threads=, json_as_value=,
 *       decimal_as_string=, dialect=}]) -> bytes | nil, msg, info  (write_csv,
 *       write_jsonl, write_sql: the same with the format fixed)
 *   g:stream(from, to [, opts]) -> Stream (:read([max]) -> string|nil,
 *       :rows(), :close(); <close>-able)
 *   g:schema(), g:columns(), g:create_table_sql(name),
 *   g:load_data_sql(table, path [, {local=true}]), g:row_limit(), g:seed(),
 *   g:ncols(), g:name(), g:time_zone()
 * A Gen is also a row source for pool:load{source=g, ...} (CSV or SQL rows,
 * the columns in the schema's order).
 * Values: integers as integers (BIGINT UNSIGNED past 2^63 as a decimal
 * string), DOUBLE/FLOAT as floats (a FLOAT as the float's exact value),
 * BOOLEAN as 0/1, DECIMAL as its exact text, strings and bytes as strings,
 * JSON as its text, temporal values as MariaDB prints them (TIMESTAMP in the
 * generator's time_zone), NULL as gen.NULL. These match what fmhost.pool
 * reads back.
 * CSV dialect (opts.dialect of csv/write/stream): 'mysql' (default, the LOAD
 * DATA dialect: "..." with backslash escapes, NULL as \N) or 'rfc4180'
 * (what Flink's csv format reads with no escape character: strings "..."
 * with a quote doubled and every other byte as is, NULL as an unquoted \N
 * for 'csv.null-literal' = '\N'). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fmhost/gen.h"
#include "fmhost/gen_lua.h"
#include "fmhost/interp.h"

#define GEN "fmhost.gen.Gen"
#define STREAM "fmhost.gen.Stream"

static const char NULL_KEY = 'n'; /* registry: the NULL sentinel (pool's when it loads) */

/* Other bindings get the generator through fmh_lua_togen (fmhost/gen_lua.h),
 * never through this layout. */
typedef struct LGen {
  fmh_gen *g;         /* NULL once closed */
  struct rowbuf {
    fmh_gen_cursor *cur; /* scratch of the Lua-side calls (one Lua state: one at a time) */
    fmh_gen_value *v;
  } rb;
  int streams;        /* open streams, which read the generator from their threads */
  fmh_gen *held;      /* closed while streams were open: freed by the last one */
} LGen;

typedef struct rowbuf rowbuf;

typedef struct LStream {
  fmh_gen_stream *st;
  struct LGen *owner; /* pinned by the stream's user value */
} LStream;

static void push_null(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &NULL_KEY); }

static int is_null(lua_State *L, int i) {
  push_null(L);
  int eq = lua_rawequal(L, i, -1);
  lua_pop(L, 1);
  return eq;
}

static LGen *check_gen(lua_State *L, int i) {
  LGen *lg = luaL_checkudata(L, i, GEN);
  if (!lg->g) luaL_argerror(L, i, "generator is closed");
  return lg;
}

/* For other bindings (fmhost/gen_lua.h). */
const fmh_gen *fmh_lua_togen(lua_State *L, int idx, int *closed) {
  LGen *lg = luaL_testudata(L, idx, GEN);
  if (closed) *closed = lg && !lg->g;
  return lg ? lg->g : NULL;
}

/* ---- building ----------------------------------------------------------- */

/* a scalar Lua value as schema text; NULL when not a scalar */
static const char *scalar_text(lua_State *L, int i, char *buf, size_t cap) {
  switch (lua_type(L, i)) {
    case LUA_TSTRING: return lua_tostring(L, i);
    case LUA_TBOOLEAN: return lua_toboolean(L, i) ? "true" : "false";
    case LUA_TNUMBER:
      if (lua_isinteger(L, i)) snprintf(buf, cap, "%lld", (long long)lua_tointeger(L, i));
      else snprintf(buf, cap, "%.17g", (double)lua_tonumber(L, i));
      return buf;
    default: return NULL;
  }
}

static int column_from_table(lua_State *L, fmh_gen_schema *s, int t, int pos, fmh_error *e) {
  lua_getfield(L, t, "name");
  const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  if (!name) {
    lua_pop(L, 1);
    fmh_error_set(e, "config", 0, 0, "column %d: name must be a string", pos);
    return -1;
  }
  int col = fmh_gen_schema_add_column(s, name, e);
  lua_pop(L, 1);
  if (col < 0) return -1;
  char buf[64];
  /* the type first: its parameters may be overridden by keys */
  lua_getfield(L, t, "type");
  if (!lua_isnil(L, -1)) {
    const char *v = scalar_text(L, -1, buf, sizeof buf);
    if (!v || fmh_gen_column_set(s, col, "type", v, e) != 0) {
      if (!v) fmh_error_set(e, "config", 0, 0, "column '%s': type must be a string", name);
      lua_pop(L, 1);
      return -1;
    }
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      fmh_error_set(e, "config", 0, 0, "column '%s': keys must be strings", name);
      return -1;
    }
    const char *k = lua_tostring(L, -2);
    if (!strcmp(k, "name") || !strcmp(k, "type")) { lua_pop(L, 1); continue; }
    if (lua_istable(L, -1) && (!strcmp(k, "values") || !strcmp(k, "edges"))) {
      int vt = lua_gettop(L);
      lua_Integer n = (lua_Integer)lua_rawlen(L, vt);
      luaL_Buffer lb;
      int is_values = !strcmp(k, "values");
      if (!is_values) luaL_buffinit(L, &lb);
      for (lua_Integer j = 1; j <= n; j++) {
        lua_rawgeti(L, vt, j);
        size_t len;
        const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (!v) {
          lua_pop(L, is_values ? 3 : 4);
          fmh_error_set(e, "config", 0, 0, "column '%s': %s must be a list of strings", name, k);
          return -1;
        }
        if (is_values) {
          int rc = fmh_gen_column_add_value(s, col, v, len, e);
          lua_pop(L, 1);
          if (rc != 0) { lua_pop(L, 2); return -1; }
        } else {
          lua_pushvalue(L, -1);
          lua_remove(L, -2);
          if (j > 1) luaL_addchar(&lb, ',');
          luaL_addvalue(&lb);
        }
      }
      if (!is_values) {
        luaL_pushresult(&lb);
        int rc = fmh_gen_column_set(s, col, "edges", lua_tostring(L, -1), e);
        lua_pop(L, 1);
        if (rc != 0) { lua_pop(L, 2); return -1; }
      }
      lua_pop(L, 1);
      continue;
    }
    const char *v = scalar_text(L, -1, buf, sizeof buf);
    if (!v) {
      fmh_error_set(e, "config", 0, 0, "column '%s': %s must be a string, number or boolean", name, k);
      lua_pop(L, 2);
      return -1;
    }
    if (fmh_gen_column_set(s, col, k, v, e) != 0) { lua_pop(L, 2); return -1; }
    lua_pop(L, 1);
  }
  return 0;
}

static int schema_from_table(lua_State *L, fmh_gen_schema *s, int t, fmh_error *e) {
  static const char *const top[] = {"seed", "name", "time_zone", "dst_zone", "collation"};
  char buf[64];
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int known = k && (!strcmp(k, "columns") || !strcmp(k, "description"));
    for (size_t j = 0; k && j < sizeof top / sizeof top[0]; j++) known |= !strcmp(k, top[j]);
    lua_pop(L, 1);
    if (!known) {
      lua_pop(L, 1);
      fmh_error_set(e, "config", 0, 0, "unknown schema key '%s' (seed, name, time_zone, dst_zone, collation, columns)",
                    k ? k : "?");
      return -1;
    }
  }
  for (size_t j = 0; j < sizeof top / sizeof top[0]; j++) {
    lua_getfield(L, t, top[j]);
    if (!lua_isnil(L, -1)) {
      const char *v = scalar_text(L, -1, buf, sizeof buf);
      if (!v) { lua_pop(L, 1); fmh_error_set(e, "config", 0, 0, "schema %s must be a scalar", top[j]); return -1; }
      if (fmh_gen_schema_set(s, top[j], v, e) != 0) { lua_pop(L, 1); return -1; }
    }
    lua_pop(L, 1);
  }
  lua_getfield(L, t, "columns");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    fmh_error_set(e, "config", 0, 0, "a schema needs columns = { {name=, type=}, ... }");
    return -1;
  }
  int ct = lua_gettop(L);
  lua_Integer n = (lua_Integer)lua_rawlen(L, ct);
  for (lua_Integer j = 1; j <= n; j++) {
    lua_rawgeti(L, ct, j);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 2);
      fmh_error_set(e, "config", 0, 0, "column %d is not a table", (int)j);
      return -1;
    }
    int rc = column_from_table(L, s, lua_gettop(L), (int)j, e);
    lua_pop(L, 1);
    if (rc != 0) { lua_pop(L, 1); return -1; }
  }
  lua_pop(L, 1);
  return 0;
}

/* The options of gen.new and gen.load ({seed=}), read before a schema is
 * built so that nothing raises while one is held. Returns whether a seed
 * was given. */
static int read_seed(lua_State *L, int opts, uint64_t *seed) {
  *seed = 0;
  if (lua_isnoneornil(L, opts)) return 0;
  luaL_checktype(L, opts, LUA_TTABLE);
  lua_getfield(L, opts, "seed");
  int given = !lua_isnil(L, -1);
  if (given) {
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "option 'seed' must be an integer");
    *seed = (uint64_t)v;
  }
  lua_pop(L, 1);
  return given;
}

/* Push a Gen made from s (freed here). */
static int push_gen(lua_State *L, fmh_gen_schema *s, int seed_set, uint64_t seed) {
  fmh_error e = {0};
  LGen *lg = lua_newuserdatauv(L, sizeof *lg, 0);
  memset(lg, 0, sizeof *lg);
  luaL_setmetatable(L, GEN);
  lg->g = fmh_gen_new(s, seed_set, seed, &e);
  fmh_gen_schema_free(s);
  if (!lg->g) return fmh_fail(L, &e);
  return 1;
}

static int l_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  uint64_t seed;
  int seed_set = read_seed(L, 2, &seed);
  fmh_gen_schema *s = fmh_gen_schema_new();
  if (!s) return luaL_error(L, "out of memory");
  fmh_error e = {0};
  if (schema_from_table(L, s, 1, &e) != 0) {
    fmh_gen_schema_free(s);
    return fmh_fail(L, &e);
  }
  return push_gen(L, s, seed_set, seed);
}

static int l_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  uint64_t seed;
  int seed_set = read_seed(L, 2, &seed);
  char alt[4096];
  struct stat st;
  if (stat(path, &st) != 0 && !strchr(path, '/')) {
    /* a bare name: config/schemas/NAME(.yaml) of this build */
    const char *ext = strstr(path, ".yaml") || strstr(path, ".yml") ? "" : ".yaml";
    snprintf(alt, sizeof alt, "%s/config/schemas/%s%s", fmh_interp_root_dir(), path, ext);
    if (stat(alt, &st) == 0) path = alt;
  }
  fmh_error e = {0};
  fmh_gen_schema *s = fmh_gen_schema_load_yaml(path, &e);
  if (!s) return fmh_fail(L, &e);
  return push_gen(L, s, seed_set, seed);
}

static int l_gc(lua_State *L) {
  LGen *lg = luaL_checkudata(L, 1, GEN);
  fmh_gen_cursor_free(lg->rb.cur);
  free(lg->rb.v);
  lg->rb.cur = NULL;
  lg->rb.v = NULL;
  if (lg->streams > 0) lg->held = lg->g; /* the last stream frees it */
  else fmh_gen_free(lg->g);
  lg->g = NULL;
  return 0;
}

static int l_tostring(lua_State *L) {
  LGen *lg = luaL_checkudata(L, 1, GEN);
  if (!lg->g) lua_pushliteral(L, "fmhost.gen.Gen (closed)");
  else
    lua_pushfstring(L, "fmhost.gen.Gen(%s, %d columns, seed %I)", fmh_gen_name(lg->g)[0] ? fmh_gen_name(lg->g) : "-",
                    (int)fmh_gen_ncols(lg->g), (lua_Integer)fmh_gen_seed(lg->g));
  return 1;
}

/* ---- rows --------------------------------------------------------------- */

static int64_t check_row_index(lua_State *L, LGen *lg, int i) {
  lua_Integer r = luaL_checkinteger(L, i);
  luaL_argcheck(L, r >= 0, i, "rows are numbered from 0");
  if (r >= fmh_gen_row_limit(lg->g))
    luaL_argerror(L, i, lua_pushfstring(L, "row %I is past the row limit %I (a unique column ran out of values)", r,
                                        (lua_Integer)fmh_gen_row_limit(lg->g)));
  return r;
}

static size_t column_index(lua_State *L, LGen *lg, int i) {
  size_t n = fmh_gen_ncols(lg->g);
  if (lua_type(L, i) == LUA_TNUMBER) {
    lua_Integer k = luaL_checkinteger(L, i);
    luaL_argcheck(L, k >= 1 && (size_t)k <= n, i, "column index out of range");
    return (size_t)k - 1;
  }
  const char *name = luaL_checkstring(L, i);
  for (size_t k = 0; k < n; k++)
    if (!strcmp(fmh_gen_column_name(lg->g, k), name)) return k;
  luaL_argerror(L, i, lua_pushfstring(L, "no column named '%s'", name));
  return 0;
}

/* opts.plain: true (every column) or a list of names / 1-based indices.
 * Returns a flags array in a userdata left on the stack, or NULL. */
static unsigned char *plain_flags(lua_State *L, LGen *lg, int opts) {
  if (lua_isnoneornil(L, opts)) return NULL;
  luaL_checktype(L, opts, LUA_TTABLE);
  lua_getfield(L, opts, "plain");
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return NULL; }
  size_t n = fmh_gen_ncols(lg->g);
  int pt = lua_gettop(L);
  unsigned char *f = lua_newuserdatauv(L, n, 0);
  memset(f, lua_toboolean(L, pt) && !lua_istable(L, pt) ? 1 : 0, n);
  if (lua_istable(L, pt)) {
    lua_Integer m = (lua_Integer)lua_rawlen(L, pt);
    for (lua_Integer j = 1; j <= m; j++) {
      lua_rawgeti(L, pt, j);
      f[column_index(L, lg, lua_gettop(L))] = 1;
      lua_pop(L, 1);
    }
    /* also {name = true} */
    lua_pushnil(L);
    while (lua_next(L, pt) != 0) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_toboolean(L, -1)) f[column_index(L, lg, lua_gettop(L) - 1)] = 1;
      lua_pop(L, 1);
    }
  }
  lua_remove(L, pt);
  return f;
}

static void push_value(lua_State *L, const fmh_gen *g, size_t col, const fmh_gen_value *v) {
  char buf[64];
  switch (v->kind) {
    case FMH_GV_NULL: push_null(L); break;
    case FMH_GV_INT: case FMH_GV_BOOL: lua_pushinteger(L, (lua_Integer)v->n.i); break;
    case FMH_GV_UINT:
      if (v->n.u <= (uint64_t)INT64_MAX) lua_pushinteger(L, (lua_Integer)v->n.u);
      else { snprintf(buf, sizeof buf, "%" PRIu64, v->n.u); lua_pushstring(L, buf); }
      break;
    case FMH_GV_DOUBLE: case FMH_GV_FLOAT: lua_pushnumber(L, (lua_Number)v->n.d); break;
    case FMH_GV_DATE: case FMH_GV_TIME: case FMH_GV_DATETIME: case FMH_GV_TIMESTAMP:
      lua_pushlstring(L, buf, fmh_gen_format_temporal(g, v->kind, v->n.i, fmh_gen_column_fsp(g, col), buf));
      break;
    default: lua_pushlstring(L, v->s ? v->s : "", v->len); break;
  }
}

/* the generator's own scratch, made on first use */
static rowbuf *new_rowbuf(lua_State *L, LGen *lg) {
  if (!lg->rb.cur) {
    lg->rb.cur = fmh_gen_cursor_new(lg->g);
    lg->rb.v = calloc(fmh_gen_ncols(lg->g), sizeof *lg->rb.v);
    if (!lg->rb.cur || !lg->rb.v) luaL_error(L, "out of memory");
  }
  return &lg->rb;
}

static void gen_row(lua_State *L, LGen *lg, rowbuf *rb, int64_t row, const unsigned char *plain) {
  fmh_error e = {0};
  if (fmh_gen_row(rb->cur, row, plain, rb->v, &e) != 0) fmh_raise(L, &e);
}

static void push_row(lua_State *L, LGen *lg, rowbuf *rb, int by_name) {
  size_t n = fmh_gen_ncols(lg->g);
  lua_createtable(L, by_name ? 0 : (int)n, by_name ? (int)n : 0);
  for (size_t k = 0; k < n; k++) {
    push_value(L, lg->g, k, &rb->v[k]);
    if (by_name) {
      lua_setfield(L, -2, fmh_gen_column_name(lg->g, k));
    } else {
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
  }
}

static int row_common(lua_State *L, int by_name) {
  LGen *lg = check_gen(L, 1);
  int64_t row = check_row_index(L, lg, 2);
  unsigned char *plain = plain_flags(L, lg, 3);
  rowbuf *rb = new_rowbuf(L, lg);
  gen_row(L, lg, rb, row, plain);
  push_row(L, lg, rb, by_name);
  return 1;
}
static int l_row(lua_State *L) { return row_common(L, 0); }
static int l_record(lua_State *L) { return row_common(L, 1); }

static int l_rows(lua_State *L) {
  LGen *lg = check_gen(L, 1);
  int64_t from = luaL_checkinteger(L, 2), to = luaL_checkinteger(L, 3);
  luaL_argcheck(L, from >= 0 && to >= from, 3, "need 0 <= from <= to");
  luaL_argcheck(L, to - from <= 1000000, 3, "at most 1000000 rows at once (use a writer or a stream)");
  if (to > fmh_gen_row_limit(lg->g)) check_row_index(L, lg, 3);
  unsigned char *plain = plain_flags(L, lg, 4);
  int by_name = 0;
  if (lua_istable(L, 4)) by_name = fmh_opt_bool(L, 4, "by_name", 0);
  rowbuf *rb = new_rowbuf(L, lg);
  lua_createtable(L, (int)(to - from), 0);
  for (int64_t r = from; r < to; r++) {
    gen_row(L, lg, rb, r, plain);
    push_row(L, lg, rb, by_name);
    lua_rawseti(L, -2, (lua_Integer)(r - from + 1));
  }
  return 1;
}

static int l_explain(lua_State *L) {
  LGen *lg = check_gen(L, 1);
  int64_t row = check_row_index(L, lg, 2);
  rowbuf *rb = new_rowbuf(L, lg);
  gen_row(L, lg, rb, row, NULL);
  size_t n = fmh_gen_ncols(lg->g);
  lua_createtable(L, 0, (int)n);
  for (size_t k = 0; k < n; k++) {
    if (rb->v[k].kind == FMH_GV_NULL && rb->v[k].edge < 0) lua_pushliteral(L, "null");
    else if (rb->v[k].edge >= 0) lua_pushfstring(L, "edge:%s", fmh_gen_column_edge(lg->g, k, (size_t)rb->v[k].edge));
    else lua_pushliteral(L, "value");
    lua_setfield(L, -2, fmh_gen_column_name(lg->g, k));
  }
  return 1;
}

static int l_cell(lua_State *L) {
  LGen *lg = check_gen(L, 1);
  int64_t row = check_row_index(L, lg, 2);
  size_t col = column_index(L, lg, 3);
  rowbuf *rb = new_rowbuf(L, lg);
  gen_row(L, lg, rb, row, NULL);
  push_value(L, lg->g, col, &rb->v[col]);
  return 1;
}

static fmh_gen_format check_format(lua_State *L, const char *f, int arg) {
  if (!strcmp(f, "csv")) return FMH_GEN_CSV;
  if (!strcmp(f, "jsonl") || !strcmp(f, "json")) return FMH_GEN_JSONL;
  if (!strcmp(f, "sql")) return FMH_GEN_SQL;
  luaL_argerror(L, arg, lua_pushfstring(L, "format must be csv, jsonl or sql, not '%s'", f));
  return FMH_GEN_CSV;
}

static void out_opts(lua_State *L, int opts, fmh_gen_out *o) {
  if (lua_isnoneornil(L, opts)) return;
  luaL_checktype(L, opts, LUA_TTABLE);
  o->json_as_value = fmh_opt_bool(L, opts, "json_as_value", 0);
  o->decimal_as_string = fmh_opt_bool(L, opts, "decimal_as_string", 0);
  const char *d = fmh_opt_str(L, opts, "dialect", "mysql");
  if (!strcmp(d, "rfc4180")) o->rfc4180 = 1;
  else if (strcmp(d, "mysql")) luaL_error(L, "dialect must be 'mysql' or 'rfc4180', not '%s'", d);
}

static int l_text(lua_State *L) {
  LGen *lg = check_gen(L, 1);
  int64_t row = check_row_index(L, lg, 2);
  size_t col = column_index(L, lg, 3);
  fmh_gen_out o = {0};
  o.format = check_format(L, luaL_optstring(L, 4, "csv"), 4);
  rowbuf *rb = new_rowbuf(L, lg);
  gen_row(L, lg, rb, row, NULL);
  fmh_buf b = {0};
  if (fmh_gen_format_value(lg->g, col, &rb->v[col], &o, &b) != 0) { fmh_buf_free(&b); return luaL_error(L, "out of memory"); }
  lua_pushlstring(L, b.p ? b.p : "", b.len);
  fmh_buf_free(&b);
  return 1;
}

static int text_rows(lua_State *L, fmh_gen_format f) {
  LGen *lg = check_gen(L, 1);
  int64_t from = luaL_checkinteger(L, 2), to = luaL_checkinteger(L, 3);
  luaL_argcheck(L, from >= 0 && to >= from, 3, "need 0 <= from <= to");
  if (to > fmh_gen_row_limit(lg->g)) check_row_index(L, lg, 3);
  fmh_gen_out o = {0};
  o.format = f;
  out_opts(L, 4, &o);
  o.plain = plain_flags(L, lg, 4);
  rowbuf *rb = new_rowbuf(L, lg);
  fmh_buf b = {0};
  fmh_error e = {0};
  if (fmh_gen_append(rb->cur, &o, from, to, &b, &e) != 0) {
    fmh_buf_free(&b);
    return fmh_raise(L, &e);
  }
  lua_pushlstring(L, b.p ? b.p : "", b.len);
  fmh_buf_free(&b);
  return 1;
}
static int l_csv(lua_State *L) { return text_rows(L, FMH_GEN_CSV); }
static int l_jsonl(lua_State *L) { return text_rows(L, FMH_GEN_JSONL); }
static int l_sql_values(lua_State *L) { return text_rows(L, FMH_GEN_SQL); }

static int write_common(lua_State *L, int fixed, fmh_gen_format f) {
  LGen *lg = check_gen(L, 1);
  const char *path = luaL_checkstring(L, 2);
  int64_t from = luaL_checkinteger(L, 3), to = luaL_checkinteger(L, 4);
  luaL_argcheck(L, from >= 0 && to >= from, 4, "need 0 <= from <= to");
  fmh_gen_out o = {0};
  o.format = f;
  int threads = 1;
  if (!lua_isnoneornil(L, 5)) {
    luaL_checktype(L, 5, LUA_TTABLE);
    if (!fixed) o.format = check_format(L, fmh_opt_str(L, 5, "format", "csv"), 5);
    threads = (int)fmh_opt_int(L, 5, "threads", 1);
    luaL_argcheck(L, threads >= 1 && threads <= 64, 5, "threads must be 1..64");
    out_opts(L, 5, &o);
    o.plain = plain_flags(L, lg, 5);
  }
  fmh_error e = {0};
  int64_t n = fmh_gen_write_file(lg->g, &o, path, from, to, threads, &e);
  if (n < 0) return fmh_fail(L, &e);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}
static int l_write(lua_State *L) { return write_common(L, 0, FMH_GEN_CSV); }
static int l_write_csv(lua_State *L) { return write_common(L, 1, FMH_GEN_CSV); }
static int l_write_jsonl(lua_State *L) { return write_common(L, 1, FMH_GEN_JSONL); }
static int l_write_sql(lua_State *L) { return write_common(L, 1, FMH_GEN_SQL); }

/* ---- streams ------------------------------------------------------------ */

static int l_stream(lua_State *L) {
  LGen *lg = check_gen(L, 1);
  int64_t from = luaL_checkinteger(L, 2), to = luaL_checkinteger(L, 3);
  luaL_argcheck(L, from >= 0 && to >= from, 3, "need 0 <= from <= to");
  fmh_gen_out o = {0};
  int threads = 1;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    o.format = check_format(L, fmh_opt_str(L, 4, "format", "csv"), 4);
    threads = (int)fmh_opt_int(L, 4, "threads", 1);
    luaL_argcheck(L, threads >= 1 && threads <= 64, 4, "threads must be 1..64");
    out_opts(L, 4, &o);
    if (plain_flags(L, lg, 4)) return luaL_argerror(L, 4, "streams take no plain option");
  }
  LStream *ls = lua_newuserdatauv(L, sizeof *ls, 1);
  ls->st = NULL;
  ls->owner = NULL;
  luaL_setmetatable(L, STREAM);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the stream pins its generator */
  fmh_error e = {0};
  ls->st = fmh_gen_stream_new(lg->g, &o, from, to, threads, &e);
  if (!ls->st) return fmh_fail(L, &e);
  ls->owner = lg;
  lg->streams++;
  return 1;
}

static LStream *check_stream(lua_State *L) {
  LStream *ls = luaL_checkudata(L, 1, STREAM);
  if (!ls->st) luaL_argerror(L, 1, "stream is closed");
  return ls;
}

static int l_stream_read(lua_State *L) {
  LStream *ls = check_stream(L);
  lua_Integer max = luaL_optinteger(L, 2, 1 << 20);
  luaL_argcheck(L, max > 0, 2, "max must be positive");
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)max);
  fmh_error e = {0};
  long n = fmh_gen_stream_read(ls->st, p, (size_t)max, &e);
  if (n < 0) return fmh_fail(L, &e);
  if (n == 0) { lua_pushnil(L); return 1; }
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

static int l_stream_rows(lua_State *L) {
  LStream *ls = check_stream(L);
  lua_pushinteger(L, (lua_Integer)fmh_gen_stream_rows(ls->st));
  return 1;
}

static int l_stream_close(lua_State *L) {
  LStream *ls = luaL_checkudata(L, 1, STREAM);
  if (!ls->st) return fmh_push_closed(L, 0);
  fmh_gen_stream_free(ls->st); /* joins its threads */
  ls->st = NULL;
  LGen *lg = ls->owner;
  ls->owner = NULL;
  if (lg && --lg->streams == 0 && lg->held) {
    fmh_gen_free(lg->held);
    lg->held = NULL;
  }
  return fmh_push_closed(L, 1);
}

/* ---- description -------------------------------------------------------- */

static int l_schema(lua_State *L) {
  LGen *lg = check_gen(L, 1);
  fmh_gen *g = lg->g;
  size_t n = fmh_gen_ncols(g);
  lua_createtable(L, 0, 6);
  fmh_set_str(L, "name", fmh_gen_name(g));
  fmh_set_int(L, "seed", (lua_Integer)fmh_gen_seed(g));
  fmh_set_str(L, "time_zone", fmh_gen_time_zone(g));
  fmh_set_int(L, "row_limit", (lua_Integer)fmh_gen_row_limit(g));
  lua_createtable(L, (int)n, 0);
  static const char *const dists[] = {"uniform", "sequential", "zipf"};
  for (size_t k = 0; k < n; k++) {
    fmh_gen_colinfo c;
    fmh_gen_column_info(g, k, &c);
    lua_createtable(L, 0, 24);
    fmh_set_str(L, "name", c.name);
    fmh_set_str(L, "type", c.type_name);
    fmh_set_str(L, "sql_type", c.sql_type);
    fmh_set_bool(L, "unsigned", c.is_unsigned);
    if (c.type == FMH_GEN_DECIMAL) { fmh_set_int(L, "precision", c.precision); fmh_set_int(L, "scale", c.scale); }
    if (c.length >= 0 && (c.type >= FMH_GEN_CHAR && c.type <= FMH_GEN_LONGBLOB)) {
      fmh_set_int(L, "length", c.length);
      fmh_set_int(L, "max_bytes", (lua_Integer)c.max_bytes);
      fmh_set_int(L, "min_length", c.min_length);
    }
    if (c.type >= FMH_GEN_CHAR && c.type <= FMH_GEN_LONGTEXT) fmh_set_str(L, "charset", c.charset);
    if (c.type >= FMH_GEN_TIME && c.type <= FMH_GEN_TIMESTAMP) fmh_set_int(L, "fsp", c.fsp);
    if (c.type == FMH_GEN_JSON) { fmh_set_int(L, "depth", c.depth); fmh_set_int(L, "width", c.width); fmh_set_int(L, "edge_depth", c.edge_depth); }
    fmh_set_bool(L, "nullable", c.nullable);
    fmh_set_bool(L, "unique", c.unique);
    fmh_set_bool(L, "primary_key", c.primary_key);
    fmh_set_num(L, "null_ratio", c.null_ratio);
    fmh_set_num(L, "edge_ratio", c.edge_ratio);
    fmh_set_str(L, "distribution", dists[c.dist]);
    if (c.dist == FMH_GEN_ZIPF) { fmh_set_int(L, "zipf_n", c.zipf_n); fmh_set_num(L, "zipf_s", c.zipf_s); }
    if (c.cardinality) fmh_set_int(L, "cardinality", c.cardinality);
    if (c.min[0]) fmh_set_str(L, "min", c.min);
    if (c.max[0]) fmh_set_str(L, "max", c.max);
    if (c.start[0]) fmh_set_str(L, "start", c.start);
    if (c.step[0]) fmh_set_str(L, "step", c.step);
    if (c.nvalues) {
      lua_createtable(L, (int)c.nvalues, 0);
      for (size_t j = 0; j < c.nvalues; j++) {
        lua_pushlstring(L, c.values[j], c.value_lens[j]);
        lua_rawseti(L, -2, (lua_Integer)j + 1);
      }
      lua_setfield(L, -2, "values");
    }
    lua_createtable(L, (int)c.nedges, 0);
    for (size_t j = 0; j < c.nedges; j++) {
      lua_pushstring(L, fmh_gen_column_edge(g, k, j));
      lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    lua_setfield(L, -2, "edges");
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_setfield(L, -2, "columns");
  return 1;
}

static int l_columns(lua_State *L) {
  LGen *lg = check_gen(L, 1);
  size_t n = fmh_gen_ncols(lg->g);
  lua_createtable(L, (int)n, 0);
  for (size_t k = 0; k < n; k++) {
    fmh_gen_colinfo c;
    fmh_gen_column_info(lg->g, k, &c);
    lua_pushstring(L, c.name);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  return 1;
}

static int l_create_table_sql(lua_State *L) {
  LGen *lg = check_gen(L, 1);
  const char *name = luaL_optstring(L, 2, fmh_gen_name(lg->g)[0] ? fmh_gen_name(lg->g) : NULL);
  if (!name) return luaL_argerror(L, 2, "a table name is required (the schema has none)");
  char *sql = fmh_gen_create_table_sql(lg->g, name);
  if (!sql) return luaL_error(L, "out of memory");
  lua_pushstring(L, sql);
  free(sql);
  return 1;
}

static int l_load_data_sql(lua_State *L) {
  LGen *lg = check_gen(L, 1);
  const char *table = luaL_checkstring(L, 2);
  const char *path = luaL_checkstring(L, 3);
  int local = 1;
  if (!lua_isnoneornil(L, 4)) local = fmh_opt_bool(L, 4, "local", 1);
  char *sql = fmh_gen_load_data_sql(lg->g, table, path, local);
  if (!sql) return luaL_error(L, "out of memory");
  lua_pushstring(L, sql);
  free(sql);
  return 1;
}

static int l_row_limit(lua_State *L) { lua_pushinteger(L, (lua_Integer)fmh_gen_row_limit(check_gen(L, 1)->g)); return 1; }
static int l_seed(lua_State *L) { lua_pushinteger(L, (lua_Integer)fmh_gen_seed(check_gen(L, 1)->g)); return 1; }
static int l_ncols(lua_State *L) { lua_pushinteger(L, (lua_Integer)fmh_gen_ncols(check_gen(L, 1)->g)); return 1; }
static int l_name(lua_State *L) { lua_pushstring(L, fmh_gen_name(check_gen(L, 1)->g)); return 1; }
static int l_time_zone(lua_State *L) { lua_pushstring(L, fmh_gen_time_zone(check_gen(L, 1)->g)); return 1; }

/* ---- module functions ------------------------------------------------------ */

static int l_flatten(lua_State *L) {
  size_t len;
  const char *json = luaL_checklstring(L, 1, &len);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
  luaL_argcheck(L, n <= 4096, 2, "at most 4096 paths");
  const char **paths = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n ? n : 1), 0);
  for (lua_Integer k = 1; k <= n; k++) {
    lua_rawgeti(L, 2, k);
    if (lua_type(L, -1) != LUA_TSTRING) return luaL_argerror(L, 2, "paths must be strings");
    paths[k - 1] = lua_tostring(L, -1);
    lua_pop(L, 1); /* anchored by the paths table */
  }
  fmh_gen_value *v = lua_newuserdatauv(L, sizeof *v * (size_t)(n ? n : 1), 0);
  fmh_buf b = {0};
  fmh_error e = {0};
  if (fmh_gen_flatten(json, len, paths, (size_t)n, v, &b, &e) != 0) {
    fmh_buf_free(&b);
    return fmh_fail(L, &e);
  }
  lua_createtable(L, (int)n, 0);
  lua_createtable(L, (int)n, 0);
  for (lua_Integer k = 0; k < n; k++) {
    const char *kind = "null";
    switch (v[k].kind) {
      case FMH_GV_NULL: push_null(L); break;
      case FMH_GV_BOOL: lua_pushboolean(L, (int)v[k].n.i); kind = "boolean"; break;
      case FMH_GV_TEXT: lua_pushlstring(L, v[k].s, v[k].len); kind = "string"; break;
      case FMH_GV_JSON:
        lua_pushlstring(L, v[k].s, v[k].len);
        kind = v[k].s[0] == '{' ? "object" : "array";
        break;
      default: {
        /* a number: an integer when it is one that fits, else its exact text */
        lua_pushlstring(L, v[k].s, v[k].len);
        kind = "number";
        int integral = v[k].len < 20;
        for (size_t j = 0; j < v[k].len && integral; j++) integral = (v[k].s[j] >= '0' && v[k].s[j] <= '9') || (j == 0 && v[k].s[j] == '-');
        if (integral && !(v[k].len == 2 && v[k].s[0] == '-' && v[k].s[1] == '0')) {
          char num[24];
          memcpy(num, v[k].s, v[k].len);
          num[v[k].len] = 0; /* the values sit back to back in b */
          errno = 0;
          long long i = strtoll(num, NULL, 10);
          if (errno == 0) {
            lua_pop(L, 1);
            lua_pushinteger(L, (lua_Integer)i);
          }
        }
      }
    }
    lua_rawseti(L, -3, k + 1);
    lua_pushstring(L, kind);
    lua_rawseti(L, -2, k + 1);
  }
  fmh_buf_free(&b);
  return 2;
}

static int l_format_double(lua_State *L) {
  lua_Number x = luaL_checknumber(L, 1);
  const char *style = luaL_optstring(L, 2, "double");
  char buf[64];
  char *e;
  if (!strcmp(style, "float")) e = fmh_gen_format_float(buf, (float)x);
  else if (!strcmp(style, "double")) e = fmh_gen_format_double(buf, (double)x);
  else return luaL_argerror(L, 2, "style must be 'double' or 'float'");
  lua_pushlstring(L, buf, (size_t)(e - buf));
  return 1;
}

static int l_is_null(lua_State *L) {
  lua_pushboolean(L, lua_isnoneornil(L, 1) || is_null(L, 1));
  return 1;
}

static int l_check_row(lua_State *L) {
  check_gen(L, 1);
  lua_settop(L, 2);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "fmhost.check.rows");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "row");
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 2, 1);
  return 1;
}

static const luaL_Reg gen_methods[] = {
    {"row", l_row}, {"record", l_record}, {"rows", l_rows}, {"explain", l_explain}, {"cell", l_cell},
    {"text", l_text}, {"csv", l_csv}, {"jsonl", l_jsonl}, {"sql_values", l_sql_values}, {"write", l_write},
    {"write_csv", l_write_csv}, {"write_jsonl", l_write_jsonl}, {"write_sql", l_write_sql}, {"stream", l_stream},
    {"schema", l_schema}, {"columns", l_columns}, {"create_table_sql", l_create_table_sql},
    {"load_data_sql", l_load_data_sql}, {"row_limit", l_row_limit}, {"seed", l_seed}, {"ncols", l_ncols},
    {"name", l_name}, {"time_zone", l_time_zone}, {"check_row", l_check_row}, {NULL, NULL}};
static const luaL_Reg gen_meta[] = {{"__gc", l_gc}, {"__close", l_gc}, {"__tostring", l_tostring}, {NULL, NULL}};
static const luaL_Reg stream_methods[] = {
    {"read", l_stream_read}, {"rows", l_stream_rows}, {"close", l_stream_close}, {NULL, NULL}};
static const luaL_Reg stream_meta[] = {{"__gc", l_stream_close}, {"__close", l_stream_close}, {NULL, NULL}};
static const luaL_Reg gen_funcs[] = {
    {"new", l_new}, {"load", l_load}, {"flatten", l_flatten}, {"format_double", l_format_double},
    {"is_null", l_is_null}, {"check_row", l_check_row}, {NULL, NULL}};

int luaopen_fmhost_gen(lua_State *L) {
  fmh_newclass(L, GEN, gen_methods, gen_meta);
  fmh_newclass(L, STREAM, stream_methods, stream_meta);
  /* NULL: the pool's sentinel, so generated rows and rows read back compare */
  fmh_push_pool_null(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &NULL_KEY);
  fmh_newmodule(L, "fmhost.gen", gen_funcs);
  push_null(L);
  lua_setfield(L, -2, "NULL");
  return 1;
}
