-- Coverage of the seed's 35 correctness properties: each property's text
-- (config/properties.md, a verbatim copy of the seed's section), the specs
-- that check it (found by 'Property N:' in spec files: an it() whose name
-- holds it, or a check.property{name = ...} inside an it()), and their last
-- result (the JUnit XML of the last run: busted names a case's classname
-- FILE:LINE of its it()).
--
--   fmhost properties [--junit FILE] [--seed FILE] [--specs DIR]   prints the table
--   require('fmhost.properties').coverage{seed=, specs=, junit=} -> list
local files = require 'fmhost.files'

local M = {}

local read = files.read

-- {{n=, title=, text=}, ...} by number, from the seed's markdown.
function M.parse_seed(text)
  local props = {}
  local cur
  for line in (text .. '\n'):gmatch('([^\n]*)\n') do
    local n, title = line:match('^%*%*Property (%d+): (.-)%*%*%s*$')
    if n then
      cur = { n = tonumber(n), title = title, lines = {} }
      props[#props + 1] = cur
    elseif cur and line:match('^%s*$') then
      cur = nil
    elseif cur then
      cur.lines[#cur.lines + 1] = line
    end
  end
  for _, p in ipairs(props) do
    p.text = table.concat(p.lines, ' '):gsub('%*', ''):gsub('%s+', ' '):gsub('^ ', ''):gsub(' $', '')
    p.lines = nil
  end
  table.sort(props, function(a, b) return a.n < b.n end)
  return props
end

-- The text of the first Lua string literal on a line ('...' or "...").
local function literal(line)
  local q, body = line:match('it%s*%(%s*([\'"])(.*)')
  if not q then return nil end
  local out, i = {}, 1
  while i <= #body do
    local c = body:sub(i, i)
    if c == '\\' then
      local nx = body:sub(i + 1, i + 1)
      out[#out + 1] = ({ n = '\n', t = '\t' })[nx] or nx
      i = i + 2
    elseif c == q then
      break
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

local function spec_files(dir)
  local out = files.find(dir, '_spec%.lua$')
  table.sort(out)
  return out
end

-- Every spec that names a seed property: {{n=, file=, line=, name=}, ...}.
-- A 'Property N:' on an it() line belongs to that it(); one inside an it()
-- (a check.property name) to the it() above it; one in a `local` at the
-- describe level to the it() that follows.
function M.scan_specs(dir)
  local found, seen = {}, {}
  for _, file in ipairs(spec_files(dir)) do
    local text = read(file) or ''
    local its, marks, ln = {}, {}, 0
    for line in (text .. '\n'):gmatch('([^\n]*)\n') do
      ln = ln + 1
      if line:match('^%s*it%s*%(') then its[#its + 1] = { line = ln, name = literal(line) or '' } end
      if line:match('flink%-mysql%-connector%-test') or line:match('Property %d+:') then
        for n in line:gmatch('Property (%d+):') do
          marks[#marks + 1] = { n = tonumber(n), line = ln, is_local = line:match('^%s*local ') ~= nil }
        end
      end
    end
    local rel = file:gsub('^%./', '')
    for _, m in ipairs(marks) do
      local owner
      for _, it in ipairs(its) do
        if it.line == m.line then owner = it; break end
        if m.is_local and it.line > m.line then owner = it; break end
        if not m.is_local and it.line < m.line then owner = it end
      end
      -- only the project's features: the check module's own fixture names are
      -- 'Feature: fmhost, Property 0'
      if owner and m.n >= 1 and m.n <= 99 then
        local key = rel .. ':' .. owner.line .. ':' .. m.n
        if not seen[key] then
          seen[key] = true
          found[#found + 1] = { n = m.n, file = rel, line = owner.line, name = owner.name }
        end
      end
    end
  end
  return found
end

-- JUnit results keyed by 'BASENAME:LINE' (classname is short_src:line,
-- which Lua may shorten from the left).
function M.junit_results(path)
  if not path or not read(path) then return nil end
  local r = require('fmhost.report').parse_junit(path)
  if not r then return nil end
  local by = {}
  for _, c in ipairs(r.cases) do
    local file, line = tostring(c.classname or ''):match('([^/]+):(%d+)$')
    if file then
      local key = file .. ':' .. line
      local prev = by[key]
      -- one it() may run more than once (several describe blocks): a failure wins
      if not prev or c.status == 'failed' or (prev.status == 'skipped' and c.status == 'passed') then
        by[key] = { status = c.status, message = c.message, time = c.time }
      end
    end
  end
  return by
end

local function combine(results)
  local any, failed, passed, skipped = false, false, false, false
  for _, r in ipairs(results) do
    any = true
    if r == 'failed' then failed = true
    elseif r == 'passed' then passed = true
    elseif r == 'skipped' then skipped = true end
  end
  if not any then return 'uncovered' end
  if failed then return 'failed' end
  if passed then return 'passed' end
  if skipped then return 'skipped' end
  return 'not run'
end

-- opts: seed (default config/properties.md), specs (default specs/), junit
-- (default build/junit.xml). Returns the list of properties, each with
-- specs = {{file, line, name, result, message}} and result =
-- 'passed' | 'failed' | 'skipped' | 'not run' | 'uncovered'; and a summary.
function M.coverage(opts)
  opts = opts or {}
  local root = rawget(_G, '_FMHOST_ROOT') or '.'
  local seed_path = opts.seed or (root .. '/config/properties.md')
  local text = read(seed_path)
  if not text then return nil, 'cannot read the seed properties ' .. seed_path end
  local props = M.parse_seed(text)
  if #props == 0 then return nil, seed_path .. ' holds no **Property N: title** entries' end
  local specs_dir = opts.specs or (root .. '/specs')
  local junit = opts.junit or (root .. '/build/junit.xml')
  local results = M.junit_results(junit)
  local by_n = {}
  for _, p in ipairs(props) do p.specs = {}; by_n[p.n] = p end
  for _, s in ipairs(M.scan_specs(specs_dir)) do
    local p = by_n[s.n]
    if p then
      local file = s.file:sub(#specs_dir + 2)
      local r = results and results[s.file:match('([^/]+)$') .. ':' .. s.line]
      p.specs[#p.specs + 1] = { file = 'specs/' .. (file ~= '' and file or s.file), line = s.line, name = s.name,
                                result = r and r.status or 'not run', message = r and r.message or nil }
    end
  end
  local summary = { total = #props, covered = 0, passed = 0, failed = 0, uncovered = 0, junit = results and junit or nil }
  for _, p in ipairs(props) do
    local rs = {}
    for _, s in ipairs(p.specs) do rs[#rs + 1] = s.result end
    p.result = combine(rs)
    if #p.specs > 0 then summary.covered = summary.covered + 1 else summary.uncovered = summary.uncovered + 1 end
    if p.result == 'passed' then summary.passed = summary.passed + 1 end
    if p.result == 'failed' then summary.failed = summary.failed + 1 end
  end
  return props, summary
end

-- The terminal table.
function M.format(props, summary)
  local lines = {}
  for _, p in ipairs(props) do
    lines[#lines + 1] = ('%2d  %-9s %s'):format(p.n, p.result, p.title)
    for _, s in ipairs(p.specs) do
      lines[#lines + 1] = ('      %-8s %s:%d  %s'):format(s.result, s.file, s.line, (s.name or ''):sub(1, 90))
    end
  end
  lines[#lines + 1] = ''
  lines[#lines + 1] = ('%d properties: %d covered by specs (%d passed, %d failed in %s), %d without a spec')
    :format(summary.total, summary.covered, summary.passed, summary.failed,
      summary.junit or 'no JUnit XML: results not known', summary.uncovered)
  return table.concat(lines, '\n') .. '\n'
end

-- fmhost properties [--junit FILE] [--seed FILE] [--specs DIR]
function M.command(cfg, args)
  local opts, i = {}, 1
  while i <= #args do
    local a = args[i]
    local k = ({ ['--junit'] = 'junit', ['--seed'] = 'seed', ['--specs'] = 'specs' })[a]
    if not k or not args[i + 1] then
      io.stderr:write('fmhost: usage: fmhost properties [--junit FILE] [--seed FILE] [--specs DIR]\n')
      return 2
    end
    opts[k] = args[i + 1]
    i = i + 2
  end
  if opts.junit and not read(opts.junit) then
    io.stderr:write('fmhost: properties: cannot read ', opts.junit, '\n')
    return 2
  end
  local props, summary = M.coverage(opts)
  if not props then
    io.stderr:write('fmhost: properties: ', summary, '\n')
    return 2
  end
  io.stdout:write(M.format(props, summary))
  return 0
end

return M
