-- The plumbing every service of the local stack shares (fmhost.stack.mariadb,
-- .nats, .flink): reading settings, finding the server's pid, checking its
-- ports, spawning it and waiting until it is ready, and the lifecycle
-- functions of the service module shape fmhost.stack documents (start,
-- up, ensure, stop, down, restart, kill, pid), written once.
--
-- A service fills in a definition and hands it to M.lifecycle:
--   name            'mariadb'
--   key             the config section, for messages: 'mysql' ("mysql.managed is false")
--   settings(cfg)   -> s with s.managed, s.base, s.start_timeout_ms, s.stop_timeout_ms
--   start_locked(cfg, s, o), stop_locked(cfg, s, o)   run with the service's lock held
--   start_lock_ms(s), stop_lock_ms(s)   how long to wait for that lock
--   external(s)     managed = false: -> true, info | nil, msg (is the server there?)
--   external_where(s)   "a server answers at ..." for `up`
--   say_started(say, s, info), say_already(say, s, info) (optional),
--   say_stopped(say, s, info)   progress lines of up and down
--   stop_needs_base true: nothing to stop while <stack.dir>/<name>/ does not exist
--   find_pid(cfg, s), program   a single-process server: enables M.kill and M.pid
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'

local M = {}

local function silent() end

-- --- settings ------------------------------------------------------------------

-- A boolean setting: false for false, 'false' and 0; default when unset.
function M.bool(v, default)
  if v == nil then return default end
  if v == 'false' or v == 0 then return false end
  if v == 'true' or v == 1 then return true end
  return v and true or false
end

-- An integer setting, or nil.
function M.int(v) return math.tointeger(tonumber(v)) end

-- --- finding a single-process server --------------------------------------------

-- The pid of a service's running server, or nil: from state.json, then the
-- pid file s.pidfile, then whoever listens on s.port, each checked against
-- its command line holding every word of marks (a pid file outliving a
-- kill -9 must not name a recycled pid). Returns pid, state (state also
-- without a pid).
function M.find_pid(cfg, name, s, marks)
  local st = stack.read_state(cfg, name)
  if st and stack.pid_matches(st.pid, marks) then return st.pid, st end
  local text = stack.read_file(s.pidfile)
  local pid = text and math.tointeger(tonumber(text:match('%d+')))
  if pid and stack.pid_matches(pid, marks) then return pid, st end
  local owner = proc.port_owner(s.port)
  if owner and stack.pid_matches(owner, marks) then return owner, st end
  return nil, st
end

-- --- ports -------------------------------------------------------------------------

-- Check that the ports of list = {{key=, port=, label=bool}, ...} are free
-- on 127.0.0.1 before anything is started. label: name the setting after
-- the port ("port 14222 (nats.port)"). o.advice: words before "set <key> to
-- a free port". Returns true | nil, msg.
function M.check_ports(name, list, o)
  o = o or {}
  for _, pp in ipairs(list) do
    local what = string.format('%s: port %d%s', name, pp.port, pp.label and (' (' .. pp.key .. ')') or '')
    local free, ferr = proc.port_free(pp.port, '127.0.0.1')
    if free == nil then return nil, what .. ': ' .. ferr end
    if not free then
      local who = stack.port_user(pp.port)
      return nil, string.format('%s is already in use%s; %sset %s to a free port', what,
        who and (' by ' .. who) or '', o.advice or '', pp.key)
    end
  end
  return true
end

-- --- spawning a single-process server ---------------------------------------------

-- Stop a server we are starting and could not finish: nothing half-started.
function M.abort_start(cfg, name, s, p)
  if p:alive() then
    p:kill_tree('KILL')
    p:wait(10000)
  end
  if s.pidfile then os.remove(s.pidfile) end
  stack.clear_state(cfg, name)
end

-- Spawn argv as the service's server: its output appended to s.log, in a
-- session of its own, in s.base. Returns the process handle and the size
-- of the log before it started | nil, msg.
function M.spawn(name, s, argv)
  local log_from = stack.file_size(s.log)
  local a = { stdout = s.log, merge_stderr = true, append = true, session = true, cwd = s.base }
  for i, w in ipairs(argv) do a[i] = w end
  local p, err = proc.spawn(a)
  if not p then return nil, name .. ': ' .. err end
  return p, log_from
end

-- The text the server appended to s.log since offset from ('' when none).
function M.log_since(s, from)
  if stack.file_size(s.log) <= from then return '' end
  local f = io.open(s.log, 'rb')
  if not f then return '' end
  f:seek('set', from)
  local text = f:read('a') or ''
  f:close()
  return text
end

-- Wait until ready() returns true (polled every o.interval_ms), failing
-- early when p exits. On failure the server is stopped and the message
-- names what happened and ends with the log since log_from:
--   "<name>: <program> exited (status 1) during start-up; the end of <log>:..."
--   "<name>: <program> <o.not_ready> within <n> s (stopped it); ..."
-- ready() returns true once ready, a false value while not yet, or a
-- false value and a message for a failure that waiting will not mend (the
-- message is then the whole error). Returns true | nil, msg.
function M.wait_ready(cfg, name, s, p, log_from, o)
  local failed
  local ready = stack.wait_until(s.start_timeout_ms, o.interval_ms, function()
    if not p:alive() then return 'exited' end
    local r, msg = o.ready()
    if not r and msg ~= nil then failed = msg; return 'failed' end
    return r == true
  end)
  if ready == true then return true end
  local exited, code, sig = p:wait(0)
  M.abort_start(cfg, name, s, p)
  if ready == 'failed' then return nil, failed end
  local what
  if ready == 'exited' or exited then
    what = string.format('%s exited (%s) during start-up', o.program,
                         code and ('status ' .. code) or ('signal ' .. tostring(sig)))
  else
    what = string.format('%s %s within %d s (stopped it)', o.program, o.not_ready, s.start_timeout_ms // 1000)
  end
  return nil, string.format('%s: %s; the end of %s:\n%s', name, what, s.log, stack.tail(s.log, 12, log_from))
end

-- --- stopping a single-process server ----------------------------------------------

-- The stop_locked of a service with one server process (def.find_pid,
-- def.program): SIGTERM, SIGKILL after s.stop_timeout_ms; its pid file and
-- state go. Returns true, info | nil, msg.
function M.stop_process_locked(def, cfg, s, o)
  local pid = def.find_pid(cfg, s)
  if not pid then
    stack.clear_state(cfg, def.name)
    return true, { was_running = false }
  end
  local t0 = proc.now_ms()
  local ok, killed = stack.stop_pids(def.name, { { pid = pid, name = def.program } }, s.stop_timeout_ms,
                                     { say = o and o.say })
  if not ok then return nil, killed end
  os.remove(s.pidfile)
  stack.clear_state(cfg, def.name)
  return true, { was_running = true, pid = pid, ms = proc.now_ms() - t0, killed = killed }
end

-- --- HTTP probes -------------------------------------------------------------------

-- GET the JSON document at base .. path (a Flink REST endpoint, NATS's
-- monitoring port) through fmhost.flink's HTTP client. Returns the table |
-- nil, msg.
function M.http_get(base, path, timeout_ms)
  local ok, c = pcall(require('fmhost.flink').client, { rest = base, gateway = base, timeout_ms = timeout_ms or 3000 })
  if not ok then return nil, tostring(c) end
  local client <close> = c
  return client:rest('GET', path)
end

-- --- the lifecycle -----------------------------------------------------------------

-- Fill svc (the service module) with start, up, ensure, stop, down,
-- restart, and, for a single-process server, kill and pid. Returns svc.
function M.lifecycle(svc, def)
  local name, key = def.name, def.key

  -- Start the server unless it runs. Returns true, info | nil, msg.
  -- o.restart_on_change: a server running with other settings is restarted.
  function svc.start(cfg, o)
    o = o or {}
    local s = def.settings(cfg)
    if not s.managed then return def.external(s) end
    return stack.with_lock(cfg, name, def.start_lock_ms(s), def.start_locked, cfg, s, o)
  end

  function svc.up(cfg, o)
    o = o or {}
    local say = o.say or silent
    local ok, info = svc.start(cfg, o)
    if not ok then return nil, info end
    local s = def.settings(cfg)
    if info.external then
      say('%s: not managed here (%s.managed is false); %s', name, key, def.external_where(s))
    elseif info.already then
      if def.say_already then
        def.say_already(say, s, info)
      else
        say('%s: already running (pid %d, port %d)', name, info.pid, info.port)
      end
      if info.warning then say('%s', info.warning) end
    else
      def.say_started(say, s, info)
    end
    return true, info
  end

  -- Up when not running, silently (specs call it); a running server whose
  -- settings differ from cfg in what the service checks is restarted.
  -- Returns true | nil, msg.
  function svc.ensure(cfg)
    local ok, err = svc.start(cfg, { restart_on_change = true })
    if not ok then return nil, err end
    return true
  end

  -- Stop the server: SIGTERM, wait up to <key>.stop_timeout_ms, then
  -- SIGKILL. Idempotent. Returns true, info | nil, msg.
  function svc.stop(cfg, o)
    o = o or {}
    local s = def.settings(cfg)
    if not s.managed then return true, { was_running = false, external = true } end
    if def.stop_needs_base and not stack.exists(s.base) then return true, { was_running = false } end
    return stack.with_lock(cfg, name, def.stop_lock_ms(s), def.stop_locked, cfg, s, o)
  end

  function svc.down(cfg, o)
    o = o or {}
    local say = o.say or silent
    local ok, info = svc.stop(cfg, o)
    if not ok then return nil, info end
    if info.external then
      say('%s: not managed here (%s.managed is false); nothing to stop', name, key)
    elseif info.was_running then
      def.say_stopped(say, def.settings(cfg), info)
    else
      say('%s: not running', name)
    end
    return true, info
  end

  -- Stop, then start with the settings of cfg. Returns true, info | nil, msg.
  function svc.restart(cfg, o)
    local ok, err = svc.stop(cfg, o)
    if not ok then return nil, err end
    return svc.start(cfg, o)
  end

  if def.find_pid then
    -- The pid of the running private server, or nil.
    function svc.pid(cfg)
      return (def.find_pid(cfg, def.settings(cfg)))
    end

    -- Send a signal to the running server (fault scenarios: 'KILL' is a
    -- crash, 'STOP'/'CONT' a hang). For KILL it waits until the process is
    -- gone. Returns true, pid | nil, msg.
    function svc.kill(cfg, sig)
      sig = sig or 'KILL'
      local s = def.settings(cfg)
      if not s.managed then
        return nil, string.format('%s: %s.managed is false; fmhost does not own that server', name, key)
      end
      local pid = def.find_pid(cfg, s)
      if not pid then return nil, name .. ': not running' end
      local ok, err = stack.signal_pid(name, { pid = pid, name = def.program }, sig)
      if not ok then return nil, err end
      return true, pid
    end
  end
  return svc
end

-- The status of a server that is not managed here: {running=, managed=false,
-- summary=, fields=}.
function M.external_status(key, up, fields)
  return { running = up, managed = false,
    summary = (up and 'reachable' or 'NOT reachable') .. ' (not managed: ' .. key .. '.managed is false)',
    fields = fields }
end

-- "up since" of a running server's state, for status fields; nil without one.
function M.up_since(started_at)
  local t = math.tointeger(started_at)
  return t and os.date('!%Y-%m-%d %H:%M:%S UTC', t) or nil
end

return M
