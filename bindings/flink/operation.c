/* fmhost.flink.Operation: a statement run by a Session, over
 * fmh_flink_operation (host/flink/operation.c), which waits, fetches and
 * keeps the result; here only arguments and results are converted. A part
 * of the module fmhost.flink (bindings/flink.c), not a module. */
#include <stdlib.h>
#include <string.h>

#include "flink_lua.h"

#define OP_T "fmhost.flink.Operation"

typedef struct { fmh_flink_operation *o; long timeout_ms; int closed; } op_ud;

static op_ud *check_op(lua_State *L, int i) {
  op_ud *u = luaL_checkudata(L, i, OP_T);
  if (u->closed) luaL_argerror(L, i, "the operation is closed");
  return u;
}

int fmh_flink_lua_op_execute(lua_State *L, int session, fmh_flink *c, const char *sh,
                             const char *sql, json_t *conf, long exec_timeout_ms, long timeout_ms) {
  session = lua_absindex(L, session);
  op_ud *o = lua_newuserdatauv(L, sizeof *o, 1);
  memset(o, 0, sizeof *o);
  luaL_setmetatable(L, OP_T);
  fmh_error err = {0};
  o->o = fmh_flink_operation_submit(c, sh, sql, conf, exec_timeout_ms, &err);
  json_decref(conf);
  if (!o->o) {
    o->closed = 1;
    return fmh_fail(L, &err);
  }
  o->timeout_ms = timeout_ms;
  lua_pushvalue(L, session);
  lua_setiuservalue(L, -2, 1); /* the operation pins its session */
  return 1;
}

static int op_gc(lua_State *L) {
  op_ud *o = luaL_checkudata(L, 1, OP_T);
  fmh_flink_operation_free(o->o);
  o->o = NULL;
  o->closed = 1;
  return 0;
}

static int op_tostring(lua_State *L) {
  op_ud *o = luaL_checkudata(L, 1, OP_T);
  lua_pushfstring(L, "fmhost.flink.Operation (%s)", o->o ? fmh_flink_operation_handle(o->o) : "closed");
  return 1;
}

static int op_handle(lua_State *L) {
  lua_pushstring(L, fmh_flink_operation_handle(check_op(L, 1)->o));
  return 1;
}

/* The gateway call on an operation: its client, session and handle. */
#define OP_ARGS(u)                                                          \
  fmh_flink_operation_client((u)->o), fmh_flink_operation_session((u)->o), \
      fmh_flink_operation_handle((u)->o)

static int op_status(lua_State *L) {
  op_ud *o = check_op(L, 1);
  fmh_error err = {0};
  char st[32];
  return fmh_flink_lua_push_outcome(L, fmh_flink_op_status(OP_ARGS(o), st, sizeof st, &err), st, &err);
}

/* op:wait([timeout_ms | {timeout_ms=}]) -> final status | nil, msg, info */
static int op_wait(lua_State *L) {
  op_ud *o = check_op(L, 1);
  long timeout = lua_isinteger(L, 2) ? (long)lua_tointeger(L, 2)
                                     : fmh_flink_lua_opt_ms(L, 2, "timeout_ms", o->timeout_ms);
  if (timeout <= 0) luaL_argerror(L, 2, "the timeout must be positive");
  fmh_error err = {0};
  char st[32] = "";
  int n;
  if (fmh_flink_op_wait(OP_ARGS(o), timeout, st, sizeof st, &err)) {
    n = fmh_push_error(L, &err);
    if (st[0]) fmh_set_str(L, "state", st);
  } else {
    lua_pushstring(L, st);
    n = 1;
  }
  fmh_error_clear(&err);
  return n;
}

/* Push rows (a list of lists, NULL for SQL NULL) and the result table;
 * takes r's reference. Returns 2. */
static int push_result(lua_State *L, json_t *r) {
  json_t *rows = json_object_get(r, "rows");
  lua_createtable(L, (int)json_array_size(rows), 0);
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    fmh_lua_pushjson(L, row, 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_createtable(L, 0, 8);
  json_t *cols = json_object_get(r, "columns");
  lua_createtable(L, (int)json_array_size(cols), 0);
  lua_createtable(L, (int)json_array_size(cols), 0);
  json_t *col;
  json_array_foreach(cols, i, col) {
    const char *name = json_string_value(json_object_get(col, "name"));
    lua_pushstring(L, name ? name : "");
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    const char *type = json_string_value(json_object_get(json_object_get(col, "logicalType"), "type"));
    lua_pushstring(L, type ? type : "");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -3, "types");
  lua_setfield(L, -2, "columns");
  fmh_lua_pushjson(L, cols, 0);
  lua_setfield(L, -2, "column_info");
  fmh_lua_pushjson(L, json_object_get(r, "kinds"), 0);
  lua_setfield(L, -2, "kinds");
  const char *jid = json_string_value(json_object_get(r, "job_id"));
  if (jid) fmh_set_str(L, "job_id", jid);
  const char *rk = json_string_value(json_object_get(r, "result_kind"));
  if (rk) fmh_set_str(L, "result_kind", rk);
  fmh_set_bool(L, "eos", json_is_true(json_object_get(r, "eos")));
  fmh_set_int(L, "count", (lua_Integer)json_array_size(rows));
  json_decref(r);
  return 2;
}

/* The fetch options {row_format=, max_rows=, timeout_ms=} at opts. */
static const char *fetch_opts(lua_State *L, op_ud *o, int opts, long *max_rows, long *timeout) {
  const char *fmt = "JSON";
  *max_rows = 0;
  *timeout = o->timeout_ms;
  if (lua_type(L, opts) == LUA_TTABLE) {
    fmt = fmh_opt_str(L, opts, "row_format", "JSON");
    *max_rows = (long)fmh_opt_int(L, opts, "max_rows", 0);
    *timeout = fmh_flink_lua_opt_ms(L, opts, "timeout_ms", o->timeout_ms);
  }
  if (strcmp(fmt, "JSON") != 0 && strcmp(fmt, "PLAIN_TEXT") != 0)
    luaL_error(L, "row_format must be JSON or PLAIN_TEXT");
  return fmt;
}

/* op:fetch_all([{row_format=, max_rows=, timeout_ms=}]) -> rows, result */
static int op_fetch_all(lua_State *L) {
  op_ud *o = check_op(L, 1);
  long max_rows, timeout;
  const char *fmt = fetch_opts(L, o, 2, &max_rows, &timeout);
  fmh_error err = {0};
  json_t *r = fmh_flink_operation_result(o->o, fmt, timeout, max_rows, &err);
  return r ? push_result(L, r) : fmh_fail(L, &err);
}

static int op_job_id(lua_State *L) {
  op_ud *o = check_op(L, 1);
  fmh_error err = {0};
  char id[64];
  return fmh_flink_lua_push_outcome(L, fmh_flink_operation_job_id(o->o, o->timeout_ms, id, sizeof id, &err), id, &err);
}

static int op_cancel(lua_State *L) {
  op_ud *o = check_op(L, 1);
  fmh_error err = {0};
  return fmh_flink_lua_push_outcome(L, fmh_flink_op_cancel(OP_ARGS(o), &err), NULL, &err);
}

static int op_close(lua_State *L) {
  op_ud *o = luaL_checkudata(L, 1, OP_T);
  if (o->closed) return fmh_push_closed(L, 0);
  fmh_error err = {0};
  int n = fmh_flink_lua_push_outcome(L, fmh_flink_op_close(OP_ARGS(o), &err), NULL, &err);
  o->closed = 1;
  return n;
}

int fmh_flink_lua_op_run(lua_State *L, int op_idx, int opts) {
  op_ud *o = check_op(L, op_idx);
  int close = lua_type(L, opts) == LUA_TTABLE ? fmh_opt_bool(L, opts, "close", 1) : 1;
  long max_rows, timeout;
  const char *fmt = fetch_opts(L, o, opts, &max_rows, &timeout);
  fmh_error err = {0};
  json_t *r = NULL;
  int rc = fmh_flink_operation_run(o->o, fmt, timeout, max_rows, close, &r, &err);
  if (rc == -1) {
    int n = fmh_push_error(L, &err);
    fmh_set_str(L, "operation", fmh_flink_operation_handle(o->o));
    fmh_error_clear(&err);
    return n;
  }
  if (rc) return fmh_fail(L, &err);
  if (close) o->closed = 1;
  return push_result(L, r);
}

static const luaL_Reg op_methods[] = {
    {"handle", op_handle}, {"status", op_status}, {"wait", op_wait}, {"fetch_all", op_fetch_all},
    {"job_id", op_job_id}, {"cancel", op_cancel}, {"close", op_close}, {NULL, NULL}};
/* __close closes the operation on the gateway as close() does; __gc only
 * frees (the collector must not wait on the network). */
static const luaL_Reg op_meta[] = {
    {"__gc", op_gc}, {"__close", op_close}, {"__tostring", op_tostring}, {NULL, NULL}};

void fmh_flink_lua_op_class(lua_State *L) { fmh_newclass(L, OP_T, op_methods, op_meta); }
