-- The local stack: fmhost's private servers, MariaDB, NATS and Flink, each
-- a module scripts/fmhost/stack/<name>.lua of the same shape, their common
-- plumbing (pid, ports, spawn, readiness, up/down/ensure) written once in
-- scripts/fmhost/stack/service.lua.
--
--   fmhost stack up|down|status|restart [SERVICE...]
--   fmhost stack VERB SERVICE [ARGS...]   a verb a service adds (say, fetch)
--
-- A service module is a table:
--   name            'mariadb'
--   up(cfg, o)      -> true, info | nil, msg   info.already: it was running;
--                                              info.ms: start-up time
--   down(cfg, o)    -> true, info | nil, msg   info.was_running
--   status(cfg)     -> st: {running=bool, managed=bool, fields={{k, v}, ...}}
--   ensure(cfg)     -> true | nil, msg         up when not running, silently
--   commands        optional {verb = function(cfg, words, o) -> exit code}
-- o.say(fmt, ...) prints progress (the command line passes one; library
-- callers get silence). Services keep their state in <stack.dir>/<name>/:
-- state.json (what was started, by this module's helpers) and their own
-- files; so `status` and `down` work from any later fmhost process, and a
-- lock file there serialises concurrent up/down of one service.
local proc = require 'fmhost.proc'
local files = require 'fmhost.files'

local M = {}

-- Start order; `down` goes the other way.
M.order = { 'mariadb', 'nats', 'flink' }

-- Exit codes of `fmhost stack`.
M.EXIT_OK, M.EXIT_FAIL, M.EXIT_USAGE, M.EXIT_NOT_RUNNING = 0, 1, 2, 3

-- --- configuration -------------------------------------------------------

local function at(t, path)
  for part in path:gmatch('[^.]+') do
    if type(t) ~= 'table' then return nil end
    t = t[part]
  end
  return t
end

local defaults -- config/default.yaml as fmhost.config loads it (false: it could not)

-- The value config/default.yaml (through config/schema.yaml) gives the
-- dotted path, or nil: none for a key whose empty value stands for one
-- computed from other keys (schema's when_empty, like mysql.socket), which
-- the caller computes from the cfg it was given.
function M.default(path)
  if defaults == nil then
    local ok, c = pcall(function()
      local config = require 'fmhost.config'
      return { values = assert(config.load { environ = {} }), schema = config.schema() }
    end)
    defaults = ok and c or false
  end
  if not defaults then return nil end
  local spec = defaults.schema[path]
  if spec and spec.when_empty then return nil end
  return at(defaults.values, path)
end

-- cfg value at a dotted path. Where cfg lacks it (a library caller's own
-- table, or {}), the value of config/default.yaml, so that no default is
-- written twice; default only where that one is empty or missing too.
function M.get(cfg, path, default)
  local v = at(cfg, path)
  if v == nil or v == '' then v = M.default(path) end
  if v == nil or v == '' then return default end
  return v
end

local function root()
  return _FMHOST_ROOT or os.getenv('PWD') or '.'
end

-- Absolute form of a path: relative ones are taken from the project root.
function M.abspath(p)
  if p:sub(1, 1) == '/' then return p end
  if p:sub(1, 2) == '~/' then return (os.getenv('HOME') or '') .. p:sub(2) end
  return root() .. '/' .. p:gsub('^%./', '')
end

function M.dir(cfg)
  return M.abspath(M.get(cfg, 'stack.dir'))
end

function M.service_dir(cfg, name)
  return M.dir(cfg) .. '/' .. name
end

-- --- files ---------------------------------------------------------------

function M.exists(p)
  local lfs = require 'lfs'
  return lfs.attributes(p, 'mode') ~= nil
end

function M.mkdir_p(p)
  local lfs = require 'lfs'
  local acc = p:sub(1, 1) == '/' and '' or '.'
  for part in p:gmatch('[^/]+') do
    acc = acc .. '/' .. part
    if lfs.attributes(acc, 'mode') == nil then
      local ok, err = lfs.mkdir(acc)
      if not ok and lfs.attributes(acc, 'mode') ~= 'directory' then
        return nil, 'cannot create directory ' .. acc .. ': ' .. tostring(err)
      end
    end
  end
  return true
end

-- A file's text | nil; write through a temporary file and a rename, so
-- readers never see half: see fmhost.files.
M.read_file = files.read
M.write_file = files.write

-- Write a file that holds a secret (a key, a password): readable and
-- writable by its owner only (mode 0600) from the first byte on, through a
-- temporary file that mktemp creates with that mode, renamed into place.
-- A file that holds text already, private, is left as it is (a restart of
-- a server rewrites its secrets unchanged). Returns true | nil, msg.
function M.write_private_file(p, text)
  local perm = require('lfs').attributes(p, 'permissions')
  if perm and perm:sub(4) == '------' and M.read_file(p) == text then return true end
  local r, err = proc.run { 'mktemp', p .. '.XXXXXX', timeout_ms = 10000 }
  if not r or not r.ok then
    return nil, 'cannot write ' .. p .. ': ' .. tostring(err or r.stderr:gsub('%s+$', ''))
  end
  local tmp = r.stdout:gsub('%s+$', '')
  local f, oerr = io.open(tmp, 'wb')
  if not f then os.remove(tmp); return nil, 'cannot write ' .. p .. ': ' .. tostring(oerr) end
  f:write(text)
  f:close()
  local ok, rerr = os.rename(tmp, p)
  if not ok then os.remove(tmp); return nil, 'cannot write ' .. p .. ': ' .. tostring(rerr) end
  return true
end

-- Take group and other permissions away from the files of list that have
-- any (a secret written by an older fmhost, or by a tool with a lax umask).
-- Returns true | nil, msg.
function M.make_private(list)
  local lfs = require 'lfs'
  local argv = { 'chmod', 'go-rwx' }
  for _, p in ipairs(list) do
    local perm = lfs.attributes(p, 'permissions')
    if perm and perm:sub(4) ~= '------' then argv[#argv + 1] = p end
  end
  if #argv == 2 then return true end
  argv.timeout_ms = 10000
  local r, err = proc.run(argv)
  if not r or not r.ok then
    return nil, 'cannot make ' .. table.concat(argv, ' ', 3) .. ' private: ' .. tostring(err or r.stderr:gsub('%s+$', ''))
  end
  return true
end

-- The last n lines of a file, starting no earlier than byte offset from.
function M.tail(p, n, from)
  local f = io.open(p, 'rb')
  if not f then return '' end
  local size = f:seek('end')
  local start = math.max(from or 0, size - 16384)
  f:seek('set', start)
  local text = f:read('a') or ''
  f:close()
  local lines = {}
  for l in text:gmatch('[^\n]+') do lines[#lines + 1] = l end
  local first = math.max(1, #lines - (n or 10) + 1)
  return table.concat(lines, '\n', first)
end

function M.file_size(p)
  local lfs = require 'lfs'
  return lfs.attributes(p, 'size') or 0
end

-- --- state ---------------------------------------------------------------

local function state_path(cfg, name)
  return M.service_dir(cfg, name) .. '/state.json'
end

-- What a service recorded when it started it: a table, or nil.
function M.read_state(cfg, name)
  local text = M.read_file(state_path(cfg, name))
  if not text then return nil end
  local ok, t = pcall(require('cjson').decode, text)
  if not ok or type(t) ~= 'table' then return nil end
  for k, v in pairs(t) do -- JSON numbers come back as floats: pids and ports are integers
    if math.type(v) == 'float' and math.tointeger(v) then t[k] = math.tointeger(v) end
  end
  return t
end

function M.write_state(cfg, name, t)
  local ok, err = M.mkdir_p(M.service_dir(cfg, name))
  if not ok then return nil, err end
  return M.write_file(state_path(cfg, name), require('cjson').encode(t) .. '\n')
end

function M.clear_state(cfg, name)
  os.remove(state_path(cfg, name))
end

-- true when pid runs and its command line holds every word of marks (so a
-- recycled pid is not mistaken for the server).
function M.pid_matches(pid, marks)
  if type(pid) ~= 'number' or pid <= 0 or not proc.pid_alive(pid) then return false end
  local argv = proc.cmdline(pid)
  if not argv then return false end
  for _, m in ipairs(marks or {}) do
    local found = false
    for _, a in ipairs(argv) do
      if a == m then found = true; break end
    end
    if not found then return false end
  end
  return true
end

-- Run fn(...) holding lock (from proc.lock) and release it however fn
-- ends (an error in fn goes on once the lock is free).
function M.run_locked(lock, fn, ...)
  local held <close> = lock
  return fn(...)
end

-- Hold the service's lock while fn runs (up and down of one service from
-- two processes at once would otherwise race).
function M.with_lock(cfg, name, timeout_ms, fn, ...)
  local ok, err = M.mkdir_p(M.service_dir(cfg, name))
  if not ok then return nil, err end
  local lock, lerr = proc.lock(M.service_dir(cfg, name) .. '/.lock', timeout_ms)
  if not lock then return nil, lerr end
  return M.run_locked(lock, fn, ...)
end

-- --- processes -------------------------------------------------------------

-- Stop a service's processes list = {{pid=, name=}, ...}: SIGTERM to each
-- (to its process group with o.group), up to timeout_ms for all of them to
-- end, then SIGKILL to the process tree of each one left (o.say, when
-- given, announces it). Returns true, killed (whether any needed SIGKILL)
-- | nil, msg naming the one that outlived SIGKILL.
function M.stop_pids(service, list, timeout_ms, o)
  o = o or {}
  for _, p in ipairs(list) do proc.signal(p.pid, 'TERM', o.group) end
  local deadline = proc.now_ms() + timeout_ms
  local killed = false
  for _, p in ipairs(list) do
    local left = math.max(0, math.floor(deadline - proc.now_ms()))
    if not proc.wait_pid(p.pid, left) then
      if o.say then
        o.say('%s: %s (pid %d) did not stop within %d s; sending SIGKILL', service, p.name, p.pid, timeout_ms // 1000)
      end
      proc.kill_tree(p.pid, 'KILL', true)
      killed = true
    end
  end
  for _, p in ipairs(list) do
    if not proc.wait_pid(p.pid, 10000) then
      return nil, string.format('%s: %s (pid %d) survived SIGKILL', service, p.name, p.pid)
    end
  end
  return true, killed
end

-- Send sig to a service's process p = {pid=, name=}; after a KILL, wait up
-- to 10 s until it is gone. Returns true | nil, msg.
function M.signal_pid(service, p, sig)
  local ok, err = proc.signal(p.pid, sig)
  if not ok then return nil, service .. ': ' .. err end
  if proc.signum(sig) == proc.signum('KILL') and not proc.wait_pid(p.pid, 10000) then
    return nil, string.format('%s: %s (pid %d) survived SIGKILL', service, p.name, p.pid)
  end
  return true
end

-- Who listens on port, as words for a message: "mariadbd (pid 3772)".
function M.port_user(port)
  local pid, name = proc.port_owner(port)
  if not pid then return nil end
  return string.format('%s (pid %d)', name or '?', pid)
end

-- Poll fn() every interval_ms until it returns a truthy value or timeout_ms
-- passes; returns fn's values, or nil, 'timeout'.
function M.wait_until(timeout_ms, interval_ms, fn)
  local deadline = proc.now_ms() + timeout_ms
  while true do
    local r = table.pack(fn())
    if r[1] then return table.unpack(r, 1, r.n) end
    if proc.now_ms() >= deadline then return nil, 'timeout' end
    proc.sleep(interval_ms)
  end
end

function M.shell_quote(s)
  s = tostring(s)
  if s:match('^[%w%./_=:,@+-]+$') then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- --- services ------------------------------------------------------------

local loaded = {}

-- The service module called name, or nil, msg.
function M.service(name)
  if loaded[name] then return loaded[name] end
  if type(name) ~= 'string' or not name:match('^[%w_]+$') then
    return nil, 'unknown service ' .. tostring(name)
  end
  local ok, mod = pcall(require, 'fmhost.stack.' .. name)
  if not ok then
    if tostring(mod):find("module 'fmhost.stack." .. name .. "' not found", 1, true) then
      return nil, 'unknown service ' .. name
    end
    error(mod, 0)
  end
  if type(mod) ~= 'table' or type(mod.up) ~= 'function' then -- fmhost.stack.service: the plumbing, no service
    return nil, 'unknown service ' .. name
  end
  loaded[name] = mod
  return mod
end

-- The services that exist here, in start order.
function M.available()
  local out = {}
  for _, n in ipairs(M.order) do
    if M.service(n) then out[#out + 1] = n end
  end
  return out
end

local function resolve(names)
  if not names or #names == 0 then return M.available() end
  for _, n in ipairs(names) do
    local s, err = M.service(n)
    if not s then return nil, err .. ' (known: ' .. table.concat(M.available(), ', ') .. ')' end
  end
  return names
end

local function silent() end

-- Bring the named services (default: all) up; stops at the first failure.
-- Returns true | nil, msg.
function M.up(cfg, names, o)
  o = o or { say = silent }
  local list, err = resolve(names)
  if not list then return nil, err end
  for _, n in ipairs(list) do
    local ok, uerr = M.service(n).up(cfg, o)
    if not ok then return nil, uerr end
  end
  return true
end

function M.down(cfg, names, o)
  o = o or { say = silent }
  local list, err = resolve(names)
  if not list then return nil, err end
  local failures = {}
  for i = #list, 1, -1 do
    local ok, derr = M.service(list[i]).down(cfg, o)
    if not ok then failures[#failures + 1] = derr end
  end
  if #failures > 0 then return nil, table.concat(failures, '; ') end
  return true
end

-- {name = st, ...} and whether all of them run.
function M.status(cfg, names)
  local list, err = resolve(names)
  if not list then return nil, err end
  local all, out = true, {}
  for _, n in ipairs(list) do
    local st = M.service(n).status(cfg)
    out[n] = st
    all = all and st.running
  end
  return out, all, list
end

-- Make sure the services run (used by specs): up those that do not.
-- Returns true | nil, msg; raises nothing on an expected failure.
function M.ensure(cfg, names)
  local list, err = resolve(names)
  if not list then return nil, err end
  for _, n in ipairs(list) do
    local ok, eerr = M.service(n).ensure(cfg)
    if not ok then return nil, eerr end
  end
  return true
end

-- --- the command line ----------------------------------------------------

local function usage()
  io.stderr:write('usage: fmhost stack up|down|status|restart [SERVICE...]\n',
                  '       fmhost stack VERB SERVICE [ARGS...]   (verbs a service adds)\n',
                  'services: ', table.concat(M.available(), ', '), '\n')
  return M.EXIT_USAGE
end

local function say(fmt, ...)
  io.stdout:write(string.format(fmt, ...), '\n')
  io.stdout:flush()
end

local function fail(msg)
  io.stdout:flush()
  io.stderr:write('fmhost: ', msg, '\n')
  return M.EXIT_FAIL
end

local function print_status(list, sts)
  for _, n in ipairs(list) do
    local st = sts[n]
    say('%s: %s', n, st.summary or (st.running and 'running' or 'not running'))
    for _, kv in ipairs(st.fields or {}) do
      if kv[2] ~= nil and kv[2] ~= '' then say('  %-9s %s', kv[1], tostring(kv[2])) end
    end
  end
end

function M.command(cfg, words)
  cfg = cfg or {}
  local verb = words[1]
  local names = {}
  for i = 2, #words do names[#names + 1] = words[i] end
  local o = { say = say }
  if verb == nil or verb == 'help' or verb == '--help' or verb == '-h' then
    return usage()
  elseif verb == 'up' or verb == 'down' or verb == 'restart' then
    local list, err = resolve(names)
    if not list then io.stderr:write('fmhost: ', err, '\n'); return M.EXIT_USAGE end
    if verb ~= 'up' then
      local ok, derr = M.down(cfg, list, o)
      if not ok then return fail(derr) end
    end
    if verb ~= 'down' then
      local ok, uerr = M.up(cfg, list, o)
      if not ok then return fail(uerr) end
    end
    return M.EXIT_OK
  elseif verb == 'status' then
    local sts, all, list = M.status(cfg, names)
    if not sts then io.stderr:write('fmhost: ', all, '\n'); return M.EXIT_USAGE end
    print_status(list, sts)
    return all and M.EXIT_OK or M.EXIT_NOT_RUNNING
  else
    -- a verb of one service: fmhost stack fetch flink ...
    local s = names[1] and M.service(names[1])
    if not s or not (s.commands and s.commands[verb]) then
      io.stderr:write('fmhost: unknown stack command ', verb,
                      names[1] and (' for ' .. names[1]) or '', '\n')
      return usage()
    end
    return s.commands[verb](cfg, { table.unpack(names, 2) }, o)
  end
end

-- stack.mariadb, stack.flink, ...: the service modules, loaded on first use.
return setmetatable(M, {
  __index = function(t, k)
    if type(k) ~= 'string' then return nil end
    local s = M.service(k)
    if s then rawset(t, k, s) end
    return s
  end,
})
