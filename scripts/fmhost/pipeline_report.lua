-- A pipeline run as the HTML report sees it: fmhost.pipeline's result turned
-- into the report's pipeline table (see fmhost.htmlreport's header) and
-- written as <report dir>/pipelines/NAME.json, where htmlreport.from_run
-- (what ./test.sh, ./conform.sh and `fmhost check` call) picks it up.
--
--   local PR = require 'fmhost.pipeline_report'
--   PR.table(result)            -> the report's table of one run
--   PR.write(result[, dir])     -> path | nil, err   (dir: build/report/pipelines)
local M = {}

local function display(v)
  if v == nil then return 'NULL' end
  if type(v) == 'table' then
    local p = {}
    for _, x in ipairs(v) do p[#p + 1] = display(x) end
    return '(' .. table.concat(p, ', ') .. ')'
  end
  return tostring(v)
end

-- The report's table of one pipeline result (plain data, JSON-ready).
function M.table(r)
  local v, L = r.verdict, r.load or {}
  local t = { name = tostring(r.name or 'pipeline'), file = r.file, seed = r.seed, rows = r.rows,
              verdict = r.ok and 'ok' or 'FAIL', cause = (not r.ok) and require('fmhost.pipeline').cause_line(r) or nil,
              job = { id = r.job and r.job.id, state = r.job and r.job.state, restarts = r.job and r.job.restarts },
              timings = r.timings }
  if v and v.counts then
    local c = v.counts
    t.counts = { expected = c.expected, actual = c.actual, matched = c.present or c.matched, exact = c.exact,
                 missing = c.missing, extra = c.extra, duplicated = c.duplicated, mismatched = c.differing or c.mismatched }
    local by = {}
    for _, m in ipairs(v.mismatches or {}) do
      local e = by[m.column]
      if not e then
        e = { column = m.column, count = 0, samples = {} }
        by[m.column] = e
      end
      if #e.samples < 2 then
        e.samples[#e.samples + 1] = { key = display(m.key), expected = display(m.expected), actual = display(m.actual) }
      end
    end
    t.mismatches = {}
    for _, cs in ipairs(v.columns or {}) do
      if (cs.mismatches or 0) > 0 then
        local e = by[cs.name] or { column = cs.name, samples = {} }
        e.count = cs.mismatches
        t.mismatches[#t.mismatches + 1] = e
      end
    end
  end
  -- throughput per second (load runs sample it), the faults on the same clock
  if L.per_s then
    t.series = {}
    for i, n in ipairs(L.per_s) do t.series[#t.series + 1] = { t = i - 1, rows_per_s = n } end
  end
  t.faults = {}
  for _, f in ipairs(r.faults or {}) do
    t.faults[#t.faults + 1] = { t = f.t_s or 0, what = tostring(f.action or f.what or 'fault') }
  end
  local lt = L.latency
  if lt and lt.p50_ms then
    t.latency = { unit = 'ms', count = lt.n, p50 = lt.p50_ms, p90 = lt.p90_ms, p99 = lt.p99_ms, max = lt.max_ms }
  end
  if L.backpressure then
    t.backpressure = { { t = 0, ratio = L.backpressure.share } }
  end
  return t
end

-- Writes the table as JSON for the next report; a failure to write is
-- returned, never raised (the run's own outcome matters more).
function M.write(r, dir)
  local root = rawget(_G, '_FMHOST_ROOT') or '.'
  dir = dir or (root .. '/build/report/pipelines')
  local stack = require 'fmhost.stack'
  local ok, err = pcall(stack.mkdir_p, dir)
  if not ok then return nil, tostring(err) end
  local t = M.table(r)
  local path = dir .. '/' .. t.name:gsub('[^%w_.-]', '_') .. '.json'
  local okj, text = pcall(require('cjson').encode, t)
  if not okj then return nil, tostring(text) end
  local wok, werr = require('fmhost.files').write(path, text)
  if not wok then return nil, werr end
  return path
end

return M
