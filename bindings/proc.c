/* fmhost.proc: Lua face of child processes and port checks.
 *
 * Lua sees:
 *   proc.spawn{ 'prog', 'arg', ...  (or argv = {...}),
 *               env = {K='v', X=false}, clear_env = false, cwd = 'dir',
 *               stdin = 'path', stdout = 'path' | true (fmhost's) | nil (/dev/null),
 *               stderr = 'path' | true | nil, merge_stderr = false, append = false,
 *               group = false, session = false,
 *               pty = false | true | {rows = 24, cols = 80} }
 *       -> Proc | nil, msg, info
 *   pty: the child runs on a new pseudo-terminal (its stdin, stdout, stderr and
 *       controlling terminal, in its own session) as if a person sat at it;
 *       stdin/stdout/stderr are then ignored. Ctrl-C is p:write('\3').
 *   p:write(s, timeout_ms = 10000) -> true | nil, msg, info   type s at the terminal
 *   p:read(timeout_ms, max = 65536) -> s | nil, msg, info     what the terminal shows:
 *       waits up to timeout_ms for the first byte; '' when nothing came;
 *       nil with info.kind == 'closed' once the child (and all it started)
 *       closed the terminal. Output newlines arrive as "\r\n", with the
 *       terminal's echo and escape sequences. Dropping the handle closes the
 *       terminal: the child gets SIGHUP.
 *   Proc.pid;  p:alive();  p:wait(timeout_ms) -> exited, code, signame   (timeout required)
 *   p:signal(sig='TERM', group) -> true | nil, msg, info   sig: 'TERM', 'SIGTERM' or 15;
 *       group: the whole process group, when the child leads one (group/session)
 *   p:kill_tree(sig='KILL') -> n;  p:status() -> {running=, code=, signal=}
 *   Dropping a Proc (__gc) does NOT kill the child: daemons outlive their
 *   handle. The child is still reaped when it ends. A Proc held in a
 *   to-be-closed variable (local h <close> = proc.spawn{...}) is ended with
 *   its scope, also when the scope ends by an error: TERM to the child and
 *   its descendants, KILL after 2 s, waited for.
 *   proc.run{ ...as spawn..., input = 'stdin text', timeout_ms = 30000 (<0: none),
 *             max_output = 1 MiB (per stream) }   the child gets its own process group
 *       -> {code=, signal=, ok=, stdout=, stderr=, truncated=, ms=}
 *        | nil, msg, info   (spawn failure; timeout: info.kind == 'timeout',
 *                            info.stdout / info.stderr hold what came before)
 *   proc.pid_alive(pid); proc.wait_pid(pid, timeout_ms) -> gone?;
 *   proc.signal(pid, sig, group) -> true | nil, msg, info; proc.kill_tree(pid, sig, group) -> n
 *   proc.cmdline(pid) -> {argv...} | nil;  proc.comm(pid) -> name | nil
 *   proc.port_open(host, port, timeout_ms=1000); proc.port_free(port, host='127.0.0.1')
 *   proc.port_owner(port) -> pid, name | nil
 *   proc.listen(port=0, host='127.0.0.1') -> Listener (l.port, l:close()): true, then false, "already closed"
 *   proc.signum(name) -> n | nil;  proc.signame(n) -> 'TERM' | nil
 *   proc.lock(path, timeout_ms) -> Lock (l:unlock(); also on __close/__gc) | nil, msg, info
 *       an exclusive flock(2) between processes (the local stack serialises
 *       up/down with it); the lock file stays, only the lock goes
 *   proc.now_ms() (monotonic); proc.wall_ms() (ms since the epoch, as Flink's
 *   and MariaDB's timestamps count); proc.sleep(ms); proc.getpid(); proc.getuid() */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmhost/interp.h"
#include "fmhost/proc.h"

#define PROC_T "fmhost.proc.Proc"
#define LISTENER_T "fmhost.proc.Listener"
#define LOCK_T "fmhost.proc.Lock"

typedef struct {
  fmh_proc *p;
  pid_t pid;
} lproc;

typedef struct {
  int fd;
  int port;
} llistener;

static lproc *check_proc(lua_State *L, int i) { return luaL_checkudata(L, i, PROC_T); }

static int check_sig(lua_State *L, int i, const char *def) {
  if (lua_isnoneornil(L, i) && def) return fmh_proc_signum(def);
  int s;
  if (lua_type(L, i) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, i);
    s = (n > 0 && n < NSIG) ? (int)n : -1;
  } else {
    s = fmh_proc_signum(luaL_checkstring(L, i));
  }
  if (s < 0) luaL_argerror(L, i, "unknown signal");
  return s;
}

static void push_signame(lua_State *L, int sig) {
  const char *n = fmh_proc_signame(sig);
  if (n) lua_pushstring(L, n);
  else lua_pushinteger(L, sig);
}

/* --- options ------------------------------------------------------------- */

/* A NULL-terminated array whose strings stay anchored in a table left on
 * the stack; the array itself is a userdata, so an error frees everything. */
static const char **new_list(lua_State *L, size_t n) {
  return lua_newuserdatauv(L, (n + 1) * sizeof(const char *), 0);
}

/* Fill o from the options table at t. Pushes anchors (userdata, strings). */
static void read_opts(lua_State *L, int t, fmh_proc_opts *o) {
  luaL_checktype(L, t, LUA_TTABLE);
  luaL_checkstack(L, 40, "proc options");
  memset(o, 0, sizeof *o);
  int src = t;
  lua_getfield(L, t, "argv");
  if (lua_istable(L, -1)) src = lua_gettop(L);
  lua_Integer n = luaL_len(L, src);
  if (n < 1) luaL_argerror(L, t, "no program given (argv is empty)");
  const char **argv = new_list(L, (size_t)n);
  lua_createtable(L, (int)n, 0); /* anchors: numbers become strings here */
  int anchors = lua_gettop(L);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, src, i);
    if (!lua_isstring(L, -1)) luaL_error(L, "argv[%d] must be a string", (int)i);
    lua_tostring(L, -1);
    lua_rawseti(L, anchors, i);
    lua_rawgeti(L, anchors, i);
    argv[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  argv[n] = NULL;
  o->argv = argv;

  lua_getfield(L, t, "env");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    int et = lua_gettop(L);
    size_t cnt = 0;
    lua_pushnil(L);
    while (lua_next(L, et)) { cnt++; lua_pop(L, 1); }
    const char **env = new_list(L, cnt);
    lua_newtable(L); /* anchors for the "K=V" strings */
    int eanchors = lua_gettop(L);
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, et)) {
      if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "env keys must be strings");
      const char *key = lua_tostring(L, -2);
      if (!*key || strchr(key, '=')) luaL_error(L, "bad env key '%s'", key);
      if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        lua_pushstring(L, key);                     /* unset */
      } else if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        lua_pushfstring(L, "%s=%s", key, lua_tostring(L, -1));
      } else {
        luaL_error(L, "env.%s must be a string, a number or false", key);
      }
      env[k++] = lua_tostring(L, -1);
      lua_rawseti(L, eanchors, (lua_Integer)k);
      lua_pop(L, 1);
    }
    env[k] = NULL;
    o->env = env;
  }
  o->clear_env = fmh_opt_bool(L, t, "clear_env", 0);
  o->cwd = fmh_opt_str(L, t, "cwd", NULL);
  o->stdin_path = fmh_opt_str(L, t, "stdin", NULL);
  lua_getfield(L, t, "stdout");
  if (lua_type(L, -1) == LUA_TBOOLEAN) o->inherit_stdout = lua_toboolean(L, -1);
  else o->stdout_path = fmh_opt_str(L, t, "stdout", NULL);
  lua_getfield(L, t, "stderr");
  if (lua_type(L, -1) == LUA_TBOOLEAN) o->inherit_stderr = lua_toboolean(L, -1);
  else o->stderr_path = fmh_opt_str(L, t, "stderr", NULL);
  o->merge_stderr = fmh_opt_bool(L, t, "merge_stderr", 0);
  o->append = fmh_opt_bool(L, t, "append", 0);
  o->new_group = fmh_opt_bool(L, t, "group", 0);
  o->new_session = fmh_opt_bool(L, t, "session", 0);
  lua_getfield(L, t, "pty");
  if (lua_istable(L, -1)) {
    int pt = lua_gettop(L);
    lua_Integer rows = fmh_opt_int(L, pt, "rows", 24), cols = fmh_opt_int(L, pt, "cols", 80);
    if (rows < 1 || rows > 1000 || cols < 1 || cols > 1000) luaL_error(L, "option 'pty': rows and cols must be 1..1000");
    o->pty = 1;
    o->pty_rows = (int)rows;
    o->pty_cols = (int)cols;
  } else if (!lua_isnil(L, -1)) {
    if (!lua_isboolean(L, -1)) luaL_error(L, "option 'pty' must be a boolean or a table {rows=, cols=}");
    o->pty = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
}

/* --- Proc ----------------------------------------------------------------- */

static int l_spawn(lua_State *L) {
  fmh_proc_opts o;
  read_opts(L, 1, &o);
  fmh_error err = {0};
  lproc *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->p = NULL;
  u->pid = 0;
  luaL_setmetatable(L, PROC_T);
  u->p = fmh_proc_spawn(&o, &err);
  if (!u->p) return fmh_fail(L, &err);
  u->pid = fmh_proc_pid(u->p);
  return 1;
}

static int proc_index(lua_State *L) {
  lproc *u = check_proc(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "pid") == 0) {
    lua_pushinteger(L, u->pid);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_gettable(L, lua_upvalueindex(1));
  return 1;
}

static int l_alive(lua_State *L) {
  lproc *u = check_proc(L, 1);
  lua_pushboolean(L, u->p && fmh_proc_alive(u->p));
  return 1;
}

static int l_signal_m(lua_State *L) {
  lproc *u = check_proc(L, 1);
  int sig = check_sig(L, 2, "TERM");
  int group = lua_toboolean(L, 3);
  fmh_error err = {0};
  if (fmh_proc_signal(u->p, sig, group, &err) != 0) return fmh_fail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_wait(lua_State *L) {
  lproc *u = check_proc(L, 1);
  lua_Integer ms = luaL_checkinteger(L, 2);
  int code, sig;
  if (!fmh_proc_wait(u->p, (long)ms, &code, &sig)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushboolean(L, 1);
  if (sig) {
    lua_pushnil(L);
    push_signame(L, sig);
  } else {
    lua_pushinteger(L, code);
    lua_pushnil(L);
  }
  return 3;
}

static int l_status(lua_State *L) {
  lproc *u = check_proc(L, 1);
  int code, sig;
  int ended = fmh_proc_wait(u->p, 0, &code, &sig);
  lua_createtable(L, 0, 4);
  fmh_set_int(L, "pid", u->pid);
  fmh_set_bool(L, "running", !ended);
  if (ended) {
    if (sig) {
      push_signame(L, sig);
      lua_setfield(L, -2, "signal");
    } else {
      fmh_set_int(L, "code", code);
    }
  }
  return 1;
}

static lproc *check_live_proc(lua_State *L, int i) {
  lproc *u = check_proc(L, i);
  if (!u->p) luaL_error(L, "the process handle is closed");
  return u;
}

static int l_write(lua_State *L) {
  lproc *u = check_live_proc(L, 1);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  lua_Integer ms = luaL_optinteger(L, 3, 10000);
  fmh_error err = {0};
  if (fmh_proc_pty_write(u->p, s, n, (long)ms, &err) != 0) return fmh_fail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_read(lua_State *L) {
  lproc *u = check_live_proc(L, 1);
  lua_Integer ms = luaL_checkinteger(L, 2);
  lua_Integer max = luaL_optinteger(L, 3, 65536);
  if (max < 1 || max > (1 << 24)) luaL_argerror(L, 3, "max must be 1..16777216");
  luaL_Buffer b;
  char *buf = luaL_buffinitsize(L, &b, (size_t)max);
  fmh_error err = {0};
  long n = fmh_proc_pty_read(u->p, buf, (size_t)max, (long)ms, &err);
  if (n < 0) return fmh_fail(L, &err);
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

static int l_kill_tree_m(lua_State *L) {
  lproc *u = check_proc(L, 1);
  int sig = check_sig(L, 2, "KILL");
  int n = 0;
  if (fmh_proc_alive(u->p)) n = fmh_proc_kill_tree(u->pid, sig, 1);
  lua_pushinteger(L, n);
  return 1;
}

static int proc_gc(lua_State *L) {
  lproc *u = check_proc(L, 1);
  if (u->p) fmh_proc_release(u->p); /* the child runs on; the registry reaps it */
  u->p = NULL;
  return 0;
}

/* __close: a child held in a to-be-closed variable ends with its scope,
 * also when the scope ends by an error: TERM to it and its descendants,
 * KILL to whatever remains after 2 s, and waited for. */
static int proc_close(lua_State *L) {
  lproc *u = check_proc(L, 1);
  if (!u->p) return 0;
  if (fmh_proc_alive(u->p)) {
    fmh_proc_kill_tree(u->pid, SIGTERM, 1);
    int code, sig;
    if (fmh_proc_wait(u->p, 2000, &code, &sig) == 0) {
      fmh_proc_kill_tree(u->pid, SIGKILL, 1);
      fmh_proc_wait(u->p, 5000, &code, &sig);
    }
  }
  return 0;
}

static int proc_tostring(lua_State *L) {
  lproc *u = check_proc(L, 1);
  int alive = u->p && fmh_proc_alive(u->p);
  lua_pushfstring(L, "%s (pid %d, %s)", PROC_T, (int)u->pid, alive ? "running" : "ended");
  return 1;
}

/* --- run --------------------------------------------------------------------- */

static void push_output(lua_State *L, const fmh_proc_result *r) {
  lua_pushlstring(L, r->out ? r->out : "", r->outlen);
  lua_setfield(L, -2, "stdout");
  lua_pushlstring(L, r->err ? r->err : "", r->errlen);
  lua_setfield(L, -2, "stderr");
  fmh_set_bool(L, "truncated", r->out_truncated || r->err_truncated);
  fmh_set_num(L, "ms", r->wall_ms);
}

static int l_run(lua_State *L) {
  fmh_proc_opts o;
  read_opts(L, 1, &o);
  size_t inlen = 0;
  const char *input = NULL;
  lua_getfield(L, 1, "input");
  if (!lua_isnil(L, -1)) input = luaL_checklstring(L, -1, &inlen);
  lua_Integer timeout = fmh_opt_int(L, 1, "timeout_ms", 30000);
  lua_Integer max_out = fmh_opt_int(L, 1, "max_output", 1 << 20);
  if (max_out < 0) luaL_argerror(L, 1, "max_output must be >= 0");
  fmh_proc_result r;
  fmh_error err = {0};
  int rc = fmh_proc_run(&o, input, inlen, (long)timeout, (size_t)max_out, &r, &err);
  if (rc != 0) {
    fmh_push_error(L, &err); /* nil, msg, info */
    if (r.timed_out) push_output(L, &r);
    fmh_proc_result_free(&r);
    fmh_error_clear(&err);
    return 3;
  }
  lua_createtable(L, 0, 8);
  if (r.sig) {
    push_signame(L, r.sig);
    lua_setfield(L, -2, "signal");
  } else {
    fmh_set_int(L, "code", r.code);
  }
  fmh_set_bool(L, "ok", r.sig == 0 && r.code == 0);
  push_output(L, &r);
  fmh_proc_result_free(&r);
  return 1;
}

/* --- any pid --------------------------------------------------------------- */

static pid_t check_pid(lua_State *L, int i) {
  lua_Integer p = luaL_checkinteger(L, i);
  if (p <= 0 || p > 0x7fffffff) luaL_argerror(L, i, "not a process id");
  return (pid_t)p;
}

static int l_pid_alive(lua_State *L) {
  lua_pushboolean(L, fmh_proc_pid_alive(check_pid(L, 1)));
  return 1;
}

static int l_wait_pid(lua_State *L) {
  pid_t pid = check_pid(L, 1);
  lua_Integer ms = luaL_checkinteger(L, 2);
  lua_pushboolean(L, fmh_proc_wait_pid(pid, (long)ms));
  return 1;
}

static int l_signal(lua_State *L) {
  pid_t pid = check_pid(L, 1);
  int sig = check_sig(L, 2, "TERM");
  fmh_error err = {0};
  if (fmh_proc_kill(pid, sig, lua_toboolean(L, 3), &err) != 0) return fmh_fail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_kill_tree(lua_State *L) {
  pid_t pid = check_pid(L, 1);
  int sig = check_sig(L, 2, "KILL");
  lua_pushinteger(L, fmh_proc_kill_tree(pid, sig, lua_toboolean(L, 3)));
  return 1;
}

static int l_cmdline(lua_State *L) {
  pid_t pid = check_pid(L, 1);
  char buf[8192];
  ssize_t n = fmh_proc_cmdline(pid, buf, sizeof buf);
  if (n < 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_newtable(L);
  lua_Integer i = 0;
  ssize_t s = 0;
  while (s < n) {
    size_t len = strnlen(buf + s, (size_t)(n - s));
    lua_pushlstring(L, buf + s, len);
    lua_rawseti(L, -2, ++i);
    s += (ssize_t)len + 1;
  }
  return 1;
}

static int l_comm(lua_State *L) {
  char name[64];
  if (fmh_proc_comm(check_pid(L, 1), name, sizeof name) != 0) lua_pushnil(L);
  else lua_pushstring(L, name);
  return 1;
}

/* --- ports ------------------------------------------------------------------- */

static int check_port(lua_State *L, int i, int allow_zero) {
  lua_Integer p = luaL_checkinteger(L, i);
  if (p < (allow_zero ? 0 : 1) || p > 65535) luaL_argerror(L, i, "port out of range");
  return (int)p;
}

static int l_port_open(lua_State *L) {
  const char *host = luaL_checkstring(L, 1);
  int port = check_port(L, 2, 0);
  lua_Integer ms = luaL_optinteger(L, 3, 1000);
  lua_pushboolean(L, fmh_proc_port_open(host, port, (long)ms));
  return 1;
}

static int l_port_free(lua_State *L) {
  int port = check_port(L, 1, 0);
  const char *host = luaL_optstring(L, 2, "127.0.0.1");
  fmh_error err = {0};
  int r = fmh_proc_port_free(host, port, &err);
  if (r < 0) return fmh_fail(L, &err);
  lua_pushboolean(L, r);
  return 1;
}

static int l_port_owner(lua_State *L) {
  int port = check_port(L, 1, 0);
  pid_t pid;
  char name[64];
  if (!fmh_proc_port_owner(port, &pid, name, sizeof name)) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, pid);
  lua_pushstring(L, name);
  return 2;
}

static llistener *check_listener(lua_State *L, int i) { return luaL_checkudata(L, i, LISTENER_T); }

static int l_listen(lua_State *L) {
  int port = lua_isnoneornil(L, 1) ? 0 : check_port(L, 1, 1);
  const char *host = luaL_optstring(L, 2, "127.0.0.1");
  llistener *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->fd = -1;
  u->port = 0;
  luaL_setmetatable(L, LISTENER_T);
  fmh_error err = {0};
  int bound = 0;
  int fd = fmh_proc_listen(host, port, &bound, &err);
  if (fd < 0) return fmh_fail(L, &err);
  u->fd = fd;
  u->port = bound;
  return 1;
}

static int listener_close(lua_State *L) {
  llistener *u = check_listener(L, 1);
  if (u->fd < 0) return fmh_push_closed(L, 0);
  close(u->fd);
  u->fd = -1;
  return fmh_push_closed(L, 1);
}

static int listener_index(lua_State *L) {
  llistener *u = check_listener(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "port") == 0) {
    lua_pushinteger(L, u->port);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_gettable(L, lua_upvalueindex(1));
  return 1;
}

static int listener_tostring(lua_State *L) {
  llistener *u = check_listener(L, 1);
  lua_pushfstring(L, "%s (port %d, %s)", LISTENER_T, u->port, u->fd >= 0 ? "listening" : "closed");
  return 1;
}

/* --- locks ---------------------------------------------------------------------- */

static int l_lock(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer ms = luaL_checkinteger(L, 2);
  int *u = lua_newuserdatauv(L, sizeof *u, 0);
  *u = -1;
  luaL_setmetatable(L, LOCK_T);
  fmh_error err = {0};
  int fd = fmh_proc_lock(path, (long)ms, &err);
  if (fd < 0) return fmh_fail(L, &err);
  *u = fd;
  return 1;
}

static int lock_unlock(lua_State *L) {
  int *u = luaL_checkudata(L, 1, LOCK_T);
  if (*u >= 0) close(*u);
  *u = -1;
  return 0;
}

static int lock_tostring(lua_State *L) {
  int *u = luaL_checkudata(L, 1, LOCK_T);
  lua_pushfstring(L, "%s (%s)", LOCK_T, *u >= 0 ? "held" : "released");
  return 1;
}

/* --- small things -------------------------------------------------------------- */

static int l_signum(lua_State *L) {
  int s = lua_type(L, 1) == LUA_TNUMBER ? (int)luaL_checkinteger(L, 1) : fmh_proc_signum(luaL_checkstring(L, 1));
  if (s <= 0 || s >= NSIG) lua_pushnil(L);
  else lua_pushinteger(L, s);
  return 1;
}

static int l_signame(lua_State *L) {
  const char *n = fmh_proc_signame((int)luaL_checkinteger(L, 1));
  if (n) lua_pushstring(L, n);
  else lua_pushnil(L);
  return 1;
}

static int l_now_ms(lua_State *L) {
  lua_pushnumber(L, fmh_proc_now_ms());
  return 1;
}

static int l_wall_ms(lua_State *L) {
  lua_pushnumber(L, fmh_proc_wall_ms());
  return 1;
}

static int l_sleep(lua_State *L) {
  fmh_proc_sleep_ms((long)luaL_checkinteger(L, 1));
  return 0;
}

static int l_getpid(lua_State *L) {
  lua_pushinteger(L, getpid());
  return 1;
}

static int l_getuid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)geteuid());
  return 1;
}

static const luaL_Reg proc_methods[] = {
    {"alive", l_alive},  {"signal", l_signal_m},       {"wait", l_wait},
    {"status", l_status}, {"kill_tree", l_kill_tree_m}, {"write", l_write},
    {"read", l_read},    {NULL, NULL}};
static const luaL_Reg proc_meta[] = {
    {"__gc", proc_gc}, {"__close", proc_close}, {"__tostring", proc_tostring}, {NULL, NULL}};

static const luaL_Reg listener_methods[] = {{"close", listener_close}, {NULL, NULL}};
static const luaL_Reg listener_meta[] = {
    {"__gc", listener_close}, {"__close", listener_close}, {"__tostring", listener_tostring}, {NULL, NULL}};

static const luaL_Reg lock_methods[] = {{"unlock", lock_unlock}, {NULL, NULL}};
static const luaL_Reg lock_meta[] = {
    {"__gc", lock_unlock}, {"__close", lock_unlock}, {"__tostring", lock_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"lock", l_lock},
    {"spawn", l_spawn},       {"run", l_run},
    {"pid_alive", l_pid_alive}, {"wait_pid", l_wait_pid},
    {"signal", l_signal},     {"kill_tree", l_kill_tree},
    {"cmdline", l_cmdline},   {"comm", l_comm},
    {"port_open", l_port_open}, {"port_free", l_port_free},
    {"port_owner", l_port_owner}, {"listen", l_listen},
    {"signum", l_signum},     {"signame", l_signame},
    {"now_ms", l_now_ms},     {"wall_ms", l_wall_ms},
    {"sleep", l_sleep},
    {"getpid", l_getpid},     {"getuid", l_getuid},
    {NULL, NULL}};

/* Replace the class's __index table by a function that serves a field
 * (pid, port) and falls back to the (possibly traced) methods. */
static void field_index(lua_State *L, const char *tname, lua_CFunction f) {
  luaL_getmetatable(L, tname);
  lua_getfield(L, -1, "__index");
  lua_pushcclosure(L, f, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

int luaopen_fmhost_proc(lua_State *L) {
  fmh_newclass(L, PROC_T, proc_methods, proc_meta);
  field_index(L, PROC_T, proc_index);
  fmh_newclass(L, LISTENER_T, listener_methods, listener_meta);
  field_index(L, LISTENER_T, listener_index);
  fmh_newclass(L, LOCK_T, lock_methods, lock_meta);
  fmh_newmodule(L, "fmhost.proc", funcs);
  return 1;
}
