-- validate_stream: rows per second fmhost.validate compares a MariaDB table
-- with the generator that made it (the 7-column table, config/schemas/
-- seven.yaml), against the stock client reading the same table in key
-- order and throwing it away (`mariadb --quick -e 'SELECT * FROM t ORDER BY
-- id' > /dev/null`), both in this run, medians of bench.runs runs taken in
-- turn. Each comparison runs in a child fmhost of its own, so its peak RSS
-- (VmHWM) is the validator's alone; it is measured at bench.rows and at four
-- times as many rows: bounded memory means the two are about equal.
-- Targets: ratio >= 2.0, peak RSS <= 64 MiB, 4x rows within 10% of it.
local gen = require 'fmhost.gen'
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'
local T = require 'fmhost.testing'

local M = { name = 'validate_stream', needs = { 'mariadb' },
            about = 'fmhost.validate compare (table vs generator) rows/s vs mariadb --quick SELECT ORDER BY id' }

local SEED = 42

-- A table holding rows [0, rows) of the generator, loaded unless it already does
-- (the table comment records seed and rows).
local function ensure_table(p, g, name, rows)
  local mark = ('fmhost bench seven seed=%d rows=%d'):format(SEED, rows)
  local have = p:scalar('SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() '
                        .. 'AND TABLE_NAME = ?', name)
  if have == mark then return end
  assert(p:exec('DROP TABLE IF EXISTS ' .. name))
  assert(p:exec(g:create_table_sql(name)))
  assert(p:load { table = name, source = g, rows = rows, threads = 2 })
  assert(p:exec(("ALTER TABLE %s COMMENT = '%s'"):format(name, mark)))
end

-- One comparison in a child fmhost: its verdict's counts and time, and its VmHWM.
local CHILD = [[
local V = require 'fmhost.validate'
local g = assert(require('fmhost.gen').load('seven', { seed = %d }))
local p = assert(require('fmhost.pool').open(cfg.mysql, { size = 2, read_timeout_ms = 600000 }))
local v = assert(V.compare { target = { pool = p, table = '%s' }, expected = { generator = g, first = 0, count = %d },
                             key = 'id', log = false })
p:close()
local f = io.open('/proc/self/status'); local st = f:read('a'); f:close()
print(require('cjson').encode { ok = v.ok, matched = v.counts.matched, elapsed_s = v.elapsed_s,
                                hwm_kb = tonumber(st:match('VmHWM:%%s*(%%d+)')) })
]]

local function child_compare(table_name, rows)
  local r = T.run_fmhost({ '-e', CHILD:format(SEED, table_name, rows) })
  local line = r.stdout:match('(%b{})%s*$')
  if r.code ~= 0 or not line then
    error(('validate_stream: the comparing child failed (exit %s): %s%s'):format(tostring(r.code), r.stdout, r.stderr))
  end
  local out = require('cjson').decode(line)
  if not out.ok or out.matched ~= rows then
    error(('validate_stream: %s did not match the generator (%s of %d rows)'):format(table_name, out.matched, rows))
  end
  return out
end

function M.run(cfg, B)
  local rows = math.tointeger(stack.get(cfg, 'bench.rows', 1000000)) or 1000000
  local runs = math.max(3, math.tointeger(stack.get(cfg, 'bench.runs', 3)) or 3)
  local big = 4 * rows
  local g = assert(gen.load('seven', { seed = SEED }))
  local p = assert(pool.open(cfg.mysql or {}, { size = 2, read_timeout_ms = 600000 }))
  local t1, t4 = 'bench_vstream_1x', 'bench_vstream_4x'
  ensure_table(p, g, t1, rows)
  ensure_table(p, g, t4, big)

  local client = { '--quick', '-e', 'SELECT * FROM ' .. t1 .. ' ORDER BY id' }

  local ft, bt, hwm1 = {}, {}, {}
  for i = 1, runs do
    local out = child_compare(t1, rows)
    ft[i] = out.elapsed_s
    hwm1[i] = out.hwm_kb / 1024
    bt[i] = B.time_client(cfg, client)
  end
  local f4, hwm4 = {}, {}
  for i = 1, 2 do
    local out = child_compare(t4, big)
    f4[i] = out.elapsed_s
    hwm4[i] = out.hwm_kb / 1024
  end
  p:close()

  local f_med, b_med = B.median(ft), B.median(bt)
  local rss1, rss4 = math.max(table.unpack(hwm1)), math.max(table.unpack(hwm4))
  local r = {
    name = M.name,
    rows = rows,
    fmhost = { rows_per_s = rows / f_med, wall_s = f_med, peak_rss_mb = rss1,
               rows_4x = big, rows_per_s_4x = big / B.median(f4), peak_rss_mb_4x = rss4 },
    baseline = { what = "mariadb --quick -e 'SELECT * FROM t ORDER BY id' > /dev/null (TCP)",
                 rows_per_s = rows / b_med, wall_s = b_med },
    rss_growth = rss4 / rss1 - 1,
    targets = { ratio = 2.0, peak_rss_mb = 64, rss_growth = 0.10 },
    runs = { fmhost_s = ft, baseline_s = bt, fmhost_4x_s = f4, peak_rss_mb = hwm1, peak_rss_mb_4x = hwm4 },
  }
  r.ratio = r.fmhost.rows_per_s / r.baseline.rows_per_s
  r.met = r.ratio >= 2.0 and rss1 <= 64 and rss4 <= 64 and r.rss_growth <= 0.10
  return r
end

return M
