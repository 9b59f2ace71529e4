/* fmhost.flink.Job: a handle on one job of the JobManager (its id and the
 * client), the Lua face of the job calls in include/fmhost/flink.h. A part
 * of the module fmhost.flink (bindings/flink.c), not a module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flink_lua.h"

#define JOB_T "fmhost.flink.Job"

typedef struct { fmh_flink *c; char id[33]; } job_ud;

static job_ud *check_job(lua_State *L, int i) {
  job_ud *j = luaL_checkudata(L, i, JOB_T);
  if (!j->c) luaL_argerror(L, i, "the job handle is closed");
  return j;
}

void fmh_flink_lua_new_job(lua_State *L, fmh_flink *c, const char *id) {
  job_ud *j = lua_newuserdatauv(L, sizeof *j, 0);
  j->c = NULL;
  luaL_setmetatable(L, JOB_T);
  j->c = fmh_flink_ref(c);
  snprintf(j->id, sizeof j->id, "%s", id);
}

/* ---- jobs ------------------------------------------------------------- */

/* close(), __close and __gc: lets go of the client (the job runs on). */
static int job_close(lua_State *L) {
  job_ud *j = luaL_checkudata(L, 1, JOB_T);
  if (!j->c) return fmh_push_closed(L, 0);
  fmh_flink_unref(j->c);
  j->c = NULL;
  return fmh_push_closed(L, 1);
}

static int job_tostring(lua_State *L) {
  job_ud *j = luaL_checkudata(L, 1, JOB_T);
  lua_pushfstring(L, "fmhost.flink.Job (%s%s)", j->id, j->c ? "" : ", closed");
  return 1;
}

static int job_id(lua_State *L) {
  lua_pushstring(L, check_job(L, 1)->id);
  return 1;
}

static int job_state(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  char st[32];
  return fmh_flink_lua_push_outcome(L, fmh_flink_job_state(j->c, j->id, st, sizeof st, &err), st, &err);
}

static int job_detail(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  return fmh_flink_lua_push_json(L, fmh_flink_job(j->c, j->id, &err), &err);
}

static int job_vertices(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  return fmh_flink_lua_push_list(L, fmh_flink_job(j->c, j->id, &err), "vertices", &err);
}

static int job_exceptions(lua_State *L) {
  job_ud *j = check_job(L, 1);
  int max = (int)luaL_optinteger(L, 2, 0);
  fmh_error err = {0};
  return fmh_flink_lua_push_json(L, fmh_flink_job_exceptions(j->c, j->id, max, &err), &err);
}

static int job_root_exception(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  json_t *ex = fmh_flink_job_exceptions(j->c, j->id, 1, &err);
  if (!ex) return fmh_fail(L, &err);
  const char *name = NULL;
  const char *trace = fmh_flink_root_exception(ex, &name);
  if (trace) lua_pushstring(L, trace);
  else lua_pushnil(L);
  if (name) lua_pushstring(L, name);
  else lua_pushnil(L);
  json_decref(ex);
  return 2;
}

static int job_checkpoints(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  return fmh_flink_lua_push_json(L, fmh_flink_job_checkpoints(j->c, j->id, &err), &err);
}

static int job_restarts(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  long long n;
  if (fmh_flink_job_restarts(j->c, j->id, &n, &err) != 0) return fmh_fail(L, &err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* The vertex argument: a 32-hex id, a 1-based index or part of a name. */
static int vertex_arg(lua_State *L, job_ud *j, int i, char vid[33], fmh_error *err) {
  if (lua_isinteger(L, i)) {
    lua_Integer k = lua_tointeger(L, i);
    if (k < 1) luaL_argerror(L, i, "vertex index starts at 1");
    return fmh_flink_vertex_id(j->c, j->id, NULL, (int)k, vid, err);
  }
  const char *spec = luaL_checkstring(L, i);
  return fmh_flink_vertex_id(j->c, j->id, spec, 0, vid, err);
}

/* Names as a comma list: a list of strings, one string, or the default. */
static const char *names_arg(lua_State *L, int i, const char *def) {
  if (lua_isnoneornil(L, i)) return def;
  if (lua_type(L, i) == LUA_TSTRING) return lua_tostring(L, i);
  luaL_checktype(L, i, LUA_TTABLE);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_Integer n = (lua_Integer)lua_rawlen(L, i);
  for (lua_Integer k = 1; k <= n; k++) {
    if (k > 1) luaL_addchar(&b, ',');
    lua_rawgeti(L, i, k);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, i, "metric names must be strings");
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  lua_replace(L, i);
  return lua_tostring(L, i);
}

/* A metric value as a number when it is one. */
static void push_metric_value(lua_State *L, const json_t *v) {
  if (json_is_string(v)) {
    lua_pushstring(L, json_string_value(v));
    if (lua_stringtonumber(L, lua_tostring(L, -1))) lua_remove(L, -2);
  } else {
    fmh_lua_pushjson(L, v, 0);
  }
}

static const char *const default_metrics =
    "numRecordsIn,numRecordsOut,numRecordsInPerSecond,numRecordsOutPerSecond,numBytesIn,numBytesOut";

/* Push Flink's metric list [{id=, <key>=}...] as {id = value} and let go
 * of r. An entry without key: the whole entry (entry, several aggregations
 * asked for) or true (Flink lists the ids only when no names are given). */
static int push_metric_map(lua_State *L, json_t *r, const char *key, int entry) {
  lua_newtable(L);
  size_t i;
  json_t *m;
  json_array_foreach(r, i, m) {
    const char *id = json_string_value(json_object_get(m, "id"));
    if (!id) continue;
    json_t *v = json_object_get(m, key);
    if (v) push_metric_value(L, v);
    else if (entry) fmh_lua_pushjson(L, m, 0);
    else lua_pushboolean(L, 1);
    lua_setfield(L, -2, id);
  }
  json_decref(r);
  return 1;
}

/* job:metrics(vertex[, names[, {agg=}]]) -> {name = value aggregated over the subtasks} */
static int job_metrics(lua_State *L) {
  job_ud *j = check_job(L, 1);
  lua_settop(L, 4);
  const char *names = names_arg(L, 3, default_metrics);
  const char *agg = "sum";
  if (lua_type(L, 4) == LUA_TTABLE) agg = fmh_opt_str(L, 4, "agg", "sum");
  fmh_error err = {0};
  char vid[33];
  json_t *r = NULL;
  if (vertex_arg(L, j, 2, vid, &err) == 0) r = fmh_flink_subtask_metrics(j->c, j->id, vid, names, agg, &err);
  return r ? push_metric_map(L, r, agg, 1) : fmh_fail(L, &err);
}

/* job:vertex_metrics(vertex[, names]) -> {["0.numRecordsIn"] = value, ...} per subtask */
static int job_vertex_metrics(lua_State *L) {
  job_ud *j = check_job(L, 1);
  lua_settop(L, 3);
  const char *names = names_arg(L, 3, NULL);
  fmh_error err = {0};
  char vid[33];
  json_t *r = NULL;
  if (vertex_arg(L, j, 2, vid, &err) == 0) r = fmh_flink_vertex_metrics(j->c, j->id, vid, names, &err);
  return r ? push_metric_map(L, r, "value", 0) : fmh_fail(L, &err);
}

static int job_backpressure(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  char vid[33];
  json_t *r = NULL;
  if (vertex_arg(L, j, 2, vid, &err) == 0) r = fmh_flink_backpressure(j->c, j->id, vid, &err);
  return fmh_flink_lua_push_json(L, r, &err);
}

static int job_cancel(lua_State *L) {
  job_ud *j = check_job(L, 1);
  fmh_error err = {0};
  return fmh_flink_lua_push_outcome(L, fmh_flink_job_cancel(j->c, j->id, &err), NULL, &err);
}

/* job:stop{savepoint_dir=, drain=false, timeout_ms=120000} -> savepoint path */
static int job_stop(lua_State *L) {
  job_ud *j = check_job(L, 1);
  if (lua_isnoneornil(L, 2)) { lua_newtable(L); lua_replace(L, 2); }
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *dir = fmh_opt_str(L, 2, "savepoint_dir", NULL);
  int drain = fmh_opt_bool(L, 2, "drain", 0);
  long timeout = fmh_flink_lua_opt_ms(L, 2, "timeout_ms", 120000);
  fmh_error err = {0};
  char *loc = NULL;
  int rc = fmh_flink_job_stop(j->c, j->id, dir, drain, timeout, &loc, &err);
  int n = fmh_flink_lua_push_outcome(L, rc, loc, &err);
  free(loc);
  return n;
}

/* job:wait(states[, timeout_ms]) -> state | nil, msg, info{state, job_id, root_exception} */
static int job_wait(lua_State *L) {
  job_ud *j = check_job(L, 1);
  const char *targets[16];
  size_t nt = 0;
  if (lua_type(L, 2) == LUA_TSTRING) {
    targets[nt++] = lua_tostring(L, 2);
  } else {
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t len = lua_rawlen(L, 2);
    if (len == 0 || len > 16) luaL_argerror(L, 2, "give 1 to 16 target states");
    for (size_t i = 0; i < len; i++) {
      lua_rawgeti(L, 2, (lua_Integer)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, 2, "states must be strings");
      targets[nt++] = lua_tostring(L, -1); /* anchored by the table */
      lua_pop(L, 1);
    }
  }
  for (size_t i = 0; i < nt; i++)
    if (!fmh_flink_job_state_known(targets[i]))
      luaL_argerror(L, 2, lua_pushfstring(L, "'%s' is not a Flink job state", targets[i]));
  lua_Integer timeout = luaL_optinteger(L, 3, 60000);
  if (timeout <= 0) luaL_argerror(L, 3, "the timeout must be positive");
  fmh_error err = {0};
  char state[32];
  char *root = NULL;
  if (fmh_flink_job_wait(j->c, j->id, targets, nt, (long)timeout, state, sizeof state, &root,
                         &err) == 0) {
    lua_pushstring(L, state);
    fmh_error_clear(&err);
    return 1;
  }
  fmh_push_error(L, &err);
  if (state[0]) fmh_set_str(L, "state", state);
  fmh_set_str(L, "job_id", j->id);
  if (root) fmh_set_str(L, "root_exception", root);
  free(root);
  fmh_error_clear(&err);
  return 3;
}

static const luaL_Reg job_methods[] = {
    {"id", job_id}, {"state", job_state}, {"detail", job_detail}, {"vertices", job_vertices},
    {"exceptions", job_exceptions}, {"root_exception", job_root_exception},
    {"checkpoints", job_checkpoints}, {"restarts", job_restarts}, {"metrics", job_metrics},
    {"vertex_metrics", job_vertex_metrics}, {"backpressure", job_backpressure},
    {"cancel", job_cancel}, {"stop", job_stop}, {"wait", job_wait}, {"close", job_close}, {NULL, NULL}};
static const luaL_Reg job_meta[] = {
    {"__gc", job_close}, {"__close", job_close}, {"__tostring", job_tostring}, {NULL, NULL}};

void fmh_flink_lua_job_class(lua_State *L) { fmh_newclass(L, JOB_T, job_methods, job_meta); }
