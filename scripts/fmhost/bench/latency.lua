-- latency: end-to-end latency of the standard pipeline at a fixed rate below
-- saturation (500 rows/s): each row carries the time fmhost made it visible
-- to the file source (MariaDB's clock) and MariaDB stamps the time it wrote
-- it (DEFAULT CURRENT_TIMESTAMP(6)); p50/p99 of written - delivered by SQL
-- over every row after a 5 s warm-up. Rows: min(bench.rows, 15000). The
-- connector's defaults (max-rows 100, interval 1 s) and the file source's
-- 1 s monitor interval set the floor; the baseline is the same rows at
-- max-rows 1 (a flush per row).
local P = require 'fmhost.pipeline'
local PL = require 'fmhost.pipeline_load'
local stack = require 'fmhost.stack'

local M = { name = 'latency', needs = { 'mariadb', 'flink' },
            about = 'end-to-end latency p50/p99 of a Flink JDBC pipeline at 500 rows/s' }

M.RATE = 500

local function one(cfg, rows, max_rows)
  local desc = PL.standard { name = 'latency', rows = rows, rate = M.RATE,
    options = { ['sink.buffer-flush.max-rows'] = tostring(max_rows) },
    load = { warmup_s = 5, flink_counts = false } }
  local r = P.run(desc, { cfg = cfg })
  if not r.ok then error('latency: the pipeline failed:\n' .. P.format(r)) end
  return r.load
end

function M.run(cfg, B)
  local rows = math.min(15000, math.tointeger(stack.get(cfg, 'bench.rows', 1000000)) or 1000000)
  local L = one(cfg, rows, 100)
  local L1 = one(cfg, rows, 1)
  local lt, l1 = L.latency, L1.latency
  return {
    name = M.name, rows = rows, rate = M.RATE,
    fmhost = { rows_per_s = L.write_rows_per_s or L.rows_per_s, wall_s = L.span_s, peak_rss_mb = B.peak_rss_mb(),
               what = 'default sink (max-rows 100, interval 1 s)', p50_ms = lt.p50_ms, p90_ms = lt.p90_ms,
               p99_ms = lt.p99_ms, max_ms = lt.max_ms, n = lt.n },
    baseline = { what = 'the same at sink.buffer-flush.max-rows 1', rows_per_s = L1.rows_per_s, p50_ms = l1.p50_ms,
                 p99_ms = l1.p99_ms, max_ms = l1.max_ms },
    ratio = (l1.p50_ms and lt.p50_ms) and l1.p50_ms / lt.p50_ms or nil,
  }
end

return M
