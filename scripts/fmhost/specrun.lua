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
  ['--lua'] = true, ['--coverage-config-file'] = true,
}

-- busted's flags; those marked 'no' also come as --no-NAME
local flags = {
  ['--version'] = true, ['-c'] = true, ['--coverage'] = 'no', ['-v'] = true, ['--verbose'] = 'no',
  ['-s'] = true, ['--enable-sound'] = 'no', ['-l'] = true, ['--list'] = true, ['--ignore-lua'] = true,
  ['--lazy'] = 'no', ['--auto-insulate'] = 'no', ['-k'] = true, ['--keep-going'] = 'no', ['-R'] = true,
  ['--recursive'] = 'no', ['--shuffle'] = 'no', ['--shuffle-files'] = 'no', ['--shuffle-tests'] = 'no',
  ['--sort'] = 'no', ['--sort-files'] = 'no', ['--sort-tests'] = 'no', ['--suppress-pending'] = 'no',
  ['--defer-print'] = 'no',
}

local function known_option(opt)
  if takes_value[opt] or flags[opt] then return true end
  local negated = opt:match('^%-%-no%-(.+)$')
  if negated and flags['--' .. negated] == 'no' then return true end
  -- short flags run together: -vk
  if opt:match('^%-%a%a+$') then
    for c in opt:sub(2):gmatch('.') do
      if not flags['-' .. c] then return false end
    end
    return true
  end
  return false
end

M.USAGE = 'usage: fmhost [options] [PATH...|repl|-e CHUNK|run FILE [ARG...]|stack ...|bench ...|config show]'

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
    elseif a:sub(1, 1) == '-' and not known_option(opt) then
      error({ usage = string.format('unknown option %s; %s (fmhost --help lists the options)', opt, M.USAGE) })
    else
      if opt == '--seed' then out.seed = val or words[i + 1] end
      if opt == '-p' or opt == '--pattern' then
        out.patterns = out.patterns or {}
        out.patterns[#out.patterns + 1] = val or words[i + 1]
      elseif opt == '--exclude-pattern' then
        out.excludes = out.excludes or {}
        out.excludes[#out.excludes + 1] = val or words[i + 1]
      end
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

-- The spec files busted will load from paths, found as its loader finds
-- them: a file as given, a folder's files (recursively, hidden ones left
-- out) whose name matches a pattern (default _spec) and no exclude pattern.
local function spec_files(o)
  local lfs = require 'lfs'
  local patterns = o.patterns or { '_spec' }
  local files = {}
  local function matches(name)
    for _, p in ipairs(o.excludes or {}) do
      if p ~= '' and name:find(p) then return false end
    end
    for _, p in ipairs(patterns) do
      if name:find(p) then return true end
    end
    return #patterns == 0
  end
  local function walk(dir)
    for name in lfs.dir(dir) do
      if name:sub(1, 1) ~= '.' then
        local full = dir .. '/' .. name
        local mode = lfs.attributes(full, 'mode')
        if mode == 'directory' then walk(full)
        elseif mode == 'file' and matches(name) then files[#files + 1] = full end
      end
    end
  end
  for _, p in ipairs(o.paths) do
    local mode = lfs.attributes(p, 'mode')
    if mode == 'directory' then walk((p:gsub('/+$', ''))) else files[#files + 1] = p end
  end
  local lua = {}
  for _, f in ipairs(files) do
    if f:match('%.lua$') then lua[#lua + 1] = f end
  end
  table.sort(lua)
  return lua
end

-- Counts, kept where the wrapped busted.core can reach them.
local counts
-- The spec file and test running now (from busted's events), so that a
-- spec's os.exit is told from busted's own.
local running

local function wrap_busted()
  local real_core = require 'busted.core'
  package.loaded['busted.core'] = function(...)
    local busted = real_core(...)
    local function on(event, fn)
      busted.subscribe(event, function(...) fn(...); return nil, true end)
    end
    running.busted = busted
    on({ 'file', 'start' }, function(element) running.file = element.name end)
    on({ 'file', 'end' }, function() running.file = nil end)
    on({ 'test', 'start' }, function(element) running.test = element end)
    on({ 'test', 'end' }, function(element, parent, status)
      running.test = nil
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

-- "outer inner test": the names of a test and the blocks around it.
local function full_name(busted, element)
  local names = {}
  local e = element
  while e and e.descriptor ~= 'file' and e.descriptor ~= 'suite' do
    if e.name then table.insert(names, 1, e.name) end
    e = busted.context.parent(e)
  end
  return table.concat(names, ' ')
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
  require('fmhost.check').use { cfg = cfg, seed = o.seed }

  -- a spec file that does not parse: one line each, and nothing runs
  local broken = 0
  for _, f in ipairs(spec_files(o)) do
    local fn, err = loadfile(f)
    if not fn and not err:match('^cannot open') then
      io.stderr:write('fmhost: spec file does not load: ', err, '\n')
      broken = broken + 1
    end
  end
  if broken > 0 then
    io.stdout:write('\n', string.format('0 passed, %d failed', broken), '\n')
    io.stdout:flush()
    return 1
  end

  counts = { passed = 0, failed = 0, skipped = 0 }
  running = {}
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
    if running.file then         -- a spec, not busted's runner at the end
      local who = running.test and string.format('spec "%s"', full_name(running.busted, running.test))
                  or 'spec file ' .. running.file
      error(string.format('%s tried to exit fmhost with os.exit(%s); a spec must not end the process',
        who, tostring(code)), 2)
    end
    exit_code = (code == true or code == nil) and 0 or (code == false and 1 or code)
    error(sentinel, 0)
  end
  -- assert.pipeline and assert.verdict (fmhost.pipeline registers them) in every spec
  pcall(require, 'fmhost.pipeline')
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
