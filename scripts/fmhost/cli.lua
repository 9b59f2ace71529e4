-- The command line of fmhost. host/embed/main.c calls M.main(arg) and exits with
-- the integer it returns (or starts the REPL when it returns "repl").
--
-- Global options may stand anywhere before `run FILE` / `-e CHUNK`; what
-- remains chooses the command. A spec run is any list of paths.
local M = {}

local function die(code, fmt, ...)
  io.stderr:write('fmhost: ', string.format(fmt, ...), '\n')
  return code
end

local commands = { repl = true, run = true, stack = true, bench = true, config = true, check = true,
                   properties = true }

-- Split argv into global options and the command's own words.
function M.parse(argv)
  local o = { set = {}, rest = {}, global = {} }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local function value()
      local k, v = a:match('^(%-%-[%w-]+)=(.*)$')
      if v then return v end
      i = i + 1
      if argv[i] == nil then error({ usage = 'option ' .. a .. ' needs a value' }) end
      return argv[i]
    end
    local name = a:match('^(%-%-[%w-]+)')
    local g0 = i
    if name == '--env' then o.env = value()
    elseif name == '--set' then o.set[#o.set + 1] = value()
    elseif name == '--log-level' then o.log_level = value()
    elseif name == '--log-file' then o.log_file = value()
    elseif a == '--trace' then o.trace = true
    elseif a == '-e' then
      o.command = 'exec'; o.chunk = argv[i + 1]
      if not o.chunk then error({ usage = "option -e needs a Lua chunk" }) end
      for j = i + 2, #argv do o.rest[#o.rest + 1] = argv[j] end
      return o
    elseif #o.rest == 0 and not o.command and commands[a] then
      o.command = a
      if a == 'run' then
        o.file = argv[i + 1]
        if not o.file then error({ usage = 'run needs a FILE' }) end
        for j = i + 2, #argv do o.rest[#o.rest + 1] = argv[j] end
        return o
      end
    else
      o.rest[#o.rest + 1] = a
      g0 = nil
    end
    -- the global options as given, for child fmhost processes (bench)
    if g0 and o.command ~= a then
      for j = g0, i do o.global[#o.global + 1] = argv[j] end
    end
    i = i + 1
  end
  if not o.command then o.command = (#o.rest == 0) and 'repl' or 'specs' end
  return o
end

-- Configuration: default.yaml, the environment overlay, FMHOST_* variables,
-- then --set. Sets the global `cfg`; on invalid input returns nil, msg.
function M.load_config(o)
  local config = require 'fmhost.config'
  local cfg, err = config.load {
    dir = _FMHOST_ROOT .. '/config',
    env = o.env or os.getenv('FMHOST_ENV'),
    set = o.set,
    environ = true,
  }
  if not cfg then return nil, err end
  local perr = M.check_ports(cfg, config)
  if perr then return nil, perr end
  for _, w in ipairs(config.warnings(cfg)) do io.stderr:write('fmhost: warning: ', w, '\n') end
  _G.cfg = cfg
  return cfg
end

-- The ports fmhost's local servers listen on, each with the key saying
-- whether that server is local (nil: always).
local local_ports = {
  { 'mysql.port', 'mysql.managed' },
  { 'flink.rest_port', 'flink.managed' },
  { 'flink.rpc_port', 'flink.managed' },
  { 'flink.gateway_port', 'flink.managed' },
  { 'nats.port' },
}

-- Two local servers on one port would fail long after the start (a
-- BindException from Flink 9 s later): refuse it now, naming both keys.
-- Returns the one-line message, or nil.
function M.check_ports(cfg, config)
  local seen = {}
  for _, p in ipairs(local_ports) do
    local key, managed = p[1], p[2]
    local port = config.get(cfg, key)
    if port and (not managed or config.get(cfg, managed) ~= false) then
      local other = seen[port]
      if other then
        return string.format('%s (%s) and %s (%s) are both %d: each local server needs a port of its own',
          other, config.origin(cfg, other) or '?', key, config.origin(cfg, key) or '?', port)
      end
      seen[port] = key
    end
  end
  return nil
end

-- Logging: the command line and FMHOST_LOG_LEVEL win; otherwise log.level
-- and log.file of the configuration. Called before the configuration loads
-- (with cfg nil, so its own errors are logged) and again after.
local function setup_logging(o, cfg)
  local log = require 'fmhost.log'
  local clog = cfg and cfg.log or {}
  local level = o.log_level or os.getenv('FMHOST_LOG_LEVEL') or (o.trace and 'trace') or clog.level or 'warn'
  local file = o.log_file or (clog.file ~= '' and clog.file) or nil
  local ok, res, msg = pcall(log.configure, { level = level, file = file, trace = o.trace })
  if not ok then return nil, res end
  if not res then return nil, msg end
  return true
end

-- The REPL's history: <stack.dir>/repl_history (the folder is made when
-- missing); nil when it cannot be made, and the REPL keeps no history file.
function M.history_file(cfg)
  local stack = require 'fmhost.stack'
  local dir = stack.dir(cfg)
  if not stack.mkdir_p(dir) then return nil end
  return dir .. '/repl_history'
end

-- The text of an error value, as the REPL prints it (host/embed/interp.c,
-- fmh_push_error_text): a string as it is; nil as "error object is nil"; a
-- table as its msg (or message) and its other fields, or as "error object
-- is a table: {k = v, ...}".
local function short(v)
  if type(v) == 'string' then
    return #v > 80 and string.format('"%s..."', v:sub(1, 80)) or '"' .. v .. '"'
  elseif type(v) == 'number' or type(v) == 'boolean' then return tostring(v)
  elseif type(v) == 'table' then return '{...}' end
  return type(v)
end

local function fields(t, skip)
  local keys, other = {}, 0
  for k in pairs(t) do
    if type(k) == 'string' then
      if k ~= skip then keys[#keys + 1] = k end
    else
      other = other + 1
    end
  end
  table.sort(keys)
  local parts = {}
  for i = 1, math.min(#keys, 32) do parts[#parts + 1] = keys[i] .. ' = ' .. short(t[keys[i]]) end
  if other > 0 then parts[#parts + 1] = other .. ' more' end
  return table.concat(parts, ', ')
end

function M.describe_error(e)
  if type(e) == 'string' or type(e) == 'number' then return tostring(e) end
  local mt = getmetatable(e)
  if type(mt) == 'table' and mt.__tostring then
    local ok, s = pcall(tostring, e)
    if ok and type(s) == 'string' then return s end
  end
  if e == nil then return 'error object is nil' end
  if type(e) == 'boolean' then return 'error object is a boolean (' .. tostring(e) .. ')' end
  if type(e) ~= 'table' then return 'error object is a ' .. type(e) .. ' value' end
  local key = type(e.msg) == 'string' and 'msg' or type(e.message) == 'string' and 'message' or nil
  if key then
    local rest = fields(e, key)
    return rest == '' and e[key] or e[key] .. ' (' .. rest .. ')'
  end
  return 'error object is a table: {' .. fields(e) .. '}'
end

local function run_chunk(chunk, name, args)
  local fn, err = load(chunk, name)
  if not fn then return die(1, '%s', err) end
  local ok, res = xpcall(fn, function(e) return debug.traceback(M.describe_error(e), 2) end,
    table.unpack(args))
  if not ok then return die(1, '%s', tostring(res)) end
  return 0
end

function M.main(argv)
  local ok, o = pcall(M.parse, argv)
  if not ok then
    if type(o) == 'table' and o.usage then return die(2, '%s (see fmhost --help)', o.usage) end
    error(o, 0)
  end
  M.options = o -- fmhost.testing hands the global options on to child fmhost processes
  local lok, lerr = setup_logging(o)
  if not lok then return die(2, '%s', tostring(lerr)) end
  local cfg, cerr = M.load_config(o)
  if not cfg then return die(2, '%s', cerr) end
  lok, lerr = setup_logging(o, cfg)
  if not lok then return die(2, '%s', tostring(lerr)) end

  if o.command == 'repl' then
    if #o.rest > 0 then return die(2, 'repl takes no arguments') end
    _G.fmhost = require 'fmhost'
    return 'repl', M.history_file(cfg)
  elseif o.command == 'exec' then
    _G.fmhost = require 'fmhost'
    return run_chunk(o.chunk, '=(command line)', o.rest)
  elseif o.command == 'run' then
    local f = io.open(o.file, 'rb')
    if not f then return die(2, 'cannot open %s', o.file) end
    local src = f:read('a'); f:close()
    src = src:gsub('^#![^\n]*', '')
    arg = { [0] = o.file, table.unpack(o.rest) }
    _G.fmhost = require 'fmhost'
    return run_chunk(src, '@' .. o.file, o.rest)
  elseif o.command == 'config' then
    if o.rest[1] ~= 'show' then return die(2, "usage: fmhost config show") end
    io.stdout:write(require('fmhost.config').show(cfg))
    return 0
  elseif o.command == 'stack' then
    return require('fmhost.stack').command(cfg, o.rest, o)
  elseif o.command == 'bench' then
    return require('fmhost.bench').command(cfg, o.rest, o)
  elseif o.command == 'check' then
    return require('fmhost.check_cmd').command(cfg, o.rest, o)
  elseif o.command == 'properties' then
    return require('fmhost.properties').command(cfg, o.rest)
  else
    return require('fmhost.specrun').run(o.rest, cfg)
  end
end

return M
