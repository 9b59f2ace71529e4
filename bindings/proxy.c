/* fmhost.proxy: Lua face of the TCP fault proxy (host/proxy/proxy.c).
 *
 * Lua sees:
 *   proxy.new{upstream_host=, upstream_port=, listen_host='127.0.0.1', listen_port=0,
 *             name='proxy', connect_timeout_ms=5000, seed=1}    -> p | nil, msg, info
 *   proxy.echo_server{listen_port=0, name='echo', seed=1}       -> p (a test peer: echoes every byte)
 *   proxy.tcp_client(host, port[, {timeout_ms=5000}])           -> c | nil, msg, info
 *   proxy.toxic_names                                           -> {'down', 'reset_peer', ...}
 *   p:port(), p:name(), p:upstream() -> host, port (nil for an echo server)
 *   p:toxic(name[, opts]) -> true      name and opts as in the table below; replaces
 *                                      the same toxic in the same direction(s)
 *   p:remove(name[, direction]) -> removed (boolean);  p:clear()
 *   p:close_connections{reset=true} -> n   close every open connection once (RST,
 *                                      or FIN with reset=false); no toxic stays
 *   p:toxics() -> { {name=, direction=, <params>}, ... }
 *   p:stats()  -> {bytes_up, bytes_down, bytes_dropped, accepted, active, closed,
 *                  upstream_errors, activations={<toxic>=n, ...}}
 *   p:close()  (also __gc and __close): stops the thread, closes every socket;
 *              true, then false, "already closed" (as every close() here)
 *   c:send(s[, timeout_ms]) -> true | nil, msg, info
 *   c:recv(n[, timeout_ms]) -> s, eof | nil, msg, info (info.received, info.data: what came)
 *   c:exchange(s[, n=#s][, timeout_ms]) -> s, eof | nil, msg, info   (send while receiving)
 *   c:shutdown() (end of stream, reading goes on), c:close()
 *
 * Toxic options (direction = 'up' | 'down' | 'both', default 'both'):
 *   down       {reset=false}                 refuse new, drop existing (RST when reset)
 *   reset_peer {after_bytes=, timeout_ms=0, direction=}  RST both sides: at once (no
 *              option; new connections too while set), timeout_ms after it is set
 *              or a connection is accepted, or when byte after_bytes+1 arrives in
 *              direction (the first after_bytes pass); the two combine, first wins
 *   latency    {ms=0, jitter=0, direction=}
 *   bandwidth  {rate=KiB/s, direction=}
 *   blackhole  {direction=}
 *   slicer     {avg_size=64, size_variation=32, delay_us=1000, direction=}
 *   timeout    {timeout_ms=0, direction=}    blackhole, then close after timeout_ms
 * Unknown option names and out-of-range values raise: they are mistakes in
 * the spec, not failures of the network. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fmhost/interp.h"
#include "fmhost/proxy.h"

#define PROXY_T "fmhost.proxy.Proxy"
#define CLIENT_T "fmhost.proxy.TcpClient"
#define MAX_RECV (1u << 30)

typedef struct {
  fmh_proxy *p;
} lproxy;

typedef struct {
  int fd;
} lclient;

static fmh_proxy *check_proxy(lua_State *L, int i) {
  lproxy *u = luaL_checkudata(L, i, PROXY_T);
  if (!u->p) luaL_error(L, "proxy is closed");
  return u->p;
}

static int check_client(lua_State *L, int i) {
  lclient *u = luaL_checkudata(L, i, CLIENT_T);
  if (u->fd < 0) luaL_error(L, "tcp client is closed");
  return u->fd;
}

/* Raise on a key of options table t that is not in allowed. */
static void check_keys(lua_State *L, int t, const char *what, const char *const *allowed) {
  if (lua_isnoneornil(L, t)) return;
  luaL_checktype(L, t, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: option names must be strings", what);
    const char *k = lua_tostring(L, -1);
    int ok = 0;
    for (const char *const *a = allowed; *a; a++)
      if (strcmp(*a, k) == 0) ok = 1;
    if (!ok) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (const char *const *a = allowed; *a; a++) {
        if (a != allowed) luaL_addstring(&b, ", ");
        luaL_addstring(&b, *a);
      }
      luaL_pushresult(&b);
      luaL_error(L, "%s: unknown option '%s' (known: %s)", what, k, lua_tostring(L, -1));
    }
  }
}

/* --- proxy ---------------------------------------------------------------- */

static void fill_opts(lua_State *L, int t, fmh_proxy_opts *o, int echo) {
  static const char *const keys[] = {"name", "listen_host", "listen_port", "upstream_host",
                                     "upstream_port", "connect_timeout_ms", "seed", NULL};
  static const char *const echo_keys[] = {"name", "listen_host", "listen_port", "seed", NULL};
  check_keys(L, t, echo ? "proxy.echo_server" : "proxy.new", echo ? echo_keys : keys);
  memset(o, 0, sizeof *o);
  o->name = fmh_opt_str(L, t, "name", NULL);
  o->listen_host = fmh_opt_str(L, t, "listen_host", "127.0.0.1");
  lua_Integer port = fmh_opt_int(L, t, "listen_port", 0);
  if (port < 0 || port > 65535) luaL_error(L, "listen_port must be 0..65535");
  o->listen_port = (int)port;
  o->seed = (uint64_t)fmh_opt_int(L, t, "seed", 1);
  if (echo) return;
  lua_getfield(L, t, "upstream_host");
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "proxy.new: upstream_host (a string) is required");
  lua_pop(L, 1);
  o->upstream_host = fmh_opt_str(L, t, "upstream_host", NULL);
  lua_Integer up = fmh_opt_int(L, t, "upstream_port", 0);
  if (up <= 0 || up > 65535) luaL_error(L, "proxy.new: upstream_port (1..65535) is required");
  o->upstream_port = (int)up;
  lua_Integer cto = fmh_opt_int(L, t, "connect_timeout_ms", 5000);
  if (cto <= 0 || cto > 3600000) luaL_error(L, "connect_timeout_ms must be 1..3600000");
  o->connect_timeout_ms = (int)cto;
}

static int start_common(lua_State *L, int echo) {
  if (!echo) luaL_checktype(L, 1, LUA_TTABLE);
  fmh_proxy_opts o;
  fill_opts(L, 1, &o, echo);
  lproxy *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->p = NULL;
  luaL_setmetatable(L, PROXY_T);
  fmh_error e = {0};
  u->p = echo ? fmh_proxy_start_echo(&o, &e) : fmh_proxy_start(&o, &e);
  if (!u->p) return fmh_fail(L, &e);
  return 1;
}

static int l_new(lua_State *L) { return start_common(L, 0); }
static int l_echo_server(lua_State *L) { return start_common(L, 1); }

static int l_port(lua_State *L) {
  lua_pushinteger(L, fmh_proxy_port(check_proxy(L, 1)));
  return 1;
}

static int l_name(lua_State *L) {
  lua_pushstring(L, fmh_proxy_name(check_proxy(L, 1)));
  return 1;
}

static int l_upstream(lua_State *L) {
  fmh_proxy *p = check_proxy(L, 1);
  if (fmh_proxy_is_echo(p)) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, fmh_proxy_upstream_host(p));
  lua_pushinteger(L, fmh_proxy_upstream_port(p));
  return 2;
}

static int check_direction(lua_State *L, int t, int i) {
  const char *d = t ? fmh_opt_str(L, t, "direction", "both") : luaL_optstring(L, i, "both");
  if (strcmp(d, "up") == 0) return FMH_DIR_UP;
  if (strcmp(d, "down") == 0) return FMH_DIR_DOWN;
  if (strcmp(d, "both") == 0) return FMH_DIR_BOTH;
  return luaL_error(L, "direction must be 'up', 'down' or 'both', not '%s'", d);
}

static fmh_toxic_kind check_kind(lua_State *L, int i) {
  const char *name = luaL_checkstring(L, i);
  int k = fmh_proxy_toxic_kind_of(name);
  if (k < 0) luaL_argerror(L, i, lua_pushfstring(L, "unknown toxic '%s'", name));
  return (fmh_toxic_kind)k;
}

static const char *const *toxic_keys(fmh_toxic_kind k) {
  static const char *const down[] = {"reset", NULL};
  static const char *const reset_peer[] = {"after_bytes", "timeout_ms", "direction", NULL};
  static const char *const latency[] = {"ms", "jitter", "direction", NULL};
  static const char *const bandwidth[] = {"rate", "direction", NULL};
  static const char *const blackhole[] = {"direction", NULL};
  static const char *const slicer[] = {"avg_size", "size_variation", "delay_us", "direction", NULL};
  static const char *const timeout[] = {"timeout_ms", "direction", NULL};
  static const char *const *const all[FMH_TOXIC_COUNT] = {down,      reset_peer, latency, bandwidth,
                                                          blackhole, slicer,     timeout};
  return all[k];
}

static int l_toxic(lua_State *L) {
  fmh_proxy *p = check_proxy(L, 1);
  fmh_toxic_kind k = check_kind(L, 2);
  int t = lua_isnoneornil(L, 3) ? 0 : 3;
  char what[64];
  snprintf(what, sizeof what, "toxic '%s'", fmh_proxy_toxic_name(k));
  if (t) check_keys(L, t, what, toxic_keys(k));
  fmh_proxy_toxic tx;
  fmh_proxy_toxic_defaults(k, &tx);
  if (t) {
    tx.direction = check_direction(L, t, 0);
    tx.ms = fmh_opt_num(L, t, "ms", 0);
    tx.jitter_ms = fmh_opt_num(L, t, "jitter", 0);
    tx.rate_kib = fmh_opt_num(L, t, "rate", 0);
    tx.avg_size = (int)fmh_opt_int(L, t, "avg_size", tx.avg_size);
    tx.size_variation = (int)fmh_opt_int(L, t, "size_variation", tx.size_variation);
    tx.delay_us = (int)fmh_opt_int(L, t, "delay_us", tx.delay_us);
    tx.after_bytes = (long long)fmh_opt_int(L, t, "after_bytes", -1);
    if (tx.after_bytes < -1) tx.after_bytes = -2; /* rejected by validation */
    lua_Integer to = fmh_opt_int(L, t, "timeout_ms", 0);
    if (to < 0 || to > 86400000) luaL_error(L, "%s: timeout_ms must be 0..86400000", what);
    tx.timeout_ms = (int)to;
    tx.reset = fmh_opt_bool(L, t, "reset", 0);
  }
  fmh_error e = {0};
  if (fmh_proxy_set_toxic(p, &tx, &e) != 0) return fmh_raise(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_remove(lua_State *L) {
  fmh_proxy *p = check_proxy(L, 1);
  fmh_toxic_kind k = check_kind(L, 2);
  int dir = check_direction(L, 0, 3);
  lua_pushboolean(L, fmh_proxy_remove_toxic(p, k, dir) > 0);
  return 1;
}

static int l_close_connections(lua_State *L) {
  fmh_proxy *p = check_proxy(L, 1);
  static const char *const keys[] = {"reset", NULL};
  check_keys(L, 2, "close_connections", keys);
  int reset = fmh_opt_bool(L, 2, "reset", 1);
  lua_pushinteger(L, fmh_proxy_close_connections(p, reset));
  return 1;
}

static int l_clear(lua_State *L) {
  fmh_proxy_clear(check_proxy(L, 1));
  return 0;
}

static const char *dir_name(int d) {
  return d == FMH_DIR_UP ? "up" : d == FMH_DIR_DOWN ? "down" : "both";
}

static void push_toxic(lua_State *L, const fmh_proxy_toxic *t) {
  lua_newtable(L);
  fmh_set_str(L, "name", fmh_proxy_toxic_name(t->kind));
  switch (t->kind) {
    case FMH_TOXIC_DOWN:
      fmh_set_bool(L, "reset", t->reset);
      return; /* no direction: the whole link is down */
    case FMH_TOXIC_RESET_PEER:
      if (t->after_bytes >= 0) {
        fmh_set_int(L, "after_bytes", t->after_bytes);
      }
      fmh_set_int(L, "timeout_ms", t->timeout_ms);
      break;
    case FMH_TOXIC_LATENCY:
      fmh_set_num(L, "ms", t->ms);
      fmh_set_num(L, "jitter", t->jitter_ms);
      break;
    case FMH_TOXIC_BANDWIDTH:
      fmh_set_num(L, "rate", t->rate_kib);
      break;
    case FMH_TOXIC_SLICER:
      fmh_set_int(L, "avg_size", t->avg_size);
      fmh_set_int(L, "size_variation", t->size_variation);
      fmh_set_int(L, "delay_us", t->delay_us);
      break;
    case FMH_TOXIC_TIMEOUT:
      fmh_set_int(L, "timeout_ms", t->timeout_ms);
      break;
    default: break;
  }
  fmh_set_str(L, "direction", dir_name(t->direction));
}

static int l_toxics(lua_State *L) {
  fmh_proxy *p = check_proxy(L, 1);
  fmh_proxy_toxic list[2 * FMH_TOXIC_COUNT];
  int n = fmh_proxy_list_toxics(p, list, 2 * FMH_TOXIC_COUNT);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    push_toxic(L, &list[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int l_stats(lua_State *L) {
  fmh_proxy *p = check_proxy(L, 1);
  fmh_proxy_stats s;
  fmh_proxy_get_stats(p, &s);
  lua_createtable(L, 0, 9);
  fmh_set_int(L, "bytes_up", s.bytes_up);
  fmh_set_int(L, "bytes_down", s.bytes_down);
  fmh_set_int(L, "bytes_dropped", s.bytes_dropped);
  fmh_set_int(L, "accepted", s.accepted);
  fmh_set_int(L, "active", s.active);
  fmh_set_int(L, "closed", s.closed);
  fmh_set_int(L, "upstream_errors", s.upstream_errors);
  lua_createtable(L, 0, FMH_TOXIC_COUNT);
  for (int k = 0; k < FMH_TOXIC_COUNT; k++) fmh_set_int(L, fmh_proxy_toxic_name((fmh_toxic_kind)k), s.activations[k]);
  lua_setfield(L, -2, "activations");
  return 1;
}

static int l_close(lua_State *L) {
  lproxy *u = luaL_checkudata(L, 1, PROXY_T);
  if (!u->p) return fmh_push_closed(L, 0);
  fmh_proxy *p = u->p;
  u->p = NULL;
  fmh_proxy_close(p);
  return fmh_push_closed(L, 1);
}

static int l_tostring(lua_State *L) {
  lproxy *u = luaL_checkudata(L, 1, PROXY_T);
  if (!u->p) lua_pushliteral(L, "fmhost.proxy (closed)");
  else if (fmh_proxy_is_echo(u->p))
    lua_pushfstring(L, "fmhost.proxy echo '%s' 127.0.0.1:%d", fmh_proxy_name(u->p), fmh_proxy_port(u->p));
  else
    lua_pushfstring(L, "fmhost.proxy '%s' :%d -> %s:%d", fmh_proxy_name(u->p), fmh_proxy_port(u->p),
                    fmh_proxy_upstream_host(u->p), fmh_proxy_upstream_port(u->p));
  return 1;
}

/* --- the spec client ------------------------------------------------------ */

static int opt_timeout(lua_State *L, int i, int def) {
  lua_Integer ms = luaL_optinteger(L, i, def);
  luaL_argcheck(L, ms > 0 && ms <= 86400000, i, "timeout_ms must be 1..86400000");
  return (int)ms;
}

static int l_tcp_client(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  lua_Integer port = luaL_checkinteger(L, 2);
  luaL_argcheck(L, port > 0 && port <= 65535, 2, "port must be 1..65535");
  static const char *const keys[] = {"timeout_ms", NULL};
  check_keys(L, 3, "proxy.tcp_client", keys);
  lua_Integer ms = fmh_opt_int(L, 3, "timeout_ms", 5000);
  if (ms <= 0 || ms > 86400000) luaL_error(L, "timeout_ms must be 1..86400000");
  lclient *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->fd = -1;
  luaL_setmetatable(L, CLIENT_T);
  fmh_error e = {0};
  u->fd = fmh_proxy_client_connect(host, (int)port, (int)ms, &e);
  if (u->fd < 0) return fmh_fail(L, &e);
  return 1;
}

/* Push the result of a receive: s, eof on success; nil, msg, info with
 * what did arrive otherwise. buf is freed. */
static int push_received(lua_State *L, long rc, char *buf, size_t got, int eof, fmh_error *e) {
  if (rc < 0) {
    int n = fmh_fail(L, e);
    fmh_set_int(L, "received", (lua_Integer)got);
    lua_pushlstring(L, buf ? buf : "", got);
    lua_setfield(L, -2, "data");
    free(buf);
    return n;
  }
  lua_pushlstring(L, buf ? buf : "", got);
  free(buf);
  lua_pushboolean(L, eof);
  return 2;
}

static int l_client_send(lua_State *L) {
  int fd = check_client(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  int ms = opt_timeout(L, 3, 5000);
  fmh_error e = {0};
  if (fmh_proxy_client_send(fd, s, len, ms, &e) != 0) return fmh_fail(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static char *alloc_recv(lua_State *L, lua_Integer n, int arg) {
  luaL_argcheck(L, n >= 0 && (lua_Unsigned)n <= MAX_RECV, arg, "byte count must be 0..2^30");
  char *buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf) luaL_error(L, "out of memory");
  return buf;
}

static int l_client_recv(lua_State *L) {
  int fd = check_client(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  int ms = opt_timeout(L, 3, 5000);
  char *buf = alloc_recv(L, n, 2);
  size_t got;
  int eof;
  fmh_error e = {0};
  long rc = fmh_proxy_client_recv(fd, buf, (size_t)n, &got, &eof, ms, &e);
  return push_received(L, rc, buf, got, eof, &e);
}

static int l_client_exchange(lua_State *L) {
  int fd = check_client(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  lua_Integer n = luaL_optinteger(L, 3, (lua_Integer)len);
  int ms = opt_timeout(L, 4, 5000);
  char *buf = alloc_recv(L, n, 3);
  size_t got;
  int eof;
  fmh_error e = {0};
  long rc = fmh_proxy_client_exchange(fd, s, len, buf, (size_t)n, &got, &eof, ms, &e);
  return push_received(L, rc, buf, got, eof, &e);
}

static int l_client_shutdown(lua_State *L) {
  shutdown(check_client(L, 1), SHUT_WR);
  return 0;
}

static int l_client_close(lua_State *L) {
  lclient *u = luaL_checkudata(L, 1, CLIENT_T);
  if (u->fd < 0) return fmh_push_closed(L, 0);
  close(u->fd);
  u->fd = -1;
  return fmh_push_closed(L, 1);
}

/* --- registration ---------------------------------------------------------- */

static const luaL_Reg proxy_methods[] = {
    {"port", l_port},     {"name", l_name},   {"upstream", l_upstream}, {"toxic", l_toxic},
    {"remove", l_remove}, {"clear", l_clear}, {"toxics", l_toxics},     {"stats", l_stats},
    {"close_connections", l_close_connections},
    {"close", l_close},   {NULL, NULL}};
static const luaL_Reg proxy_meta[] = {
    {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL}};

static const luaL_Reg client_methods[] = {{"send", l_client_send},         {"recv", l_client_recv},
                                          {"exchange", l_client_exchange}, {"shutdown", l_client_shutdown},
                                          {"close", l_client_close},       {NULL, NULL}};
static const luaL_Reg client_meta[] = {{"__gc", l_client_close}, {"__close", l_client_close}, {NULL, NULL}};

static const luaL_Reg proxy_funcs[] = {
    {"new", l_new}, {"echo_server", l_echo_server}, {"tcp_client", l_tcp_client}, {NULL, NULL}};

int luaopen_fmhost_proxy(lua_State *L) {
  fmh_newclass(L, PROXY_T, proxy_methods, proxy_meta);
  fmh_newclass(L, CLIENT_T, client_methods, client_meta);
  fmh_newmodule(L, "fmhost.proxy", proxy_funcs);
  lua_createtable(L, FMH_TOXIC_COUNT, 0);
  for (int k = 0; k < FMH_TOXIC_COUNT; k++) {
    lua_pushstring(L, fmh_proxy_toxic_name((fmh_toxic_kind)k));
    lua_rawseti(L, -2, k + 1);
  }
  lua_setfield(L, -2, "toxic_names");
  return 1;
}
