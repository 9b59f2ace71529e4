-- validate_gen: fmhost.validate's checksum mode on a table of 4 x bench.rows
-- rows (validate_checksum's table a, the 7-column schema) against the
-- generator that made it: the generator's side is hashed in C segment by
-- segment, no staging table; the table's side is read and hashed here
-- (hash_at 'auto' on this machine's server). Rows per second count the table's rows;
-- medians of bench.runs runs, each in a child fmhost (peak RSS reported).
-- The baseline, for scale, is the stock client's CHECKSUM TABLE on the one
-- table. Target: none beyond an exact verdict (rows/s reported).
local gen = require 'fmhost.gen'
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local VC = require 'fmhost.bench.validate_checksum'

local M = { name = 'validate_gen', needs = { 'mariadb' },
            about = 'fmhost.validate checksum mode: a 4M-row table against its generator (no staging)' }

function M.run(cfg, B)
  local rows = 4 * (math.tointeger(stack.get(cfg, 'bench.rows', 1000000)) or 1000000)
  local runs = math.max(3, math.tointeger(stack.get(cfg, 'bench.runs', 3)) or 3)
  local threads = math.tointeger(stack.get(cfg, 'bench.checksum_threads', 8)) or 8
  local g = assert(gen.load('seven', { seed = VC.SEED }))
  local p = assert(pool.open(cfg.mysql or {}, { size = 2, read_timeout_ms = 600000 }))
  VC.ensure_pair(p, g, rows, { VC.A })
  local ft, bt, hwm, last = {}, {}, {}, nil
  for i = 1, runs do
    VC.evict(p, g) -- each run starts cold
    local out = VC.child_checksum(VC.A, 'gen', rows, threads)
    last = out
    ft[i] = out.elapsed_s
    hwm[i] = out.hwm_kb / 1024
    VC.evict(p, g)
    bt[i] = B.time_client(cfg, { '-e', 'CHECKSUM TABLE ' .. VC.A })
  end
  p:close()
  local fm, bm = B.median(ft), B.median(bt)
  local r = {
    name = M.name, rows = rows, threads = threads,
    fmhost = { rows_per_s = rows / fm, wall_s = fm, peak_rss_mb = math.max(table.unpack(hwm)), hash_at = last.hash_at,
               row_hash = last.row_hash },
    baseline = { what = 'CHECKSUM TABLE a (stock mariadb client, TCP), for scale', rows_per_s = rows / bm, wall_s = bm },
    runs = { fmhost_s = ft, baseline_s = bt, peak_rss_mb = hwm },
  }
  r.ratio = r.fmhost.rows_per_s / r.baseline.rows_per_s
  r.met = true
  return r
end

return M
