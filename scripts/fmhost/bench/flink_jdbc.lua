-- flink_jdbc: rows/s of a Flink JDBC sink pipeline (the standard 7-column
-- dataset, bench.rows rows as JSON lines read as fast as the source takes
-- them, written by the real connector into MariaDB at the best setting
-- flink_sweep found: rewriteBatchedStatements, max-rows 5000, append, see
-- README) beside fmhost's direct insert_batch of the same rows (pool:load,
-- batched multi-row INSERT, 2 threads) in the same run. Where the time goes
-- is in "where": submit to running tasks, first to last write, the rest of
-- the job (reading the first file, the quiet end, the stop with a
-- savepoint), fmhost's own time, and the busy share of each Flink vertex.
local P = require 'fmhost.pipeline'
local PL = require 'fmhost.pipeline_load'
local gen = require 'fmhost.gen'
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'

local M = { name = 'flink_jdbc', needs = { 'mariadb', 'flink' },
            about = "a Flink JDBC sink pipeline's rows/s vs fmhost's direct insert_batch of the same rows" }

M.BEST = { max_rows = 5000, interval = '1 s', rewrite = true, append = true, parallelism = 1 }

function M.run(cfg, B)
  local rows = math.tointeger(stack.get(cfg, 'bench.rows', 1000000)) or 1000000
  local s = M.BEST
  local desc = PL.standard { name = 'flink_jdbc', rows = rows, append = s.append, parallelism = s.parallelism,
    url_params = { rewriteBatchedStatements = 'true' },
    options = { ['sink.buffer-flush.max-rows'] = tostring(s.max_rows), ['sink.buffer-flush.interval'] = s.interval },
    load = { chunk_rows = 50000, flink_counts = false } }
  local r = P.run(desc, { cfg = cfg })
  if not r.ok then error('flink_jdbc: the pipeline failed:\n' .. P.format(r)) end
  local L = r.load
  -- the same rows, the same table shape, straight from the generator
  local g = assert(gen.new { seed = r.sources.seven.seed, name = 'seven', columns = desc.data.seven.columns })
  local p = assert(pool.open(cfg.mysql or {}, { size = 2, read_timeout_ms = 600000 }))
  assert(p:exec('DROP TABLE IF EXISTS bench_flink_direct'))
  assert(p:exec(g:create_table_sql('bench_flink_direct')))
  local dt = B.time(function()
    assert(p:load { source = g, table = 'bench_flink_direct', rows = rows, method = 'insert', threads = 2 })
  end)
  assert(p:exec('DROP TABLE IF EXISTS bench_flink_direct'))
  p:close()
  local t = r.timings
  local busy = {}
  for name, x in pairs((L.backpressure or {}).by_vertex or {}) do busy[name] = x.busy end
  local out = {
    name = M.name, rows = rows,
    fmhost = { rows_per_s = L.write_rows_per_s or L.rows_per_s, wall_s = L.span_s, peak_rss_mb = B.peak_rss_mb(),
               what = 'Flink JDBC sink pipeline, first to last write (' .. require('fmhost.bench.flink_sweep').label(s) .. ')' },
    baseline = { what = "fmhost's direct insert_batch of the same rows (pool:load, method insert, 2 threads)",
                 rows_per_s = rows / dt, wall_s = dt },
    where = { data_s = t.data_s, setup_s = t.setup_s, submit_to_running_s = r.load_started_s,
              writing_s = L.span_s, job_s = t.job_s,
              job_rest_s = t.job_s - (r.load_started_s or 0) - (L.span_s or 0),
              verify_s = t.verify_s, busy_by_vertex = busy,
              taskmanager_rss_mb = L.memory.taskmanager_mb, peak_per_s = L.peak_per_s },
  }
  out.ratio = out.fmhost.rows_per_s / out.baseline.rows_per_s
  return out
end

return M
