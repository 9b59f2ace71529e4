-- flink_sweep: rows/s of a Flink JDBC sink pipeline (the standard 7-column
-- dataset as JSON lines, read as fast as the source takes it, written by the
-- real connector into MariaDB; fmhost.pipeline load runs) by sink batch size
-- (sink.buffer-flush.max-rows), flush interval, rewriteBatchedStatements,
-- upsert vs append and parallelism, each run judged row by row. rows/s is
-- first to last write (MariaDB's written-at column): the job's writing, not
-- its start-up. Each run writes bench.rows / 5 rows (at least 5000). The
-- best setting is named; flink_jdbc runs it at the full size.
local P = require 'fmhost.pipeline'
local PL = require 'fmhost.pipeline_load'
local stack = require 'fmhost.stack'

local M = { name = 'flink_sweep', needs = { 'mariadb', 'flink' },
            about = 'Flink JDBC sink rows/s by batch size, flush interval, rewriteBatchedStatements, upsert/append, parallelism' }

-- One run of the standard pipeline with settings s: {max_rows, interval, rewrite, append, parallelism}.
function M.one(cfg, rows, s, name)
  local desc = PL.standard { name = name or 'sweep', rows = rows, append = s.append, parallelism = s.parallelism,
    url_params = s.rewrite and { rewriteBatchedStatements = 'true' } or nil,
    options = { ['sink.buffer-flush.max-rows'] = tostring(s.max_rows or 100),
                ['sink.buffer-flush.interval'] = s.interval or '1 s' },
    load = { chunk_rows = s.parallelism and s.parallelism > 1 and math.max(1000, rows // (4 * s.parallelism)) or 50000,
             flink_counts = false } }
  local r = P.run(desc, { cfg = cfg })
  if not r.ok then error('flink_sweep: a run failed:\n' .. P.format(r)) end
  local L = r.load
  return { rows_per_s = L.write_rows_per_s or L.rows_per_s, span_s = L.span_s, job_s = r.timings.job_s, peak_per_s = L.peak_per_s,
           started_s = r.load_started_s, busy = L.backpressure and L.backpressure.by_vertex,
           tm_rss_mb = L.memory.taskmanager_mb and L.memory.taskmanager_mb.max }
end

local function label(s)
  return ('max-rows %d, interval %s, rewrite %s, %s, parallelism %d'):format(s.max_rows, s.interval or '1 s',
    s.rewrite and 'on' or 'off', s.append and 'append' or 'upsert', s.parallelism or 1)
end
M.label = label

function M.run(cfg, B)
  local rows = math.max(5000, (math.tointeger(stack.get(cfg, 'bench.rows', 1000000)) or 1000000) // 5)
  local tables, all = {}, {}
  local function measure(tname, s)
    local t = M.one(cfg, rows, s, 'sweep')
    t.setting = label(s)
    t.settings = s
    tables[tname] = tables[tname] or {}
    table.insert(tables[tname], t)
    all[#all + 1] = t
    io.stderr:write(('flink_sweep: %-9s %-70s %8.0f rows/s\n'):format(tname, t.setting, t.rows_per_s or 0))
    return t
  end
  for _, n in ipairs { 100, 1000, 5000 } do measure('batch', { max_rows = n, rewrite = true }) end
  for _, iv in ipairs { '200 ms', '5 s' } do measure('interval', { max_rows = 5000, interval = iv, rewrite = true }) end
  measure('rewrite', { max_rows = 1000, rewrite = false })
  measure('mode', { max_rows = 1000, rewrite = true, append = true })
  measure('parallel', { max_rows = 1000, rewrite = true, append = true, parallelism = 2 })
  local best
  for _, t in ipairs(all) do if not best or (t.rows_per_s or 0) > (best.rows_per_s or 0) then best = t end end
  local default = tables.batch[1]
  return {
    name = M.name, rows = rows,
    fmhost = { rows_per_s = best.rows_per_s, wall_s = best.span_s, what = 'the best setting: ' .. best.setting },
    baseline = { what = "the connector's defaults with rewriteBatchedStatements (max-rows 100, interval 1 s, upsert)",
                 rows_per_s = default.rows_per_s },
    ratio = best.rows_per_s / default.rows_per_s,
    best = best.settings, best_label = best.setting, tables = tables,
  }
end

return M
