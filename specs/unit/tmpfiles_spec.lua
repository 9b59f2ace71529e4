-- The unit specs leave no file behind in /tmp: os.tmpname() CREATES the file
-- it names (/tmp/lua_XXXXXX, mkstemp), so a spec that only borrows the name
-- (say, for "<name>.absent.pem") leaks one file per run unless it removes it.
-- The unit spec files that call os.tmpname run again in a child fmhost
-- whose os.tmpname records every name it hands out (a busted --helper);
-- afterwards none of those files may exist.
local T = require 'fmhost.testing'
local lfs = require 'lfs'

local ME = 'tmpfiles_spec.lua'

-- The unit spec files (beside this one) whose text calls os.tmpname.
local function users_of_tmpname()
  local dir = _FMHOST_ROOT .. '/specs/unit'
  local out = {}
  for e in lfs.dir(dir) do
    if e:match('_spec%.lua$') and e ~= ME then
      local text = T.read_file(dir .. '/' .. e)
      if text:find('os.tmpname', 1, true) then out[#out + 1] = dir .. '/' .. e end
    end
  end
  table.sort(out)
  return out
end

describe('unit specs and temporary files', function()
  it('leave none of the files os.tmpname made for them in /tmp', function()
    local files = users_of_tmpname()
    assert.is_true(#files >= 1, 'no unit spec calls os.tmpname: this spec checks nothing')
    local dir = T.tmpdir('fmhost-tmpfiles')
    finally(function() T.rmtree(dir) end)
    local log = dir .. '/names'
    T.write_file(log, '')
    T.write_file(dir .. '/track.lua', [[
local log = assert(os.getenv('FMH_TMPNAME_LOG'))
local real = os.tmpname
os.tmpname = function()
  local name = real()
  local f = assert(io.open(log, 'a'))
  f:write(name, '\n')
  f:close()
  return name
end
]])
    local args = { '--helper', dir .. '/track.lua' }
    for _, f in ipairs(files) do args[#args + 1] = f end
    local r = T.run_fmhost(args, { env = { FMH_TMPNAME_LOG = log } })
    assert.are.equal(0, r.code, 'the unit specs failed:\n' .. r.stdout:sub(-3000) .. r.stderr:sub(-2000))
    local made, left = 0, {}
    for name in io.lines(log) do
      made = made + 1
      if lfs.attributes(name) then
        left[#left + 1] = name
        os.remove(name)
      end
    end
    assert.is_true(made >= #files, string.format('%d spec files handed out %d names: the helper did not track them',
      #files, made))
    assert(#left == 0, string.format('%d of the %d files os.tmpname made are still there: %s', #left, made,
      table.concat(left, ', ')))
  end)
end)
