-- insert_batch: N rows of the 7-column benchmark table produced in memory
-- and sent as multi-row INSERTs under max_allowed_packet from
-- bench.threads connections, against the stock `mariadb` client replaying
-- a file of 1000-row INSERT statements written beforehand.
local pool = require 'fmhost.pool'
local PB = require 'fmhost.pool_bench'

local M = { name = 'insert_batch', needs = { 'mariadb' },
            about = 'batched multi-row INSERT from memory vs the stock client replaying 1000-row INSERTs' }

local TABLE = 'bench_insert_batch'

function M.run(cfg, B)
  local s = PB.settings(cfg)
  local src = pool.bench_source { seed = s.seed }
  local p = PB.open(cfg, { size = math.max(2, s.threads), read_timeout_ms = 600000 })
  local dir = PB.tmpdir()
  local sql = dir .. '/rows.sql'
  assert(src:write_sql(sql, TABLE, 0, s.rows, 1000))
  local batch_bytes = math.tointeger(require('fmhost.stack').get(cfg, 'bench.batch_bytes'))
  local f_med, b_med, ft, bt = PB.alternate(B, s.runs, function()
    PB.fresh_table(p, TABLE, src)
    local t = PB.time(function()
      assert(p:load { table = TABLE, source = src, rows = s.rows, threads = s.threads, method = 'insert',
                      batch_bytes = batch_bytes })
    end)
    PB.verify(p, TABLE, src, s.rows)
    return t
  end, function()
    PB.fresh_table(p, TABLE, src)
    local t = B.time_client(cfg, {}, { stdin = sql })
    PB.verify(p, TABLE, src, s.rows)
    return t
  end)
  PB.rmdir(dir)
  p:exec('DROP TABLE IF EXISTS ' .. TABLE)
  p:close()
  return PB.result(M.name, s.rows, f_med, b_med, 'stock mariadb client replaying a file of 1000-row INSERTs', B,
                   { runs = { fmhost_s = ft, baseline_s = bt }, threads = s.threads, batch_bytes = batch_bytes })
end

return M
