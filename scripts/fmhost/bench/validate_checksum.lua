-- validate_checksum: fmhost.validate's checksum mode on two identical tables
-- of 4 x bench.rows rows (the 7-column table, config/schemas/seven.yaml),
-- against `CHECKSUM TABLE a; CHECKSUM TABLE b` by the stock client on the
-- same tables, both in this run, medians of bench.runs runs taken in turn,
-- each started cold (M.evict: neither table in the buffer pool).
-- Rows per second count the rows of both tables. Each checksum runs in a
-- child fmhost, so its peak RSS (VmHWM) is the validator's alone; a second
-- size point (bench.checksum_big_rows rows per table, default 20M; 0 skips
-- it) is measured once: its RSS must not grow with N. Then 100
-- differences are injected into b (deleted rows, extra rows, changed
-- DECIMAL, DOUBLE, VARCHAR, DATETIME and NULL values, at rows drawn from the
-- seed), and the verdict must name exactly those 100 keys and nothing else
-- (validate_checksum_diff times that case against the identical one).
-- bench.checksum_threads (default 8): segments in flight. The checksum
-- runs as a user's call would (hash_at 'auto': the private stack's server
-- has fmhost_rowsum, so each server hashes its rows natively and only
-- sums cross); the two forms for a server without the function are timed
-- in the same turns and reported beside it: rows read over the binary
-- protocol and hashed in fmhost (hash_at 'client') and the SQL row hash
-- (hash_at 'server').
-- Targets: ratio >= 1.0; all 100 differences found, nothing else; RSS at
-- the big size within 10% of the small one.
local gen = require 'fmhost.gen'
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'
local V = require 'fmhost.validate'
local Rng = require 'fmhost.check.rng'

local M = { name = 'validate_checksum', needs = { 'mariadb' },
            about = 'fmhost.validate checksum mode on two identical tables vs CHECKSUM TABLE on both' }

local SEED = 42
local A, B_ = 'bench_vsum_a', 'bench_vsum_b'
M.A, M.B = A, B_

local function ensure_pair(p, g, rows, names)
  local mark = ('fmhost bench seven seed=%d rows=%d'):format(SEED, rows)
  local function ok(name)
    return p:scalar('SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() '
                    .. 'AND TABLE_NAME = ?', name) == mark
  end
  for _, t in ipairs(names or { A, B_ }) do
    if not ok(t) then
      assert(p:exec('DROP TABLE IF EXISTS ' .. t))
      assert(p:exec(g:create_table_sql(t)))
      assert(p:load { table = t, source = g, rows = rows, threads = 2 })
      assert(p:exec(("ALTER TABLE %s COMMENT = '%s'"):format(t, mark)))
    end
  end
end

-- k differences in b, one each; returns what the verdict must say and the rows touched.
local function inject(p, rows, k)
  local rng = Rng.for_case(SEED, 100)
  local want = { missing = {}, extra = {}, fields = {} }
  local chosen, ids = {}, {}
  local function upd(set, id, col)
    assert(p:exec('UPDATE ' .. B_ .. ' SET ' .. set .. ' WHERE id = ?', id))
    want.fields[#want.fields + 1] = id .. ':' .. col
  end
  while #ids < k do
    local id = rng:int(1, rows)
    if not chosen[id] then
      chosen[id] = true
      ids[#ids + 1] = id
      local kind = #ids % 7
      if kind == 0 then -- a row b lacks: the target (a) holds it extra
        assert(p:exec('DELETE FROM ' .. B_ .. ' WHERE id = ?', id))
        want.extra[#want.extra + 1] = id
      elseif kind == 1 then upd('d = IF(d > 0, d - 0.000000001, d + 0.000000001)', id, 'd')
      elseif kind == 2 then upd('f = IF(f = 0.5, 0.25, 0.5)', id, 'f')
      elseif kind == 3 then upd("s = IF(s <=> 'fmhost', 'fmhosT', 'fmhost')", id, 's')
      elseif kind == 4 then
        upd("ts = IF(ts > '1001-01-01', ts - INTERVAL 1 MICROSECOND, ts + INTERVAL 1 MICROSECOND)", id, 'ts')
      elseif kind == 5 then upd('b = 1 - b', id, 'b')
      else -- a row only b holds: missing from the target
        assert(p:exec('INSERT INTO ' .. B_ .. ' SELECT id + ?, i, d, f, s, ts, b FROM ' .. B_ .. ' WHERE id = ?',
                      rows + 1000, id))
        want.missing[#want.missing + 1] = id + rows + 1000
      end
    end
  end
  return want, ids
end

local function restore(p, rows, ids)
  assert(p:exec('DELETE FROM ' .. B_ .. ' WHERE id > ?', rows))
  assert(p:exec('REPLACE INTO ' .. B_ .. ' SELECT * FROM ' .. A .. ' WHERE id IN (' .. table.concat(ids, ',') .. ')'))
end

local function sorted(t)
  table.sort(t, function(x, y) return tostring(x) < tostring(y) end)
  return t
end

-- Before each timed run: read a table a quarter larger than the buffer
-- pool, its pages made young, so that the run starts with neither compared
-- table's pages in it
-- (MariaDB reads with O_DIRECT: what is not in the pool comes from disk).
-- Without it a run profits from the pages the run before it left, which
-- favours whichever order the runs take. The table is made once.
local EVICT = 'bench_vsum_evict'
function M.evict(p, g)
  local pool_bytes = tonumber(p:scalar('SELECT @@innodb_buffer_pool_size'))
  local rows = math.ceil(pool_bytes * 1.25 / 100) -- the seven-column table takes about 116 bytes a row
  ensure_pair(p, g, rows, { EVICT })
  -- InnoDB keeps a scan's pages in the pool's old sublist (scan resistance:
  -- a page moves to the young end only when touched again after
  -- innodb_old_blocks_time ms), so a plain scan of EVICT left about 280 MB
  -- of the compared tables in the pool. With the setting at 0 for the
  -- scan, its pages turn young at once and push every other page out.
  local keep = math.tointeger(tonumber(p:scalar('SELECT @@GLOBAL.innodb_old_blocks_time')))
  assert(p:exec('SET GLOBAL innodb_old_blocks_time = 0'))
  local ok, err = pcall(function() assert(p:scalar('SELECT COUNT(*) FROM ' .. EVICT)) end)
  assert(p:exec('SET GLOBAL innodb_old_blocks_time = ' .. keep))
  if not ok then error(err, 0) end
end

M.ensure_pair, M.inject, M.restore, M.SEED = ensure_pair, inject, restore, SEED

-- One checksum in a child fmhost: its verdict's numbers and its VmHWM.
local CHILD = [[
local V = require 'fmhost.validate'
local p = assert(require('fmhost.pool').open(cfg.mysql, { size = %d, read_timeout_ms = 600000 }))
local b = %s
if b == 'gen' then b = { generator = assert(require('fmhost.gen').load('seven', { seed = %d })), first = 0, count = %d }
else b = { pool = p, table = b } end
local v = assert(V.checksum { a = { pool = p, table = '%s' }, b = b, key = 'id', threads = %d, log = false,
                              progress_s = 0, hash_at = '%s' })
p:close()
local f = io.open('/proc/self/status'); local st = f:read('a'); f:close()
print(require('cjson').encode { ok = v.ok, matched = v.counts.matched, elapsed_s = v.elapsed_s,
                                chunks = v.checksum.chunks, queries = v.checksum.queries, row_hash = v.checksum.row_hash,
                                hash_at = v.checksum.hash_at, hwm_kb = tonumber(st:match('VmHWM:%%s*(%%d+)')) })
]]

-- b: a table name or 'gen' (the generator's rows [0, rows)); hash_at: 'auto' unless given
function M.child_checksum(a, b, rows, threads, hash_at)
  local T = require 'fmhost.testing'
  local src = CHILD:format(2 * threads + 1, b == 'gen' and "'gen'" or ("'" .. b .. "'"), SEED, rows, a, threads,
                           hash_at or 'auto')
  local r = T.run_fmhost({ '-e', src })
  local line = r.stdout:match('(%b{})%s*$')
  if r.code ~= 0 or not line then
    error(('validate_checksum: the checksumming child failed (exit %s): %s%s'):format(tostring(r.code), r.stdout,
                                                                                      r.stderr))
  end
  local out = require('cjson').decode(line)
  if not out.ok or out.matched ~= rows then
    error(('validate_checksum: %s and %s did not verify equal (%s of %d rows)'):format(a, b, out.matched, rows))
  end
  return out
end

function M.run(cfg, B)
  local rows = 4 * (math.tointeger(stack.get(cfg, 'bench.rows')))
  local runs = math.max(3, math.tointeger(stack.get(cfg, 'bench.runs')))
  local threads = math.tointeger(stack.get(cfg, 'bench.checksum_threads', 8)) or 8
  local big = math.tointeger(stack.get(cfg, 'bench.checksum_big_rows'))
  local g = assert(gen.load('seven', { seed = SEED }))
  local p = assert(pool.open(cfg.mysql or {}, { size = 2 * threads + 1, read_timeout_ms = 600000 }))
  ensure_pair(p, g, rows)

  local client = { '-e', ('CHECKSUM TABLE %s; CHECKSUM TABLE %s'):format(A, B_) }

  local ft, bt, pt, ct, hwm, last = {}, {}, {}, {}, {}, nil
  for i = 1, runs do
    M.evict(p, g)
    local out = M.child_checksum(A, B_, rows, threads)
    ft[i] = out.elapsed_s
    hwm[i] = out.hwm_kb / 1024
    last = out
    M.evict(p, g)
    bt[i] = B.time_client(cfg, client)
    M.evict(p, g)
    pt[i] = M.child_checksum(A, B_, rows, threads, 'server').elapsed_s
    M.evict(p, g)
    ct[i] = M.child_checksum(A, B_, rows, threads, 'client').elapsed_s
  end

  -- 100 differences: found exactly?
  local opts = { a = { pool = p, table = A }, b = { pool = p, table = B_ }, key = 'id', log = false,
                 threads = threads, progress_s = 0 }
  local k = 100
  local want, ids = inject(p, rows, k)
  opts.max_samples = 200
  local t0 = proc.now_ms()
  local v = assert(V.checksum(opts))
  local diff_s = (proc.now_ms() - t0) / 1000
  local got = { missing = sorted(v.missing), extra = sorted(v.extra), fields = {} }
  for _, m in ipairs(v.mismatches) do got.fields[#got.fields + 1] = m.key .. ':' .. m.column end
  sorted(got.fields)
  sorted(want.missing)
  sorted(want.extra)
  sorted(want.fields)
  local exact = require('cjson').encode(got) == require('cjson').encode(want)
  local found = #got.missing + #got.extra + #got.fields
  restore(p, rows, ids)
  local after = assert(V.checksum(opts))
  if not after.ok then error('validate_checksum: b was not restored:\n' .. V.format(after)) end

  -- the big size point (once)
  local bigr
  if big > 0 and big ~= rows then
    local ba, bb = 'bench_vsum_big_a', 'bench_vsum_big_b'
    ensure_pair(p, g, big, { ba, bb })
    local out = M.child_checksum(ba, bb, big, threads)
    bigr = { rows = big, rows_per_s = 2 * big / out.elapsed_s, wall_s = out.elapsed_s, peak_rss_mb = out.hwm_kb / 1024 }
  end
  p:close()

  local f_med, b_med = B.median(ft), B.median(bt)
  local rss = math.max(table.unpack(hwm))
  local r = {
    name = M.name,
    rows = rows,
    threads = threads,
    fmhost = { rows_per_s = 2 * rows / f_med, wall_s = f_med, chunks = last.chunks, peak_rss_mb = rss,
               queries = last.queries, row_hash = last.row_hash, hash_at = last.hash_at },
    push_down = { what = "hash_at = 'server': each server computes the SQL row hash, only sums cross",
                  rows_per_s = 2 * rows / B.median(pt), wall_s = B.median(pt),
                  ratio = b_med / B.median(pt) },
    read_here = { what = "hash_at = 'client': rows read over the binary protocol and hashed in fmhost",
                  rows_per_s = 2 * rows / B.median(ct), wall_s = B.median(ct), ratio = b_med / B.median(ct) },
    big = bigr,
    baseline = { what = 'CHECKSUM TABLE a; CHECKSUM TABLE b (stock mariadb client, TCP)',
                 rows_per_s = 2 * rows / b_med, wall_s = b_med },
    injected = { differences = k, found = found, exact = exact, wall_s = diff_s,
                 chunks_differing = v.checksum.differing, rows_streamed = v.checksum.rows_streamed,
                 counts = v.counts },
    targets = { ratio = 1.0, found = k, rss_growth = 0.10 },
    runs = { fmhost_s = ft, baseline_s = bt, push_down_s = pt, read_here_s = ct, peak_rss_mb = hwm },
  }
  r.ratio = r.fmhost.rows_per_s / r.baseline.rows_per_s
  r.rss_growth = bigr and (bigr.peak_rss_mb / rss - 1) or nil
  r.met = r.ratio >= 1.0 and exact and (not bigr or r.rss_growth <= 0.10)
  if not exact then
    r.injected.want = want
    r.injected.got = got
  end
  return r
end

return M
