-- Reports: turns a spec run's JUnit XML into a Markdown summary a person
-- reads (which scenario passed, how long it took, why one failed).
local M = {}

local function read(path)
  local f, err = io.open(path, 'rb')
  if not f then return nil, err end
  local s = f:read('a')
  f:close()
  return s
end

local function first_line(s)
  return (tostring(s or ''):match('[^\n]*') or ''):sub(1, 200)
end

-- Parse JUnit XML into {cases={{name=, classname=, time=, status=, message=}}, totals}.
function M.parse_junit(path)
  local text, err = read(path)
  if not text then return nil, 'cannot read ' .. path .. ': ' .. tostring(err) end
  local doc = require('pl.xml').parse(text, false, true)
  if not doc then return nil, path .. ' is not XML' end
  local out = { cases = {}, passed = 0, failed = 0, skipped = 0, time = 0 }
  for _, suite in ipairs(doc) do
    if type(suite) == 'table' and suite.tag == 'testsuite' then
      for _, c in ipairs(suite) do
        if type(c) == 'table' and c.tag == 'testcase' then
          local case = { name = c.attr.name, classname = c.attr.classname,
                         time = tonumber(c.attr.time) or 0, status = 'passed' }
          for _, child in ipairs(c) do
            if type(child) == 'table' then
              if child.tag == 'failure' or child.tag == 'error' then
                case.status = 'failed'
                case.message = child.attr.message or (type(child[1]) == 'string' and child[1]) or ''
              elseif child.tag == 'skipped' then
                case.status = 'skipped'
              end
            end
          end
          out[case.status] = out[case.status] + 1
          out.time = out.time + case.time
          out.cases[#out.cases + 1] = case
        end
      end
    end
  end
  return out
end

-- Several JUnit files (a run's parts: the unit specs under the sanitizers,
-- the specs against the stack) as one: every <testsuite> of each, in order,
-- under one <testsuites> whose counts are the sums. Returns true or nil, msg.
function M.merge_junit(out, inputs)
  local suites, sums = {}, { tests = 0, failures = 0, errors = 0, skip = 0, time = 0 }
  for _, path in ipairs(inputs) do
    local text, err = read(path)
    if not text then return nil, 'cannot read ' .. path .. ': ' .. tostring(err) end
    local found = false
    for suite in text:gmatch('<testsuite[%s>].-</testsuite>') do
      found = true
      suites[#suites + 1] = suite
      local head = suite:match('^<testsuite[^>]*>')
      for k in pairs(sums) do
        sums[k] = sums[k] + (tonumber(head:match('%s' .. k .. "=['\"]([%d%.]+)['\"]")) or 0)
      end
    end
    if not found then return nil, path .. ' holds no <testsuite>' end
  end
  local f, err = io.open(out, 'wb')
  if not f then return nil, 'cannot write ' .. out .. ': ' .. tostring(err) end
  f:write(('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites errors="%d" tests="%d" skip="%d" time="%.2f" '
    .. 'failures="%d">\n'):format(sums.errors, sums.tests, sums.skip, sums.time, sums.failures))
  for _, suite in ipairs(suites) do f:write('\t', suite, '\n') end
  f:write('</testsuites>\n')
  f:close()
  return true
end

function M.markdown(r, title)
  local lines = {
    '# ' .. (title or 'fmhost report'), '',
    ('%d passed, %d failed, %d skipped — %.1f s'):format(r.passed, r.failed, r.skipped, r.time), '',
    '| result | scenario | time (s) | where | first line of the failure |',
    '|---|---|---:|---|---|',
  }
  for _, c in ipairs(r.cases) do
    local mark = ({ passed = 'pass', failed = '**FAIL**', skipped = 'skip' })[c.status]
    lines[#lines + 1] = ('| %s | %s | %.2f | %s | %s |'):format(mark, (c.name or ''):gsub('|', '\\|'),
      c.time, c.classname or '', first_line(c.message):gsub('|', '\\|'))
  end
  return table.concat(lines, '\n') .. '\n'
end

-- A number decoded from JSON (a float in Lua) as plain integer text when it is one.
local function num(v)
  if type(v) == 'number' and math.tointeger(v) then return tostring(math.tointeger(v)) end
  return tostring(v == nil and '' or v)
end

local function cell(s)
  s = tostring(s or ''):gsub('[\r\n]+', ' '):gsub('|', '\\|')
  if #s > 160 then s = s:sub(1, 157) .. '...' end
  return s
end

-- The per-type section from the summary fmhost.conformance writes
-- ({run=, cases=, columns=}, see conformance.write_summary): one row per
-- MariaDB column, then the defects the scenarios assert.
function M.types_markdown(doc)
  local run = doc.run or {}
  local lines = {
    '## Per column type', '',
    ('seed %s (FMHOST_SEED=%s replays it), %s rows per pipeline, %s pipelines'):format(tostring(run.seed),
      tostring(run.seed), num(run.rows), num(run.pipelines)), '',
    '| outcome | MariaDB type | column | Flink source → sink | NULLs | edge cases drawn | values differing '
      .. '| first difference or cause |',
    '|---|---|---|---|---:|---|---:|---|',
  }
  for _, c in ipairs(doc.columns or {}) do
    local mark = c.outcome == 'exact' and 'exact' or c.outcome == 'FAIL' and '**FAIL**' or ('*' .. c.outcome .. '*')
    local flink = c.flink == c.sink and c.flink or (tostring(c.flink) .. ' → ' .. tostring(c.sink))
    local why = c.sample or (c.state ~= 'FINISHED' and ('job ' .. tostring(c.state) .. ': ' .. tostring(c.cause))) or ''
    lines[#lines + 1] = ('| %s | %s | %s | %s | %s | %s | %s | %s |'):format(mark, cell(c.mariadb), cell(c.column),
      cell(flink), num(c.nulls), cell(c.edges), num(c.mismatches), cell(why))
  end
  local defects = {}
  for _, k in ipairs(doc.cases or {}) do
    if k.defect then
      defects[#defects + 1] = ('- **%s** (%s): %s%s'):format(cell(k.defect),
        k.passed and 'asserted, still present' or '**the assertion failed: the defect changed or went away**',
        cell(k.name), k.state ~= 'FINISHED' and k.cause and (' — job ' .. tostring(k.state) .. ': ' .. cell(k.cause)) or '')
    end
  end
  if #defects > 0 then
    lines[#lines + 1] = ''
    lines[#lines + 1] = '## Defects of the pipeline the scenarios assert'
    lines[#lines + 1] = ''
    for _, d in ipairs(defects) do lines[#lines + 1] = d end
  end
  return table.concat(lines, '\n') .. '\n'
end

-- fmhost -e 'require("fmhost.report").junit_to_markdown(IN, OUT, TITLE [, {types = SUMMARY.json}])'
-- With opts.types naming an existing conformance summary, its per-type
-- section follows the scenario table.
function M.junit_to_markdown(input, output, title, opts)
  local r, err = M.parse_junit(input)
  if not r then error(err, 0) end
  local text = M.markdown(r, title)
  local tpath = opts and opts.types
  local tdoc = tpath and read(tpath)
  if tdoc then
    local ok, doc = pcall(require('cjson').decode, tdoc)
    if ok and type(doc) == 'table' then text = text .. '\n' .. M.types_markdown(doc) end
  end
  local f = assert(io.open(output, 'wb'))
  f:write(text)
  f:close()
  return r
end

return M
