-- The command line of fmhost. host/main.c calls M.main(arg) and exits with
-- the integer it returns (or starts the REPL when it returns "repl").
--
-- Global options may stand anywhere before `run FILE` / `-e CHUNK`; what
-- remains chooses the command. A spec run is any list of paths.
local M = {}

local function die(code, fmt, ...)
  io.stderr:write('fmhost: ', string.format(fmt, ...), '\n')
  return code
end

local commands = { repl = true, run = true, stack = true, bench = true, config = true }

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
  _G.cfg = cfg
  return cfg
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

local function run_chunk(chunk, name, args)
  local fn, err = load(chunk, name)
  if not fn then return die(1, '%s', err) end
  local ok, res = xpcall(fn, debug.traceback, table.unpack(args))
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
    return 'repl'
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
  else
    return require('fmhost.specrun').run(o.rest, cfg)
  end
end

return M
