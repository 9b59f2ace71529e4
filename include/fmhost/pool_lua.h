/* fmhost.pool for other bindings: the fmh_pool inside a Lua fmhost.pool.Pool.
 *
 * A binding that takes a pool from Lua (fmhost.validate, say) asks for it
 * here instead of reading the userdata's memory, so bindings/pool.c may
 * change its Pool userdata freely. The pointer stays valid while the Pool
 * value is reachable from Lua and not closed: keep the value on the stack
 * (or in a table that is) while using the pool. Defined in bindings/pool.c. */
#ifndef FMHOST_POOL_LUA_H
#define FMHOST_POOL_LUA_H

#include <lua.h>

#include "fmhost/pool.h"

/* The open pool of the fmhost.pool.Pool at idx; NULL when the value there
 * is not a Pool, or is a closed one (then *closed = 1 when closed is not
 * NULL). Never raises. */
fmh_pool *fmh_lua_topool(lua_State *L, int idx, int *closed);

/* The open pool of the fmhost.pool.Pool at idx; raises an argument error
 * when the value there is not a Pool or the pool is closed. */
fmh_pool *fmh_lua_checkpool(lua_State *L, int idx);

#endif
