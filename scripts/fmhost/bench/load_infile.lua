-- load_infile: N rows of the 7-column benchmark table produced in memory
-- by fmhost's C row source and loaded with LOAD DATA LOCAL INFILE from
-- bench.threads connections (production included), against the stock
-- `mariadb` client loading the same rows from a CSV written beforehand.
-- Then, for the memory claim, the same load with bench.rss_rows rows: the
-- peak RSS must not grow with the row count.
local pool = require 'fmhost.pool'
local PB = require 'fmhost.pool_bench'

local M = { name = 'load_infile', needs = { 'mariadb' },
            about = 'LOAD DATA LOCAL INFILE fed from memory vs the stock client loading a CSV' }

local TABLE = 'bench_load_infile'

function M.run(cfg, B)
  local s = PB.settings(cfg)
  local src = pool.bench_source { seed = s.seed }
  local p = PB.open(cfg, { size = math.max(2, s.threads), read_timeout_ms = 600000 })
  local dir = PB.tmpdir()
  local csv = dir .. '/rows.csv'
  assert(src:write_csv(csv, 0, s.rows))
  local load = ("LOAD DATA LOCAL INFILE '%s' INTO TABLE %s CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' "
    .. [[OPTIONALLY ENCLOSED BY '"' ESCAPED BY '\\' LINES TERMINATED BY '\n' %s]]):format(csv, TABLE, src.columns)
  local f_med, b_med, ft, bt = PB.alternate(B, s.runs, function()
    PB.fresh_table(p, TABLE, src)
    local t = PB.time(function()
      assert(p:load { table = TABLE, source = src, rows = s.rows, threads = s.threads, method = 'infile' })
    end)
    PB.verify(p, TABLE, src, s.rows)
    return t
  end, function()
    PB.fresh_table(p, TABLE, src)
    local t = B.time_client(cfg, { '--local-infile=1', '-e', load })
    PB.verify(p, TABLE, src, s.rows)
    return t
  end)
  PB.rmdir(dir)
  local extra = { runs = { fmhost_s = ft, baseline_s = bt }, threads = s.threads }
  if s.rss_rows > 0 then
    local peak_small = B.peak_rss_mb()
    PB.fresh_table(p, TABLE, src)
    local t = PB.time(function()
      assert(p:load { table = TABLE, source = src, rows = s.rss_rows, threads = s.threads, method = 'infile' })
    end)
    extra.memory = { rows_small = s.rows, peak_rss_mb_small = peak_small, rows_large = s.rss_rows,
                     peak_rss_mb_large = B.peak_rss_mb(), large_rows_per_s = s.rss_rows / t }
    extra.memory.growth = extra.memory.peak_rss_mb_large / peak_small
  end
  p:exec('DROP TABLE IF EXISTS ' .. TABLE)
  p:close()
  return PB.result(M.name, s.rows, f_med, b_med, 'stock mariadb client, LOAD DATA LOCAL INFILE of a pre-written CSV', B, extra)
end

return M
