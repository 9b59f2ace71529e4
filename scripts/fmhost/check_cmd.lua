-- `fmhost check [options] [FILE.pipeline.lua | FOLDER ...]`: run pipeline
-- description files (fmhost.pipeline) and print one verdict line per
-- pipeline, the diagnosis of each failure, and with --shrink the minimal set
-- of input rows that still fails. Exit 0 when every verdict passed, 1 when
-- one failed or a file was bad, 2 on a usage error.
--
-- Options: --seed N (every source's data from N), --rows N (rows per
-- source), --shrink (shrink each failure), --budget N (runs per shrink,
-- default 40), --junit FILE (JUnit XML, one testcase per pipeline),
-- --keep (leave the data files). With no path: examples/pipelines.
local M = {}

local USAGE = 'usage: fmhost check [--seed N] [--rows N] [--shrink] [--budget N] [--junit FILE] [FILE.pipeline.lua|FOLDER ...]'

local function int_opt(name, v)
  local n = math.tointeger(tonumber(v))
  if not n or n < 0 then error({ usage = name .. ' needs a non-negative integer, got ' .. tostring(v) }) end
  return n
end

function M.parse(words)
  local o = { paths = {} }
  local i = 1
  while i <= #words do
    local a = words[i]
    local name, inline = a:match('^(%-%-[%w-]+)=(.*)$')
    name = name or a
    local function value()
      if inline then return inline end
      i = i + 1
      if words[i] == nil then error({ usage = name .. ' needs a value' }) end
      return words[i]
    end
    if name == '--seed' then o.seed = int_opt(name, value())
    elseif name == '--rows' then o.rows = int_opt(name, value())
    elseif name == '--budget' then o.budget = int_opt(name, value())
    elseif name == '--junit' then o.junit = value()
    elseif a == '--shrink' then o.shrink = true
    elseif a == '--keep' then o.keep = true
    elseif a == '--help' or a == '-h' then o.help = true
    elseif a:match('^%-') then error({ usage = 'unknown option ' .. a .. ' (' .. USAGE .. ')' })
    else o.paths[#o.paths + 1] = a end
    i = i + 1
  end
  return o
end

-- The pipeline files under the paths (folders searched recursively, sorted).
function M.files(paths)
  local lfs = require 'lfs'
  local out = {}
  for _, p in ipairs(paths) do
    local mode = lfs.attributes(p, 'mode')
    if mode == 'directory' then
      for _, f in ipairs(require('fmhost.files').find((p:gsub('/+$', '')), '%.pipeline%.lua$')) do out[#out + 1] = f end
    elseif mode == 'file' then out[#out + 1] = p
    else return nil, 'no such file or folder: ' .. p end
  end
  return out
end

local function xml(s)
  return (tostring(s):gsub('[&<>"]', { ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;' })
    :gsub('[%z\1-\8\11\12\14-\31]', '?'))
end

function M.write_junit(path, cases)
  local fails, time = 0, 0
  for _, c in ipairs(cases) do
    if not c.ok then fails = fails + 1 end
    time = time + (c.time or 0)
  end
  local lines = { '<?xml version="1.0" encoding="UTF-8"?>',
    ('<testsuites><testsuite name="fmhost check" tests="%d" failures="%d" errors="0" time="%.3f">')
      :format(#cases, fails, time) }
  for _, c in ipairs(cases) do
    lines[#lines + 1] = ('  <testcase classname="%s" name="%s" time="%.3f">'):format(xml(c.file), xml(c.name), c.time or 0)
    if not c.ok then
      lines[#lines + 1] = ('    <failure message="%s">%s</failure>'):format(xml(c.summary), xml(c.text))
    end
    lines[#lines + 1] = '  </testcase>'
  end
  lines[#lines + 1] = '</testsuite></testsuites>'
  local dir = path:match('^(.*)/[^/]*$')
  if dir then require('fmhost.stack').mkdir_p(dir) end
  local f, err = io.open(path, 'wb')
  if not f then return nil, err end
  f:write(table.concat(lines, '\n'), '\n')
  f:close()
  return true
end

function M.command(cfg, words)
  local ok, o = pcall(M.parse, words)
  if not ok then
    if type(o) == 'table' and o.usage then
      io.stderr:write('fmhost: check: ', o.usage, '\n')
      return 2
    end
    error(o, 0)
  end
  if o.help then
    io.stdout:write(USAGE, '\n')
    return 0
  end
  if #o.paths == 0 then o.paths = { 'examples/pipelines' } end
  local files, ferr = M.files(o.paths)
  if not files then
    io.stderr:write('fmhost: check: ', ferr, '\n')
    return 2
  end
  if #files == 0 then
    io.stderr:write('fmhost: check: no *.pipeline.lua file under ', table.concat(o.paths, ' '), '\n')
    return 2
  end
  local P = require 'fmhost.pipeline'
  local cases, failed = {}, 0
  for _, file in ipairs(files) do
    local t0 = require('fmhost.proc').now_ms()
    local desc, lerr = P.load(file)
    local case = { file = file, name = desc and desc.name or file }
    if not desc then
      case.ok, case.summary, case.text = false, 'ERROR ' .. file .. ': ' .. lerr, lerr
      io.stdout:write(case.summary, '\n')
    else
      local r = P.run(desc, { cfg = cfg, seed = o.seed, rows = o.rows, keep_files = o.keep })
      case.ok = r.ok
      case.summary = P.summary(r)
      case.text = P.format(r)
      io.stdout:write(case.summary, '\n')
      if not r.ok then
        io.stdout:write(case.text, '\n')
        if o.shrink and not r.error then
          local s = P.shrink(desc, r, { cfg = cfg, seed = r.seed, rows = o.rows, budget = o.budget,
            say = function(line) io.stdout:write('  ', line, '\n'); io.stdout:flush() end })
          local st = P.format_shrink(s)
          io.stdout:write(st, '\n')
          case.text = case.text .. '\n' .. st
        end
      end
      io.stdout:flush()
    end
    case.time = (require('fmhost.proc').now_ms() - t0) / 1000
    if not case.ok then failed = failed + 1 end
    cases[#cases + 1] = case
  end
  io.stdout:write(('%d passed, %d failed\n'):format(#cases - failed, failed))
  -- the HTML report of this check run (each pipeline wrote its table under pipelines/)
  local hok, html = pcall(require('fmhost.htmlreport').from_run, { title = 'fmhost check', junit = o.junit or '' })
  if hok and html then io.stdout:write('report: ', html, '\n') end
  if o.junit then
    local jok, jerr = M.write_junit(o.junit, cases)
    if not jok then
      io.stderr:write('fmhost: check: cannot write ', o.junit, ': ', tostring(jerr), '\n')
      return 2
    end
  end
  return failed > 0 and 1 or 0
end

return M
