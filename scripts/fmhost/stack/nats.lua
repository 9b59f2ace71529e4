-- The local stack's NATS: a private nats-server with JetStream, its own
-- config, port, monitoring port and store under <stack.dir>/nats/, bound
-- to 127.0.0.1, so that scenarios may kill and restart it without touching
-- any other server (the machine's own nats-server on 4222 included).
--
--   <stack.dir>/nats/nats.conf          written on every start (config changes apply)
--   <stack.dir>/nats/store/jetstream/   JetStream's file store (kept across restarts)
--   <stack.dir>/nats/nats-server.log    the server's log (its stderr)
--   <stack.dir>/nats/nats-server.pid    nats-server's pid file
--   <stack.dir>/nats/state.json         what fmhost started (pid, ports, ...)
--
-- Streams created with file storage (the default) survive a kill -9: the
-- server writes every stored message to its block file before it acks it
-- (no fsync; only a machine crash could lose the last writes).
--
-- With nats.managed = false nothing is started: up/ensure/status only check
-- that the server at nats.url answers.
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'

local M = { name = 'nats' }

local get = stack.get
local function silent() end

local function bool(v, default)
  if v == nil then return default end
  if v == 'false' or v == 0 then return false end
  if v == 'true' or v == 1 then return true end
  return v and true or false
end

local function int(v) return math.tointeger(tonumber(v)) end

-- Every path and setting the service uses, from cfg with the defaults of
-- config/default.yaml.
function M.settings(cfg)
  local base = stack.service_dir(cfg, 'nats')
  local s = {
    managed = bool(get(cfg, 'nats.managed', true), true),
    host = tostring(get(cfg, 'nats.host', '127.0.0.1')),
    port = int(get(cfg, 'nats.port', 14222)),
    monitor_port = int(get(cfg, 'nats.monitor_port', 0)),
    start_timeout_ms = int(get(cfg, 'nats.start_timeout_ms', 30000)),
    stop_timeout_ms = int(get(cfg, 'nats.stop_timeout_ms', 30000)),
    max_memory_mb = int(get(cfg, 'nats.max_memory_store_mb', 256)),
    max_file_mb = int(get(cfg, 'nats.max_file_store_mb', 8192)),
    base = base,
    conf = base .. '/nats.conf',
    store = base .. '/store',
    log = base .. '/nats-server.log',
    pidfile = base .. '/nats-server.pid',
  }
  if not s.monitor_port or s.monitor_port == 0 then s.monitor_port = s.port + 1 end
  s.url = get(cfg, 'nats.url', nil) or string.format('nats://%s:%d', s.host, s.port)
  -- where an external server is checked: the first server of nats.url
  local first = s.url:match('^%s*([^,]+)')
  local h, pt = (first or ''):gsub('^%a+://', ''):gsub('^[^@]*@', ''):match('^%[?([^%]]-)%]?:(%d+)%s*$')
  s.check_host, s.check_port = h or s.host, int(pt) or s.port
  s.monitor_url = string.format('http://127.0.0.1:%d', s.monitor_port)
  s.jetstream_dir = s.store .. '/jetstream'
  return s
end

-- The words that identify our server in /proc/PID/cmdline.
local function marks(s)
  return { '--config=' .. s.conf }
end

local binary_version
-- The version of the nats-server on PATH ("2.9.10"), nil when it does not run.
function M.binary_version()
  if binary_version == nil then
    local r = proc.run { 'nats-server', '--version', timeout_ms = 10000 }
    binary_version = r and r.ok and (r.stdout .. r.stderr):match('v(%d[%w%.%-]*)') or false
  end
  return binary_version or nil
end

-- --- nats.conf -----------------------------------------------------------------

local function q(v) -- a quoted string of nats-server's config format
  return '"' .. tostring(v):gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

-- Why these settings:
--  * listen and http on 127.0.0.1 only: nothing outside the machine sees
--    the test server.
--  * server_name fixed by the port: JetStream keys its state by the server,
--    and a restart on the same store must be the same server.
--  * the store under <stack.dir>/nats/store; limits from
--    nats.max_memory_store_mb / nats.max_file_store_mb (nats-server would
--    otherwise claim 75% of the machine's memory and disk, which several
--    stacks on one machine would promise each other many times over).
--  * no log_file: the server's stderr goes to nats-server.log (appended),
--    as mariadbd's does, so a start-up failure is in one place.
function M.nats_conf(s)
  return table.concat({
    '# written by fmhost stack up; rewritten on every start',
    'server_name: ' .. q('fmhost_nats_' .. s.port),
    'listen: ' .. q('127.0.0.1:' .. s.port),
    'http: ' .. q('127.0.0.1:' .. s.monitor_port),
    'pid_file: ' .. q(s.pidfile),
    'jetstream {',
    '  store_dir: ' .. q(s.store),
    '  max_memory_store: ' .. s.max_memory_mb .. 'MB',
    '  max_file_store: ' .. s.max_file_mb .. 'MB',
    '}',
    '',
  }, '\n')
end

-- --- finding the running server ---------------------------------------------

-- The pid of our running nats-server, or nil: from state.json, then the
-- pid file, then whoever listens on the port, each checked against its
-- command line (a pid file outliving a kill -9 must not name a recycled pid).
local function find_pid(cfg, s)
  local st = stack.read_state(cfg, 'nats')
  if st and stack.pid_matches(st.pid, marks(s)) then return st.pid, st end
  local text = stack.read_file(s.pidfile)
  local pid = text and math.tointeger(tonumber(text:match('%d+')))
  if pid and stack.pid_matches(pid, marks(s)) then return pid, st end
  local owner = proc.port_owner(s.port)
  if owner and stack.pid_matches(owner, marks(s)) then return owner, st end
  return nil, st
end

-- The pid of the running private server, or nil.
function M.pid(cfg)
  return (find_pid(cfg, M.settings(cfg)))
end

-- The URL clients (fmhost.nats, a Flink job's connector) connect to:
-- nats.url, else nats://<nats.host>:<nats.port>.
function M.url(cfg)
  return M.settings(cfg).url
end

-- GET a JSON document of the monitoring endpoint (through fmhost.flink's
-- HTTP client). Returns the table | nil, msg.
local function monitor(s, path, timeout_ms)
  local ok, c = pcall(require('fmhost.flink').client, { rest = s.monitor_url, gateway = s.monitor_url,
                                                        timeout_ms = timeout_ms or 3000 })
  if not ok then return nil, tostring(c) end
  local t, err = c:rest('GET', path)
  c:close()
  return t, err
end
M.monitor = function(cfg, path, timeout_ms) return monitor(M.settings(cfg), path, timeout_ms) end

-- --- up ----------------------------------------------------------------------

-- Stop a server we are starting and could not finish: nothing half-started.
local function abort_start(cfg, s, p)
  if p:alive() then
    p:kill_tree('KILL')
    p:wait(10000)
  end
  os.remove(s.pidfile)
  stack.clear_state(cfg, 'nats')
end

local function check_port(port, key)
  local free, ferr = proc.port_free(port, '127.0.0.1')
  if free == nil then return nil, string.format('nats: port %d (%s): %s', port, key, ferr) end
  if not free then
    local who = stack.port_user(port)
    return nil, string.format('nats: port %d (%s) is already in use%s; set %s to a free port',
      port, key, who and (' by ' .. who) or '', key)
  end
  return true
end

local function start_locked(cfg, s, o)
  local pid, st = find_pid(cfg, s)
  if pid then
    local port = st and st.port or s.port
    local info = { already = true, pid = pid, port = port, monitor_port = st and st.monitor_port }
    if port ~= s.port or (st and st.monitor_port and st.monitor_port ~= s.monitor_port) then
      if not o.restart_on_change then
        info.warning = string.format("nats: running on port %d, but nats.port is %d; run 'fmhost stack restart nats' "
          .. 'to move it', port, s.port)
        return true, info
      end
      local ok, err = M.stop_locked(cfg, s, o)
      if not ok then return nil, err end
    else
      return true, info
    end
  end
  if not M.binary_version() then
    return nil, 'nats: `nats-server --version` did not run; is the Debian package nats-server installed? '
      .. '(tools/setup.sh installs it)'
  end
  if s.monitor_port == s.port then
    return nil, string.format('nats: nats.monitor_port equals nats.port (%d); give them different ports', s.port)
  end
  if s.monitor_port > 65535 then
    return nil, string.format('nats: the monitoring port would be %d (nats.port + 1); set nats.monitor_port',
      s.monitor_port)
  end
  local ok, err = check_port(s.port, 'nats.port')
  if not ok then return nil, err end
  ok, err = check_port(s.monitor_port, 'nats.monitor_port')
  if not ok then return nil, err end
  ok, err = stack.mkdir_p(s.store)
  if not ok then return nil, err end
  os.remove(s.pidfile)
  ok, err = stack.write_file(s.conf, M.nats_conf(s))
  if not ok then return nil, err end

  local t0 = proc.now_ms()
  local log_from = stack.file_size(s.log)
  local p, serr = proc.spawn { 'nats-server', '--config=' .. s.conf,
                               stdout = s.log, merge_stderr = true, append = true,
                               session = true, cwd = s.base }
  if not p then return nil, 'nats: ' .. serr end
  local function record(state, extra)
    local t = { pid = p.pid, port = s.port, monitor_port = s.monitor_port, url = s.url, conf = s.conf,
                store = s.store, log = s.log, state = state, started_at = os.time() }
    for k, v in pairs(extra or {}) do t[k] = v end
    return stack.write_state(cfg, 'nats', t)
  end
  record('starting')

  -- ready: the server logs "Server is ready" once its client listener is up,
  -- which it opens only after JetStream has recovered every stream of the
  -- store (so a stream written before a kill -9 is readable from then on);
  -- the port is checked too, in case the log is not ours.
  local ready = stack.wait_until(s.start_timeout_ms, 25, function()
    if not p:alive() then return 'exited' end
    local size = stack.file_size(s.log)
    if size <= log_from then return nil end
    local f = io.open(s.log, 'rb')
    if not f then return nil end
    f:seek('set', log_from)
    local text = f:read('a') or ''
    f:close()
    if not text:find('Server is ready', 1, true) then return nil end
    return proc.port_open('127.0.0.1', s.port, 1000)
  end)
  if ready ~= true then
    local exited, code, sig = p:wait(0)
    abort_start(cfg, s, p)
    local what
    if exited then
      what = string.format('nats-server exited (%s) during start-up',
                           code and ('status ' .. code) or ('signal ' .. tostring(sig)))
    else
      what = string.format('nats-server was not ready within %d s (stopped it)', s.start_timeout_ms // 1000)
    end
    return nil, string.format('nats: %s; the end of %s:\n%s', what, s.log, stack.tail(s.log, 12, log_from))
  end
  local ms = proc.now_ms() - t0
  local version = M.binary_version()
  record('running', { start_ms = ms, version = version })
  return true, { pid = p.pid, port = s.port, monitor_port = s.monitor_port, ms = ms, version = version }
end

-- Start the private server unless it runs. Returns true, info | nil, msg.
-- info: {already=bool, pid=, port=, monitor_port=, ms= (start-up time), version=}.
-- o.restart_on_change: a server running on other ports is restarted.
function M.start(cfg, o)
  o = o or {}
  local s = M.settings(cfg)
  if not s.managed then
    if proc.port_open(s.check_host, s.check_port, 2000) then return true, { already = true, external = true } end
    return nil, string.format('nats: no server answers at %s (nats.managed is false, so fmhost '
      .. 'does not start one)', s.url)
  end
  return stack.with_lock(cfg, 'nats', s.start_timeout_ms + 60000, start_locked, cfg, s, o)
end

function M.up(cfg, o)
  o = o or {}
  local say = o.say or silent
  local ok, info = M.start(cfg, o)
  if not ok then return nil, info end
  local s = M.settings(cfg)
  if info.external then
    say('nats: not managed here (nats.managed is false); a server answers at %s', s.url)
  elseif info.already then
    say('nats: already running (pid %d, port %d)', info.pid, info.port)
    if info.warning then say('%s', info.warning) end
  else
    say('nats: started nats-server %s with JetStream (pid %d) on 127.0.0.1:%d, monitoring %s, store %s in %.2f s',
        info.version or '', info.pid, info.port, s.monitor_url, s.jetstream_dir, info.ms / 1000)
  end
  return true, info
end

-- Up when not running (restarted when it runs on other ports than cfg
-- asks for), silently; specs call it.
function M.ensure(cfg)
  local ok, err = M.start(cfg, { restart_on_change = true })
  if not ok then return nil, err end
  return true
end

-- --- down ----------------------------------------------------------------------

function M.stop_locked(cfg, s, o)
  local pid = find_pid(cfg, s)
  if not pid then
    stack.clear_state(cfg, 'nats')
    return true, { was_running = false }
  end
  local t0 = proc.now_ms()
  local ok, killed = stack.stop_pids('nats', { { pid = pid, name = 'nats-server' } }, s.stop_timeout_ms,
                                     { say = o and o.say })
  if not ok then return nil, killed end
  os.remove(s.pidfile)
  stack.clear_state(cfg, 'nats')
  return true, { was_running = true, pid = pid, ms = proc.now_ms() - t0, killed = killed }
end

-- Stop the private server: SIGTERM (nats-server shuts JetStream down
-- cleanly), wait up to nats.stop_timeout_ms, then SIGKILL. Idempotent; the
-- store stays. Returns true, info | nil, msg.
function M.stop(cfg, o)
  o = o or {}
  local s = M.settings(cfg)
  if not s.managed then return true, { was_running = false, external = true } end
  if not stack.exists(s.base) then return true, { was_running = false } end
  return stack.with_lock(cfg, 'nats', s.stop_timeout_ms + 30000, M.stop_locked, cfg, s, o)
end

function M.down(cfg, o)
  o = o or {}
  local say = o.say or silent
  local ok, info = M.stop(cfg, o)
  if not ok then return nil, info end
  if info.external then
    say('nats: not managed here (nats.managed is false); nothing to stop')
  elseif info.was_running then
    say('nats: stopped (pid %d) in %.2f s%s', info.pid, info.ms / 1000, info.killed and ' (killed)' or '')
  else
    say('nats: not running')
  end
  return true, info
end

-- Stop, then start with the settings of cfg. Returns true, info | nil, msg.
function M.restart(cfg, o)
  local ok, err = M.stop(cfg, o)
  if not ok then return nil, err end
  return M.start(cfg, o)
end

-- Send a signal to the running server (fault scenarios: 'KILL' is a crash,
-- 'STOP'/'CONT' a hang). For KILL it waits until the process is gone.
-- Returns true, pid | nil, msg.
function M.kill(cfg, sig)
  sig = sig or 'KILL'
  local s = M.settings(cfg)
  if not s.managed then return nil, 'nats: nats.managed is false; fmhost does not own that server' end
  local pid = find_pid(cfg, s)
  if not pid then return nil, 'nats: not running' end
  local ok, err = stack.signal_pid('nats', { pid = pid, name = 'nats-server' }, sig)
  if not ok then return nil, err end
  return true, pid
end

-- --- status ------------------------------------------------------------------

local function mb(bytes) return string.format('%.1f MB', (tonumber(bytes) or 0) / 1e6) end

function M.status(cfg)
  local s = M.settings(cfg)
  local fields = {}
  local function add(k, v) fields[#fields + 1] = { k, v } end
  if not s.managed then
    local up = proc.port_open(s.check_host, s.check_port, 2000)
    add('url', s.url)
    return { running = up, managed = false, url = s.url,
      summary = (up and 'reachable' or 'NOT reachable') .. ' (not managed: nats.managed is false)',
      fields = fields }
  end
  local pid, st = find_pid(cfg, s)
  local port = (st and st.port) or s.port
  local mport = (st and st.monitor_port) or s.monitor_port
  local accepting = pid and proc.port_open('127.0.0.1', port, 1000)
  local jsz = pid and monitor({ monitor_url = 'http://127.0.0.1:' .. mport }, '/jsz', 2000)
  add('pid', pid)
  add('port', string.format('127.0.0.1:%d%s', port, pid and (accepting and ' (accepting)' or ' (not accepting)') or ''))
  add('url', s.url)
  add('monitor', string.format('http://127.0.0.1:%d%s', mport, pid and (jsz and ' (answering)' or ' (not answering)') or ''))
  if jsz then
    add('jetstream', string.format('%d streams, %d consumers, %d messages, %s in file store, %s in memory',
      tonumber(jsz.streams) or 0, tonumber(jsz.consumers) or 0, tonumber(jsz.messages) or 0,
      mb(jsz.storage), mb(jsz.memory)))
  end
  add('store', s.jetstream_dir .. (stack.exists(s.jetstream_dir) and '' or ' (not created yet)'))
  add('log', s.log)
  add('config', s.conf)
  local version = (pid and st and st.version) or M.binary_version()
  add('version', version and ('nats-server ' .. version) or nil)
  if pid and st and st.started_at then add('up since', os.date('!%Y-%m-%d %H:%M:%S UTC', st.started_at)) end
  return { running = pid ~= nil and accepting == true, managed = true, pid = pid, port = port,
           monitor_port = mport, url = s.url, version = version, jetstream = jsz,
           store = s.jetstream_dir, log = s.log,
           summary = pid and (accepting and 'running' or 'running, not accepting') or 'not running',
           fields = fields }
end

return M
