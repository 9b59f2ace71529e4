-- Shared parts of the pool benchmarks (scripts/fmhost/bench/load_infile.lua,
-- insert_batch.lua, acquire.lua): settings from cfg.bench, a pool on the
-- private MariaDB, the stock `mariadb` client as the baseline, and the
-- alternating median runs. Each benchmark measures fmhost and its baseline
-- in the same process run, on the same rows.
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'

local M = {}

function M.settings(cfg)
  return {
    rows = math.tointeger(stack.get(cfg, 'bench.rows')),
    runs = math.tointeger(stack.get(cfg, 'bench.runs')),
    threads = math.tointeger(stack.get(cfg, 'bench.threads')),
    rss_rows = math.tointeger(stack.get(cfg, 'bench.rss_rows')),
    acquire_ops = math.tointeger(stack.get(cfg, 'bench.acquire_ops')),
    seed = math.tointeger(stack.get(cfg, 'bench.seed')),
  }
end

function M.open(cfg, over)
  return assert(pool.open(cfg.mysql or {}, over))
end

-- A fresh scratch directory for the baseline's files.
function M.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute('mkdir -p ' .. stack.shell_quote(d)))
  return d
end

function M.rmdir(d) os.execute('rm -rf ' .. stack.shell_quote(d)) end

-- Drop and create the benchmark table.
function M.fresh_table(p, name, src)
  assert(p:exec('DROP TABLE IF EXISTS ' .. name))
  assert(p:exec(src:ddl(name)))
end

-- The table holds exactly rows 0..n-1 of src: count, key range, and a
-- sample of rows compared value by value.
function M.verify(p, name, src, n)
  local agg = assert(p:row('SELECT COUNT(*) AS n, MIN(id) AS lo, MAX(id) AS hi FROM ' .. name))
  assert(agg.n == n and agg.lo == 0 and agg.hi == n - 1,
         ('%s holds %s rows in %s..%s, not %d'):format(name, agg.n, agg.lo, agg.hi, n))
  local step = math.max(1, n // 97)
  for k = 0, n - 1, step do
    local want, got = src:row(k), assert(p:row('SELECT * FROM ' .. name .. ' WHERE id = ?', k))
    for col, v in pairs(want) do
      assert(got[col] == v, ('%s row %d column %s: want %s, got %s'):format(name, k, col, tostring(v),
                                                                          tostring(got[col])))
    end
  end
end

-- Seconds fn takes (millisecond clock).
function M.time(fn)
  local t0 = proc.now_ms()
  fn()
  return (proc.now_ms() - t0) / 1000
end

-- Alternate fmhost and baseline runs; returns the medians of their seconds.
function M.alternate(B, runs, fmhost_run, baseline_run)
  local ft, bt = {}, {}
  for i = 1, runs do
    ft[i] = fmhost_run(i)
    bt[i] = baseline_run(i)
  end
  return B.median(ft), B.median(bt), ft, bt
end

function M.result(name, rows, fmhost_s, baseline_s, what, B, extra)
  local r = {
    name = name,
    rows = rows,
    fmhost = { rows_per_s = rows / fmhost_s, wall_s = fmhost_s, peak_rss_mb = B.peak_rss_mb() },
    baseline = { what = what, rows_per_s = rows / baseline_s, wall_s = baseline_s },
  }
  r.ratio = r.fmhost.rows_per_s / r.baseline.rows_per_s
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

return M
