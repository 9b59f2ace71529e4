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

-- fmhost -e 'require("fmhost.report").junit_to_markdown(IN, OUT, TITLE)'
function M.junit_to_markdown(input, output, title)
  local r, err = M.parse_junit(input)
  if not r then error(err, 0) end
  local f = assert(io.open(output, 'wb'))
  f:write(M.markdown(r, title))
  f:close()
  return r
end

return M
