-- validate_checksum_diff: fmhost.validate's checksum mode on the two tables
-- of validate_checksum (4 x bench.rows rows) with 100 scattered differences
-- injected into b (rows drawn from the seed), timed against the same call on
-- the identical tables, both in this run, medians of bench.runs runs taken
-- in turn. The verdict must name exactly the 100 differences and nothing
-- else. Targets: all 100 found, nothing else; time <= 1.5 x the identical case.
local gen = require 'fmhost.gen'
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'
local V = require 'fmhost.validate'
local VC = require 'fmhost.bench.validate_checksum'

local M = { name = 'validate_checksum_diff', needs = { 'mariadb' },
            about = 'fmhost.validate checksum mode: 100 scattered differences in 4M rows vs the identical case' }

local function sorted(t)
  table.sort(t, function(x, y) return tostring(x) < tostring(y) end)
  return t
end

function M.run(cfg, B)
  local rows = 4 * (math.tointeger(stack.get(cfg, 'bench.rows', 1000000)) or 1000000)
  local runs = math.max(3, math.tointeger(stack.get(cfg, 'bench.runs', 3)) or 3)
  local threads = math.tointeger(stack.get(cfg, 'bench.checksum_threads', 8)) or 8
  local g = assert(gen.load('seven', { seed = VC.SEED }))
  local p = assert(pool.open(cfg.mysql or {}, { size = 2 * threads + 1, read_timeout_ms = 600000 }))
  VC.ensure_pair(p, g, rows)
  local opts = { a = { pool = p, table = VC.A }, b = { pool = p, table = VC.B }, key = 'id', log = false,
                 threads = threads, progress_s = 0, max_samples = 200 }
  local function timed()
    VC.evict(p, g) -- each run starts cold
    local t0 = proc.now_ms()
    local v = assert(V.checksum(opts))
    return v, (proc.now_ms() - t0) / 1000
  end
  local same_s, diff_s, exact, last = {}, {}, true, nil
  local k = 100
  for i = 1, runs do
    local v0, s0 = timed()
    if not v0.ok then error('validate_checksum_diff: the tables differ before any injection:\n' .. V.format(v0)) end
    same_s[i] = s0
    local want, ids = VC.inject(p, rows, k)
    local v, s = timed()
    diff_s[i] = s
    local got = { missing = sorted(v.missing), extra = sorted(v.extra), fields = {} }
    for _, m in ipairs(v.mismatches) do got.fields[#got.fields + 1] = m.key .. ':' .. m.column end
    sorted(got.fields); sorted(want.missing); sorted(want.extra); sorted(want.fields)
    exact = exact and require('cjson').encode(got) == require('cjson').encode(want)
    last = v
    VC.restore(p, rows, ids)
  end
  p:close()
  local sm, dm = B.median(same_s), B.median(diff_s)
  local r = {
    name = M.name, rows = rows, threads = threads,
    fmhost = { wall_s = dm, rows_per_s = 2 * rows / dm, differences = k, exact = exact,
               chunks_differing = last.checksum.differing, rows_streamed = last.checksum.rows_streamed,
               queries = last.checksum.queries },
    baseline = { what = 'the same checksum call on the identical tables', wall_s = sm, rows_per_s = 2 * rows / sm },
    targets = { time_ratio = 1.5 },
    runs = { diff_s = diff_s, identical_s = same_s },
  }
  r.time_ratio = dm / sm
  r.ratio = sm / dm
  r.met = exact and r.time_ratio <= 1.5
  return r
end

return M
