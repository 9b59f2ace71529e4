/* fmhost.nats: the Lua face of host/nats/nats.c, a JetStream client over libnats.
 *
 * Lua sees:
 *   nats.connect([opts]) -> Conn | nil, msg, info
 *       opts (default: cfg.nats, which can be passed as it is; keys it does not
 *       know are ignored): url (one or comma-separated; else nats://<host>:<port>),
 *       host, port, name ('fmhost'), connect_timeout_ms (2000), timeout_ms (5000:
 *       every JetStream API request and synchronous publish), max_pending (4096
 *       asynchronous publishes in flight), connect_attempts (3),
 *       connect_backoff_ms (250, doubling, capped at 10 s), or connect_retry =
 *       a retry.policy or a table of its fields. A refused connection or a
 *       timeout is retried; the last failure is returned (info.retryable).
 *       A connection reconnects by itself after the server comes back.
 *   nats.available() -> whether fmhost was built with libnats
 *   nats.row_key(g, row [, {key=}]) -> the key text row `row` of generator g
 *       gets in c:publish_rows (its message id is <prefix><key>)
 *   nats.key_slot(key, n) -> the 1-based subject index a key is hashed to
 *       (FNV-1a 64 of the key text, mod n, plus 1)
 *
 *   Conn (fmhost.nats.Conn; <close>-able):
 *   c:close() -> true | false, 'already closed'   (unacked asynchronous publishes are dropped)
 *   c:url() -> the connected server's URL ('' while disconnected)
 *   c:connected() -> bool      c:max_payload() -> bytes
 *   c:stream_add(cfg) / c:stream_update(cfg) -> info | nil, msg, info
 *       cfg = {name=, subjects={...} (or subject=), storage='file'|'memory',
 *              retention='limits'|'interest'|'workqueue', discard='old'|'new',
 *              max_msgs=, max_bytes=, max_msgs_per_subject= (-1: no limit),
 *              max_age_ms=, duplicate_window_ms= (0: the server's 2 min),
 *              max_msg_size=, replicas=1, description=, allow_rollup=,
 *              deny_delete=, deny_purge=}
 *       adding an existing stream with the same cfg succeeds; with another it
 *       fails (info.kind 'jetstream', info.code 10058)
 *   c:stream_info(name [, {subjects=true|'filter'}]) -> info | nil, msg, info
 *       info = {name=, created_ns=, config={...the cfg keys above...},
 *               state={messages=, bytes=, first_seq=, last_seq=, first_ts_ns=,
 *                      last_ts_ns=, num_subjects=, num_deleted=, consumers=,
 *                      subjects={[subject]=count} (with opts.subjects: all, or
 *                      those matching the filter)}}
 *       a missing stream: nil, msg, {kind='jetstream', code=10059}
 *   c:stream_purge(name [, {subject=, seq=, keep=}]) -> true (sequences go on)
 *   c:stream_delete(name) -> true       c:streams() -> {name, ...} (sorted)
 *   c:consumer_add(stream, {durable=, filter_subject=, ack_policy='explicit'|'none'|'all',
 *       deliver_policy='all'|'last'|'new'|'by_start_sequence'|'last_per_subject',
 *       start_seq=, ack_wait_ms=, max_deliver=, max_ack_pending=,
 *       inactive_threshold_ms=, description=}) -> consumer info
 *   c:consumer_info(stream, name) -> {stream=, name=, created_ns=,
 *       delivered={consumer_seq=, stream_seq=}, ack_floor={consumer_seq=, stream_seq=},
 *       num_ack_pending=, num_redelivered=, num_waiting=, num_pending=,
 *       config={durable=, filter_subject=, ack_policy=, deliver_policy=, ...}}
 *   c:consumer_delete(stream, name) -> true
 *   c:consumers(stream) -> {consumer info, ...} (every consumer of the stream,
 *       durable or not, each as consumer_info returns it)
 *   c:get_msg(stream, seq) -> msg | nil, msg, info (none there: info.code 10037)
 *   c:last_msg(stream, subject) -> msg
 *       msg = {seq=, subject=, data=, headers={[key]=value}, time_ns=}
 *   c:fetch(stream, consumer, n [, {timeout_ms=5000, ack=true}]) -> {msg, ...}
 *       up to n messages of an existing pull consumer (fewer when no more
 *       come within timeout_ms); msg also has consumer_seq, num_delivered,
 *       num_pending
 *   c:read(stream [, {start_seq=1, count=1000, subject=, timeout_ms=30000}]) -> {msg, ...}
 *       the stream's messages in order from start_seq (on subject only, when
 *       given), through an ephemeral consumer deleted afterwards
 *   c:publish(subject, data [, {msg_id=, headers={}, expect_stream=,
 *       expect_last_seq=, timeout_ms=}]) -> {stream=, seq=, duplicate=}
 *   c:publish_async(subject, data [, {msg_id=, headers={}}]) -> true
 *   c:wait_async([timeout_ms=30000]) -> acks | nil, msg, info (info has the counts)
 *       acks = {published=, acked=, duplicates=, failed=, unacked=,
 *               first_seq=, last_seq=, error=} of the asynchronous publishes
 *       since the previous wait; unacked ones at the timeout are dropped
 *   c:publish_rows{generator=g, subjects={...} (or subject=), first=0, rows=,
 *       format='json'|'csv', spread='hash'|'round_robin', key='col' | {'a','b'} |
 *       false (default: the generator's primary key columns, else the row
 *       index), msg_id=true|false|'prefix' (true: the key itself),
 *       sync=false, timeout_ms= (the connection's: how long a full window or
 *       the final wait may go without the acks it needs), json_as_value=,
 *       decimal_as_string=}
 *       -> result | nil, msg, info (info has the result's fields)
 *       Each row is one message (a JSON object, or a CSV line without its
 *       newline), made and published in C: asynchronously with at most
 *       max_pending in flight, or with sync=true one by one, each waiting for
 *       its ack. result = {published=, acked=, duplicates=, failed=, unacked=,
 *       first_seq=, last_seq=, bytes=, wall_s=, msgs_per_s=,
 *       per_subject={[subject]=n}}
 * A publish that failed with a timeout or a lost connection may still be
 * stored (the message can be on its way, or sent once the connection is
 * back): publishing again with the same msg_id stores it at most once.
 * Failures return nil, msg, info: info.kind 'nats' (info.code the natsStatus,
 * info.reason 'timeout', 'no_responders', 'no_server', ...) or 'jetstream'
 * (info.code the JetStream error code); info.retryable is true for
 * timeouts, no responders and lost or refused connections. Misuse (bad
 * arguments, a closed connection) raises. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fmhost/interp.h"
#include "fmhost/nats.h"

#define CONN_T "fmhost.nats.Conn"

#ifndef FMH_HAVE_NATS

static int l_unavailable(lua_State *L) {
  lua_pushnil(L);
  lua_pushliteral(L, "nats: fmhost was built without libnats (install libnats-dev and rebuild)");
  lua_createtable(L, 0, 2);
  fmh_set_str(L, "kind", "config");
  fmh_set_bool(L, "retryable", 0);
  return 3;
}

static int l_available(lua_State *L) {
  lua_pushboolean(L, 0);
  return 1;
}

int luaopen_fmhost_nats(lua_State *L) {
  static const luaL_Reg funcs[] = {{"connect", l_unavailable}, {"available", l_available}, {NULL, NULL}};
  fmh_newmodule(L, "fmhost.nats", funcs);
  return 1;
}

#else

#include "fmhost/gen_lua.h"

typedef struct {
  fmh_nats *n;
} conn_ud;

static fmh_nats *check_conn(lua_State *L, int i) {
  conn_ud *u = luaL_checkudata(L, i, CONN_T);
  if (!u->n) luaL_argerror(L, i, "connection is closed");
  return u->n;
}

/* nil, msg, info; info.reason names a natsStatus. */
static int push_fail(lua_State *L, fmh_error *e) {
  int is_nats = e->kind && strcmp(e->kind, "nats") == 0;
  return fmh_fail_or_raise(L, e, is_nats ? "reason" : NULL, is_nats ? fmh_nats_status_name(e->code) : NULL);
}

/* ---- options ---------------------------------------------------------------- */

static int64_t opt_i64(lua_State *L, int t, const char *k, int64_t def) {
  if (lua_getfield(L, t, k) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  int ok = 0;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  if (!ok) luaL_error(L, "option '%s' must be an integer", k);
  lua_pop(L, 1);
  return (int64_t)v;
}

/* The string field k of table t (anchored by the table), or def. */
static const char *opt_str(lua_State *L, int t, const char *k, const char *def) {
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (ty != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", k);
  const char *s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s;
}

static int opt_bool(lua_State *L, int t, const char *k, int def) {
  int ty = lua_getfield(L, t, k);
  int v = ty == LUA_TNIL ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* The index of name in names (NULL-terminated), or raises. */
static int opt_enum(lua_State *L, int t, const char *k, const char *const *names, int def) {
  const char *v = opt_str(L, t, k, NULL);
  if (!v) return def;
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], v) == 0) return i;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 0; names[i]; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, names[i]);
  }
  luaL_pushresult(&b);
  return luaL_error(L, "option '%s': unknown value '%s' (one of %s)", k, v, lua_tostring(L, -1));
}

/* A NULL-terminated array of the strings of the list (or single string)
 * in field k, in a userdata left on the stack (collected with it). *n gets
 * the count. */
static const char **opt_strings(lua_State *L, int t, const char *k, const char *single, int *n) {
  *n = 0;
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TNIL && single) {
    lua_pop(L, 1);
    ty = lua_getfield(L, t, single);
    k = single;
  }
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return NULL;
  }
  int list = lua_gettop(L);
  if (ty == LUA_TSTRING) {
    const char **v = lua_newuserdatauv(L, 2 * sizeof *v, 1);
    lua_pushvalue(L, list);
    lua_setiuservalue(L, -2, 1);
    v[0] = lua_tostring(L, list);
    v[1] = NULL;
    lua_replace(L, list);
    *n = 1;
    return v;
  }
  if (ty != LUA_TTABLE) luaL_error(L, "option '%s' must be a string or a list of strings", k);
  lua_Integer len = luaL_len(L, list);
  if (len < 0 || len > 100000) luaL_error(L, "option '%s': too many entries", k);
  const char **v = lua_newuserdatauv(L, (size_t)(len + 1) * sizeof *v, 1);
  lua_pushvalue(L, list);
  lua_setiuservalue(L, -2, 1); /* the strings stay anchored by their table */
  for (lua_Integer i = 1; i <= len; i++) {
    if (lua_geti(L, list, i) != LUA_TSTRING) luaL_error(L, "option '%s': entry %d is not a string", k, (int)i);
    v[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  v[len] = NULL;
  lua_replace(L, list);
  *n = (int)len;
  return v;
}

/* ---- connect ------------------------------------------------------------------ */

static int l_connect(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    if (lua_getglobal(L, "cfg") == LUA_TTABLE && lua_getfield(L, -1, "nats") == LUA_TTABLE) {
      lua_replace(L, 1);
      lua_settop(L, 1);
    } else {
      lua_settop(L, 0);
      lua_newtable(L);
    }
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  fmh_nats_opts o;
  fmh_nats_opts_default(&o);
  const char *url = opt_str(L, 1, "url", NULL);
  if (!url || !*url) {
    int64_t port = opt_i64(L, 1, "port", -1);
    if (port <= 0 || port > 65535) return luaL_error(L, "nats.connect: give url, or port (pass cfg.nats)");
    const char *host = opt_str(L, 1, "host", "127.0.0.1");
    if (!*host) host = "127.0.0.1";
    url = lua_pushfstring(L, "nats://%s:%d", host, (int)port); /* anchored at index 2 */
  }
  o.url = url;
  o.name = opt_str(L, 1, "name", "fmhost");
  o.connect_timeout_ms = (int)opt_i64(L, 1, "connect_timeout_ms", o.connect_timeout_ms);
  o.timeout_ms = (int)opt_i64(L, 1, "timeout_ms", o.timeout_ms);
  o.max_pending = (int)opt_i64(L, 1, "max_pending", o.max_pending);
  o.connect_retry.max_attempts = (int)opt_i64(L, 1, "connect_attempts", o.connect_retry.max_attempts);
  o.connect_retry.base_ms = (double)opt_i64(L, 1, "connect_backoff_ms", (int64_t)o.connect_retry.base_ms);
  if (lua_getfield(L, 1, "connect_retry") != LUA_TNIL) {
    /* a retry.policy (its fields are readable) or a table of them */
    int t = lua_gettop(L);
    fmh_retry_policy *r = &o.connect_retry;
    r->max_attempts = (int)fmh_opt_int(L, t, "max_attempts", r->max_attempts);
    r->base_ms = fmh_opt_num(L, t, "base_ms", r->base_ms);
    r->factor = fmh_opt_num(L, t, "factor", r->factor);
    r->cap_ms = fmh_opt_num(L, t, "cap_ms", r->cap_ms);
    r->jitter = fmh_opt_num(L, t, "jitter", r->jitter);
    r->deadline_ms = fmh_opt_num(L, t, "deadline_ms", r->deadline_ms);
    lua_getfield(L, t, "seed");
    if (!lua_isnil(L, -1)) o.retry_seed = (uint64_t)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (o.connect_timeout_ms <= 0 || o.timeout_ms <= 0 || o.max_pending <= 0)
    return luaL_error(L, "nats.connect: connect_timeout_ms, timeout_ms and max_pending must be positive");
  conn_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->n = NULL;
  luaL_setmetatable(L, CONN_T);
  fmh_error e = {0};
  u->n = fmh_nats_connect(&o, &e);
  if (!u->n) {
    if (e.kind && strcmp(e.kind, "config") == 0) return fmh_raise(L, &e);
    return push_fail(L, &e);
  }
  return 1;
}

static int l_close(lua_State *L) {
  conn_ud *u = luaL_checkudata(L, 1, CONN_T);
  if (!u->n) return fmh_push_closed(L, 0);
  fmh_nats_close(u->n);
  u->n = NULL;
  return fmh_push_closed(L, 1);
}

static int l_tostring(lua_State *L) {
  conn_ud *u = luaL_checkudata(L, 1, CONN_T);
  if (!u->n) {
    lua_pushliteral(L, "fmhost.nats.Conn (closed)");
  } else {
    char buf[256];
    lua_pushfstring(L, "fmhost.nats.Conn (%s)", fmh_nats_connected_url(u->n, buf, sizeof buf));
  }
  return 1;
}

static int l_url(lua_State *L) {
  char buf[256];
  lua_pushstring(L, fmh_nats_connected_url(check_conn(L, 1), buf, sizeof buf));
  return 1;
}

static int l_connected(lua_State *L) {
  lua_pushboolean(L, fmh_nats_is_connected(check_conn(L, 1)));
  return 1;
}

static int l_max_payload(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)fmh_nats_max_payload(check_conn(L, 1)));
  return 1;
}

/* ---- streams ------------------------------------------------------------------- */

static const char *const STORAGE[] = {"file", "memory", NULL};
static const char *const RETENTION[] = {"limits", "interest", "workqueue", NULL};
static const char *const DISCARD[] = {"old", "new", NULL};
static const char *const ACK[] = {"explicit", "none", "all", NULL};
static const char *const DELIVER[] = {"all", "last", "new", "by_start_sequence", "by_start_time",
                                      "last_per_subject", NULL};

static const char *enum_name(const char *const *names, int v) {
  for (int i = 0; names[i]; i++)
    if (i == v) return names[i];
  return "?";
}

#define MS_NS 1000000LL

/* Fill c from the table at t; the strings stay anchored on the stack. */
static void stream_config(lua_State *L, int t, jsStreamConfig *c) {
  jsStreamConfig_Init(c);
  c->Name = opt_str(L, t, "name", NULL);
  if (!c->Name || !*c->Name) luaL_error(L, "stream: option 'name' is required");
  c->Description = opt_str(L, t, "description", NULL);
  int n = 0;
  c->Subjects = opt_strings(L, t, "subjects", "subject", &n);
  c->SubjectsLen = n;
  c->Storage = (jsStorageType)opt_enum(L, t, "storage", STORAGE, js_FileStorage);
  c->Retention = (jsRetentionPolicy)opt_enum(L, t, "retention", RETENTION, js_LimitsPolicy);
  c->Discard = (jsDiscardPolicy)opt_enum(L, t, "discard", DISCARD, js_DiscardOld);
  c->MaxMsgs = opt_i64(L, t, "max_msgs", -1);
  c->MaxBytes = opt_i64(L, t, "max_bytes", -1);
  c->MaxMsgsPerSubject = opt_i64(L, t, "max_msgs_per_subject", -1);
  c->MaxAge = opt_i64(L, t, "max_age_ms", 0) * MS_NS;
  c->Duplicates = opt_i64(L, t, "duplicate_window_ms", 0) * MS_NS;
  c->MaxMsgSize = (int32_t)opt_i64(L, t, "max_msg_size", -1);
  c->Replicas = opt_i64(L, t, "replicas", 1);
  c->AllowRollup = opt_bool(L, t, "allow_rollup", 0);
  c->DenyDelete = opt_bool(L, t, "deny_delete", 0);
  c->DenyPurge = opt_bool(L, t, "deny_purge", 0);
}

static void push_stream_config(lua_State *L, const jsStreamConfig *c) {
  lua_createtable(L, 0, 16);
  fmh_set_str(L, "name", c->Name);
  if (c->Description) fmh_set_str(L, "description", c->Description);
  fmh_push_strings(L, c->Subjects, (size_t)(c->SubjectsLen > 0 ? c->SubjectsLen : 0));
  lua_setfield(L, -2, "subjects");
  fmh_set_str(L, "storage", enum_name(STORAGE, (int)c->Storage));
  fmh_set_str(L, "retention", enum_name(RETENTION, (int)c->Retention));
  fmh_set_str(L, "discard", enum_name(DISCARD, (int)c->Discard));
  fmh_set_int(L, "max_msgs", c->MaxMsgs);
  fmh_set_int(L, "max_bytes", c->MaxBytes);
  fmh_set_int(L, "max_msgs_per_subject", c->MaxMsgsPerSubject);
  fmh_set_int(L, "max_age_ms", c->MaxAge / MS_NS);
  fmh_set_int(L, "duplicate_window_ms", c->Duplicates / MS_NS);
  fmh_set_int(L, "max_msg_size", c->MaxMsgSize);
  fmh_set_int(L, "replicas", c->Replicas);
  fmh_set_bool(L, "allow_rollup", c->AllowRollup);
  fmh_set_bool(L, "deny_delete", c->DenyDelete);
  fmh_set_bool(L, "deny_purge", c->DenyPurge);
}

/* with_subjects: state.subjects is a table (empty when nothing matched). */
static void push_stream_info(lua_State *L, const jsStreamInfo *si, int with_subjects) {
  lua_createtable(L, 0, 4);
  if (si->Config) {
    fmh_set_str(L, "name", si->Config->Name);
    push_stream_config(L, si->Config);
    lua_setfield(L, -2, "config");
  }
  fmh_set_int(L, "created_ns", si->Created);
  const jsStreamState *st = &si->State;
  lua_createtable(L, 0, 10);
  fmh_set_int(L, "messages", (lua_Integer)st->Msgs);
  fmh_set_int(L, "bytes", (lua_Integer)st->Bytes);
  fmh_set_int(L, "first_seq", (lua_Integer)st->FirstSeq);
  fmh_set_int(L, "last_seq", (lua_Integer)st->LastSeq);
  fmh_set_int(L, "first_ts_ns", st->FirstTime);
  fmh_set_int(L, "last_ts_ns", st->LastTime);
  fmh_set_int(L, "num_subjects", st->NumSubjects);
  fmh_set_int(L, "num_deleted", (lua_Integer)st->NumDeleted);
  fmh_set_int(L, "consumers", st->Consumers);
  if (st->Subjects || with_subjects) {
    int count = st->Subjects ? st->Subjects->Count : 0;
    lua_createtable(L, 0, count);
    for (int i = 0; i < count; i++) {
      lua_pushinteger(L, (lua_Integer)st->Subjects->List[i].Msgs);
      lua_setfield(L, -2, st->Subjects->List[i].Subject);
    }
    lua_setfield(L, -2, "subjects");
  }
  lua_setfield(L, -2, "state");
}

static int stream_add_or_update(lua_State *L, int update) {
  fmh_nats *n = check_conn(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  jsStreamConfig c;
  stream_config(L, 2, &c);
  jsStreamInfo *si = NULL;
  fmh_error e = {0};
  if (fmh_nats_stream_add(n, &c, update, &si, &e) != 0) return push_fail(L, &e);
  push_stream_info(L, si, 0);
  jsStreamInfo_Destroy(si);
  return 1;
}

static int l_stream_add(lua_State *L) { return stream_add_or_update(L, 0); }
static int l_stream_update(lua_State *L) { return stream_add_or_update(L, 1); }

static int l_stream_info(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *name = luaL_checkstring(L, 2);
  const char *filter = NULL;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    int ty = lua_getfield(L, 3, "subjects");
    if (ty == LUA_TSTRING) filter = lua_tostring(L, -1); /* anchored on the stack */
    else if (lua_toboolean(L, -1)) filter = ">";
  }
  jsStreamInfo *si = NULL;
  fmh_error e = {0};
  if (fmh_nats_stream_info(n, name, filter, &si, &e) != 0) return push_fail(L, &e);
  push_stream_info(L, si, filter != NULL);
  jsStreamInfo_Destroy(si);
  return 1;
}

static int l_stream_purge(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *name = luaL_checkstring(L, 2);
  const char *subject = NULL;
  int64_t seq = 0, keep = 0;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    subject = opt_str(L, 3, "subject", NULL);
    seq = opt_i64(L, 3, "seq", 0);
    keep = opt_i64(L, 3, "keep", 0);
    if (seq < 0 || keep < 0) return luaL_error(L, "stream_purge: seq and keep must be >= 0");
  }
  fmh_error e = {0};
  if (fmh_nats_stream_purge(n, name, subject, (uint64_t)seq, (uint64_t)keep, &e) != 0) return push_fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_stream_delete(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *name = luaL_checkstring(L, 2);
  fmh_error e = {0};
  if (fmh_nats_stream_delete(n, name, &e) != 0) return push_fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int l_streams(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  jsStreamNamesList *list = NULL;
  fmh_error e = {0};
  if (fmh_nats_stream_names(n, &list, &e) != 0) return push_fail(L, &e);
  int count = list ? list->Count : 0;
  if (count > 1) qsort(list->List, (size_t)count, sizeof *list->List, cmp_str);
  lua_createtable(L, count, 0);
  for (int i = 0; i < count; i++) {
    lua_pushstring(L, list->List[i]);
    lua_rawseti(L, -2, i + 1);
  }
  if (list) jsStreamNamesList_Destroy(list);
  return 1;
}

/* ---- consumers ---------------------------------------------------------------------- */

static void push_seq_info(lua_State *L, const char *k, const jsSequenceInfo *s) {
  lua_createtable(L, 0, 3);
  fmh_set_int(L, "consumer_seq", (lua_Integer)s->Consumer);
  fmh_set_int(L, "stream_seq", (lua_Integer)s->Stream);
  fmh_set_int(L, "last_ns", s->Last);
  lua_setfield(L, -2, k);
}

static void push_consumer_info(lua_State *L, const jsConsumerInfo *ci) {
  lua_createtable(L, 0, 12);
  fmh_set_str(L, "stream", ci->Stream);
  fmh_set_str(L, "name", ci->Name);
  fmh_set_int(L, "created_ns", ci->Created);
  push_seq_info(L, "delivered", &ci->Delivered);
  push_seq_info(L, "ack_floor", &ci->AckFloor);
  fmh_set_int(L, "num_ack_pending", ci->NumAckPending);
  fmh_set_int(L, "num_redelivered", ci->NumRedelivered);
  fmh_set_int(L, "num_waiting", ci->NumWaiting);
  fmh_set_int(L, "num_pending", (lua_Integer)ci->NumPending);
  fmh_set_bool(L, "push_bound", ci->PushBound);
  if (ci->Config) {
    const jsConsumerConfig *c = ci->Config;
    lua_createtable(L, 0, 10);
    fmh_set_str(L, "durable", c->Durable);
    fmh_set_str(L, "description", c->Description);
    fmh_set_str(L, "filter_subject", c->FilterSubject);
    fmh_set_str(L, "ack_policy", enum_name(ACK, (int)c->AckPolicy));
    fmh_set_str(L, "deliver_policy", enum_name(DELIVER, (int)c->DeliverPolicy));
    fmh_set_int(L, "start_seq", (lua_Integer)c->OptStartSeq);
    fmh_set_int(L, "ack_wait_ms", c->AckWait / MS_NS);
    fmh_set_int(L, "max_deliver", c->MaxDeliver);
    fmh_set_int(L, "max_ack_pending", c->MaxAckPending);
    fmh_set_str(L, "deliver_subject", c->DeliverSubject);
    lua_setfield(L, -2, "config");
  }
}

static int l_consumer_add(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *stream = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  jsConsumerConfig c;
  jsConsumerConfig_Init(&c);
  c.Durable = opt_str(L, 3, "durable", NULL);
  c.Description = opt_str(L, 3, "description", NULL);
  c.FilterSubject = opt_str(L, 3, "filter_subject", NULL);
  c.AckPolicy = (jsAckPolicy)opt_enum(L, 3, "ack_policy", ACK, js_AckExplicit);
  c.DeliverPolicy = (jsDeliverPolicy)opt_enum(L, 3, "deliver_policy", DELIVER, js_DeliverAll);
  c.OptStartSeq = (uint64_t)opt_i64(L, 3, "start_seq", 0);
  if (c.OptStartSeq > 0 && lua_getfield(L, 3, "deliver_policy") == LUA_TNIL) c.DeliverPolicy = js_DeliverByStartSequence;
  c.AckWait = opt_i64(L, 3, "ack_wait_ms", 0) * MS_NS;
  c.MaxDeliver = opt_i64(L, 3, "max_deliver", 0);
  c.MaxAckPending = opt_i64(L, 3, "max_ack_pending", 0);
  c.InactiveThreshold = opt_i64(L, 3, "inactive_threshold_ms", 0) * MS_NS;
  c.DeliverSubject = opt_str(L, 3, "deliver_subject", NULL);
  jsConsumerInfo *ci = NULL;
  fmh_error e = {0};
  if (fmh_nats_consumer_add(n, stream, &c, &ci, &e) != 0) return push_fail(L, &e);
  push_consumer_info(L, ci);
  jsConsumerInfo_Destroy(ci);
  return 1;
}

static int l_consumer_info(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *stream = luaL_checkstring(L, 2);
  const char *name = luaL_checkstring(L, 3);
  jsConsumerInfo *ci = NULL;
  fmh_error e = {0};
  if (fmh_nats_consumer_info(n, stream, name, &ci, &e) != 0) return push_fail(L, &e);
  push_consumer_info(L, ci);
  jsConsumerInfo_Destroy(ci);
  return 1;
}

static int l_consumer_delete(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *stream = luaL_checkstring(L, 2);
  const char *name = luaL_checkstring(L, 3);
  fmh_error e = {0};
  if (fmh_nats_consumer_delete(n, stream, name, &e) != 0) return push_fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_consumers(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *stream = luaL_checkstring(L, 2);
  jsConsumerInfoList *list = NULL;
  fmh_error e = {0};
  if (fmh_nats_consumers(n, stream, &list, &e) != 0) return push_fail(L, &e);
  int count = list ? list->Count : 0;
  lua_createtable(L, count, 0);
  for (int i = 0; i < count; i++) {
    push_consumer_info(L, list->List[i]);
    lua_rawseti(L, -2, i + 1);
  }
  if (list) jsConsumerInfoList_Destroy(list);
  return 1;
}

/* ---- messages -------------------------------------------------------------------------- */

/* A message as a table; seq from the stored message (get) or its metadata
 * (consumer deliveries, meta = 1). */
static void push_msg(lua_State *L, natsMsg *m, int meta) {
  lua_createtable(L, 0, 8);
  fmh_set_str(L, "subject", natsMsg_GetSubject(m));
  const char *d = natsMsg_GetData(m);
  lua_pushlstring(L, d ? d : "", (size_t)natsMsg_GetDataLength(m));
  lua_setfield(L, -2, "data");
  const char **keys = NULL;
  int nk = 0;
  lua_newtable(L);
  if (natsMsgHeader_Keys(m, &keys, &nk) == NATS_OK) {
    for (int i = 0; i < nk; i++) {
      const char *v = NULL;
      if (natsMsgHeader_Get(m, keys[i], &v) == NATS_OK) {
        lua_pushstring(L, v ? v : "");
        lua_setfield(L, -2, keys[i]);
      }
    }
    free((void *)keys);
  }
  lua_setfield(L, -2, "headers");
  jsMsgMetaData *md = NULL;
  if (meta && natsMsg_GetMetaData(&md, m) == NATS_OK) {
    fmh_set_int(L, "seq", (lua_Integer)md->Sequence.Stream);
    fmh_set_int(L, "consumer_seq", (lua_Integer)md->Sequence.Consumer);
    fmh_set_int(L, "num_delivered", (lua_Integer)md->NumDelivered);
    fmh_set_int(L, "num_pending", (lua_Integer)md->NumPending);
    fmh_set_int(L, "time_ns", md->Timestamp);
    jsMsgMetaData_Destroy(md);
  } else {
    fmh_set_int(L, "seq", (lua_Integer)natsMsg_GetSequence(m));
    fmh_set_int(L, "time_ns", natsMsg_GetTime(m));
  }
}

static int l_get_msg(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *stream = luaL_checkstring(L, 2);
  lua_Integer seq = luaL_checkinteger(L, 3);
  luaL_argcheck(L, seq > 0, 3, "sequence must be >= 1");
  natsMsg *m = NULL;
  fmh_error e = {0};
  if (fmh_nats_get_msg(n, stream, (uint64_t)seq, &m, &e) != 0) return push_fail(L, &e);
  push_msg(L, m, 0);
  natsMsg_Destroy(m);
  return 1;
}

static int l_last_msg(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *stream = luaL_checkstring(L, 2);
  const char *subject = luaL_checkstring(L, 3);
  natsMsg *m = NULL;
  fmh_error e = {0};
  if (fmh_nats_last_msg(n, stream, subject, &m, &e) != 0) return push_fail(L, &e);
  push_msg(L, m, 0);
  natsMsg_Destroy(m);
  return 1;
}

static void push_list(lua_State *L, natsMsgList *list) {
  lua_createtable(L, list->Count, 0);
  for (int i = 0; i < list->Count; i++) {
    push_msg(L, list->Msgs[i], 1);
    lua_rawseti(L, -2, i + 1);
  }
}

static int l_fetch(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *stream = luaL_checkstring(L, 2);
  const char *consumer = luaL_checkstring(L, 3);
  lua_Integer batch = luaL_checkinteger(L, 4);
  luaL_argcheck(L, batch >= 1 && batch <= 1000000, 4, "n must be 1..1000000");
  int64_t timeout_ms = 5000;
  int ack = 1;
  if (!lua_isnoneornil(L, 5)) {
    luaL_checktype(L, 5, LUA_TTABLE);
    timeout_ms = opt_i64(L, 5, "timeout_ms", timeout_ms);
    ack = opt_bool(L, 5, "ack", 1);
  }
  luaL_argcheck(L, timeout_ms > 0, 5, "timeout_ms must be positive");
  natsMsgList list = {0};
  fmh_error e = {0};
  if (fmh_nats_fetch(n, stream, consumer, (int)batch, timeout_ms, ack, &list, &e) != 0) return push_fail(L, &e);
  push_list(L, &list);
  natsMsgList_Destroy(&list);
  return 1;
}

static int l_read(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *stream = luaL_checkstring(L, 2);
  int64_t start = 1, count = 1000, timeout_ms = 30000;
  const char *subject = NULL;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    start = opt_i64(L, 3, "start_seq", start);
    count = opt_i64(L, 3, "count", count);
    timeout_ms = opt_i64(L, 3, "timeout_ms", timeout_ms);
    subject = opt_str(L, 3, "subject", NULL);
  }
  luaL_argcheck(L, start >= 1, 3, "start_seq must be >= 1");
  luaL_argcheck(L, count >= 0 && count <= 100000000, 3, "count must be 0..100000000");
  luaL_argcheck(L, timeout_ms > 0, 3, "timeout_ms must be positive");
  natsMsgList list = {0};
  fmh_error e = {0};
  if (fmh_nats_read(n, stream, (uint64_t)start, (int)count, subject, timeout_ms, &list, &e) != 0)
    return push_fail(L, &e);
  push_list(L, &list);
  natsMsgList_Destroy(&list);
  return 1;
}

/* ---- publishing --------------------------------------------------------------------------- */

/* Publish options from the table at t; headers go into a userdata left on
 * the stack. */
static void pub_options(lua_State *L, int t, fmh_nats_pub *o) {
  memset(o, 0, sizeof *o);
  if (lua_isnoneornil(L, t)) return;
  luaL_checktype(L, t, LUA_TTABLE);
  o->msg_id = opt_str(L, t, "msg_id", NULL);
  o->expect_stream = opt_str(L, t, "expect_stream", NULL);
  o->expect_last_seq = (uint64_t)opt_i64(L, t, "expect_last_seq", 0);
  o->timeout_ms = opt_i64(L, t, "timeout_ms", 0);
  if (lua_getfield(L, t, "headers") == LUA_TTABLE) {
    int h = lua_gettop(L);
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, h)) {
      count++;
      lua_pop(L, 1);
    }
    fmh_nats_header *hv = lua_newuserdatauv(L, (count ? count : 1) * sizeof *hv, 1);
    lua_pushvalue(L, h);
    lua_setiuservalue(L, -2, 1); /* keys and values stay anchored by the table */
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, h)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "option 'headers' must map strings to strings");
      hv[i].key = lua_tostring(L, -2);
      hv[i].value = lua_tostring(L, -1);
      i++;
      lua_pop(L, 1);
    }
    o->headers = hv;
    o->nheaders = i;
  } else if (!lua_isnil(L, -1)) {
    luaL_error(L, "option 'headers' must be a table");
  }
}

static int l_publish(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *subject = luaL_checkstring(L, 2);
  size_t len;
  const char *data = luaL_checklstring(L, 3, &len);
  fmh_nats_pub o;
  pub_options(L, 4, &o);
  uint64_t seq = 0;
  int dup = 0;
  char stream[256];
  fmh_error e = {0};
  if (fmh_nats_publish(n, subject, data, len, &o, &seq, &dup, stream, sizeof stream, &e) != 0)
    return push_fail(L, &e);
  lua_createtable(L, 0, 3);
  fmh_set_str(L, "stream", stream);
  fmh_set_int(L, "seq", (lua_Integer)seq);
  fmh_set_bool(L, "duplicate", dup);
  return 1;
}

static int l_publish_async(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  const char *subject = luaL_checkstring(L, 2);
  size_t len;
  const char *data = luaL_checklstring(L, 3, &len);
  fmh_nats_pub o;
  pub_options(L, 4, &o);
  fmh_error e = {0};
  if (fmh_nats_publish_async(n, subject, data, len, &o, &e) != 0) return push_fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static void set_acks(lua_State *L, const fmh_nats_acks *a) {
  fmh_set_int(L, "published", (lua_Integer)a->published);
  fmh_set_int(L, "acked", (lua_Integer)a->acked);
  fmh_set_int(L, "duplicates", (lua_Integer)a->duplicates);
  fmh_set_int(L, "failed", (lua_Integer)a->failed);
  fmh_set_int(L, "unacked", (lua_Integer)a->unacked);
  fmh_set_int(L, "first_seq", (lua_Integer)a->first_seq);
  fmh_set_int(L, "last_seq", (lua_Integer)a->last_seq);
  if (a->error_status) fmh_set_str(L, "error", a->error);
}

static int l_wait_async(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  lua_Integer ms = luaL_optinteger(L, 2, 30000);
  luaL_argcheck(L, ms > 0, 2, "timeout_ms must be positive");
  fmh_nats_acks a;
  fmh_error e = {0};
  if (fmh_nats_async_wait(n, ms, &a, &e) != 0) {
    push_fail(L, &e);
    set_acks(L, &a);
    return 3;
  }
  lua_createtable(L, 0, 8);
  set_acks(L, &a);
  return 1;
}

/* The key columns: option key (a name or a list of names; false: none),
 * default the generator's primary key columns. Into a userdata left on the
 * stack. */
static size_t *key_columns(lua_State *L, int t, const fmh_gen *g, size_t *nkey) {
  size_t nc = fmh_gen_ncols(g);
  size_t *cols = lua_newuserdatauv(L, (nc ? nc : 1) * sizeof *cols, 0);
  int ud = lua_gettop(L);
  *nkey = 0;
  int ty = t ? lua_getfield(L, t, "key") : LUA_TNIL;
  if (ty == LUA_TNIL) {
    for (size_t c = 0; c < nc; c++) {
      fmh_gen_colinfo ci;
      fmh_gen_column_info(g, c, &ci);
      if (ci.primary_key) cols[(*nkey)++] = c;
    }
  } else if (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
    /* the row index */
  } else if (ty == LUA_TSTRING || ty == LUA_TTABLE) {
    int list = lua_gettop(L);
    lua_Integer len = ty == LUA_TSTRING ? 1 : luaL_len(L, list);
    for (lua_Integer i = 1; i <= len; i++) {
      if (ty == LUA_TSTRING) lua_pushvalue(L, list);
      else lua_geti(L, list, i);
      const char *name = lua_tostring(L, -1);
      if (!name) luaL_error(L, "option 'key': entry %d is not a column name", (int)i);
      size_t c = 0;
      while (c < nc && strcmp(fmh_gen_column_name(g, c), name) != 0) c++;
      if (c == nc) luaL_error(L, "option 'key': the generator has no column '%s'", name);
      if (*nkey >= nc) luaL_error(L, "option 'key': too many columns");
      cols[(*nkey)++] = c;
      lua_pop(L, 1);
    }
  } else {
    luaL_error(L, "option 'key' must be a column name, a list of them, or false");
  }
  lua_settop(L, ud);
  return cols;
}

static const fmh_gen *check_gen(lua_State *L, int i, const char *what) {
  int closed = 0;
  const fmh_gen *g = fmh_lua_togen(L, i, &closed);
  if (closed) luaL_error(L, "%s: the generator is closed", what);
  if (!g) luaL_error(L, "%s: 'generator' must be a generator from fmhost.gen", what);
  return g;
}

static const char *const FORMATS[] = {"json", "jsonl", "csv", NULL};
static const char *const SPREAD[] = {"hash", "round_robin", NULL};

static int l_publish_rows(lua_State *L) {
  fmh_nats *n = check_conn(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_getfield(L, 2, "generator");
  const fmh_gen *g = check_gen(L, 3, "publish_rows"); /* anchored at 3 */
  fmh_nats_bulk_opts o;
  memset(&o, 0, sizeof o);
  o.gen = g;
  int ns = 0;
  o.subjects = opt_strings(L, 2, "subjects", "subject", &ns); /* at 4 */
  if (ns < 1) return luaL_error(L, "publish_rows: option 'subjects' (or 'subject') is required");
  o.nsubjects = (size_t)ns;
  o.first = opt_i64(L, 2, "first", 0);
  o.rows = opt_i64(L, 2, "rows", -1);
  if (o.first < 0 || o.rows < 0) return luaL_error(L, "publish_rows: 'rows' (required) and 'first' must be >= 0");
  int f = opt_enum(L, 2, "format", FORMATS, 0);
  o.out.format = f == 2 ? FMH_GEN_CSV : FMH_GEN_JSONL;
  o.out.json_as_value = opt_bool(L, 2, "json_as_value", 0);
  o.out.decimal_as_string = opt_bool(L, 2, "decimal_as_string", 0);
  o.spread = opt_enum(L, 2, "spread", SPREAD, 0) == 1 ? FMH_NATS_ROUND_ROBIN : FMH_NATS_HASH;
  o.key_cols = key_columns(L, 2, g, &o.nkey_cols); /* at 5 */
  int ty = lua_getfield(L, 2, "msg_id"); /* at 6 */
  if (ty == LUA_TNIL || (ty == LUA_TBOOLEAN && lua_toboolean(L, -1))) {
    o.msg_ids = 1;
  } else if (ty == LUA_TSTRING) {
    o.msg_ids = 1;
    o.id_prefix = lua_tostring(L, -1);
  } else if (ty != LUA_TBOOLEAN) {
    return luaL_error(L, "publish_rows: option 'msg_id' must be true, false or a prefix string");
  }
  o.sync = opt_bool(L, 2, "sync", 0);
  o.timeout_ms = opt_i64(L, 2, "timeout_ms", 0);
  if (o.timeout_ms < 0) return luaL_error(L, "publish_rows: timeout_ms must be >= 0");
  uint64_t *per = lua_newuserdatauv(L, o.nsubjects * sizeof *per, 0);
  fmh_nats_bulk_result r;
  memset(&r, 0, sizeof r);
  r.per_subject = per;
  fmh_error e = {0};
  int rc = fmh_nats_bulk(n, &o, &r, &e);
  int nret = 1;
  if (rc != 0) {
    push_fail(L, &e); /* nil, msg, info: the result's fields go into info */
    nret = 3;
  } else {
    lua_createtable(L, 0, 12);
  }
  set_acks(L, &r.acks);
  fmh_set_int(L, "bytes", (lua_Integer)r.bytes);
  fmh_set_num(L, "wall_s", r.wall_s);
  fmh_set_num(L, "msgs_per_s", r.wall_s > 0 ? (double)r.acks.acked / r.wall_s : 0);
  lua_createtable(L, 0, (int)o.nsubjects);
  for (size_t i = 0; i < o.nsubjects; i++) {
    lua_pushinteger(L, (lua_Integer)per[i]);
    lua_setfield(L, -2, o.subjects[i]);
  }
  lua_setfield(L, -2, "per_subject");
  return nret;
}

/* ---- module functions ------------------------------------------------------------------------- */

static int l_row_key(lua_State *L) {
  const fmh_gen *g = check_gen(L, 1, "row_key");
  lua_Integer row = luaL_checkinteger(L, 2);
  luaL_argcheck(L, row >= 0 && row < fmh_gen_row_limit(g), 2, "row out of the generator's range");
  int t = 0;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    t = 3;
  }
  fmh_nats_bulk_opts o;
  memset(&o, 0, sizeof o);
  o.gen = g;
  o.key_cols = key_columns(L, t, g, &o.nkey_cols);
  fmh_gen_cursor *cur = fmh_gen_cursor_new(g);
  if (!cur) return luaL_error(L, "row_key: out of memory");
  fmh_buf key = {0};
  fmh_error e = {0};
  int rc = fmh_nats_row_key(&o, cur, row, &key, &e);
  fmh_gen_cursor_free(cur);
  if (rc != 0) {
    fmh_buf_free(&key);
    return fmh_raise(L, &e);
  }
  lua_pushlstring(L, key.p ? key.p : "", key.len);
  fmh_buf_free(&key);
  return 1;
}

static int l_key_slot(lua_State *L) {
  size_t len;
  const char *key = luaL_checklstring(L, 1, &len);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 1, 2, "n must be >= 1");
  lua_pushinteger(L, (lua_Integer)fmh_nats_key_slot(key, len, (size_t)n) + 1);
  return 1;
}

static int l_available(lua_State *L) {
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg conn_methods[] = {
    {"close", l_close},
    {"url", l_url},
    {"connected", l_connected},
    {"max_payload", l_max_payload},
    {"stream_add", l_stream_add},
    {"stream_update", l_stream_update},
    {"stream_info", l_stream_info},
    {"stream_purge", l_stream_purge},
    {"stream_delete", l_stream_delete},
    {"streams", l_streams},
    {"consumer_add", l_consumer_add},
    {"consumer_info", l_consumer_info},
    {"consumer_delete", l_consumer_delete},
    {"consumers", l_consumers},
    {"get_msg", l_get_msg},
    {"last_msg", l_last_msg},
    {"fetch", l_fetch},
    {"read", l_read},
    {"publish", l_publish},
    {"publish_async", l_publish_async},
    {"wait_async", l_wait_async},
    {"publish_rows", l_publish_rows},
    {NULL, NULL}};

/* One function serves __gc and __close (and close): idempotent. */
static int l_gc(lua_State *L) {
  conn_ud *u = luaL_checkudata(L, 1, CONN_T);
  if (u->n) fmh_nats_close(u->n);
  u->n = NULL;
  return 0;
}

static const luaL_Reg conn_meta[] = {{"__gc", l_gc}, {"__close", l_gc}, {"__tostring", l_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {{"connect", l_connect},
                                 {"available", l_available},
                                 {"row_key", l_row_key},
                                 {"key_slot", l_key_slot},
                                 {NULL, NULL}};

int luaopen_fmhost_nats(lua_State *L) {
  fmh_newclass(L, CONN_T, conn_methods, conn_meta);
  fmh_newmodule(L, "fmhost.nats", funcs);
  return 1;
}

#endif /* FMH_HAVE_NATS */
