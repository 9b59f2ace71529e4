/* fmhost.gen for other bindings: the fmh_gen inside a Lua fmhost.gen.Gen.
 *
 * A binding that takes a generator from Lua (fmhost.nats's bulk publish,
 * say) asks for it here instead of reading the userdata's memory, so
 * bindings/gen.c may change its Gen userdata freely. The generator stays
 * valid while the Gen value is reachable from Lua and not closed: keep the
 * value on the stack while using it (a generator is immutable; any thread
 * may read it with its own fmh_gen_cursor). Defined in bindings/gen.c. */
#ifndef FMHOST_GEN_LUA_H
#define FMHOST_GEN_LUA_H

#include <lua.h>

#include "fmhost/gen.h"

/* The open generator of the fmhost.gen.Gen at idx; NULL when the value
 * there is not a Gen, or is a closed one (then *closed = 1 when closed is
 * not NULL). Never raises. */
const fmh_gen *fmh_lua_togen(lua_State *L, int idx, int *closed);

#endif
