/* What the parts of the module fmhost.flink share: bindings/flink.c (the
 * module and its Client) and bindings/flink/{job,session,operation,stub}.c
 * (one class each). Private to the module; no other binding includes it. */
#ifndef FMHOST_BINDINGS_FLINK_LUA_H
#define FMHOST_BINDINGS_FLINK_LUA_H

#include "fmhost/flink.h"
#include "fmhost/interp.h"
#include "fmhost/json_lua.h"

/* Push j as Lua (stealing the reference); on NULL push the error. Clears err. */
int fmh_flink_lua_push_json(lua_State *L, json_t *j, fmh_error *err);
/* Push the array under key of j (an empty list when absent); on NULL push
 * the error. Takes j's reference; clears err. */
int fmh_flink_lua_push_list(lua_State *L, json_t *j, const char *key, fmh_error *err);
/* Push text (true when NULL) or, when rc is not 0, the error. Clears err. */
int fmh_flink_lua_push_outcome(lua_State *L, int rc, const char *text, fmh_error *err);
/* A milliseconds option of the table at t (def when t is not a table);
 * raises when negative. */
long fmh_flink_lua_opt_ms(lua_State *L, int t, const char *k, long def);

/* The open client of the fmhost.flink.Client at i; raises otherwise. */
fmh_flink *fmh_flink_lua_check_client(lua_State *L, int i);
/* Push a new fmhost.flink.Job for the job id on client c. */
void fmh_flink_lua_new_job(lua_State *L, fmh_flink *c, const char *id);
/* c:session(opts) -> Session */
int fmh_flink_lua_session(lua_State *L);
/* Submit sql in session sh and push the Operation, which pins the Session
 * at index session; takes conf. Returns 1, or 3 (nil, msg, info). */
int fmh_flink_lua_op_execute(lua_State *L, int session, fmh_flink *c, const char *sh,
                             const char *sql, json_t *conf, long exec_timeout_ms, long timeout_ms);
/* The rest of s:run for the Operation at op: wait, fetch with the options
 * at opts, close. Returns 2 (rows, result) or 3 (nil, msg, info). */
int fmh_flink_lua_op_run(lua_State *L, int op, int opts);
/* flink._stub_server{replies=} -> Stub (test support only) */
int fmh_flink_lua_stub_server(lua_State *L);

/* Register each class's metatable (from luaopen_fmhost_flink). */
void fmh_flink_lua_job_class(lua_State *L);
void fmh_flink_lua_session_class(lua_State *L);
void fmh_flink_lua_op_class(lua_State *L);
void fmh_flink_lua_stub_class(lua_State *L);

#endif
