/* fmhost.validate, part: the verdict as a Lua table, and format, which
 * reads a verdict table back into C so that Lua and C print it alike (the
 * module's header comment in bindings/validate.c gives the table). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmhost/interp.h"
#include "fmhost/validate.h"
#include "validate_lua.h"

static const char NULL_KEY = 'v';

void fmh_vlua_set_null(lua_State *L) { lua_rawsetp(L, LUA_REGISTRYINDEX, &NULL_KEY); }

void fmh_vlua_push_null(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &NULL_KEY); }

/* --- the verdict as a Lua table ------------------------------------------ */

static void push_part(lua_State *L, const fmh_vkey_part *p) {
  switch (p->kind) {
    case FMH_VK_NULL: fmh_vlua_push_null(L); break;
    case FMH_VK_INT: lua_pushinteger(L, p->i); break;
    case FMH_VK_UINT:
      if (p->u <= (uint64_t)INT64_MAX) {
        lua_pushinteger(L, (lua_Integer)p->u);
      } else {
        char b[24];
        snprintf(b, sizeof b, "%" PRIu64, p->u);
        lua_pushstring(L, b);
      }
      break;
    case FMH_VK_TEXT: lua_pushlstring(L, p->s, p->len); break;
  }
}

static void push_key(lua_State *L, const fmh_vkey *k) {
  if (k->n == 1) {
    push_part(L, &k->parts[0]);
    return;
  }
  lua_createtable(L, k->n, 0);
  for (int i = 0; i < k->n; i++) {
    push_part(L, &k->parts[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

void fmh_vlua_push_keys(lua_State *L, const char *field, const fmh_vkey *k, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    push_key(L, &k[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, field);
}

void fmh_vlua_push_names(lua_State *L, const char *field, char **names, size_t n) {
  fmh_push_strings(L, (const char *const *)names, n);
  lua_setfield(L, -2, field);
}

static void push_patterns(lua_State *L, const char *field, const fmh_vpattern *p, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 6);
    if (p[i].column) fmh_set_str(L, "column", p[i].column);
    fmh_set_str(L, "kind", p[i].kind);
    fmh_set_int(L, "count", (lua_Integer)p[i].count);
    fmh_set_int(L, "of", (lua_Integer)p[i].of);
    fmh_set_str(L, "text", p[i].text ? p[i].text : p[i].kind);
    lua_createtable(L, 2, 0);
    for (int k = 0; k < 2; k++)
      if (p[i].examples[k]) {
        lua_pushstring(L, p[i].examples[k]);
        lua_rawseti(L, -2, k + 1);
      }
    lua_setfield(L, -2, "examples");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, field);
}

void fmh_vlua_push_verdict(lua_State *L, const fmh_verdict *v) {
  lua_createtable(L, 0, 20);
  fmh_set_bool(L, "ok", v->ok);
  fmh_set_str(L, "mode", v->mode ? v->mode : "stream");
  lua_createtable(L, 0, 10);
  fmh_set_int(L, "expected", (lua_Integer)v->expected);
  fmh_set_int(L, "target", (lua_Integer)v->target);
  fmh_set_int(L, "matched", (lua_Integer)v->matched);
  fmh_set_int(L, "present", (lua_Integer)v->matched);
  fmh_set_int(L, "exact", (lua_Integer)v->exact);
  fmh_set_int(L, "differing", (lua_Integer)v->differing);
  fmh_set_int(L, "copies_differing", (lua_Integer)v->copies_differing);
  fmh_set_int(L, "missing", (lua_Integer)v->missing);
  fmh_set_int(L, "extra", (lua_Integer)v->extra);
  fmh_set_int(L, "duplicated", (lua_Integer)v->duplicated);
  fmh_set_int(L, "duplicate_rows", (lua_Integer)v->duplicate_rows);
  fmh_set_int(L, "expected_duplicated", (lua_Integer)v->expected_duplicated);
  fmh_set_int(L, "mismatched_rows", (lua_Integer)v->mismatched_rows);
  fmh_set_int(L, "mismatched_fields", (lua_Integer)v->mismatched_fields);
  lua_setfield(L, -2, "counts");
  fmh_vlua_push_keys(L, "missing", v->missing_keys, v->nmissing_keys);
  fmh_vlua_push_keys(L, "extra", v->extra_keys, v->nextra_keys);
  fmh_vlua_push_keys(L, "duplicated", v->duplicated_keys, v->nduplicated_keys);
  lua_createtable(L, (int)v->nmismatches, 0);
  for (size_t i = 0; i < v->nmismatches; i++) {
    const fmh_vmismatch *m = &v->mismatches[i];
    lua_createtable(L, 0, 8);
    push_key(L, &m->key);
    lua_setfield(L, -2, "key");
    fmh_set_str(L, "column", m->column);
    if (m->expected) lua_pushlstring(L, m->expected, m->expected_len);
    else fmh_vlua_push_null(L);
    lua_setfield(L, -2, "expected");
    if (m->actual) lua_pushlstring(L, m->actual, m->actual_len);
    else fmh_vlua_push_null(L);
    lua_setfield(L, -2, "actual");
    fmh_set_str(L, "reason", m->reason);
    fmh_set_str(L, "detail", m->detail ? m->detail : m->reason);
    if (m->expected_cut || m->actual_cut) {
      fmh_set_bool(L, "cut", 1);
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "mismatches");
  lua_createtable(L, (int)v->ncolumns, 0);
  for (size_t i = 0; i < v->ncolumns; i++) {
    lua_createtable(L, 0, 3);
    fmh_set_str(L, "name", v->columns[i].name);
    fmh_set_str(L, "compare", v->columns[i].compare);
    fmh_set_int(L, "mismatches", (lua_Integer)v->columns[i].mismatches);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "columns");
  fmh_vlua_push_names(L, "missing_columns", v->missing_columns, v->nmissing_columns);
  fmh_vlua_push_names(L, "extra_columns", v->extra_columns, v->nextra_columns);
  push_patterns(L, "patterns", v->patterns, v->npatterns);
  push_patterns(L, "explain", v->explain, v->nexplain);
  fmh_vlua_push_names(L, "missing_rows", v->missing_rows, v->nmissing_rows);
  fmh_vlua_push_names(L, "extra_rows", v->extra_rows, v->nextra_rows);
  fmh_set_num(L, "rows_per_s", v->rows_per_s);
  fmh_set_num(L, "elapsed_s", v->elapsed_s);
  fmh_set_bool(L, "truncated", v->truncated);
  if (v->has_seed) fmh_set_int(L, "seed", (lua_Integer)v->seed);
  if (v->has_range) {
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, v->first);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, v->last);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, "range");
  }
  if (v->mode && strcmp(v->mode, "checksum") == 0) {
    lua_createtable(L, 0, 5);
    fmh_set_int(L, "chunks", (lua_Integer)v->chunks);
    fmh_set_int(L, "differing", (lua_Integer)v->chunks_differing);
    fmh_set_int(L, "queries", (lua_Integer)v->checksum_queries);
    fmh_set_int(L, "rows_streamed", (lua_Integer)v->rows_streamed);
    if (v->checksum_function) {
      fmh_set_str(L, "row_hash", v->checksum_function);
    }
    if (v->hash_a) {
      lua_createtable(L, 0, 2);
      fmh_set_str(L, "a", v->hash_a);
      fmh_set_str(L, "b", v->hash_b);
      lua_setfield(L, -2, "hash_at");
    }
    fmh_set_bool(L, "partial", v->partial);
    fmh_set_int(L, "segments_verified", (lua_Integer)v->segments_verified);
    fmh_set_int(L, "segments_failed", (lua_Integer)v->segments_failed);
    fmh_set_int(L, "segments_skipped", (lua_Integer)v->segments_skipped);
    if (v->partial_detail) fmh_set_str(L, "partial_detail", v->partial_detail);
    lua_setfield(L, -2, "checksum");
  }
}

/* --- format: the Lua verdict back into C for the shared text ------------- */

static uint64_t field_u(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : (lua_Integer)lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v < 0 ? 0 : (uint64_t)v;
}

static int is_null(lua_State *L, int i) {
  i = lua_absindex(L, i);
  fmh_vlua_push_null(L);
  int eq = lua_rawequal(L, i, -1);
  lua_pop(L, 1);
  return eq || lua_isnil(L, i);
}

/* A key value (scalar or array) as an fmh_vkey. Every value read is left
 * on the stack (the verdict's samples are few), so the strings stay put. */
static void to_part(lua_State *L, int i, fmh_vkey_part *p) {
  memset(p, 0, sizeof *p);
  if (is_null(L, i)) {
    p->kind = FMH_VK_NULL;
  } else if (lua_isinteger(L, i)) {
    p->kind = FMH_VK_INT;
    p->i = lua_tointeger(L, i);
  } else {
    size_t n;
    const char *s = luaL_tolstring(L, i, &n); /* pushed: stays */
    p->kind = FMH_VK_TEXT;
    p->s = (char *)s;
    p->len = n;
  }
}

static void to_key(lua_State *L, int i, fmh_vkey *k) {
  i = lua_absindex(L, i);
  if (lua_type(L, i) == LUA_TTABLE) {
    int n = (int)luaL_len(L, i);
    luaL_checkstack(L, 2 * n + 4, "validate.format: too many key parts");
    k->n = n;
    k->parts = lua_newuserdatauv(L, sizeof *k->parts * (size_t)(n ? n : 1), 0);
    for (int j = 1; j <= n; j++) {
      lua_rawgeti(L, i, j);
      to_part(L, -1, &k->parts[j - 1]);
    }
    return;
  }
  luaL_checkstack(L, 4, "validate.format: too many keys");
  k->n = 1;
  k->parts = lua_newuserdatauv(L, sizeof *k->parts, 0);
  to_part(L, i, &k->parts[0]);
}

static fmh_vkey *to_keys(lua_State *L, int t, const char *field, size_t *n) {
  *n = 0;
  lua_getfield(L, t, field);
  if (!lua_istable(L, -1)) return NULL;
  int lt = lua_gettop(L);
  size_t len = (size_t)luaL_len(L, lt);
  fmh_vkey *k = lua_newuserdatauv(L, sizeof *k * (len ? len : 1), 0);
  for (size_t i = 0; i < len; i++) {
    luaL_checkstack(L, 4, "validate.format: too many keys");
    lua_rawgeti(L, lt, (lua_Integer)i + 1);
    to_key(L, -1, &k[i]);
  }
  *n = len;
  return k;
}

/* Strings read are left on the stack. */
static char **to_strings(lua_State *L, int t, const char *field, size_t *n) {
  *n = 0;
  lua_getfield(L, t, field);
  if (!lua_istable(L, -1)) return NULL;
  int lt = lua_gettop(L);
  size_t len = (size_t)luaL_len(L, lt);
  char **s = lua_newuserdatauv(L, sizeof *s * (len ? len : 1), 0);
  for (size_t i = 0; i < len; i++) {
    luaL_checkstack(L, 2, "validate.format: too many rows");
    lua_rawgeti(L, lt, (lua_Integer)i + 1);
    s[*n] = (char *)(lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    (*n)++;
  }
  return s;
}

static fmh_vpattern *to_patterns(lua_State *L, int t, const char *field, size_t *n) {
  *n = 0;
  lua_getfield(L, t, field);
  if (!lua_istable(L, -1)) return NULL;
  int lt = lua_gettop(L);
  size_t len = (size_t)luaL_len(L, lt);
  fmh_vpattern *p = lua_newuserdatauv(L, sizeof *p * (len ? len : 1), 0);
  memset(p, 0, sizeof *p * (len ? len : 1));
  for (size_t i = 0; i < len; i++) {
    luaL_checkstack(L, 12, "validate.format: too many patterns");
    lua_rawgeti(L, lt, (lua_Integer)i + 1);
    if (!lua_istable(L, -1)) continue;
    int m = lua_gettop(L);
    fmh_vpattern *x = &p[(*n)++];
    lua_getfield(L, m, "column");
    x->column = (char *)(lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL);
    lua_getfield(L, m, "kind");
    x->kind = lua_isstring(L, -1) ? lua_tostring(L, -1) : "?";
    lua_getfield(L, m, "text");
    x->text = (char *)(lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL);
    x->count = field_u(L, m, "count");
    x->of = field_u(L, m, "of");
    lua_getfield(L, m, "examples");
    if (lua_istable(L, -1)) {
      int et = lua_gettop(L);
      for (int k = 0; k < 2; k++) {
        lua_rawgeti(L, et, k + 1);
        x->examples[k] = (char *)(lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL);
      }
    }
  }
  return p;
}

/* The parts named by format's second argument (a list), else all. */
static unsigned format_parts(lua_State *L, int idx) {
  static const char *const names[] = {"head", "counts", "time", "columns", "diagnosis", "rows", "keys", "samples"};
  if (lua_isnoneornil(L, idx)) return FMH_VTEXT_ALL;
  luaL_checktype(L, idx, LUA_TTABLE);
  unsigned parts = 0;
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    const char *s = lua_tostring(L, -1);
    size_t k = 0;
    while (s && k < sizeof names / sizeof *names && strcmp(s, names[k]) != 0) k++;
    if (!s || k == sizeof names / sizeof *names)
      return (unsigned)luaL_error(L, "validate.format: unknown part '%s' (head, counts, time, columns, diagnosis, "
                                     "rows, keys, samples)", s ? s : luaL_typename(L, -1));
    parts |= 1u << k;
    lua_pop(L, 1);
  }
  return parts;
}

int fmh_vlua_format(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  unsigned parts = format_parts(L, 2);
  lua_settop(L, 1);
  luaL_checkstack(L, 64, "validate.format");
  fmh_verdict v;
  memset(&v, 0, sizeof v);
  lua_getfield(L, 1, "ok");
  v.ok = lua_toboolean(L, -1);
  lua_getfield(L, 1, "mode");
  v.mode = lua_isstring(L, -1) ? lua_tostring(L, -1) : "stream";
  lua_getfield(L, 1, "counts");
  if (lua_istable(L, -1)) {
    int c = lua_gettop(L);
    v.expected = field_u(L, c, "expected");
    v.target = field_u(L, c, "target");
    v.matched = field_u(L, c, "matched");
    v.missing = field_u(L, c, "missing");
    v.extra = field_u(L, c, "extra");
    v.duplicated = field_u(L, c, "duplicated");
    v.duplicate_rows = field_u(L, c, "duplicate_rows");
    v.expected_duplicated = field_u(L, c, "expected_duplicated");
    v.mismatched_rows = field_u(L, c, "mismatched_rows");
    v.mismatched_fields = field_u(L, c, "mismatched_fields");
    v.copies_differing = field_u(L, c, "copies_differing");
    lua_getfield(L, c, "exact");
    int has = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (has) {
      v.exact = field_u(L, c, "exact");
      v.differing = field_u(L, c, "differing");
    } else { /* a verdict of an older shape */
      v.differing = v.mismatched_rows < v.matched ? v.mismatched_rows : v.matched;
      v.exact = v.matched - v.differing;
    }
  }
  lua_getfield(L, 1, "elapsed_s");
  v.elapsed_s = lua_tonumber(L, -1);
  lua_getfield(L, 1, "rows_per_s");
  v.rows_per_s = lua_tonumber(L, -1);
  lua_getfield(L, 1, "truncated");
  v.truncated = lua_toboolean(L, -1);
  lua_getfield(L, 1, "seed");
  if (lua_isinteger(L, -1)) {
    v.has_seed = 1;
    v.seed = (uint64_t)lua_tointeger(L, -1);
  }
  lua_getfield(L, 1, "range");
  if (lua_istable(L, -1)) {
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    v.first = lua_tointeger(L, -2);
    v.last = lua_tointeger(L, -1);
    lua_pop(L, 2);
  }
  lua_getfield(L, 1, "checksum");
  if (lua_istable(L, -1)) {
    int c = lua_gettop(L);
    v.chunks = field_u(L, c, "chunks");
    v.chunks_differing = field_u(L, c, "differing");
    v.checksum_queries = field_u(L, c, "queries");
    v.rows_streamed = field_u(L, c, "rows_streamed");
    lua_getfield(L, c, "partial_detail");
    if (lua_isstring(L, -1)) v.partial_detail = (char *)lua_tostring(L, -1);
  }
  v.missing_keys = to_keys(L, 1, "missing", &v.nmissing_keys);
  v.extra_keys = to_keys(L, 1, "extra", &v.nextra_keys);
  v.duplicated_keys = to_keys(L, 1, "duplicated", &v.nduplicated_keys);
  /* columns, missing/extra columns */
  lua_getfield(L, 1, "columns");
  if (lua_istable(L, -1)) {
    size_t n = (size_t)luaL_len(L, -1);
    v.columns = lua_newuserdatauv(L, sizeof *v.columns * (n ? n : 1), 0);
    lua_insert(L, -2);
    int lt = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
      luaL_checkstack(L, 4, "validate.format: too many columns");
      lua_rawgeti(L, lt, (lua_Integer)i + 1);
      if (lua_istable(L, -1)) {
        int c = lua_gettop(L);
        lua_getfield(L, c, "name");
        v.columns[v.ncolumns].name = (char *)(lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
        lua_getfield(L, c, "compare");
        v.columns[v.ncolumns].compare = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
        v.columns[v.ncolumns].mismatches = field_u(L, c, "mismatches");
        v.ncolumns++;
      }
    }
  }
  const char *lists[2] = {"missing_columns", "extra_columns"};
  for (int li = 0; li < 2; li++) {
    lua_getfield(L, 1, lists[li]);
    size_t n = lua_istable(L, -1) ? (size_t)luaL_len(L, -1) : 0;
    char **names = lua_newuserdatauv(L, sizeof(char *) * (n ? n : 1), 0);
    int t = lua_gettop(L) - 1;
    for (size_t i = 0; i < n; i++) {
      luaL_checkstack(L, 2, "validate.format: too many columns");
      lua_rawgeti(L, t, (lua_Integer)i + 1);
      names[i] = (char *)(lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    }
    if (li == 0) { v.missing_columns = names; v.nmissing_columns = n; }
    else { v.extra_columns = names; v.nextra_columns = n; }
  }
  v.patterns = to_patterns(L, 1, "patterns", &v.npatterns);
  v.explain = to_patterns(L, 1, "explain", &v.nexplain);
  v.missing_rows = to_strings(L, 1, "missing_rows", &v.nmissing_rows);
  v.extra_rows = to_strings(L, 1, "extra_rows", &v.nextra_rows);
  lua_getfield(L, 1, "mismatches");
  if (lua_istable(L, -1)) {
    size_t n = (size_t)luaL_len(L, -1);
    int lt = lua_gettop(L);
    v.mismatches = lua_newuserdatauv(L, sizeof *v.mismatches * (n ? n : 1), 0);
    memset(v.mismatches, 0, sizeof *v.mismatches * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
      luaL_checkstack(L, 16, "validate.format: too many mismatches");
      lua_rawgeti(L, lt, (lua_Integer)i + 1);
      if (!lua_istable(L, -1)) continue;
      int m = lua_gettop(L);
      fmh_vmismatch *x = &v.mismatches[v.nmismatches++];
      lua_getfield(L, m, "key");
      to_key(L, -1, &x->key);
      lua_getfield(L, m, "column");
      x->column = (char *)(lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
      lua_getfield(L, m, "expected");
      if (!is_null(L, -1)) x->expected = (char *)luaL_tolstring(L, -1, &x->expected_len);
      lua_getfield(L, m, "actual");
      if (!is_null(L, -1)) x->actual = (char *)luaL_tolstring(L, -1, &x->actual_len);
      lua_getfield(L, m, "reason");
      x->reason = lua_isstring(L, -1) ? lua_tostring(L, -1) : "?";
      lua_getfield(L, m, "detail");
      x->detail = (char *)(lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL);
    }
  }
  char *text = fmh_verdict_format_parts(&v, parts);
  if (!text) return luaL_error(L, "validate.format: out of memory");
  lua_pushstring(L, text);
  free(text);
  return 1;
}
