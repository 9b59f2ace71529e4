-- Runs busted inside fmhost's own interpreter.
--
-- busted has no embedding API: its runner reads the global `arg`, counts
-- failures itself and ends the process with os.exit. Here os.exit is
-- shadowed for the run by a function that raises a sentinel, so control
-- comes back and fmhost prints its own closing line:
--   N passed, N failed[, N skipped]
-- The counts come from busted's own events through a wrapped busted.core;
-- --junit FILE adds busted's junit handler beside the chosen output.
local M = {}

-- busted options that take a value (the rest are flags or paths)
local takes_value = {
  ['-t'] = true, ['--tags'] = true, ['--exclude-tags'] = true, ['--filter'] = true,
  ['--filter-out'] = true, ['-o'] = true, ['--output'] = true, ['--seed'] = true,
  ['-p'] = true, ['--pattern'] = true, ['--exclude-pattern'] = true, ['-C'] = true,
  ['--directory'] = true, ['-r'] = true, ['--run'] = true, ['--lang'] = true,
  ['--loaders'] = true, ['--helper'] = true, ['--repeat'] = true, ['-f'] = true,
  ['--config-file'] = true, ['--lpath'] = true, ['-m'] = true, ['--cpath'] = true,
  ['--exclude-names-file'] = true, ['-e'] = true, ['-Xoutput'] = true, ['-Xhelper'] = true,
}

-- Split fmhost's own spec options from busted's, and find the paths.
function M.parse(words)
  local out = { busted = {}, paths = {} }
  local i = 1
  while i <= #words do
    local a = words[i]
    local opt, val = a:match('^(%-%-?[%w-]+)=(.*)$')
    opt = opt or a
    if opt == '--junit' then
      out.junit = val or words[i + 1]
      if not out.junit then error({ usage = '--junit needs a FILE' }) end
      if not val then i = i + 1 end
    else
      if opt == '--seed' then out.seed = val or words[i + 1] end
      out.busted[#out.busted + 1] = a
      if not val and takes_value[opt] then
        i = i + 1
        if words[i] == nil then error({ usage = 'option ' .. a .. ' needs a value' }) end
        out.busted[#out.busted + 1] = words[i]
      elseif a:sub(1, 1) ~= '-' then
        out.paths[#out.paths + 1] = a
      end
    end
    i = i + 1
  end
  return out
end

local function exists(p)
  local lfs = require 'lfs'
  return lfs.attributes(p, 'mode') ~= nil
end

-- Counts, kept where the wrapped busted.core can reach them.
local counts

local function wrap_busted()
  local real_core = require 'busted.core'
  package.loaded['busted.core'] = function(...)
    local busted = real_core(...)
    local function on(event, fn)
      busted.subscribe(event, function(...) fn(...); return nil, true end)
    end
    on({ 'test', 'end' }, function(element, parent, status)
      if status == 'success' then counts.passed = counts.passed + 1
      elseif status == 'pending' then counts.skipped = counts.skipped + 1 end
    end)
    -- as busted's runner counts: a failing `it` is a failure; any other
    -- failure or error (a spec file that does not load, a failing
    -- before_each) is an error, and both count as failed here
    on({ 'failure' }, function() counts.failed = counts.failed + 1 end)
    on({ 'error' }, function() counts.failed = counts.failed + 1 end)
    return busted
  end
  return function() package.loaded['busted.core'] = real_core end
end

local function add_junit(file)
  local loader_name = 'busted.modules.output_handler_loader'
  local real = require(loader_name)
  package.loaded[loader_name] = function()
    local load = real()
    return function(busted, output, options)
      load(busted, output, options)
      local junit_opts = setmetatable({ arguments = { file } }, { __index = options })
      require('busted.outputHandlers.junit')(junit_opts):subscribe(junit_opts)
    end
  end
  return function() package.loaded[loader_name] = real end
end

function M.run(words, cfg)
  local ok, o = pcall(M.parse, words)
  if not ok then
    if type(o) == 'table' then
      io.stderr:write('fmhost: ', o.usage, '\n')
      return 2
    end
    error(o, 0)
  end
  for _, p in ipairs(o.paths) do
    if not exists(p) then
      io.stderr:write('fmhost: no such spec file or folder: ', p, '\n')
      return 2
    end
  end
  if o.seed then _G._FMHOST_SEED = o.seed end

  counts = { passed = 0, failed = 0, skipped = 0 }
  local undo_core = wrap_busted()
  local undo_junit = o.junit and add_junit(o.junit)

  -- busted reads the global arg; --ignore-lua keeps it from re-executing
  -- itself under another interpreter named in a .busted file
  local saved_arg = arg
  arg = { [0] = 'fmhost', '--ignore-lua', table.unpack(o.busted) }
  local sentinel = {}
  local exit_code
  local real_exit = os.exit
  os.exit = function(code)
    exit_code = (code == true or code == nil) and 0 or (code == false and 1 or code)
    error(sentinel, 0)
  end
  local runner = load("return require('busted.runner')({ standalone = false })", '@fmhost')
  local rok, rerr = pcall(runner)
  os.exit = real_exit
  arg = saved_arg
  undo_core()
  if undo_junit then undo_junit() end

  if not rok and rerr ~= sentinel then
    io.stderr:write('fmhost: the spec runner failed: ', tostring(rerr), '\n')
    counts.failed = counts.failed + 1
  end
  local line = string.format('%d passed, %d failed', counts.passed, counts.failed)
  if counts.skipped > 0 then line = line .. string.format(', %d skipped', counts.skipped) end
  io.stdout:write('\n', line, '\n')
  io.stdout:flush()
  if counts.failed > 0 or (exit_code and exit_code ~= 0) then return 1 end
  if counts.passed == 0 and counts.failed == 0 then
    io.stderr:write('fmhost: no spec ran\n')
    return 1
  end
  return 0
end

return M
