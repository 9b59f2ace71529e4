-- gen: rows per second fmhost.gen produces as LOAD DATA CSV for the
-- 7-column table (config/schemas/seven.yaml: BIGINT key, INT, DECIMAL(22,9),
-- DOUBLE, VARCHAR(64), DATETIME(6), BOOLEAN), against the rate at which the
-- stock `mariadb` client's LOAD DATA LOCAL INFILE ingests the same rows
-- into the private MariaDB, both measured in this run. The generator is
-- timed writing to /dev/null (generation, formatting and the write calls),
-- on as many threads as the machine has cores, and on one thread for the
-- record. The target: ratio >= 10, the generator is never the bottleneck.
local gen = require 'fmhost.gen'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'

local M = { name = 'gen', needs = { 'mariadb' },
            about = 'fmhost.gen CSV rows/s for the 7-column table vs the stock client LOAD DATA ingesting them' }

local TABLE = 'bench_gen'

local function cores()
  local n = 0
  local f = io.open('/proc/cpuinfo')
  if f then
    for line in f:lines() do if line:match('^processor') then n = n + 1 end end
    f:close()
  end
  return math.max(1, n)
end

local function secs(fn)
  local t0 = proc.now_ms()
  fn()
  return (proc.now_ms() - t0) / 1000
end

function M.run(cfg, B)
  local rows = math.tointeger(stack.get(cfg, 'bench.rows', 1000000)) or 1000000
  local runs = math.max(3, math.tointeger(stack.get(cfg, 'bench.runs', 3)) or 3)
  local threads = cores()
  local g = assert(gen.load('seven'))

  -- the baseline's file: the same rows, written once
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute('mkdir -p ' .. stack.shell_quote(dir)))
  local csv = dir .. '/seven.csv'
  local bytes = assert(g:write_csv(csv, 0, rows, { threads = threads }))

  local p = assert(require('fmhost.pool').open(cfg.mysql or {}, { size = 1, read_timeout_ms = 600000 }))
  local client = { '--local-infile=1', '-e', g:load_data_sql(TABLE, csv) }

  local ft, ft1, bt = {}, {}, {}
  for i = 1, runs do
    -- fmhost: all cores, then one thread (runs alternate with the baseline)
    -- (short runs: three per baseline run, so that the median rides out
    -- moments when other processes hold the cores)
    for _ = 1, 3 do
      ft[#ft + 1] = secs(function() assert(g:write_csv('/dev/null', 0, rows, { threads = threads })) end)
    end
    ft1[i] = secs(function() assert(g:write_csv('/dev/null', 0, rows, { threads = 1 })) end)
    -- the stock client ingesting the same rows into a fresh table
    assert(p:exec('DROP TABLE IF EXISTS ' .. TABLE))
    assert(p:exec(g:create_table_sql(TABLE)))
    bt[i] = B.time_client(cfg, client)
    local n = p:scalar('SELECT COUNT(*) FROM ' .. TABLE)
    assert(n == rows, ('%s holds %s rows after LOAD DATA, not %d'):format(TABLE, tostring(n), rows))
  end
  assert(p:exec('DROP TABLE IF EXISTS ' .. TABLE))
  p:close()
  os.execute('rm -rf ' .. stack.shell_quote(dir))

  local f_med, f1_med, b_med = B.median(ft), B.median(ft1), B.median(bt)
  local r = {
    name = M.name,
    rows = rows,
    fmhost = { rows_per_s = rows / f_med, wall_s = f_med, peak_rss_mb = B.peak_rss_mb(), threads = threads,
               one_thread_rows_per_s = rows / f1_med, mb_per_s = bytes / f_med / 1e6 },
    baseline = { what = 'stock mariadb client, LOAD DATA LOCAL INFILE of the same rows (TCP)',
                 rows_per_s = rows / b_med, wall_s = b_med },
    bytes = bytes,
    runs = { fmhost_s = ft, fmhost_one_thread_s = ft1, baseline_s = bt },
  }
  r.ratio = r.fmhost.rows_per_s / r.baseline.rows_per_s
  return r
end

return M
