-- acquire: acquire + a trivial query + release on a warm pool, against the
-- same query on one connection held throughout. Both loops run in Lua, so
-- the ratio is the pool's own cost per operation.
local PB = require 'fmhost.pool_bench'

local M = { name = 'acquire', needs = { 'mariadb' },
            about = 'acquire + SELECT 1 + release on a warm pool vs SELECT 1 on one held connection' }

function M.run(cfg, B)
  local s = PB.settings(cfg)
  local n = s.acquire_ops
  local p = PB.open(cfg, { size = 2 })
  for _ = 1, 100 do -- warm: the connection exists and has been used
    local c = assert(p:acquire())
    assert(c:scalar('SELECT 1') == 1)
    c:release()
  end
  local held = assert(p:acquire())
  local f_med, b_med, ft, bt = PB.alternate(B, s.runs, function()
    return PB.time(function()
      for _ = 1, n do
        local c = assert(p:acquire())
        c:scalar('SELECT 1')
        c:release()
      end
    end)
  end, function()
    return PB.time(function()
      for _ = 1, n do held:scalar('SELECT 1') end
    end)
  end)
  held:release()
  local st = p:stats()
  p:close()
  return PB.result(M.name, n, f_med, b_med, 'SELECT 1 on one held connection', B,
                   { runs = { fmhost_s = ft, baseline_s = bt },
                     pool = { acquires = st.acquires, created = st.created, acquire_ms_p99 = st.acquire_ms_p99 } })
end

return M
