/* fmhost.hash: Lua face of the keyed row digest the validator uses where
 * both sides of a comparison are hashed in fmhost (validate.checksum with
 * no server hashing), so that a user can check it and reproduce a value.
 *
 * Lua sees:
 *   hash.siphash24(key, data) -> integer   SipHash-2-4 (the paper's form)
 *   hash.siphash13(key, data) -> integer   SipHash-1-3 (the validator's)
 * key: a string of exactly 16 bytes; data: any string. The 64-bit result
 * is a Lua integer (string.format('%016x', h) prints it as the paper does). */
#include <string.h>

#include "fmhost/interp.h"
#include "fmhost/siphash.h"

/* fn(key, data) of the call's two arguments; key: exactly 16 bytes. */
static int keyed(lua_State *L, uint64_t (*fn)(const unsigned char *, const void *, size_t)) {
  size_t kn, n;
  const char *k = luaL_checklstring(L, 1, &kn);
  if (kn != 16) luaL_argerror(L, 1, lua_pushfstring(L, "the key must be 16 bytes, not %d", (int)kn));
  const char *d = luaL_checklstring(L, 2, &n);
  lua_pushinteger(L, (lua_Integer)fn((const unsigned char *)k, d, n));
  return 1;
}

static int l_siphash24(lua_State *L) { return keyed(L, fmh_siphash24); }
static int l_siphash13(lua_State *L) { return keyed(L, fmh_siphash13); }

static const luaL_Reg hash_funcs[] = {
    {"siphash24", l_siphash24},
    {"siphash13", l_siphash13},
    {NULL, NULL},
};

int luaopen_fmhost_hash(lua_State *L) {
  luaL_newlib(L, hash_funcs);
  return 1;
}
