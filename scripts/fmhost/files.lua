-- Files and folders: the small helpers the library's modules share (the
-- stack's state, reports, the spec and pipeline file finders, the
-- benchmarks' memory figures), written once.
--
--   files.read(path) -> text | nil
--   files.write(path, text) -> true | nil, msg      through a temporary file and a rename
--   files.find(dir, pattern) -> {path, ...}         files under dir whose name matches
--   files.status_kb(pid, field) -> kB | nil         a field of /proc/<pid>/status ('self' for pid)
local M = {}

-- The whole content of a file, or nil when it cannot be read.
function M.read(p)
  local f = io.open(p, 'rb')
  if not f then return nil end
  local s = f:read('a')
  f:close()
  return s
end

-- Write through a temporary file and rename, so readers never see half.
-- Returns true | nil, msg.
function M.write(p, text)
  local tmp = p .. '.tmp'
  local f, err = io.open(tmp, 'wb')
  if not f then return nil, 'cannot write ' .. p .. ': ' .. tostring(err) end
  f:write(text)
  f:close()
  local ok, rerr = os.rename(tmp, p)
  if not ok then return nil, 'cannot write ' .. p .. ': ' .. tostring(rerr) end
  return true
end

-- The files under dir (searched recursively, each folder's names in byte
-- order) whose name matches the Lua pattern; {} when dir does not exist.
function M.find(dir, pattern)
  local lfs = require 'lfs'
  local out = {}
  local function walk(d)
    local names = {}
    for e in lfs.dir(d) do
      if e ~= '.' and e ~= '..' then names[#names + 1] = e end
    end
    table.sort(names)
    for _, e in ipairs(names) do
      local p = d .. '/' .. e
      if lfs.attributes(p, 'mode') == 'directory' then walk(p)
      elseif e:match(pattern) then out[#out + 1] = p end
    end
  end
  if lfs.attributes(dir, 'mode') == 'directory' then walk(dir) end
  return out
end

-- A memory field of /proc/<pid>/status in kB (VmRSS, VmHWM, ...): pid a
-- number or 'self'. nil when the process or the field is not there.
function M.status_kb(pid, field)
  local text = M.read('/proc/' .. tostring(pid) .. '/status')
  return text and math.tointeger(tonumber(text:match(field .. ':%s*(%d+)'))) or nil
end

return M
