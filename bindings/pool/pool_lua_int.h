/* What the parts of the module fmhost.pool share: bindings/pool.c (the
 * module, Pool, Conn, Cursor, values) and bindings/pool/load.c (p:load,
 * p:stress, p:fifo_probe and the benchmark row source). Private to the
 * module; other bindings use fmhost/pool_lua.h. */
#ifndef FMHOST_BINDINGS_POOL_LUA_INT_H
#define FMHOST_BINDINGS_POOL_LUA_INT_H

#include <stdint.h>

#include "fmhost/interp.h"
#include "fmhost/pool.h"

#define POOL "fmhost.pool.Pool"
#define SOURCE "fmhost.pool.BenchSource"

typedef struct LPool {
  fmh_pool *p;
} LPool;

typedef struct LSource {
  fmh_row_source src;
  uint64_t seed;
} LSource;

/* bindings/pool.c */
void fmh_plua_push_null(lua_State *L);
/* Expected failures return nil, msg, info (with info.class); misuse raises. */
int fmh_plua_push_fail(lua_State *L, fmh_error *e);
LPool *fmh_plua_check_pool(lua_State *L, int i);
/* t[k] = v for the table on top */
void fmh_plua_set_int(lua_State *L, const char *k, lua_Integer v);
void fmh_plua_set_num(lua_State *L, const char *k, double v);

/* bindings/pool/load.c: Pool methods, module functions and the BenchSource class */
int fmh_plua_load(lua_State *L);
int fmh_plua_stress(lua_State *L);
int fmh_plua_fifo_probe(lua_State *L);
int fmh_plua_bench_source(lua_State *L);
int fmh_plua_bsource_row(lua_State *L);
int fmh_plua_bsource_csv(lua_State *L);
int fmh_plua_bsource_sql(lua_State *L);
int fmh_plua_bsource_write_csv(lua_State *L);
int fmh_plua_bsource_write_sql(lua_State *L);
int fmh_plua_bsource_ddl(lua_State *L);
int fmh_plua_bsource_index(lua_State *L);

#endif
