-- pipeline_overhead: fmhost's own time per pipeline run (staging the data,
-- creating the sink, the gateway statements, watching, verifying) against
-- the Flink job's time in the same run, for the orders example (3000 rows,
-- SQL oracle). fmhost's "rows/s" is the input rows over its overhead, the
-- baseline's the same rows over the job's time; ratio = job time / fmhost
-- time (higher is better; the target is an overhead under 1 s).
-- It also measures the verification of bench.rows rows against an SQL
-- oracle (validate.compare with a query as the expected side, as
-- pipeline.run does for expect.sql) beside the same comparison against the
-- generator (validate_stream's path), in this run: target >= 0.5 of it.
local P = require 'fmhost.pipeline'
local gen = require 'fmhost.gen'
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local validate = require 'fmhost.validate'

local M = { name = 'pipeline_overhead', needs = { 'mariadb', 'flink' },
            about = "fmhost's own time per pipeline run vs the Flink job's time; SQL-oracle verification rate" }

local function sql_oracle(cfg, B, rows, runs)
  local g = assert(gen.load('seven', { seed = 42 }))
  local p = assert(pool.open(cfg.mysql or {}, { size = 2, read_timeout_ms = 600000 }))
  local t = 'bench_pipeline_oracle'
  local mark = ('fmhost bench seven seed=42 rows=%d'):format(rows)
  if p:scalar('SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', t)
      ~= mark then
    assert(p:exec('DROP TABLE IF EXISTS ' .. t))
    assert(p:exec(g:create_table_sql(t)))
    assert(p:load { table = t, source = g, rows = rows, threads = 2 })
    assert(p:exec(("ALTER TABLE %s COMMENT = '%s'"):format(t, mark)))
  end
  local sq, gq = {}, {}
  for i = 1, runs do
    local v = assert(validate.compare { target = { pool = p, table = t }, key = 'id', log = false,
      expected = { pool = p, query = 'SELECT * FROM ' .. t .. ' WHERE id > 0' } })
    assert(v.ok and v.counts.matched == rows, 'the SQL oracle comparison did not match')
    sq[i] = v.elapsed_s
    local w = assert(validate.compare { target = { pool = p, table = t }, key = 'id', log = false,
      expected = { generator = g, first = 0, count = rows } })
    assert(w.ok, 'the generator comparison did not match')
    gq[i] = w.elapsed_s
  end
  p:close()
  return rows / B.median(sq), rows / B.median(gq), sq, gq
end

function M.run(cfg, B)
  local runs = math.max(3, math.tointeger(stack.get(cfg, 'bench.runs', 3)) or 3)
  local rows = math.tointeger(stack.get(cfg, 'bench.rows', 1000000)) or 1000000
  local desc = assert(P.load(_FMHOST_ROOT .. '/examples/pipelines/orders.pipeline.lua'))
  local over, job = {}, {}
  for i = 1, runs do
    local r = P.run(desc, { cfg = cfg })
    if not r.ok then error('pipeline_overhead: the orders pipeline failed:\n' .. P.format(r)) end
    over[i] = r.timings.overhead_s
    job[i] = r.timings.job_s
  end
  local o, j = B.median(over), B.median(job)
  local input = desc.rows
  local sql_rps, gen_rps, sq, gq = sql_oracle(cfg, B, rows, runs)
  local r = {
    name = M.name,
    rows = input,
    fmhost = { rows_per_s = input / o, wall_s = o, what = "fmhost's time per run: everything but the Flink job" },
    baseline = { what = 'the Flink job of the same run (submit to FINISHED)', rows_per_s = input / j, wall_s = j },
    sql_oracle = { rows = rows, rows_per_s = sql_rps, generator_rows_per_s = gen_rps, ratio = sql_rps / gen_rps,
                   runs_s = sq, generator_runs_s = gq },
    targets = { overhead_s = 1.0, sql_oracle_ratio = 0.5 },
    runs = { fmhost_s = over, baseline_s = job },
  }
  r.ratio = r.fmhost.rows_per_s / r.baseline.rows_per_s
  r.met = o < 1.0 and r.sql_oracle.ratio >= 0.5
  return r
end

return M
