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
local service = require 'fmhost.stack.service'

local M = { name = 'nats' }

local get = stack.get
local bool, int = service.bool, service.int

-- Every path and setting the service uses, from cfg with the defaults of
-- config/default.yaml.
function M.settings(cfg)
  local base = stack.service_dir(cfg, 'nats')
  local s = {
    managed = bool(get(cfg, 'nats.managed'), true),
    host = tostring(get(cfg, 'nats.host')),
    port = int(get(cfg, 'nats.port')),
    monitor_port = int(get(cfg, 'nats.monitor_port')),
    start_timeout_ms = int(get(cfg, 'nats.start_timeout_ms')),
    stop_timeout_ms = int(get(cfg, 'nats.stop_timeout_ms')),
    max_memory_mb = int(get(cfg, 'nats.max_memory_store_mb')),
    max_file_mb = int(get(cfg, 'nats.max_file_store_mb')),
    base = base,
    conf = base .. '/nats.conf',
    store = base .. '/store',
    log = base .. '/nats-server.log',
    pidfile = base .. '/nats-server.pid',
  }
  if not s.monitor_port or s.monitor_port == 0 then s.monitor_port = s.port + 1 end
  s.url = get(cfg, 'nats.url') or string.format('nats://%s:%d', s.host, s.port)
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

-- The pid of our running nats-server (and state.json's record), or nil.
local function find_pid(cfg, s)
  return service.find_pid(cfg, 'nats', s, marks(s))
end

-- The URL clients (fmhost.nats, a Flink job's connector) connect to:
-- nats.url, else nats://<nats.host>:<nats.port>.
function M.url(cfg)
  return M.settings(cfg).url
end

-- GET a JSON document of the monitoring endpoint (through fmhost.flink's
-- HTTP client). Returns the table | nil, msg.
local function monitor(s, path, timeout_ms)
  return service.http_get(s.monitor_url, path, timeout_ms)
end
M.monitor = function(cfg, path, timeout_ms) return monitor(M.settings(cfg), path, timeout_ms) end

-- --- up ----------------------------------------------------------------------

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
  local ok, err = service.check_ports('nats', { { key = 'nats.port', port = s.port, label = true },
                                                { key = 'nats.monitor_port', port = s.monitor_port, label = true } })
  if not ok then return nil, err end
  ok, err = stack.mkdir_p(s.store)
  if not ok then return nil, err end
  os.remove(s.pidfile)
  ok, err = stack.write_file(s.conf, M.nats_conf(s))
  if not ok then return nil, err end

  local t0 = proc.now_ms()
  local p, log_from = service.spawn('nats', s, { 'nats-server', '--config=' .. s.conf })
  if not p then return nil, log_from end
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
  local ready, rerr = service.wait_ready(cfg, 'nats', s, p, log_from, {
    program = 'nats-server', not_ready = 'was not ready', interval_ms = 25,
    ready = function()
      if not service.log_since(s, log_from):find('Server is ready', 1, true) then return nil end
      return proc.port_open('127.0.0.1', s.port, 1000)
    end })
  if not ready then return nil, rerr end
  local ms = proc.now_ms() - t0
  local version = M.binary_version()
  record('running', { start_ms = ms, version = version })
  return true, { pid = p.pid, port = s.port, monitor_port = s.monitor_port, ms = ms, version = version }
end

-- --- lifecycle -----------------------------------------------------------------

function M.stop_locked(cfg, s, o)
  return service.stop_process_locked({ name = 'nats', program = 'nats-server', find_pid = find_pid }, cfg, s, o)
end

-- start, up, ensure, stop, down, restart, kill, pid: see fmhost.stack.service.
-- start(cfg, o) -> true, info | nil, msg; info: {already=bool, pid=, port=,
-- monitor_port=, ms= (start-up time), version=}; o.restart_on_change (ensure
-- sets it): a server running on other ports is restarted. stop: SIGTERM
-- (nats-server shuts JetStream down cleanly); the store stays.
service.lifecycle(M, {
  name = 'nats', key = 'nats', program = 'nats-server', settings = M.settings, find_pid = find_pid,
  start_locked = start_locked, stop_locked = M.stop_locked, stop_needs_base = true,
  start_lock_ms = function(s) return s.start_timeout_ms + 60000 end,
  stop_lock_ms = function(s) return s.stop_timeout_ms + 30000 end,
  external = function(s)
    if proc.port_open(s.check_host, s.check_port, 2000) then return true, { already = true, external = true } end
    return nil, string.format('nats: no server answers at %s (nats.managed is false, so fmhost '
      .. 'does not start one)', s.url)
  end,
  external_where = function(s) return 'a server answers at ' .. s.url end,
  say_started = function(say, s, info)
    say('nats: started nats-server %s with JetStream (pid %d) on 127.0.0.1:%d, monitoring %s, store %s in %.2f s',
        info.version or '', info.pid, info.port, s.monitor_url, s.jetstream_dir, info.ms / 1000)
  end,
  say_stopped = function(say, s, info)
    say('nats: stopped (pid %d) in %.2f s%s', info.pid, info.ms / 1000, info.killed and ' (killed)' or '')
  end,
})

-- --- status ------------------------------------------------------------------

local function mb(bytes) return string.format('%.1f MB', (tonumber(bytes) or 0) / 1e6) end

function M.status(cfg)
  local s = M.settings(cfg)
  local fields = {}
  local function add(k, v) fields[#fields + 1] = { k, v } end
  if not s.managed then
    add('url', s.url)
    local st = service.external_status('nats', proc.port_open(s.check_host, s.check_port, 2000), fields)
    st.url = s.url
    return st
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
  if pid and st then add('up since', service.up_since(st.started_at)) end
  return { running = pid ~= nil and accepting == true, managed = true, pid = pid, port = port,
           monitor_port = mport, url = s.url, version = version, jetstream = jsz,
           store = s.jetstream_dir, log = s.log,
           summary = pid and (accepting and 'running' or 'running, not accepting') or 'not running',
           fields = fields }
end

return M
