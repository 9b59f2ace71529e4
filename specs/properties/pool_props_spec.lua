-- Seed properties 1, 5, 15 and 19 against the private MariaDB #mysql
--
-- Generated pool configurations and workloads; each case opens its own pool
-- and checks the real outcome: the session MariaDB reports, the pool's
-- counters against a model of the workload, rows in a table, and the JSON
-- lines the pool logs. A failure names its seed; the seed replays it.
local check = require 'fmhost.check'
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local log = require 'fmhost.log'
local cjson = require 'cjson'
local g = check.gen

local function mysql_cfg()
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  return (_G.cfg or {}).mysql or {}
end

local function open(over) return assert(pool.open(mysql_cfg(), over)) end

local function balanced(s, where)
  assert(s.total == s.active + s.idle + s.opening, where .. ': total ~= active + idle + opening')
  assert(s.total - s.opening == s.created - s.destroyed, where .. ': open connections ~= created - destroyed')
  assert(s.total <= s.size, where .. ': total > size')
end

-- Server thread ids still connected, among ids. The server ends a session
-- shortly after the client quits: wait up to 10 s for it.
local function still_connected(ids)
  if #ids == 0 then return 0 end
  local q = open { size = 1 }
  local sql = 'SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN (' .. table.concat(ids, ',') .. ')'
  local n
  for _ = 1, 500 do
    n = q:scalar(sql)
    if n == 0 then break end
    require('fmhost.retry').sleep(20)
  end
  q:close()
  return n
end

describe('pool properties #mysql', function()
  it('Feature: flink-mysql-connector-test, Property 1: any valid configuration establishes a working connection', function()
    local socket = stack.service('mariadb').settings(_G.cfg or {}).socket
    local EXPECT_CHARSET = { utf8mb4 = 'utf8mb4', utf8 = 'utf8mb3', latin1 = 'latin1' }
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 1: connection establishment reliability',
      gen = g.record {
        size = g.int(1, 6),
        min_idle = g.int(0, 6),
        charset = g.elements { 'utf8mb4', 'utf8', 'latin1' },
        time_zone = g.elements { '+00:00', '-05:30', '+09:00', '+13:00', '-12:00' },
        sql_mode = g.elements { '', 'STRICT_TRANS_TABLES', 'STRICT_ALL_TABLES,NO_ZERO_DATE', 'ANSI_QUOTES' },
        via_socket = g.bool(),
        lazy = g.bool(),
        validate_after_ms = g.int(-1, 1000),
        prepare_all = g.bool(),
      },
      fn = function(v)
        local o = { size = v.size, min_idle = math.min(v.min_idle, v.size), charset = v.charset,
                    time_zone = v.time_zone, sql_mode = v.sql_mode, lazy = v.lazy,
                    validate_after_ms = v.validate_after_ms, prepare_all = v.prepare_all,
                    housekeeping_ms = 20 }
        if v.via_socket then o.host = 'localhost'; o.socket = socket end
        local p, msg = pool.open(mysql_cfg(), o)
        assert(p, msg)
        local c = assert(p:acquire())
        local r = assert(c:row('SELECT @@character_set_client AS cs, @@time_zone AS tz, @@sql_mode AS mode, 1 + ? AS two', 1))
        local info = c:info()
        c:release()
        local s = p:stats()
        p:close()
        assert(r.two == 2, 'query answered')
        assert(r.cs == EXPECT_CHARSET[v.charset], 'charset ' .. tostring(r.cs))
        assert(r.tz == v.time_zone, 'time_zone ' .. tostring(r.tz))
        assert(r.mode == v.sql_mode, 'sql_mode ' .. tostring(r.mode))
        if v.via_socket then assert(info.host_info:find('socket'), info.host_info)
        else assert(info.host_info:find('TCP'), info.host_info) end
        balanced(s, 'after one acquire')
      end,
    }
  end)

  it('Feature: flink-mysql-connector-test, Property 5: a pool never exceeds its size and every connection comes back', function()
    -- ops: 1 acquire, 2 release one, 3 query on one, 4 break one (the server kills it)
    local op = g.tuple(g.int(1, 4), g.int(1, 8))
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 5: connection pool resource management',
      gen = g.record { size = g.int(1, 5), ops = g.array(op, { max = 40 }) },
      fn = function(v)
        local p = open { size = v.size, acquire_timeout_ms = 20, validate_after_ms = -1 }
        local killer = open { size = 1 }
        local held, ids = {}, {}
        for step, o in ipairs(v.ops) do
          local kind, which = o[1], o[2]
          local where = ('step %d (op %d)'):format(step, kind)
          if kind == 1 then
            local c, msg = p:acquire()
            if #held < v.size then
              assert(c, where .. ': acquire failed below size: ' .. tostring(msg))
              held[#held + 1] = c
              ids[#ids + 1] = c:info().thread_id
            else
              assert(not c, where .. ': acquire succeeded at size')
              assert(msg:find('^pool exhausted after 20 ms'), msg)
            end
          elseif #held > 0 then
            local k = (which - 1) % #held + 1
            local c = held[k]
            if kind == 2 then
              c:release()
              table.remove(held, k)
            elseif kind == 3 then
              local x = c:scalar('SELECT ?', step)
              assert(x == step or c:info().broken, where .. ': query on a held connection')
            elseif not c:info().broken then
              assert(killer:exec('KILL ' .. c:info().thread_id))
              local x, _, info = c:scalar('SELECT 1')
              assert(x == nil and info.retryable, where .. ': a killed connection answered')
            end
          end
          local s = p:stats()
          balanced(s, where)
          assert(s.active == #held, where .. ': active ' .. s.active .. ' held ' .. #held)
          assert(s.peak_active <= v.size, where .. ': peak above size')
        end
        for _, c in ipairs(held) do c:release() end
        local s = p:stats()
        balanced(s, 'end')
        assert(s.active == 0 and s.idle == s.total, 'everything came back')
        assert(s.acquires == s.releases, 'acquires == releases')
        -- reuse: never more connections than the most held at once, plus replacements of broken ones
        assert(s.created <= math.max(1, s.peak_active) + s.broken, 'connections reused')
        p:close()
        killer:close()
        assert(still_connected(ids) == 0, 'a closed pool left sessions on the server')
      end,
    }
  end)

  it('Feature: flink-mysql-connector-test, Property 5: concurrent C threads never exceed size #slow', function()
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 5: pool size under concurrency',
      gen = g.record { size = g.int(1, 6), threads = g.int(1, 12), acquires = g.int(1, 60),
                       hold_us_max = g.int(0, 3000), query = g.bool(), seed = g.int(1, 1 << 30) },
      fn = function(v)
        local p = open { size = v.size, acquire_timeout_ms = 60000 }
        local r = assert(p:stress { threads = v.threads, acquires = v.acquires, hold_us_max = v.hold_us_max,
                                    query = v.query, seed = v.seed })
        local s = p:stats()
        p:close()
        assert(r.max_in_use <= v.size, 'threads held ' .. r.max_in_use .. ' at once')
        assert(s.peak_active <= v.size, 'pool counted ' .. s.peak_active .. ' active')
        assert(r.acquired == v.threads * v.acquires and r.errors == 0, tostring(r.first_error))
        balanced(s, 'after stress')
        assert(s.active == 0 and s.waiting == 0, 'everything came back')
      end,
    }
  end)

  it('Feature: flink-mysql-connector-test, Property 15: every transaction batch is applied all or nothing', function()
    -- a batch: rows to insert, and how it fails (none, duplicate key, NULL into NOT NULL, raise, return nil)
    local batch = g.record { n = g.int(1, 50), fail = g.elements { 'none', 'none', 'dup', 'null', 'raise', 'nil' },
                             at = g.int(1, 50) }
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 15: transaction boundary management',
      gen = g.array(batch, { min = 1, max = 8 }),
      fn = function(batches)
        local p = open { size = 2 }
        p:exec('DROP TABLE IF EXISTS pool_prop15')
        assert(p:exec('CREATE TABLE pool_prop15 (id INT PRIMARY KEY, batch INT NOT NULL, v VARCHAR(20) NOT NULL)'))
        local expect, next_id = {}, 1
        for b, spec in ipairs(batches) do
          local first = next_id
          next_id = next_id + spec.n
          local at = (spec.at - 1) % spec.n + 1
          local ok, res = pcall(p.transaction, p, function(c)
            for k = 1, spec.n do
              local id, val = first + k - 1, 'b' .. b
              if k == at and spec.fail == 'dup' then id = first end
              if k == at and spec.fail == 'null' then val = pool.NULL end
              if k == at and spec.fail == 'raise' then error('raised in batch ' .. b) end
              if k == at and spec.fail == 'nil' then return nil, 'gave up in batch ' .. b end
              local n, msg, info = c:exec('INSERT INTO pool_prop15 VALUES (?, ?, ?)', id, b, val)
              if not n then return nil, msg, info end
            end
            return true
          end)
          local applied = ok and res == true
          -- a duplicate of the batch's own first row clashes only from the second row on
          local should = spec.fail == 'none' or (spec.fail == 'dup' and at == 1)
          assert(applied == should, ('batch %d (%s at %d): applied %s'):format(b, spec.fail, at, tostring(applied)))
          if applied then
            for k = 1, spec.n do expect[first + k - 1] = b end
          end
        end
        local got = {}
        for _, r in ipairs(assert(p:query('SELECT id, batch FROM pool_prop15'))) do got[r.id] = r.batch end
        local s = p:stats()
        p:exec('DROP TABLE pool_prop15')
        p:close()
        for id, b in pairs(expect) do assert(got[id] == b, ('row %d of batch %d missing'):format(id, b)) end
        for id, b in pairs(got) do assert(expect[id] == b, ('row %d of failed batch %d present'):format(id, b)) end
        assert(s.active == 0, 'connection came back')
      end,
    }
  end)

  it('Feature: flink-mysql-connector-test, Property 19: every pool state change is logged with active and idle counts', function()
    local op = g.int(1, 4) -- 1 acquire, 2 release oldest, 3 release newest, 4 acquire that must time out if full
    local seq = 0
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 19: connection pool status logging',
      gen = g.record { size = g.int(1, 4), lazy = g.bool(), ops = g.array(op, { max = 30 }) },
      fn = function(v)
        seq = seq + 1
        local name = 'prop19-' .. seq
        local path = os.tmpname()
        local old = log.level()
        assert(log.configure { level = 'debug', file = path, stderr = false })
        -- the model: what the pool must log, in order
        local want, active, idle = {}, 0, v.lazy and 0 or 1
        local function expect(change) want[#want + 1] = ('%s %d/%d'):format(change, active, idle) end
        local ok, err = pcall(function()
          local p = open { name = name, size = v.size, lazy = v.lazy, acquire_timeout_ms = 10,
                           validate_after_ms = -1 }
          expect('open')
          local held = {}
          for _, o in ipairs(v.ops) do
            if o == 1 or o == 4 then
              local c = p:acquire()
              if active + idle < v.size or idle > 0 then
                if idle > 0 then idle = idle - 1; active = active + 1
                else active = active + 1; expect('connect') end
                expect('acquire')
                held[#held + 1] = assert(c)
              else
                assert(not c)
                expect('wait')
                expect('timeout')
              end
            elseif #held > 0 then
              local c = table.remove(held, o == 2 and 1 or #held)
              c:release()
              active = active - 1; idle = idle + 1
              expect('release')
            end
          end
          for _, c in ipairs(held) do
            c:release()
            active = active - 1; idle = idle + 1
            expect('release')
          end
          p:close()
          idle = 0
          expect('close')
        end)
        assert(log.configure { level = old, stderr = true, file = '' })
        local got = {}
        for line in io.lines(path) do
          local e = cjson.decode(line)
          if e.event == 'pool.state' and e.pool == name then
            for _, k in ipairs { 'active', 'idle', 'total', 'waiting', 'size' } do
              assert(type(e[k]) == 'number', 'field ' .. k .. ' missing: ' .. line)
            end
            -- 'wait' is logged while the waiter is queued: its own count is in waiting
            got[#got + 1] = ('%s %d/%d'):format(e.change, e.active, e.idle)
          end
        end
        os.remove(path)
        assert(ok, err)
        assert(#got == #want, ('%d lines logged, %d state changes: %s'):format(#got, #want, table.concat(got, ', ')))
        for i = 1, #want do assert(got[i] == want[i], ('line %d: want %s, got %s'):format(i, want[i], got[i])) end
      end,
    }
  end)
end)
