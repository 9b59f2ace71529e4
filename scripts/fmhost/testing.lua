-- Helpers for specs that drive fmhost itself as a child process: the same
-- binary that runs the spec (its path comes from the host), with arguments,
-- environment and standard input, capturing both output streams.
--
-- A child fmhost sees exactly the configuration its parent runs with: it
-- inherits the FMHOST_* variables, and M.argv puts the parent's global
-- options (--env, every --set, the log options) before the child's own
-- words, so `fmhost --env X --set mysql.port=N specs/...` reaches the same
-- servers in every child and grandchild, whatever the default ports hold.
-- Only opts.hermetic (a spec of the CLI's own defaults) opts out.
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'

local M = {}

-- Quote one word for /bin/sh.
M.shell_quote = stack.shell_quote

function M.exe()
  return os.getenv('FMHOST_BIN') or _FMHOST_EXE or (_FMHOST_ROOT .. '/build/fmhost')
end

local function slurp(path)
  local f = io.open(path, 'rb')
  if not f then return '' end
  local s = f:read('a')
  f:close()
  return s
end

-- FMHOST_* variables that are configuration keys, in this process's
-- environment. A child inherits them (it must reach the same servers), except
-- with opts.hermetic: a spec of the CLI's own defaults must not see a user's
-- FMHOST_MYSQL_PORT.
local keep = { FMHOST_BIN = true, FMHOST_SCRIPTS = true, FMHOST_ROOT = true, FMHOST_PATH = true }
local function inherited_config_vars()
  local names = {}
  local r = assert(proc.run { 'env', timeout_ms = 10000, max_output = 16 << 20 })
  for line in r.stdout:gmatch('[^\n]+') do
    local name = line:match('^(FMHOST_[%w_]+)=')
    if name and not keep[name] then names[#names + 1] = name end
  end
  return names
end

local function absolute(path)
  if path:sub(1, 1) == '/' then return path end
  local ok, lfs = pcall(require, 'lfs')
  local cwd = ok and lfs.currentdir() or os.getenv('PWD')
  return cwd and (cwd .. '/' .. path) or path
end

-- The global options this fmhost runs with, as words of a child's command
-- line: --env NAME, every --set in its order, --log-level, --log-file (made
-- absolute: a child may run in another folder) and --trace. They come from
-- the command line fmhost.cli parsed ({} when there is none, e.g. inside a
-- bare interpreter).
function M.parent_options()
  local cli = package.loaded['fmhost.cli']
  local o = type(cli) == 'table' and cli.options
  local words = {}
  if type(o) ~= 'table' then return words end
  local function add(...) for _, w in ipairs { ... } do words[#words + 1] = w end end
  if o.env then add('--env', o.env) end
  for _, item in ipairs(o.set or {}) do add('--set', item) end
  if o.log_level then add('--log-level', o.log_level) end
  if o.log_file then add('--log-file', absolute(o.log_file)) end
  if o.trace then add('--trace') end
  return words
end

-- host/embed/main.c answers these only as the one argument, before any configuration
local alone = { ['--version'] = true, ['--help'] = true, ['-h'] = true }

-- The argv of a child fmhost running args: this binary, the parent's global
-- options (M.parent_options; none with opts.hermetic), then args, whose own
-- options win over the parent's (the last --env, --set of a key or log option
-- wins). For proc.run / proc.spawn, which also pass the environment on.
function M.argv(args, opts)
  opts = opts or {}
  local argv = { M.exe() }
  if not opts.hermetic and not (#args == 1 and alone[args[1]]) then
    for _, w in ipairs(M.parent_options()) do argv[#argv + 1] = w end
  end
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return argv
end

-- Run fmhost with args (a list) and the parent's configuration (M.argv);
-- opts.env = {NAME=value}, opts.stdin = text, opts.cwd = dir,
-- opts.hermetic = true to drop the parent's global options and the FMHOST_*
-- configuration variables of this process, opts.timeout_ms (default 20
-- minutes: a guard against a hung child, which is killed and raises).
-- Returns {stdout=, stderr=, code=} with code the exit status (the signal
-- number when a signal ended it).
function M.run_fmhost(args, opts)
  opts = opts or {}
  local argv = M.argv(args, opts)
  local env = {}
  if opts.hermetic then
    for _, name in ipairs(inherited_config_vars()) do env[name] = false end
  end
  for k, v in pairs(opts.env or {}) do env[k] = v end
  argv.env = env
  argv.cwd = opts.cwd
  argv.input = opts.stdin
  argv.timeout_ms = opts.timeout_ms or 1200000
  argv.max_output = 256 << 20
  local r, err, info = proc.run(argv)
  if not r then
    error(string.format('fmhost %s: %s%s', table.concat(args, ' '), err,
      info and info.stderr and info.stderr ~= '' and ('\nits stderr:\n' .. info.stderr) or ''), 2)
  end
  return { stdout = r.stdout, stderr = r.stderr, code = r.code or proc.signum(r.signal) }
end

-- A fresh directory under /tmp, removed by M.rmtree.
function M.tmpdir(prefix)
  local p = io.popen('mktemp -d /tmp/' .. (prefix or 'fmhost') .. '.XXXXXX')
  local dir = p:read('l')
  p:close()
  return dir
end

function M.rmtree(dir)
  assert(dir:match('^/tmp/'), 'rmtree only removes folders under /tmp')
  os.execute('rm -rf ' .. M.shell_quote(dir))
end

function M.write_file(path, text)
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
end

M.read_file = slurp

-- --- isolated servers ---------------------------------------------------------
-- Specs that stop, kill or reconfigure a server run their own beside the
-- shared stack: a copy of cfg with its own stack.dir under /tmp and its own
-- ports, so the servers other specs use are never touched.

-- A deep copy of a plain table (cfg, to change without touching the global).
function M.deepcopy(v)
  if type(v) ~= 'table' then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = M.deepcopy(x) end
  return t
end

-- A TCP port that is free now: preferred when it is, else one the kernel
-- picks.
function M.free_port(preferred)
  if preferred and proc.port_free(preferred) then return preferred end
  local l = assert(proc.listen(0))
  local port = l.port
  l:close()
  return port
end

-- The configuration of an isolated private MariaDB: a copy of the global
-- cfg with stack.dir = dir, mysql.port = a free port (o.port when it is
-- free), the socket under dir, managed on 127.0.0.1, and o.tls /
-- o.server_version when given. Stop it with M.remove_isolated_mariadb.
function M.isolated_mariadb_cfg(dir, o)
  o = o or {}
  local c = M.deepcopy(rawget(_G, 'cfg') or {})
  c.stack = c.stack or {}
  c.stack.dir = dir
  c.mysql = c.mysql or {}
  c.mysql.port = M.free_port(o.port)
  c.mysql.socket = '' -- <stack.dir>/mariadb/mysqld.sock
  c.mysql.host = '127.0.0.1'
  c.mysql.managed = true
  if o.tls ~= nil then c.mysql.tls = o.tls end
  if o.server_version ~= nil then c.mysql.server_version = o.server_version end
  return c
end

-- The pids of the running processes called program whose command line
-- holds the word mark.
function M.servers(program, mark)
  local r = assert(proc.run { 'pgrep', '-x', program, timeout_ms = 10000 })
  local found = {}
  for line in r.stdout:gmatch('%d+') do
    local pid = math.tointeger(tonumber(line))
    for _, a in ipairs(proc.cmdline(pid) or {}) do
      if a == mark then found[#found + 1] = pid end
    end
  end
  return found
end

-- The pids of the running mariadbd processes started with c's my.cnf.
function M.mariadb_servers(c)
  return M.servers('mariadbd', '--defaults-file=' .. stack.mariadb.settings(c).cnf)
end

-- The pids of the running nats-server processes started with c's nats.conf.
function M.nats_servers(c)
  return M.servers('nats-server', '--config=' .. stack.nats.settings(c).conf)
end

-- Stop an isolated MariaDB, kill whatever of it outlived that, and remove
-- its folder.
function M.remove_isolated_mariadb(c, dir)
  stack.mariadb.stop(c)
  for _, pid in ipairs(M.mariadb_servers(c)) do proc.kill_tree(pid, 'KILL') end
  M.rmtree(dir)
end

-- The configuration of an isolated Flink cluster: a copy of the global cfg
-- with stack.dir = dir, free REST, RPC and gateway ports, then the flink.*
-- keys of over; its jars folder links to the shared one (a cache, so
-- nothing is fetched again).
function M.isolated_flink_cfg(dir, over)
  local c = M.deepcopy(rawget(_G, 'cfg') or {})
  local shared_jars = stack.flink.settings(c).jars
  c.stack = c.stack or {}
  c.stack.dir = dir
  c.flink = c.flink or {}
  -- three different ports: each listener stays open until all are picked
  local held = {}
  for _, k in ipairs { 'rest_port', 'rpc_port', 'gateway_port' } do
    held[#held + 1] = assert(proc.listen(0))
    c.flink[k] = held[#held].port
  end
  for _, l in ipairs(held) do l:close() end
  for k, v in pairs(over or {}) do c.flink[k] = v end
  assert(stack.mkdir_p(dir .. '/flink'))
  assert(os.execute(string.format('ln -s %s %s', M.shell_quote(shared_jars), M.shell_quote(dir .. '/flink/jars'))))
  return c
end

return M
