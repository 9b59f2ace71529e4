/* fmhost.pool: Lua face of the MySQL/MariaDB connection pool.
 *
 * Lua sees (the full reference is in README's module section):
 *   pool.open(opts [, overrides]) -> Pool | nil, msg, info
 *       opts: host, port, socket, user, password, database, charset, size, min_idle,
 *       acquire_timeout_ms, validate_after_ms, max_lifetime_ms, idle_timeout_ms,
 *       housekeeping_ms, connect_timeout_ms, read_timeout_ms, write_timeout_ms,
 *       time_zone, sql_mode, init_sql, local_infile, lazy, prepare_all, name,
 *       tls = {mode=, ca=, cert=, key=} (or tls_mode, tls_ca, tls_cert, tls_key),
 *       connect_retry = retry.policy{...} or a table of its fields
 *       (cfg.mysql can be passed as it is; keys it does not know are ignored)
 *   p:acquire([timeout_ms]) -> Conn | nil, msg, info      Conn is <close>-able
 *   p:stats() p:maintain() p:close()   p:stress{...}
 *   every close() (Pool, Conn, Cursor) returns true, then false, "already closed"
 *   p:load{source=, table=, rows=, first=0, threads=1, method='infile'|'insert',
 *          chunk_rows=, batch_rows=, batch_bytes=, resume=false, journal=, load_id=, from=,
 *          progress=isatty(stderr)}
 *       -> {rows=, duplicates=, warnings=, statements=, bytes=, threads=, wall_s=, rows_per_s=,
 *           committed={{first, count}, ...}, rows_committed=, rows_resumed=, uncertain={...},
 *           journaled=} | nil, msg, info (info has the same fields but rows_per_s)
 *       Source rows [first, first+rows). rows counts rows the server inserted, never a
 *       duplicate key: those are in duplicates (LOAD DATA LOCAL skips them with a 1062
 *       warning, which warnings leaves out). committed: the source ranges known to be in
 *       the table (this call's and those it was told of), sorted and merged; uncertain:
 *       ranges sent whose answer was lost with the connection (committed or not).
 *       Each statement (a LOAD DATA chunk, an INSERT batch) commits whole or not at all;
 *       a statement cut short by another thread's failure or its producer's ends at a
 *       row boundary and commits a counted prefix. msg ends with what committed and how
 *       to load the rest. Resuming:
 *       from = a failed load's info (or its committed list): skips info.committed and
 *         loads info.uncertain again as INSERT IGNORE / LOAD DATA LOCAL, counting the
 *         rows already there as duplicates (exact because each statement committed
 *         whole or not at all; needs a unique key over the rows to tell).
 *       resume = true: each statement runs in a transaction with an INSERT of
 *         (load_id, first_row, n_rows, inserted) into journal (default
 *         fmhost_load_journal, created when missing; InnoDB tables), so the journal holds
 *         exactly the committed ranges even when a COMMIT answer was lost or fmhost died;
 *         the load skips the ranges the journal holds for load_id (default: the table)
 *         inside [first, first+rows), and deletes them when it completes. The idiom
 *         retry.policy{...}:run(function() return p:load{..., resume=true} end) loads every
 *         row once across crashes. A journal that claims more rows than the table holds
 *         (the table was emptied or recreated) fails the load instead of skipping.
 *       progress (default: true when stderr is a terminal): progress lines on stderr, counted once per committed
 *         statement (chunk or batch), never per row: at a terminal one line rewritten at most
 *         once a second ("load: 1,200,000 / 4,000,000 rows  30%  245k rows/s  ETA 0:11"),
 *         otherwise a plain line every 10 s; always a final line "load: N rows in M:SS
 *         (R rows/s)" with N the source rows committed by this call. false: nothing.
 *   p:exec/query/row/scalar/transaction(...)   acquire, run on a connection, release
 *   c:exec(sql, ...) -> affected_rows, {affected_rows=, insert_id=, warnings=}
 *   c:query(sql, ...) -> rows, {columns={...}, warnings=}   rows keyed by column name
 *   c:row(sql, ...) -> row | nil     c:scalar(sql, ...) -> value | nil
 *   c:rows(sql, ...) -> a generic-for iterator that closes its cursor
 *   c:cursor(sql, ...) -> Cursor (:fetch([mode]), :columns(), :close(), <close>)
 *   c:transaction(fn, ...)   c:ping()   c:warnings()   c:info()   c:release()
 *   pool.NULL, pool.decimal(s), pool.datetime(s), pool.blob(s), pool.is_null(v)
 *   pool.bench_source{seed=} -> a row source for p:load (and :row(k), :csv(k), :sql(k),
 *       :write_csv(path, first, count), :write_sql(path, table, first, count, batch_rows))
 * Expected failures return nil, msg, info with info.class from fmhost.retry;
 * misuse (bad arguments, a released connection, a busy connection) raises.
 * Other bindings get a Pool's fmh_pool through fmhost/pool_lua.h. p:load, p:stress,
 * p:fifo_probe and the benchmark source live in bindings/pool/load.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmhost/gen.h"
#include "fmhost/gen_lua.h"
#include "fmhost/interp.h"
#include "fmhost/pool.h"
#include "fmhost/pool_lua.h"
#include "fmhost/retry.h"
#include "pool/pool_lua_int.h"

#define CONN "fmhost.pool.Conn"
#define CURSOR "fmhost.pool.Cursor"
#define NULLT "fmhost.pool.NULL"
#define DECIMAL "fmhost.pool.Decimal"
#define DATETIME "fmhost.pool.Datetime"
#define BLOB "fmhost.pool.Blob"

static const char NULL_KEY = 'N'; /* registry key of the NULL sentinel */

typedef struct LCursor LCursor;

typedef struct LConn {
  fmh_conn *c;
  LCursor *cur;  /* the open Lua cursor on this connection */
} LConn;

struct LCursor {
  fmh_cursor *q;
  LConn *owner;
};

/* --- helpers -------------------------------------------------------------- */

void fmh_plua_push_null(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &NULL_KEY); }

static int is_null(lua_State *L, int i) {
  if (lua_isnoneornil(L, i)) return 1;
  if (lua_type(L, i) != LUA_TUSERDATA) return 0;
  fmh_plua_push_null(L);
  int eq = lua_rawequal(L, i, -1);
  lua_pop(L, 1);
  return eq;
}

/* Expected failures return nil, msg, info (with info.class); misuse raises. */
int fmh_plua_push_fail(lua_State *L, fmh_error *e) { return fmh_fail_or_raise(L, e, "class", fmh_pool_error_class(e)); }

LPool *fmh_plua_check_pool(lua_State *L, int i) {
  LPool *lp = luaL_checkudata(L, i, POOL);
  if (!lp->p) luaL_argerror(L, i, "pool is closed");
  return lp;
}

/* include/fmhost/pool_lua.h: how other bindings get at a Pool */
fmh_pool *fmh_lua_topool(lua_State *L, int idx, int *closed) {
  LPool *lp = luaL_testudata(L, idx, POOL);
  if (closed) *closed = lp && !lp->p;
  return lp ? lp->p : NULL;
}

fmh_pool *fmh_lua_checkpool(lua_State *L, int idx) { return fmh_plua_check_pool(L, idx)->p; }

static LConn *check_conn(lua_State *L, int i) {
  LConn *lc = luaL_checkudata(L, i, CONN);
  if (!lc->c) luaL_argerror(L, i, "connection was released");
  return lc;
}

static LCursor *check_cursor(lua_State *L, int i) { return luaL_checkudata(L, i, CURSOR); }

static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t k;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; }
    else return 0;
    if (n - i <= k) return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += k + 1;
  }
  return 1;
}

static const char *wrapped(lua_State *L, int i, const char *tname, size_t *len) {
  if (!lua_istable(L, i) || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!same) return NULL;
  lua_rawgeti(L, i, 1);
  const char *s = lua_tolstring(L, -1, len);
  lua_pop(L, 1); /* the string stays anchored in the wrapper table */
  return s;
}

/* Lua value at i -> parameter. Strings stay valid while they are on the stack. */
static void to_value(lua_State *L, int i, fmh_value *v, int argn) {
  memset(v, 0, sizeof *v);
  size_t len;
  const char *s;
  switch (lua_type(L, i)) {
    case LUA_TNIL: v->t = FMH_V_NULL; return;
    case LUA_TBOOLEAN:
      v->t = FMH_V_BOOL;
      v->i = lua_toboolean(L, i);
      return;
    case LUA_TNUMBER:
      if (lua_isinteger(L, i)) { v->t = FMH_V_INT; v->i = lua_tointeger(L, i); }
      else { v->t = FMH_V_DOUBLE; v->d = lua_tonumber(L, i); }
      return;
    case LUA_TSTRING:
      s = lua_tolstring(L, i, &len);
      v->t = utf8_valid((const unsigned char *)s, len) ? FMH_V_STRING : FMH_V_BLOB;
      v->s = s;
      v->len = len;
      return;
    case LUA_TUSERDATA:
      if (is_null(L, i)) { v->t = FMH_V_NULL; return; }
      break;
    case LUA_TTABLE:
      if ((s = wrapped(L, i, DECIMAL, &len))) { v->t = FMH_V_DECIMAL; v->s = s; v->len = len; return; }
      if ((s = wrapped(L, i, DATETIME, &len))) { v->t = FMH_V_DATETIME; v->s = s; v->len = len; return; }
      if ((s = wrapped(L, i, BLOB, &len))) { v->t = FMH_V_BLOB; v->s = s; v->len = len; return; }
      break;
    default: break;
  }
  luaL_argerror(L, argn, lua_pushfstring(L, "cannot bind a %s as a parameter", luaL_typename(L, i)));
}

static void push_value(lua_State *L, const fmh_value *v) {
  char buf[32];
  switch (v->t) {
    case FMH_V_NULL: fmh_plua_push_null(L); break;
    case FMH_V_INT:
    case FMH_V_BOOL: lua_pushinteger(L, (lua_Integer)v->i); break;
    case FMH_V_UINT:
      snprintf(buf, sizeof buf, "%" PRIu64, v->u);
      lua_pushstring(L, buf);
      break;
    case FMH_V_DOUBLE: lua_pushnumber(L, v->d); break;
    default: lua_pushlstring(L, v->s ? v->s : "", v->len); break;
  }
}

/* Run sql (index si) with the parameters at si+1..top. Leaves *q open when
 * the statement has a result set. Returns 0, or pushes the failure and
 * returns its count. */
static int run(lua_State *L, LConn *lc, int si, fmh_cursor **q, fmh_exec_result *res) {
  size_t len;
  const char *sql = luaL_checklstring(L, si, &len);
  int n = lua_gettop(L) - si;
  fmh_value stackv[16];
  fmh_value *v = n <= 16 ? stackv : lua_newuserdatauv(L, sizeof *v * (size_t)n, 0);
  for (int k = 0; k < n; k++) to_value(L, si + 1 + k, &v[k], si + 1 + k);
  if (lc->cur) luaL_error(L, "connection busy: a cursor is still open on it (close it first)");
  fmh_error e = {0};
  if (fmh_conn_run(lc->c, sql, len, v, n, 0, q, res, &e) != 0) return fmh_plua_push_fail(L, &e);
  return 0;
}

/* A table of the column names, in order, for building rows fast. */
static void push_names(lua_State *L, fmh_cursor *q) {
  int n = fmh_cursor_ncols(q);
  const fmh_column *cols = fmh_cursor_columns(q);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, cols[i].name);
    lua_rawseti(L, -2, i + 1);
  }
}

static void push_columns(lua_State *L, fmh_cursor *q) {
  int n = fmh_cursor_ncols(q);
  const fmh_column *cols = fmh_cursor_columns(q);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 0, 7);
    lua_pushstring(L, cols[i].name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, cols[i].type);
    lua_setfield(L, -2, "type");
    lua_pushboolean(L, cols[i].unsigned_);
    lua_setfield(L, -2, "unsigned");
    lua_pushboolean(L, cols[i].nullable);
    lua_setfield(L, -2, "nullable");
    lua_pushinteger(L, cols[i].decimals);
    lua_setfield(L, -2, "decimals");
    lua_pushinteger(L, (lua_Integer)cols[i].length);
    lua_setfield(L, -2, "length");
    lua_pushboolean(L, cols[i].binary);
    lua_setfield(L, -2, "binary");
    lua_rawseti(L, -2, i + 1);
  }
}

/* Push one row: named (keys from the names table at ni) or an array. */
static void push_row(lua_State *L, const fmh_value *row, int n, int ni, int array) {
  lua_createtable(L, array ? n : 0, array ? 0 : n);
  for (int i = 0; i < n; i++) {
    if (array) {
      push_value(L, &row[i]);
      lua_rawseti(L, -2, i + 1);
    } else {
      lua_rawgeti(L, ni, i + 1);
      push_value(L, &row[i]);
      lua_rawset(L, -3);
    }
  }
}

/* --- pool ------------------------------------------------------------------ */

/* Field k of the overrides (index 2) or else of the options (index 1). */
static int getopt2(lua_State *L, const char *k) {
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, k);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);
  }
  lua_getfield(L, 1, k);
  return !lua_isnil(L, -1);
}

static const char *ostr(lua_State *L, const char *k, const char *def) {
  const char *v = def;
  if (getopt2(L, k)) {
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "option '%s' must be a string", k);
    v = lua_tostring(L, -1);
    /* anchor: the options table holds the string while pool.open runs */
  }
  lua_pop(L, 1);
  return v;
}

static lua_Integer oint(lua_State *L, const char *k, lua_Integer def) {
  lua_Integer v = def;
  if (getopt2(L, k)) {
    int isnum;
    v = lua_tointegerx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "option '%s' must be an integer", k);
  }
  lua_pop(L, 1);
  return v;
}

static int obool(lua_State *L, const char *k, int def) {
  int v = def;
  if (getopt2(L, k)) {
    if (!lua_isboolean(L, -1)) luaL_error(L, "option '%s' must be a boolean", k);
    v = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* tls.<k> of either table, else tls_<k>. */
static const char *otls(lua_State *L, const char *k) {
  for (int t = 2; t >= 1; t--) {
    if (!lua_istable(L, t)) continue;
    lua_getfield(L, t, "tls");
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, k);
      if (!lua_isnil(L, -1)) {
        const char *s = lua_tostring(L, -1);
        if (!s) luaL_error(L, "option 'tls.%s' must be a string", k);
        lua_pop(L, 2);
        return s; /* anchored by the tls table */
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  char flat[32];
  snprintf(flat, sizeof flat, "tls_%s", k);
  return ostr(L, flat, NULL);
}

static int l_open(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  fmh_pool_opts o;
  fmh_pool_opts_default(&o);
  o.name = ostr(L, "name", o.name);
  o.host = ostr(L, "host", o.host);
  o.port = (unsigned)oint(L, "port", o.port);
  o.socket = ostr(L, "socket", NULL);
  o.user = ostr(L, "user", NULL);
  o.password = ostr(L, "password", NULL);
  o.database = ostr(L, "database", NULL);
  o.charset = ostr(L, "charset", o.charset);
  o.size = (int)oint(L, "size", o.size);
  o.min_idle = (int)oint(L, "min_idle", o.min_idle);
  o.acquire_timeout_ms = (int)oint(L, "acquire_timeout_ms", o.acquire_timeout_ms);
  o.validate_after_ms = (int)oint(L, "validate_after_ms", o.validate_after_ms);
  o.max_lifetime_ms = (int)oint(L, "max_lifetime_ms", o.max_lifetime_ms);
  o.idle_timeout_ms = (int)oint(L, "idle_timeout_ms", o.idle_timeout_ms);
  o.housekeeping_ms = (int)oint(L, "housekeeping_ms", o.housekeeping_ms);
  o.connect_timeout_ms = (int)oint(L, "connect_timeout_ms", o.connect_timeout_ms);
  o.read_timeout_ms = (int)oint(L, "read_timeout_ms", o.read_timeout_ms);
  o.write_timeout_ms = (int)oint(L, "write_timeout_ms", o.write_timeout_ms);
  o.time_zone = ostr(L, "time_zone", NULL);
  o.sql_mode = ostr(L, "sql_mode", NULL);
  o.init_sql = ostr(L, "init_sql", NULL);
  o.local_infile = obool(L, "local_infile", o.local_infile);
  o.lazy = obool(L, "lazy", 0);
  o.prepare_all = obool(L, "prepare_all", 0);
  const char *mode = otls(L, "mode");
  if (mode) {
    int m = fmh_tls_mode_parse(mode);
    if (m < 0)
      return luaL_error(L, "unknown tls mode '%s' (disabled, preferred, required, verify-ca, verify-identity)", mode);
    o.tls_mode = (fmh_tls_mode)m;
  }
  if (getopt2(L, "connect_retry")) {
    /* a retry.policy or a table with the same fields */
    int t = lua_gettop(L);
    fmh_retry_policy *r = &o.connect_retry;
    lua_getfield(L, t, "max_attempts");
    if (!lua_isnil(L, -1)) r->max_attempts = (int)luaL_checkinteger(L, -1);
    lua_getfield(L, t, "base_ms");
    if (!lua_isnil(L, -1)) r->base_ms = luaL_checknumber(L, -1);
    lua_getfield(L, t, "factor");
    if (!lua_isnil(L, -1)) r->factor = luaL_checknumber(L, -1);
    lua_getfield(L, t, "cap_ms");
    if (!lua_isnil(L, -1)) r->cap_ms = luaL_checknumber(L, -1);
    lua_getfield(L, t, "jitter");
    if (!lua_isnil(L, -1)) r->jitter = luaL_checknumber(L, -1);
    lua_getfield(L, t, "deadline_ms");
    if (!lua_isnil(L, -1)) r->deadline_ms = luaL_checknumber(L, -1);
    lua_getfield(L, t, "seed");
    if (!lua_isnil(L, -1)) r->seed = (uint64_t)luaL_checkinteger(L, -1);
    lua_settop(L, t - 1);
  } else {
    lua_pop(L, 1);
  }
  o.tls_ca = otls(L, "ca");
  o.tls_cert = otls(L, "cert");
  o.tls_key = otls(L, "key");
  fmh_error e = {0};
  LPool *lp = lua_newuserdatauv(L, sizeof *lp, 0);
  lp->p = NULL;
  luaL_setmetatable(L, POOL);
  lp->p = fmh_pool_open(&o, &e);
  if (!lp->p) {
    if (e.kind && strcmp(e.kind, "config") == 0) {
      char msg[sizeof e.msg];
      snprintf(msg, sizeof msg, "%s", e.msg);
      fmh_error_clear(&e);
      return luaL_error(L, "%s", msg);
    }
    return fmh_plua_push_fail(L, &e);
  }
  return 1;
}

static int l_pool_close(lua_State *L) {
  LPool *lp = luaL_checkudata(L, 1, POOL);
  if (!lp->p) return fmh_push_closed(L, 0);
  fmh_pool_close(lp->p);
  lp->p = NULL;
  return fmh_push_closed(L, 1);
}

static LConn *new_conn(lua_State *L, int pool_index, fmh_conn *c) {
  LConn *lc = lua_newuserdatauv(L, sizeof *lc, 1);
  lc->c = c;
  lc->cur = NULL;
  luaL_setmetatable(L, CONN);
  lua_pushvalue(L, pool_index);
  lua_setiuservalue(L, -2, 1); /* the connection pins its pool */
  return lc;
}

static int l_acquire(lua_State *L) {
  LPool *lp = fmh_plua_check_pool(L, 1);
  int timeout = (int)luaL_optinteger(L, 2, -1);
  fmh_error e = {0};
  fmh_conn *c;
  if (fmh_pool_acquire(lp->p, timeout, &c, &e) != 0) return fmh_plua_push_fail(L, &e);
  new_conn(L, 1, c);
  return 1;
}

void fmh_plua_set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

void fmh_plua_set_num(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static int l_stats(lua_State *L) {
  LPool *lp = fmh_plua_check_pool(L, 1);
  fmh_pool_stats s;
  fmh_pool_stats_get(lp->p, &s);
  lua_createtable(L, 0, 24);
  fmh_plua_set_int(L, "size", s.size);
  fmh_plua_set_int(L, "min_idle", s.min_idle);
  fmh_plua_set_int(L, "total", s.total);
  fmh_plua_set_int(L, "active", s.active);
  fmh_plua_set_int(L, "idle", s.idle);
  fmh_plua_set_int(L, "opening", s.opening);
  fmh_plua_set_int(L, "waiting", s.waiting);
  fmh_plua_set_int(L, "peak_active", s.peak_active);
  fmh_plua_set_int(L, "created", (lua_Integer)s.created);
  fmh_plua_set_int(L, "destroyed", (lua_Integer)s.destroyed);
  fmh_plua_set_int(L, "acquires", (lua_Integer)s.acquires);
  fmh_plua_set_int(L, "releases", (lua_Integer)s.releases);
  fmh_plua_set_int(L, "timeouts", (lua_Integer)s.timeouts);
  fmh_plua_set_int(L, "connect_failures", (lua_Integer)s.connect_failures);
  fmh_plua_set_int(L, "validations", (lua_Integer)s.validations);
  fmh_plua_set_int(L, "validation_failures", (lua_Integer)s.validation_failures);
  fmh_plua_set_int(L, "broken", (lua_Integer)s.broken);
  fmh_plua_set_int(L, "evicted_idle", (lua_Integer)s.evicted_idle);
  fmh_plua_set_int(L, "evicted_lifetime", (lua_Integer)s.evicted_lifetime);
  fmh_plua_set_num(L, "acquire_ms_avg", s.acquire_ms_avg);
  fmh_plua_set_num(L, "acquire_ms_max", s.acquire_ms_max);
  fmh_plua_set_num(L, "acquire_ms_p50", s.acquire_ms_p50);
  fmh_plua_set_num(L, "acquire_ms_p99", s.acquire_ms_p99);
  lua_pushstring(L, fmh_pool_name(lp->p));
  lua_setfield(L, -2, "name");
  return 1;
}

static int l_maintain(lua_State *L) {
  fmh_pool_maintain(fmh_plua_check_pool(L, 1)->p);
  return 0;
}

static int l_pool_tostring(lua_State *L) {
  LPool *lp = luaL_checkudata(L, 1, POOL);
  if (!lp->p) lua_pushstring(L, "fmhost.pool.Pool (closed)");
  else {
    fmh_pool_stats s;
    fmh_pool_stats_get(lp->p, &s);
    lua_pushfstring(L, "fmhost.pool.Pool %s (size %d, active %d, idle %d, waiting %d)", fmh_pool_name(lp->p),
                    s.size, s.active, s.idle, s.waiting);
  }
  return 1;
}

/* --- connection ------------------------------------------------------------ */

static void cursor_detach(LCursor *cu) {
  if (cu->q) fmh_cursor_close(cu->q);
  cu->q = NULL;
  if (cu->owner) cu->owner->cur = NULL;
  cu->owner = NULL;
}

static int l_release(lua_State *L) {
  LConn *lc = luaL_checkudata(L, 1, CONN);
  if (!lc->c) return fmh_push_closed(L, 0);
  if (lc->cur) cursor_detach(lc->cur);
  fmh_pool_release(lc->c);
  lc->c = NULL;
  return fmh_push_closed(L, 1);
}

static int l_exec(lua_State *L) {
  LConn *lc = check_conn(L, 1);
  fmh_cursor *q;
  fmh_exec_result res;
  int nf = run(L, lc, 2, &q, &res);
  if (nf) return nf;
  if (q) { /* a statement with rows: read them to the end */
    fmh_error e = {0};
    const fmh_value *row;
    int rc;
    while ((rc = fmh_cursor_fetch(q, &row, &e)) == 1) res.affected_rows++;
    res.warnings = fmh_cursor_warnings(q);
    fmh_cursor_close(q);
    if (rc < 0) return fmh_plua_push_fail(L, &e);
  }
  lua_pushinteger(L, (lua_Integer)res.affected_rows);
  lua_createtable(L, 0, 3);
  fmh_plua_set_int(L, "affected_rows", (lua_Integer)res.affected_rows);
  fmh_plua_set_int(L, "insert_id", (lua_Integer)res.insert_id);
  fmh_plua_set_int(L, "warnings", (lua_Integer)res.warnings);
  return 2;
}

/* mode: 0 all rows, 1 first row, 2 first value */
static int query_mode(lua_State *L, int mode) {
  LConn *lc = check_conn(L, 1);
  fmh_cursor *q;
  fmh_exec_result res;
  int nf = run(L, lc, 2, &q, &res);
  if (nf) return nf;
  if (!q) { /* no result set */
    if (mode == 0) {
      lua_newtable(L);
      lua_createtable(L, 0, 2);
      lua_newtable(L);
      lua_setfield(L, -2, "columns");
      fmh_plua_set_int(L, "warnings", (lua_Integer)res.warnings);
      return 2;
    }
    lua_pushnil(L);
    return 1;
  }
  push_names(L, q);
  int ni = lua_gettop(L);
  int n = fmh_cursor_ncols(q);
  if (mode == 0) lua_newtable(L);
  int ri = lua_gettop(L);
  fmh_error e = {0};
  const fmh_value *row;
  int rc, count = 0, got = 0;
  while ((rc = fmh_cursor_fetch(q, &row, &e)) == 1) {
    if (mode == 0) {
      push_row(L, row, n, ni, 0);
      lua_rawseti(L, ri, ++count);
    } else if (!got) {
      if (mode == 1) push_row(L, row, n, ni, 0);
      else if (n > 0) push_value(L, &row[0]);
      else lua_pushnil(L);
      got = 1;
    }
  }
  unsigned warnings = fmh_cursor_warnings(q);
  if (mode == 0) push_columns(L, q);
  fmh_cursor_close(q);
  if (rc < 0) return fmh_plua_push_fail(L, &e);
  if (mode == 0) {
    int ci = lua_gettop(L);
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, ci);
    lua_setfield(L, -2, "columns");
    fmh_plua_set_int(L, "warnings", warnings);
    lua_pushvalue(L, ri);
    lua_insert(L, -2);
    return 2;
  }
  if (!got) lua_pushnil(L);
  return 1;
}

static int l_query(lua_State *L) { return query_mode(L, 0); }
static int l_row(lua_State *L) { return query_mode(L, 1); }
static int l_scalar(lua_State *L) { return query_mode(L, 2); }

/* A cursor userdata on the connection at 1; uservalue 1 pins the
 * connection, uservalue 2 holds the column names. */
static int open_cursor(lua_State *L) {
  LConn *lc = check_conn(L, 1);
  fmh_cursor *q;
  fmh_exec_result res;
  int nf = run(L, lc, 2, &q, &res);
  if (nf) return nf;
  LCursor *cu = lua_newuserdatauv(L, sizeof *cu, 2);
  cu->q = q;
  cu->owner = q ? lc : NULL;
  luaL_setmetatable(L, CURSOR);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  if (q) {
    lc->cur = cu;
    push_names(L, q);
    lua_setiuservalue(L, -2, 2);
  }
  return 0;
}

static int l_cursor(lua_State *L) {
  int nf = open_cursor(L);
  return nf ? nf : 1;
}

/* fetch one row onto the stack: 1 row, 0 end (cursor closed), -1 error pushed (3 values) */
static int cursor_next(lua_State *L, LCursor *cu, int ci, int array) {
  if (!cu->q) return 0;
  fmh_error e = {0};
  const fmh_value *row;
  int rc = fmh_cursor_fetch(cu->q, &row, &e);
  if (rc == 1) {
    lua_getiuservalue(L, ci, 2);
    push_row(L, row, fmh_cursor_ncols(cu->q), lua_gettop(L), array);
    lua_remove(L, -2);
    return 1;
  }
  cursor_detach(cu);
  if (rc == 0) return 0;
  fmh_plua_push_fail(L, &e);
  return -1;
}

static int l_cursor_fetch(lua_State *L) {
  LCursor *cu = check_cursor(L, 1);
  const char *mode = luaL_optstring(L, 2, "n");
  int rc = cursor_next(L, cu, 1, mode[0] == 'a');
  if (rc == 1) return 1;
  if (rc == 0) { lua_pushnil(L); return 1; }
  return 3;
}

static int l_rows_iter(lua_State *L) {
  LCursor *cu = check_cursor(L, 1);
  int rc = cursor_next(L, cu, 1, 0);
  if (rc == 1) return 1;
  if (rc == 0) { lua_pushnil(L); return 1; }
  return lua_error(L); /* a for loop cannot take nil, msg: raise the message */
}

static int l_rows(lua_State *L) {
  int nf = open_cursor(L);
  if (nf) { /* the failure is raised: a for loop has no way to receive it */
    lua_pop(L, 1);
    return lua_error(L);
  }
  int ci = lua_gettop(L);
  lua_pushcfunction(L, l_rows_iter);
  lua_pushvalue(L, ci);
  lua_pushnil(L);
  lua_pushvalue(L, ci); /* closing value: the loop closes the cursor however it ends */
  return 4;
}

static int l_cursor_close(lua_State *L) {
  LCursor *cu = luaL_checkudata(L, 1, CURSOR);
  int open = cu->q != NULL;
  cursor_detach(cu);
  return fmh_push_closed(L, open);
}

static int l_cursor_columns(lua_State *L) {
  LCursor *cu = check_cursor(L, 1);
  if (!cu->q) luaL_argerror(L, 1, "cursor is closed");
  push_columns(L, cu->q);
  return 1;
}

static int l_ping(lua_State *L) {
  LConn *lc = check_conn(L, 1);
  fmh_error e = {0};
  if (fmh_conn_ping(lc->c, &e) != 0) return fmh_plua_push_fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int simple(lua_State *L, LConn *lc, const char *sql, fmh_error *e) {
  return fmh_conn_exec(lc->c, sql, strlen(sql), e);
}

static int l_transaction(lua_State *L) {
  LConn *lc = check_conn(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (lc->cur) return luaL_error(L, "connection busy: a cursor is still open on it (close it first)");
  if (fmh_conn_in_transaction(lc->c))
    return luaL_error(L, "a transaction is already open on this connection");
  fmh_error e = {0};
  if (simple(L, lc, "START TRANSACTION", &e) != 0) return fmh_plua_push_fail(L, &e);
  int nargs = lua_gettop(L) - 2;
  int base = lua_gettop(L);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 1);
  for (int i = 0; i < nargs; i++) lua_pushvalue(L, 3 + i);
  int st = lua_pcall(L, nargs + 1, LUA_MULTRET, 0);
  int nres = lua_gettop(L) - base;
  if (st != LUA_OK) {
    if (lc->c) {
      if (lc->cur) cursor_detach(lc->cur);
      fmh_error re = {0};
      if (simple(L, lc, "ROLLBACK", &re) != 0) fmh_conn_mark_broken(lc->c);
      fmh_error_clear(&re);
    }
    return lua_error(L);
  }
  if (!lc->c) return luaL_error(L, "the connection was released inside its transaction");
  if (lc->cur) cursor_detach(lc->cur);
  int failed = nres >= 2 && lua_isnil(L, base + 1) && !lua_isnil(L, base + 2);
  if (failed) {
    fmh_error re = {0};
    if (simple(L, lc, "ROLLBACK", &re) != 0) fmh_conn_mark_broken(lc->c);
    fmh_error_clear(&re);
    return nres;
  }
  if (simple(L, lc, "COMMIT", &e) != 0) {
    fmh_error re = {0};
    if (!fmh_conn_is_broken(lc->c) && simple(L, lc, "ROLLBACK", &re) != 0) fmh_conn_mark_broken(lc->c);
    fmh_error_clear(&re);
    return fmh_plua_push_fail(L, &e);
  }
  return nres;
}

static int l_warnings(lua_State *L) {
  LConn *lc = check_conn(L, 1);
  lua_settop(L, 1);
  lua_pushliteral(L, "SHOW WARNINGS");
  fmh_cursor *q;
  fmh_exec_result res;
  int nf = run(L, lc, 2, &q, &res);
  if (nf) return nf;
  lua_newtable(L);
  int t = lua_gettop(L), k = 0;
  fmh_error e = {0};
  const fmh_value *row;
  int rc;
  while (q && (rc = fmh_cursor_fetch(q, &row, &e)) == 1) {
    lua_createtable(L, 0, 3);
    push_value(L, &row[0]);
    lua_setfield(L, -2, "level");
    push_value(L, &row[1]);
    lua_setfield(L, -2, "code");
    push_value(L, &row[2]);
    lua_setfield(L, -2, "message");
    lua_rawseti(L, t, ++k);
  }
  if (q) fmh_cursor_close(q);
  return 1;
}

static int l_info(lua_State *L) {
  LConn *lc = check_conn(L, 1);
  MYSQL *m = fmh_conn_mysql(lc->c);
  lua_createtable(L, 0, 6);
  fmh_plua_set_int(L, "serial", (lua_Integer)fmh_conn_serial(lc->c));
  fmh_plua_set_int(L, "thread_id", (lua_Integer)mysql_thread_id(m));
  const char *cipher = mysql_get_ssl_cipher(m);
  if (cipher) {
    lua_pushstring(L, cipher);
    lua_setfield(L, -2, "cipher");
  }
  lua_pushstring(L, mysql_get_server_info(m));
  lua_setfield(L, -2, "server_version");
  lua_pushstring(L, mysql_get_host_info(m));
  lua_setfield(L, -2, "host_info");
  lua_pushboolean(L, fmh_conn_is_broken(lc->c));
  lua_setfield(L, -2, "broken");
  return 1;
}

static int l_conn_tostring(lua_State *L) {
  LConn *lc = luaL_checkudata(L, 1, CONN);
  if (!lc->c) lua_pushstring(L, "fmhost.pool.Conn (released)");
  else
    lua_pushfstring(L, "fmhost.pool.Conn #%d (thread %d)", (int)fmh_conn_serial(lc->c),
                    (int)mysql_thread_id(fmh_conn_mysql(lc->c)));
  return 1;
}

/* --- pool-level shortcuts: acquire, run the Conn method, release ------------ */

static int with_conn(lua_State *L, lua_CFunction f) {
  LPool *lp = fmh_plua_check_pool(L, 1);
  fmh_error e = {0};
  fmh_conn *c;
  if (fmh_pool_acquire(lp->p, -1, &c, &e) != 0) return fmh_plua_push_fail(L, &e);
  new_conn(L, 1, c);
  lua_replace(L, 1);  /* the conn pins the pool */
  lua_toclose(L, 1);  /* released when this call ends, raised errors included */
  return f(L);
}

static int l_pool_exec(lua_State *L) { return with_conn(L, l_exec); }
static int l_pool_query(lua_State *L) { return with_conn(L, l_query); }
static int l_pool_row(lua_State *L) { return with_conn(L, l_row); }
static int l_pool_scalar(lua_State *L) { return with_conn(L, l_scalar); }
static int l_pool_transaction(lua_State *L) { return with_conn(L, l_transaction); }

/* --- values ------------------------------------------------------------ */

static int wrap(lua_State *L, const char *tname, const char *what) {
  luaL_checktype(L, 1, LUA_TSTRING);
  (void)what;
  lua_createtable(L, 1, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  luaL_setmetatable(L, tname);
  return 1;
}

static int l_decimal(lua_State *L) {
  luaL_checktype(L, 1, LUA_TSTRING); /* a float would not be exact */
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0, digits = 0, dots = 0;
  for (; i < len; i++) {
    if (s[i] >= '0' && s[i] <= '9') digits++;
    else if (s[i] == '.' && dots == 0) dots++;
    else break;
  }
  luaL_argcheck(L, i == len && digits > 0, 1, "not a decimal number");
  return wrap(L, DECIMAL, "decimal");
}
static int l_datetime(lua_State *L) { return wrap(L, DATETIME, "datetime"); }
static int l_blob(lua_State *L) { return wrap(L, BLOB, "blob"); }

static int l_wrapped_tostring(lua_State *L) {
  lua_rawgeti(L, 1, 1);
  return 1;
}

static int l_null_tostring(lua_State *L) {
  lua_pushliteral(L, "NULL");
  return 1;
}

static int l_is_null(lua_State *L) {
  lua_pushboolean(L, !lua_isnone(L, 1) && is_null(L, 1) && !lua_isnil(L, 1));
  return 1;
}

/* --- registration ------------------------------------------------------- */

static const luaL_Reg pool_methods[] = {
    {"acquire", l_acquire},  {"stats", l_stats},   {"maintain", l_maintain},
    {"close", l_pool_close}, {"exec", l_pool_exec}, {"query", l_pool_query},
    {"row", l_pool_row},     {"scalar", l_pool_scalar}, {"transaction", l_pool_transaction},
    {"load", fmh_plua_load},        {"stress", fmh_plua_stress}, {"fifo_probe", fmh_plua_fifo_probe}, {NULL, NULL}};
static const luaL_Reg pool_meta[] = {
    {"__gc", l_pool_close}, {"__close", l_pool_close}, {"__tostring", l_pool_tostring}, {NULL, NULL}};

static const luaL_Reg conn_methods[] = {
    {"exec", l_exec},       {"query", l_query},       {"row", l_row},         {"scalar", l_scalar},
    {"rows", l_rows},       {"cursor", l_cursor},     {"transaction", l_transaction},
    {"ping", l_ping},       {"warnings", l_warnings}, {"info", l_info},       {"release", l_release},
    {"close", l_release},   {NULL, NULL}};
static const luaL_Reg conn_meta[] = {
    {"__gc", l_release}, {"__close", l_release}, {"__tostring", l_conn_tostring}, {NULL, NULL}};

static const luaL_Reg cursor_methods[] = {
    {"fetch", l_cursor_fetch}, {"columns", l_cursor_columns}, {"close", l_cursor_close}, {NULL, NULL}};
static const luaL_Reg cursor_meta[] = {{"__gc", l_cursor_close}, {"__close", l_cursor_close}, {NULL, NULL}};

static const luaL_Reg source_methods[] = {
    {"row", fmh_plua_bsource_row},           {"csv", fmh_plua_bsource_csv}, {"sql", fmh_plua_bsource_sql},
    {"write_csv", fmh_plua_bsource_write_csv}, {"write_sql", fmh_plua_bsource_write_sql}, {"ddl", fmh_plua_bsource_ddl},
    {NULL, NULL}};

static const luaL_Reg pool_funcs[] = {
    {"open", l_open},       {"decimal", l_decimal}, {"datetime", l_datetime},
    {"blob", l_blob},       {"is_null", l_is_null}, {"bench_source", fmh_plua_bench_source},
    {"stress", fmh_plua_stress},   {NULL, NULL}};

int luaopen_fmhost_pool(lua_State *L) {
  fmh_newclass(L, POOL, pool_methods, pool_meta);
  fmh_newclass(L, CONN, conn_methods, conn_meta);
  fmh_newclass(L, CURSOR, cursor_methods, cursor_meta);
  fmh_newclass(L, SOURCE, source_methods, NULL);
  luaL_getmetatable(L, SOURCE);
  lua_getfield(L, -1, "__index");
  lua_pushcclosure(L, fmh_plua_bsource_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  static const luaL_Reg wrapped_meta[] = {{"__tostring", l_wrapped_tostring}, {NULL, NULL}};
  const char *wrappers[] = {DECIMAL, DATETIME, BLOB};
  for (int i = 0; i < 3; i++) {
    luaL_newmetatable(L, wrappers[i]);
    luaL_setfuncs(L, wrapped_meta, 0);
    lua_pop(L, 1);
  }
  /* one NULL for the whole process' state: rows from any require compare equal */
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &NULL_KEY) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 0);
    luaL_newmetatable(L, NULLT);
    lua_pushcfunction(L, l_null_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &NULL_KEY);
  } else {
    lua_pop(L, 1);
  }
  fmh_newmodule(L, "fmhost.pool", pool_funcs);
  fmh_plua_push_null(L);
  lua_setfield(L, -2, "NULL");
  return 1;
}
