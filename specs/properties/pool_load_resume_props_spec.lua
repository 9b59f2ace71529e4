-- Seed property 15 for bulk loads: a pool:load whose MariaDB is SIGKILLed
-- at a generated point, restarted and resumed ends with every key of the
-- generator exactly once, value by value #mysql #slow
--
-- A child fmhost runs the first attempt through fmhost.proxy, throttled so
-- that the load lasts seconds on any machine; this process watches the rows
-- arrive (READ UNCOMMITTED) and kills the server once the generated share
-- is in. With fault 'lost_answers' the proxy first swallows every answer
-- from the server for a generated time (and stops throttling), so the
-- statements on their way commit while they look failed to the loader (the
-- commit answer was lost). Then
-- the server is restarted and the load resumed: with the journal
-- (resume=true, on a table with no unique key, so that a range loaded twice
-- would show as duplicated keys) or with from=<the failure's info> (on a
-- table with a primary key, which re-loads the uncertain ranges with
-- duplicates skipped and counted). fmhost.validate.compare checks the
-- table against the generator: no key missing, none extra or doubled, every
-- value equal.
local check = require 'fmhost.check'
local pool = require 'fmhost.pool'
local gen = require 'fmhost.gen'
local V = require 'fmhost.validate'
local proxy = require 'fmhost.proxy'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'
local cjson = require 'cjson'
local T = require 'fmhost.testing'
local g = check.gen

local SEED = check.resolve_seed()
print(('pool_load_resume_props: seed %d (FMHOST_SEED=%d replays it)'):format(SEED, SEED))

local TABLE, JOURNAL = 'pool_resume_prop', 'pool_resume_prop_journal'

-- The first attempt, in a child fmhost: prints one line LOADRESULT <json>.
local CHILD = [[
  local cjson = require 'cjson'
  local a = cjson.decode(os.getenv('FMH_LOAD_ARGS'))
  local cfg = cjson.decode(os.getenv('FMH_LOAD_CFG'))
  local src = assert(require('fmhost.gen').load('seven', { seed = a.gen_seed }))
  local p = assert(require('fmhost.pool').open(cfg.mysql or {}, { host = '127.0.0.1', port = a.port, socket = '',
    size = a.threads, connect_timeout_ms = 3000, read_timeout_ms = 60000, write_timeout_ms = 60000 }))
  local r, msg, info = p:load { table = a.table, source = src, rows = a.rows, threads = a.threads,
    method = a.method, chunk_rows = a.chunk_rows, batch_rows = a.batch_rows, resume = a.resume,
    journal = a.journal, load_id = a.load_id }
  print('LOADRESULT ' .. cjson.encode { ok = r ~= nil, msg = msg, info = info or r })
  p:close()
]]

local function mysql_cfg()
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  return (_G.cfg or {}).mysql or {}
end

local function scalar(p, sql)
  local v, msg = p:scalar(sql)
  assert(v ~= nil, msg)
  return tonumber(v)
end

local function total(ranges)
  local n = 0
  for _, r in ipairs(ranges) do n = n + r[2] end
  return n
end

describe('pool:load across a server crash #mysql #slow', function()
  it('Feature: flink-mysql-connector-test, Property 15: a bulk load killed at any point resumes to every key exactly once', function()
    local cfg = _G.cfg or {}
    local mariadb = stack.service('mariadb')
    local seq, stats = 0, { struck = 0, uncertain = 0, dup_reloaded = 0, resumed_rows = 0 }
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 15: transaction boundary management '
        .. '(a killed bulk load resumes to every key exactly once)',
      seed = SEED,
      runs = 6,
      shrink_time_s = 30,
      gen = g.record {
        method = g.elements { 'infile', 'insert' },
        resume = g.elements { 'journal', 'from' },
        fault = g.elements { 'kill', 'lost_answers' },
        rows = g.int(6000, 12000),
        threads = g.int(1, 3),
        chunk_rows = g.elements { 0, 700, 1500, 4000 },
        batch_rows = g.int(100, 2000),
        kill_at = g.int(5, 60),          -- percent of the rows in (committed or not)
        lost_ms = g.int(100, 1500),      -- how long answers are swallowed before the kill
        gen_seed = g.int(1, 1000000),
      },
      fn = function(v)
        seq = seq + 1
        local m = mysql_cfg()
        local src = assert(gen.load('seven', { seed = v.gen_seed }))
        local load_id = ('prop15-%d-%d'):format(SEED, seq)
        local journal = v.resume == 'journal'
        do
          local q <close> = assert(pool.open(m, { size = 1 }))
          q:exec('DROP TABLE IF EXISTS ' .. TABLE)
          local ddl = src:create_table_sql(TABLE)
          -- no unique key under the journal: only the loader keeps a key from loading twice
          if journal then ddl = ddl:gsub('PRIMARY KEY', 'KEY') end
          assert(q:exec(ddl))
          q:exec('DROP TABLE IF EXISTS ' .. JOURNAL)
        end

        -- 1. the first attempt, throttled through the proxy, killed at the generated point
        local prx = assert(proxy.new { upstream_host = m.host or '127.0.0.1', upstream_port = m.port or 13306 })
        -- about 125 bytes a row: the load lasts 1 s or more whatever the machine (the watcher
        -- below polls every 5 ms, so even the 5 % point is met ten polls in, and the latest,
        -- 60 %, leaves 400 ms for the kill)
        prx:toxic('bandwidth', { rate = math.max(16, (v.rows * 125 // 1024) // v.threads), direction = 'up' })
        local out = os.tmpname()
        local args = { port = prx:port(), table = TABLE, rows = v.rows, threads = v.threads, method = v.method,
                       chunk_rows = v.chunk_rows, batch_rows = v.batch_rows, resume = journal,
                       journal = JOURNAL, load_id = load_id, gen_seed = v.gen_seed }
        local child = assert(proc.spawn { T.exe(), '-e', CHILD, stdout = out, merge_stderr = true,
                                          env = { FMH_LOAD_ARGS = cjson.encode(args), FMH_LOAD_CFG = cjson.encode(cfg) } })
        local killed, down = false, false
        local ok, err = pcall(function()
          local watch <close> = assert(pool.open(m, { size = 1, init_sql =
            'SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED' }))
          local target = v.rows * v.kill_at // 100
          while child:alive() do
            if scalar(watch, 'SELECT COUNT(*) FROM ' .. TABLE) >= target then break end
            proc.sleep(5)
          end
          assert(child:alive(), 'the load ended before the kill point')
          if v.fault == 'lost_answers' then
            prx:toxic('blackhole', { direction = 'down' })
            prx:remove('bandwidth', 'up') -- the statements on their way complete, unanswered
            proc.sleep(v.lost_ms)
          end
        end)
        if ok then
          local done, e2 = mariadb.kill(cfg, 'KILL')
          killed, down = done, done
          if not done then ok, err = false, e2 end
        end
        -- the connections go the way the server went (a blackhole would hold them open)
        prx:close()
        local exited, code = child:wait(120000)
        if not exited then child:kill_tree('KILL') end
        local log = io.open(out):read('a')
        os.remove(out)
        if down then assert(mariadb.start(cfg)) end
        assert(ok, tostring(err) .. '\nthe first attempt said: ' .. log)
        assert(killed and exited, 'the first attempt did not end after the kill: ' .. log)
        assert(code == 0, 'the first attempt exited with ' .. tostring(code) .. ': ' .. log)
        local first = cjson.decode((assert(log:match('LOADRESULT (%b{})'), 'no result from the first attempt: ' .. log)))
        assert(not first.ok, 'the kill struck after the load had completed: ' .. log)
        stats.struck = stats.struck + 1
        local info = first.info
        assert(info.committed and info.uncertain, 'the failure says what is committed: ' .. tostring(first.msg))
        assert(first.msg:find(('committed %d of %d rows'):format(info.rows_committed, v.rows), 1, true), first.msg)
        if #info.uncertain > 0 then stats.uncertain = stats.uncertain + 1 end

        local p <close> = assert(pool.open(m, { size = v.threads, read_timeout_ms = 120000 }))
        -- 2. what survived the crash: every committed range, nothing beyond the uncertain ones
        local have = scalar(p, 'SELECT COUNT(*) FROM ' .. TABLE)
        assert(have >= info.rows_committed and have <= info.rows_committed + total(info.uncertain),
               ('after the crash the table holds %d rows; the failure said %d committed, %d uncertain')
                 :format(have, info.rows_committed, total(info.uncertain)))
        for _, r in ipairs(info.committed) do
          local n = scalar(p, ('SELECT COUNT(*) FROM %s WHERE id BETWEEN %d AND %d'):format(TABLE, r[1] + 1, r[1] + r[2]))
          assert(n == r[2], ('committed rows %d..%d: %d of them in the table'):format(r[1], r[1] + r[2] - 1, n))
        end
        if journal then
          assert(have == scalar(p, 'SELECT COALESCE(SUM(inserted), 0) FROM ' .. JOURNAL),
                 'the journal counts exactly the rows that survived')
        end

        -- 3. the resume loads exactly the rest
        local opts = { table = TABLE, source = src, rows = v.rows, threads = v.threads, method = v.method,
                       chunk_rows = v.chunk_rows, batch_rows = v.batch_rows, journal = JOURNAL, load_id = load_id }
        if journal then opts.resume = true else opts.from = info end
        local r = assert(p:load(opts))
        assert(r.rows_committed == v.rows and #r.committed == 1 and #r.uncertain == 0, cjson.encode(r))
        assert(r.rows_resumed + r.rows + r.duplicates == v.rows,
               ('resumed %d + loaded %d + duplicates %d ~= %d'):format(r.rows_resumed, r.rows, r.duplicates, v.rows))
        if journal then
          assert(r.rows_resumed == have and r.duplicates == 0, cjson.encode(r))
          assert(scalar(p, 'SELECT COUNT(*) FROM ' .. JOURNAL) == 0, 'a completed load leaves no journal rows')
        else
          assert(r.rows_resumed == info.rows_committed, cjson.encode(r))
          assert(r.duplicates == have - info.rows_committed,
                 ('%d duplicates skipped, but %d uncertain rows had committed'):format(r.duplicates, have - info.rows_committed))
        end
        stats.dup_reloaded = stats.dup_reloaded + r.duplicates
        stats.resumed_rows = stats.resumed_rows + r.rows_resumed

        -- 4. every key exactly once, value by value
        local verdict = assert(V.compare { target = { pool = p, table = TABLE },
                                           expected = { generator = src, count = v.rows },
                                           key = 'id', log = false, label = TABLE })
        assert(verdict.ok and verdict.counts.matched == v.rows and verdict.counts.duplicated == 0, V.format(verdict))
        p:exec('DROP TABLE IF EXISTS ' .. TABLE)
        p:exec('DROP TABLE IF EXISTS ' .. JOURNAL)
      end,
    }
    print(('pool_load_resume_props: %d kills struck mid-load, %d left uncertain ranges, %d rows resumed, '
      .. '%d uncertain rows found committed and skipped'):format(stats.struck, stats.uncertain, stats.resumed_rows,
      stats.dup_reloaded))
  end)
end)
