-- Helpers for specs that drive fmhost itself as a child process: the same
-- binary that runs the spec (its path comes from the host), with arguments,
-- environment and standard input, capturing both output streams.
local M = {}

-- Quote one word for /bin/sh.
function M.shell_quote(s)
  s = tostring(s)
  if s:match('^[%w%./_=:,@+-]+$') then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function M.exe()
  return os.getenv('FMHOST_BIN') or _FMHOST_EXE or (_FMHOST_ROOT .. '/build/fmhost')
end

local function tmpname()
  local name = os.tmpname()
  return name
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
  local p = io.popen('env')
  for line in p:lines() do
    local name = line:match('^(FMHOST_[%w_]+)=')
    if name and not keep[name] then names[#names + 1] = name end
  end
  p:close()
  return names
end

-- Run fmhost with args (a list); opts.env = {NAME=value}, opts.stdin = text,
-- opts.cwd = dir, opts.hermetic = true to drop the FMHOST_* configuration
-- variables of this process. Returns {stdout=, stderr=, code=} with code the
-- exit status.
function M.run_fmhost(args, opts)
  opts = opts or {}
  local parts = {}
  if opts.cwd then parts[#parts + 1] = 'cd ' .. M.shell_quote(opts.cwd) .. ' &&' end
  parts[#parts + 1] = 'env'
  if opts.hermetic then
    for _, name in ipairs(inherited_config_vars()) do parts[#parts + 1] = '-u ' .. name end
  end
  for k, v in pairs(opts.env or {}) do
    parts[#parts + 1] = M.shell_quote(k .. '=' .. v)
  end
  parts[#parts + 1] = M.shell_quote(M.exe())
  for _, a in ipairs(args) do parts[#parts + 1] = M.shell_quote(a) end
  local out, err, inp = tmpname(), tmpname(), nil
  if opts.stdin then
    inp = tmpname()
    local f = assert(io.open(inp, 'wb'))
    f:write(opts.stdin)
    f:close()
    parts[#parts + 1] = '<' .. M.shell_quote(inp)
  else
    parts[#parts + 1] = '</dev/null'
  end
  parts[#parts + 1] = '>' .. M.shell_quote(out) .. ' 2>' .. M.shell_quote(err)
  local _, _, code = os.execute(table.concat(parts, ' '))
  local res = { stdout = slurp(out), stderr = slurp(err), code = code }
  os.remove(out); os.remove(err)
  if inp then os.remove(inp) end
  return res
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

return M
