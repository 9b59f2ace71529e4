/* fmhost.pool, part: bulk load (p:load), the stress run, the FIFO probe and
 * the benchmark row source (pool.bench_source). The module's header comment
 * in bindings/pool.c gives what Lua sees. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmhost/gen.h"
#include "fmhost/gen_lua.h"
#include "fmhost/interp.h"
#include "fmhost/pool.h"
#include "pool_lua_int.h"

/* --- bulk load and stress ------------------------------------------------ */

/* The row source (fmhost/rowsource.h) of the Lua value at i: a
 * bench_source{}, or a generator, whose source is made in *gen_src. */
static const fmh_row_source *check_source(lua_State *L, int i, fmh_row_source *gen_src, const char *what) {
  LSource *bs = luaL_testudata(L, i, SOURCE);
  if (bs) return &bs->src;
  int closed = 0;
  const fmh_gen *g = fmh_lua_togen(L, i, &closed);
  if (g || closed) {
    fmh_gen_row_source(g, gen_src);
    return gen_src;
  }
  luaL_error(L, "%s: source must be a row source (pool.bench_source{} or a generator)", what);
  return NULL;
}

/* from = a failed load's info (or a result): its committed and uncertain
 * lists; or a bare list of {first, count}. */
static fmh_range *read_ranges(lua_State *L, int t, const char *what, size_t *n) {
  *n = 0;
  if (lua_isnil(L, t)) return NULL;
  if (!lua_istable(L, t)) luaL_error(L, "load: '%s' must be a list of {first, count}", what);
  size_t len = (size_t)lua_rawlen(L, t);
  fmh_range *v = lua_newuserdatauv(L, (len ? len : 1) * sizeof *v, 0); /* freed with the call */
  for (size_t i = 0; i < len; i++) {
    lua_rawgeti(L, t, (lua_Integer)i + 1);
    int ok = lua_istable(L, -1);
    lua_Integer f = 0, c = 0;
    if (ok) {
      int a, b;
      lua_rawgeti(L, -1, 1);
      f = lua_tointegerx(L, -1, &a);
      lua_rawgeti(L, -2, 2);
      c = lua_tointegerx(L, -1, &b);
      lua_pop(L, 2);
      ok = a && b && f >= 0 && c >= 0;
    }
    if (!ok) luaL_error(L, "load: %s[%d] must be {first, count} with integers >= 0", what, (int)i + 1);
    lua_pop(L, 1);
    v[i] = (fmh_range){(uint64_t)f, (uint64_t)c};
  }
  *n = len;
  return v;
}

static void push_ranges(lua_State *L, const fmh_range *v, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, (lua_Integer)v[i].first);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, (lua_Integer)v[i].count);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* What is committed, into the table on top (a result or a failure's info). */
static void set_load_fields(lua_State *L, const fmh_bulk_result *r) {
  fmh_plua_set_int(L, "rows", (lua_Integer)r->rows);
  fmh_plua_set_int(L, "duplicates", (lua_Integer)r->duplicates);
  fmh_plua_set_int(L, "statements", (lua_Integer)r->statements);
  fmh_plua_set_int(L, "bytes", (lua_Integer)r->bytes);
  fmh_plua_set_int(L, "warnings", (lua_Integer)r->warnings);
  fmh_plua_set_int(L, "threads", r->threads);
  fmh_plua_set_int(L, "rows_committed", (lua_Integer)r->rows_committed);
  fmh_plua_set_int(L, "rows_resumed", (lua_Integer)r->rows_resumed);
  push_ranges(L, r->committed, r->ncommitted);
  lua_setfield(L, -2, "committed");
  push_ranges(L, r->uncertain, r->nuncertain);
  lua_setfield(L, -2, "uncertain");
  lua_pushboolean(L, r->journaled);
  lua_setfield(L, -2, "journaled");
  fmh_plua_set_num(L, "wall_s", r->wall_s);
}

int fmh_plua_load(lua_State *L) {
  LPool *lp = fmh_plua_check_pool(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  fmh_bulk_opts o;
  memset(&o, 0, sizeof o);
  o.table = fmh_opt_str(L, 2, "table", NULL);
  if (!o.table) return luaL_error(L, "load: option 'table' is required");
  lua_getfield(L, 2, "source");
  fmh_row_source gen_src;
  const fmh_row_source *src = check_source(L, -1, &gen_src, "load");
  lua_Integer rows = fmh_opt_int(L, 2, "rows", -1), first = fmh_opt_int(L, 2, "first", 0);
  if (rows < 0 || first < 0) return luaL_error(L, "load: 'rows' (required) and 'first' must be >= 0");
  o.rows = (uint64_t)rows;
  o.first = (uint64_t)first;
  o.threads = (int)fmh_opt_int(L, 2, "threads", 1);
  const char *method = fmh_opt_str(L, 2, "method", "infile");
  if (strcmp(method, "infile") == 0) o.method = FMH_BULK_INFILE;
  else if (strcmp(method, "insert") == 0) o.method = FMH_BULK_INSERT;
  else return luaL_error(L, "load: method must be 'infile' or 'insert', not '%s'", method);
  o.chunk_rows = (uint64_t)fmh_opt_int(L, 2, "chunk_rows", 0);
  o.batch_rows = (uint64_t)fmh_opt_int(L, 2, "batch_rows", 0);
  o.batch_bytes = (size_t)fmh_opt_int(L, 2, "batch_bytes", 0);
  o.resume = fmh_opt_bool(L, 2, "resume", 0);
  o.journal = fmh_opt_str(L, 2, "journal", NULL);
  o.load_id = fmh_opt_str(L, 2, "load_id", NULL);
  o.progress = fmh_opt_bool(L, 2, "progress", isatty(STDERR_FILENO));
  lua_getfield(L, 2, "from");
  int from = lua_gettop(L);
  if (!lua_isnil(L, from)) {
    if (!lua_istable(L, from))
      return luaL_error(L, "load: 'from' must be a load's info or result, or a list of {first, count}");
    lua_getfield(L, from, "committed");
    if (!lua_isnil(L, -1)) {
      o.done = read_ranges(L, lua_gettop(L), "from.committed", &o.ndone);
      lua_getfield(L, from, "uncertain");
      o.doubt = read_ranges(L, lua_gettop(L), "from.uncertain", &o.ndoubt);
    } else {
      o.done = read_ranges(L, from, "from", &o.ndone);
    }
  }
  fmh_bulk_result r;
  fmh_error e = {0};
  int rc = fmh_pool_load(lp->p, src, &o, &r, &e);
  if (rc != 0 && e.kind && strcmp(e.kind, "usage") == 0) {
    fmh_bulk_result_free(&r);
    return fmh_plua_push_fail(L, &e); /* raises */
  }
  if (rc != 0) {
    int n = fmh_plua_push_fail(L, &e);
    set_load_fields(L, &r);
    fmh_bulk_result_free(&r);
    return n;
  }
  lua_createtable(L, 0, 16);
  set_load_fields(L, &r);
  fmh_plua_set_num(L, "rows_per_s", r.wall_s > 0 ? (double)r.rows / r.wall_s : 0);
  fmh_bulk_result_free(&r);
  return 1;
}

int fmh_plua_stress(lua_State *L) {
  LPool *lp = fmh_plua_check_pool(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  fmh_stress_opts o;
  o.threads = (int)fmh_opt_int(L, 2, "threads", 8);
  o.acquires = (int)fmh_opt_int(L, 2, "acquires", 100);
  o.hold_us_max = (int)fmh_opt_int(L, 2, "hold_us_max", 1000);
  o.query = fmh_opt_bool(L, 2, "query", 0);
  o.timeout_ms = (int)fmh_opt_int(L, 2, "timeout_ms", -1);
  o.seed = (uint64_t)fmh_opt_int(L, 2, "seed", 1);
  fmh_stress_result r;
  fmh_error e = {0};
  if (fmh_pool_stress(lp->p, &o, &r, &e) != 0) return fmh_plua_push_fail(L, &e);
  lua_createtable(L, 0, 8);
  fmh_plua_set_int(L, "acquired", (lua_Integer)r.acquired);
  fmh_plua_set_int(L, "timeouts", (lua_Integer)r.timeouts);
  fmh_plua_set_int(L, "errors", (lua_Integer)r.errors);
  fmh_plua_set_int(L, "queries", (lua_Integer)r.queries);
  fmh_plua_set_int(L, "max_in_use", r.max_in_use);
  fmh_plua_set_num(L, "wall_s", r.wall_s);
  fmh_plua_set_int(L, "seed", (lua_Integer)o.seed);
  if (r.first_error[0]) {
    lua_pushstring(L, r.first_error);
    lua_setfield(L, -2, "first_error");
  }
  return 1;
}

int fmh_plua_fifo_probe(lua_State *L) {
  LPool *lp = fmh_plua_check_pool(L, 1);
  int n = (int)luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 1 && n <= 256, 2, "1..256 waiters");
  int served[256];
  fmh_error e = {0};
  if (fmh_pool_fifo_probe(lp->p, n, served, &e) != 0) return fmh_plua_push_fail(L, &e);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, served[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* --- the benchmark source ------------------------------------------------- */

int fmh_plua_bench_source(lua_State *L) {
  lua_Integer seed = 1;
  if (!lua_isnoneornil(L, 1)) seed = fmh_opt_int(L, 1, "seed", 1);
  LSource *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->seed = (uint64_t)seed;
  fmh_bench_source_init(&s->src, &s->seed);
  luaL_setmetatable(L, SOURCE);
  return 1;
}

static LSource *check_bsource(lua_State *L) { return luaL_checkudata(L, 1, SOURCE); }

static uint64_t check_rowno(lua_State *L, int i) {
  lua_Integer k = luaL_checkinteger(L, i);
  luaL_argcheck(L, k >= 0, i, "row numbers start at 0");
  return (uint64_t)k;
}

int fmh_plua_bsource_row(lua_State *L) {
  LSource *s = check_bsource(L);
  fmh_bench_row r;
  fmh_bench_row_make(s->seed, check_rowno(L, 2), &r);
  lua_createtable(L, 0, 7);
  fmh_plua_set_int(L, "id", r.id);
  fmh_plua_set_int(L, "i", r.i);
  lua_pushstring(L, r.d);
  lua_setfield(L, -2, "d");
  fmh_plua_set_num(L, "f", r.f);
  if (r.s_null) fmh_plua_push_null(L);
  else lua_pushlstring(L, r.s, r.s_len);
  lua_setfield(L, -2, "s");
  lua_pushstring(L, r.ts);
  lua_setfield(L, -2, "ts");
  fmh_plua_set_int(L, "b", r.b);
  return 1;
}

static int bsource_format(lua_State *L, int format) {
  LSource *s = check_bsource(L);
  fmh_bench_row r;
  fmh_bench_row_make(s->seed, check_rowno(L, 2), &r);
  char buf[1024];
  size_t n = fmh_bench_row_format(&r, format, buf, sizeof buf);
  lua_pushlstring(L, buf, n);
  return 1;
}

int fmh_plua_bsource_csv(lua_State *L) { return bsource_format(L, FMH_ROW_CSV); }
int fmh_plua_bsource_sql(lua_State *L) { return bsource_format(L, FMH_ROW_SQL); }

int fmh_plua_bsource_write_csv(lua_State *L) {
  LSource *s = check_bsource(L);
  const char *path = luaL_checkstring(L, 2);
  uint64_t first = check_rowno(L, 3), count = check_rowno(L, 4);
  fmh_error e = {0};
  if (fmh_source_write_file(&s->src, FMH_ROW_CSV, path, NULL, first, count, 0, &e) != 0) return fmh_plua_push_fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

int fmh_plua_bsource_write_sql(lua_State *L) {
  LSource *s = check_bsource(L);
  const char *path = luaL_checkstring(L, 2);
  const char *table = luaL_checkstring(L, 3);
  uint64_t first = check_rowno(L, 4), count = check_rowno(L, 5);
  uint64_t batch = (uint64_t)luaL_optinteger(L, 6, 1000);
  fmh_error e = {0};
  if (fmh_source_write_file(&s->src, FMH_ROW_SQL, path, table, first, count, batch, &e) != 0)
    return fmh_plua_push_fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

int fmh_plua_bsource_ddl(lua_State *L) {
  check_bsource(L);
  const char *name = luaL_checkstring(L, 2);
  lua_pushfstring(L, FMH_BENCH_DDL("%s"), name);
  return 1;
}

int fmh_plua_bsource_index(lua_State *L) {
  LSource *s = check_bsource(L);
  const char *k = luaL_checkstring(L, 2);
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (strcmp(k, "seed") == 0) lua_pushinteger(L, (lua_Integer)s->seed);
  else if (strcmp(k, "columns") == 0) lua_pushstring(L, s->src.columns);
  else lua_pushnil(L);
  return 1;
}
