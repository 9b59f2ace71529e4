-- Seed properties 4 and 13: generated outages of the database and of the
-- network in the middle of a keyed insert workload; the workload retries
-- with exponential backoff and must end with every key exactly once #mysql #slow
--
-- Property 13 puts fmhost.proxy between the pool and MariaDB and switches a
-- toxic on at a generated batch for a generated time. Property 4 makes the
-- private mariadbd unavailable (SIGKILL, SIGTERM, or SIGSTOP: a hang) and
-- brings it back after a generated time. Each batch is one transaction and
-- first checks whether it already committed (a lost commit answer), so a
-- retried batch can neither double nor drop keys.
--
-- Both run the full floor of check.runs cases (100), each a real outage, so
-- the outages are short (network faults up to 0.6 s behind 0.5 s client
-- timeouts; database outages of 50 ms to 1 s, backoff capped at 0.4 s):
-- a case of property 4 then costs little more than the mariadbd restart.
local check = require 'fmhost.check'
local pool = require 'fmhost.pool'
local retry = require 'fmhost.retry'
local proxy = require 'fmhost.proxy'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'
local g = check.gen

local function mysql_cfg()
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  return (_G.cfg or {}).mysql or {}
end

-- The keyed workload: batches of `batch` keys out of `keys`, each retried by
-- policy; before each attempt `tick()` may end the outage.
local function workload(p, tbl, keys, batch, policy, at_batch, start_fault, tick)
  local nb = (keys + batch - 1) // batch
  at_batch = math.min(at_batch, nb) -- the fault always strikes, even in a short workload
  local retried, most = 0, {}
  for b = 1, nb do
    if b == at_batch then start_fault() end
    local lo, hi = (b - 1) * batch + 1, math.min(b * batch, keys)
    local r, msg = policy:run(function()
      tick()
      return p:transaction(function(c)
        local have, m, i = c:scalar('SELECT COUNT(*) FROM ' .. tbl .. ' WHERE id BETWEEN ? AND ?', lo, hi)
        if not have then return nil, m, i end
        if have == hi - lo + 1 then return 'already there' end
        if have ~= 0 then return nil, 'half a batch committed', { retryable = false } end
        for id = lo, hi do
          local n, em, ei = c:exec('INSERT INTO ' .. tbl .. ' VALUES (?, ?)', id, b)
          if not n then return nil, em, ei end
        end
        return 'inserted'
      end)
    end)
    assert(r, ('batch %d: %s'):format(b, tostring(msg)))
    local o = policy:last()
    if o.attempts > 1 then retried = retried + 1 end
    if #o.delays > #most then most = o.delays end
  end
  return retried, most
end

local function assert_keys(q, tbl, keys, batch)
  local agg = assert(q:row('SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d, MIN(id) AS lo, MAX(id) AS hi, '
    .. 'SUM(batch <> (id - 1) DIV ' .. batch .. ' + 1) AS wrong FROM ' .. tbl))
  assert(agg.n == keys and agg.d == keys and agg.lo == 1 and agg.hi == keys and tonumber(agg.wrong) == 0,
         ('keys: %d rows, %d distinct, %s..%s, %s in the wrong batch; want %d'):format(agg.n, agg.d,
           tostring(agg.lo), tostring(agg.hi), tostring(agg.wrong), keys))
end

local function exponential(delays, policy)
  for k = 1, #delays do
    local want = math.min(policy.cap_ms, policy.base_ms * policy.factor ^ (k - 1)) -- jitter 0
    if math.abs(delays[k] - want) > 1e-6 then return false end
  end
  return true
end

describe('outage properties #mysql #slow', function()
  it('Feature: flink-mysql-connector-test, Property 13: the workload recovers from any network interruption', function()
    local seq = 0
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 13: network interruption recovery',
      gen = g.record {
        keys = g.int(20, 300), batch = g.int(1, 40), at_batch = g.int(1, 6),
        fault = g.elements { 'down', 'down_reset', 'reset_peer', 'reset_after', 'blackhole', 'timeout' },
        duration_ms = g.int(0, 600), after_bytes = g.int(0, 3000),
      },
      fn = function(v)
        seq = seq + 1
        local m = mysql_cfg()
        local direct = assert(pool.open(m, { size = 1 }))
        local tbl = 'pool_prop13'
        direct:exec('DROP TABLE IF EXISTS ' .. tbl)
        assert(direct:exec('CREATE TABLE ' .. tbl .. ' (id INT PRIMARY KEY, batch INT NOT NULL)'))
        local prx = assert(proxy.new { upstream_host = m.host or '127.0.0.1', upstream_port = m.port or 13306 })
        local p = assert(pool.open(m, { host = '127.0.0.1', port = prx:port(), socket = '', size = 2,
                                        validate_after_ms = 0, connect_timeout_ms = 500, read_timeout_ms = 500,
                                        write_timeout_ms = 500, init_sql = 'SET innodb_lock_wait_timeout = 2' }))
        local policy = retry.policy { max_attempts = 200, base_ms = 20, factor = 2, cap_ms = 320,
                                      deadline_ms = 90000, seed = seq }
        local since
        local ok, err = pcall(function()
          local retried = workload(p, tbl, v.keys, v.batch, policy, v.at_batch, function()
            local f = v.fault
            if f == 'down' then prx:toxic('down')
            elseif f == 'down_reset' then prx:toxic('down', { reset = true })
            elseif f == 'reset_peer' then prx:toxic('reset_peer')
            elseif f == 'reset_after' then prx:toxic('reset_peer', { after_bytes = v.after_bytes, direction = 'up' })
            elseif f == 'blackhole' then prx:toxic('blackhole')
            else prx:toxic('timeout', { timeout_ms = math.max(1, v.duration_ms) }) end
            since = proc.now_ms()
          end, function()
            if since and proc.now_ms() - since >= v.duration_ms then
              prx:clear()
              -- the network is back: stale connections a blackhole kept open are reset,
              -- as the far end's kernel would answer them, so the server drops their sessions
              prx:close_connections { reset = true }
              since = nil
            end
          end)
          if since then prx:clear(); prx:close_connections { reset = true } end
          assert_keys(direct, tbl, v.keys, v.batch)
          local s = p:stats()
          assert(s.active == 0 and s.total == s.active + s.idle + s.opening, 'the pool balances')
          return retried
        end)
        p:close()
        prx:close()
        direct:exec('DROP TABLE IF EXISTS ' .. tbl)
        direct:close()
        assert(ok, err)
      end,
    }
  end)

  it('Feature: flink-mysql-connector-test, Property 4: the workload backs off exponentially and recovers when the database returns', function()
    local mariadb = stack.service('mariadb')
    local seq = 0
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 4: database unavailability resilience',
      gen = g.record {
        keys = g.int(20, 200), batch = g.int(5, 40), at_batch = g.int(1, 4),
        outage = g.elements { 'KILL', 'TERM', 'STOP' }, down_ms = g.int(50, 1000),
      },
      fn = function(v)
        seq = seq + 1
        local cfg = _G.cfg or {}
        local m = mysql_cfg()
        local tbl = 'pool_prop4'
        do
          local q = assert(pool.open(m, { size = 1 }))
          q:exec('DROP TABLE IF EXISTS ' .. tbl)
          assert(q:exec('CREATE TABLE ' .. tbl .. ' (id INT PRIMARY KEY, batch INT NOT NULL)'))
          q:close()
        end
        local p = assert(pool.open(m, { size = 2, validate_after_ms = 0, connect_timeout_ms = 1000,
                                        read_timeout_ms = 1000, write_timeout_ms = 1000 }))
        local policy = retry.policy { max_attempts = 200, base_ms = 50, factor = 2, cap_ms = 400,
                                      deadline_ms = 120000, seed = seq }
        local since, pid
        local ok, err = pcall(function()
          local retried, delays = workload(p, tbl, v.keys, v.batch, policy, v.at_batch, function()
            if v.outage == 'TERM' then
              assert(mariadb.stop(cfg)) -- a clean shutdown, waited for
            else
              local done, got = mariadb.kill(cfg, v.outage)
              assert(done, got)
              pid = got
            end
            since = proc.now_ms()
          end, function()
            if since and proc.now_ms() - since >= v.down_ms then
              if v.outage == 'STOP' then assert(proc.signal(pid, 'CONT'))
              else assert(mariadb.start(cfg)) end
              since = nil
            end
          end)
          -- a killed or stopped server makes a batch fail and retry; a SIGSTOPped one
          -- only stalls it: libmariadb reads up to three times its read timeout
          -- (3 s here), longer than the longest pause drawn, so the client may ride
          -- the stall out, and then no retry is the right outcome
          if v.outage ~= 'STOP' then
            assert(retried >= 1 and #delays >= 1, 'the outage made a batch retry')
          end
          if #delays >= 1 then
            assert(exponential(delays, policy), 'delays grow exponentially: ' .. table.concat(delays, ', '))
          end
        end)
        if since then -- never leave the server down or stopped
          if v.outage == 'STOP' then proc.signal(pid, 'CONT') else mariadb.start(cfg) end
        end
        p:close()
        assert(ok, err)
        local q = assert(pool.open(mysql_cfg(), { size = 1 }))
        assert_keys(q, tbl, v.keys, v.batch)
        q:exec('DROP TABLE IF EXISTS ' .. tbl)
        q:close()
      end,
    }
  end)
end)
