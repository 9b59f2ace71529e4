/* What the parts of the module fmhost.validate share: bindings/validate.c
 * (the module: options, compare, checksum, schema, quality, helpers) and
 * bindings/validate/verdict.c (the verdict as a Lua table, and format, which
 * reads it back into C for the shared text). Private to the module. */
#ifndef FMHOST_BINDINGS_VALIDATE_LUA_H
#define FMHOST_BINDINGS_VALIDATE_LUA_H

#include "fmhost/interp.h"
#include "fmhost/validate.h"

/* Keep the value on top of the stack (pool.NULL) as the module's SQL NULL;
 * pops it. */
void fmh_vlua_set_null(lua_State *L);
/* Push the module's SQL NULL. */
void fmh_vlua_push_null(lua_State *L);
/* Push v as the verdict table v.format and the specs read. */
void fmh_vlua_push_verdict(lua_State *L, const fmh_verdict *v);
/* Set t[field] (t on top) to the keys k[0..n) / the strings names[0..n). */
void fmh_vlua_push_keys(lua_State *L, const char *field, const fmh_vkey *k, size_t n);
void fmh_vlua_push_names(lua_State *L, const char *field, char **names, size_t n);
/* validate.format(verdict, parts) -> text */
int fmh_vlua_format(lua_State *L);

#endif
