-- Seed properties 16, 25 and 28 against the private MariaDB #mysql
--
-- Each case runs child fmhost processes, as a user's scenarios run, and
-- checks what they leave behind on the real server:
--   16  every load that ran writes one `pool.load` log line whose counts and
--       timing are the load's own and whose status is the outcome;
--   25  however a script ends (returning, raising, os.exit, SIGKILL), the
--       server keeps none of its sessions, locks or uncommitted rows;
--   28  several processes loading disjoint ranges into one table at once, each
--       with several threads over its own pool, end with every row exactly
--       once, value by value.
-- A failure names its seed; the seed replays it.
local check = require 'fmhost.check'
local pool = require 'fmhost.pool'
local gen = require 'fmhost.gen'
local V = require 'fmhost.validate'
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'
local cjson = require 'cjson'
local T = require 'fmhost.testing'
local g = check.gen

local function mysql_cfg()
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  return (_G.cfg or {}).mysql or {}
end

-- A child fmhost running src with FMH_ARGS = cjson(args); stdout into a file.
local function spawn(dir, name, src, args)
  local argv = T.argv { '-e', src }
  argv.env = { FMH_ARGS = cjson.encode(args) }
  argv.stdout = dir .. '/' .. name .. '.out'
  argv.stderr = dir .. '/' .. name .. '.err'
  return assert(proc.spawn(argv)), argv.stdout, argv.stderr
end

local function wait(p, what)
  local exited, code, sig = p:wait(120000)
  if not exited then
    p:kill_tree()
    error(what .. ': still running after 120 s', 0)
  end
  return code, sig
end

-- the one line of out that starts with tag, decoded
local function tagged(path, tag)
  local text = T.read_file(path) or ''
  local line = text:match(tag .. ' (%b{})')
  return line and cjson.decode(line), text
end

local TS = '^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$'

local LOAD_CHILD = [[
  local cjson = require 'cjson'
  local a = cjson.decode(os.getenv('FMH_ARGS'))
  assert(require('fmhost.log').configure { level = 'info', stderr = false, file = a.log })
  local src = assert(require('fmhost.gen').load('seven', { seed = a.seed }))
  local p = assert(require('fmhost.pool').open(cfg.mysql, { size = a.size, name = a.name }))
  local r, msg = p:load { table = a.table, source = src, first = a.first, rows = a.rows, threads = a.threads,
                          method = a.method, batch_rows = a.batch_rows, chunk_rows = a.chunk_rows }
  p:close()
  print('RESULT ' .. cjson.encode { ok = r ~= nil, r = r or {}, msg = msg })
]]

describe('pool operation properties #mysql', function()
  local p, dir
  lazy_setup(function()
    p = assert(pool.open(mysql_cfg(), { size = 2 }))
    dir = T.tmpdir('fmhost-pool-ops')
  end)
  lazy_teardown(function()
    if p then
      for _, t in ipairs { 'pool_p16', 'pool_p25', 'pool_p28' } do p:exec('DROP TABLE IF EXISTS `' .. t .. '`') end
      p:close()
    end
    if dir then T.rmtree(dir) end
  end)

  it('Feature: flink-mysql-connector-test, Property 16: every load logs its rows, timing and outcome', function()
    local n = 0
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 16: successful operation logging',
      gen = g.record {
        rows = g.frequency { { 1, g.constant(0) }, { 6, g.int(1, 3000) } },
        first = g.int(0, 1 << 40), seed = g.int(0, 1 << 30), threads = g.int(1, 4), size = g.int(1, 4),
        method = g.elements { 'infile', 'insert' }, batch_rows = g.int(0, 500), chunk_rows = g.int(0, 800),
        missing = g.frequency { { 5, g.constant(false) }, { 1, g.constant(true) } },
      },
      fn = function(v)
        n = n + 1
        if v.missing and v.rows == 0 then v.rows = 1 end -- no rows to load is no failure, table or not
        local src = assert(gen.load('seven', { seed = v.seed }))
        local tbl = v.missing and 'pool_p16_absent' or 'pool_p16'
        assert(p:exec('DROP TABLE IF EXISTS `pool_p16`'))
        if not v.missing then assert(p:exec(src:create_table_sql('pool_p16'))) end
        local log = ('%s/p16-%d.log'):format(dir, n)
        os.remove(log)
        local args = { log = log, seed = v.seed, size = v.size, name = 'p16pool' .. n, table = tbl, first = v.first,
                       rows = v.rows, threads = v.threads, method = v.method, batch_rows = v.batch_rows,
                       chunk_rows = v.chunk_rows }
        local child, out = spawn(dir, 'p16', LOAD_CHILD, args)
        local code = wait(child, 'the loading child')
        local res, text = tagged(out, 'RESULT')
        assert(code == 0 and res, ('the child ended with %s: %s'):format(tostring(code), text))
        local lines = {}
        for line in io.lines(log) do
          local e = cjson.decode(line)
          if e.event == 'pool.load' then lines[#lines + 1] = e end
        end
        assert(#lines == 1, ('%d pool.load lines for one load'):format(#lines))
        local e = lines[1]
        assert(e.ts:match(TS) and e.level == 'info', cjson.encode(e))
        assert(e.pool == args.name and e.table == tbl and e.method == v.method, cjson.encode(e))
        if v.missing then
          assert(not res.ok, 'a load into a missing table succeeded')
          assert(e.status == 'failed' and e.code == 'mysql:1146', cjson.encode(e))
          assert(e.msg == res.msg and e.msg:find(tbl, 1, true), 'the line does not carry the failure: ' .. cjson.encode(e))
          assert(e.rows == 0 and e.rows_committed == 0, cjson.encode(e))
          return
        end
        assert(res.ok, res.msg)
        local r = res.r
        local count = tonumber(p:scalar('SELECT COUNT(*) FROM `pool_p16`'))
        assert(e.status == 'ok' and e.code == nil and e.msg == nil, cjson.encode(e))
        assert(count == v.rows and r.rows == v.rows and e.rows == v.rows and e.rows_committed == v.rows,
               ('%d rows loaded, the table holds %d, the line says %d'):format(v.rows, count, e.rows))
        for _, k in ipairs { 'statements', 'bytes', 'threads', 'duplicates', 'warnings' } do
          assert(e[k] == r[k], ('%s: the line says %s, the load %s'):format(k, tostring(e[k]), tostring(r[k])))
        end
        assert(math.abs(e.wall_ms - r.wall_s * 1000) < 1e-6 * math.max(1, e.wall_ms), 'wall_ms ' .. e.wall_ms)
        assert(e.wall_ms > 0 or v.rows == 0, 'no time for a load of rows')
        local rate = e.wall_ms > 0 and v.rows / (e.wall_ms / 1000) or 0
        assert(math.abs(e.rows_per_s - rate) <= 1e-9 * math.max(1, rate), 'rows_per_s ' .. e.rows_per_s)
      end,
    }
  end)

  it('Feature: flink-mysql-connector-test, Property 25: however a script ends, its sessions, locks and open transactions end with it', function()
    assert(p:exec('DROP TABLE IF EXISTS `pool_p25`'))
    assert(p:exec('CREATE TABLE `pool_p25` (run INT NOT NULL, conn INT NOT NULL, PRIMARY KEY (run, conn)) ENGINE=InnoDB'))
    local CHILD = [[
      local cjson = require 'cjson'
      local a = cjson.decode(os.getenv('FMH_ARGS'))
      local pools, held, ids = {}, {}, {}
      for i, size in ipairs(a.pools) do pools[i] = assert(require('fmhost.pool').open(cfg.mysql, { size = size })) end
      local at, used = 1, 0
      for k, act in ipairs(a.acts) do
        if used == a.pools[at] then at, used = at + 1, 0 end -- fill each pool to its size, then the next
        used = used + 1
        local c = assert(pools[at]:acquire())
        held[#held + 1] = c
        ids[#ids + 1] = c:info().thread_id
        if act == 'temp' then assert(c:exec('CREATE TEMPORARY TABLE p25_tmp_' .. k .. ' (x INT)'))
        elseif act == 'lock' then assert(c:scalar('SELECT GET_LOCK(?, 0)', a.locks[k]) == 1)
        elseif act == 'txn' then
          assert(c:exec('START TRANSACTION'))
          assert(c:exec('INSERT INTO pool_p25 VALUES (?, ?)', a.run, k))
        end
      end
      io.stdout:write('IDS ' .. cjson.encode { ids = ids } .. '\n')
      io.stdout:flush()
      if a.ending == 'error' then error('p25: the script fails here') end
      if a.ending == 'exit' then os.exit(3) end
      if a.ending == 'kill' then require('fmhost.proc').sleep(60000) end
    ]]
    local run = 0
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 25: resource cleanup',
      gen = g.record {
        pools = g.array(g.int(1, 4), { min = 1, max = 3 }),
        acts = g.array(g.elements { 'idle', 'query', 'temp', 'lock', 'txn' }, { min = 1, max = 8 }),
        ending = g.elements { 'return', 'error', 'exit', 'kill' },
      },
      fn = function(v)
        run = run + 1
        -- no more connections than the pools hold
        local room = 0
        for _, s in ipairs(v.pools) do room = room + s end
        local acts = { table.unpack(v.acts, 1, math.min(#v.acts, room)) }
        local locks = {}
        for k = 1, #acts do locks[k] = ('fmh_p25_%d_%d_%d'):format(proc.getpid(), run, k) end
        local child, out, err = spawn(dir, 'p25', CHILD, { pools = v.pools, acts = acts, locks = locks, run = run,
                                                          ending = v.ending })
        local ids
        for _ = 1, 3000 do
          ids = tagged(out, 'IDS')
          if ids or not child:alive() then break end
          proc.sleep(10)
        end
        assert(ids, 'the child never reported its sessions: ' .. (T.read_file(err) or ''))
        local list = table.concat(ids.ids, ',')
        local function sessions()
          return tonumber(p:scalar('SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN (' .. list .. ')'))
        end
        local function locks_held()
          local n = 0
          for k, act in ipairs(acts) do
            if act == 'lock' and tonumber(p:scalar('SELECT IS_FREE_LOCK(?)', locks[k])) ~= 1 then n = n + 1 end
          end
          return n
        end
        if v.ending == 'kill' then
          -- alive, the child holds what it took: the checks below can see it
          local nlocks = 0
          for _, act in ipairs(acts) do if act == 'lock' then nlocks = nlocks + 1 end end
          assert(sessions() == #ids.ids, 'the live child\'s sessions are not all on the server')
          assert(locks_held() == nlocks, 'the live child\'s locks are not all held')
          child:signal('KILL')
        end
        local code, sig = wait(child, 'the child')
        local want = ({ ['return'] = 0, error = 1, exit = 3 })[v.ending]
        if want then assert(code == want, ('ended by %s: exit %s'):format(v.ending, tostring(code)))
        else assert(sig == 'KILL' or code == 9, 'not killed: ' .. tostring(code) .. ' ' .. tostring(sig)) end
        if v.ending == 'error' then
          assert((T.read_file(err) or ''):find('p25: the script fails here', 1, true), 'the error is not reported')
        end
        -- the server notices a closed connection at once; give it up to 10 s
        local left, held
        for _ = 1, 1000 do
          left, held = sessions(), locks_held()
          if left == 0 and held == 0 then break end
          proc.sleep(10)
        end
        assert(left == 0, ('%d of the child\'s %d sessions outlived it (%s)'):format(left, #ids.ids, v.ending))
        assert(held == 0, ('%d named locks outlived the child (%s)'):format(held, v.ending))
        local rows = tonumber(p:scalar('SELECT COUNT(*) FROM pool_p25 WHERE run = ?', run))
        assert(rows == 0, ('%d rows of an uncommitted transaction remained (%s)'):format(rows, v.ending))
      end,
    }
  end)

  it('Feature: flink-mysql-connector-test, Property 28: processes loading one table at once write every row exactly once', function()
    local seed = 28
    local src = assert(gen.load('seven', { seed = seed }))
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 28: concurrent stream handling',
      gen = g.array(g.record {
        rows = g.int(0, 1500), threads = g.int(1, 4), size = g.int(1, 4), method = g.elements { 'infile', 'insert' },
        batch_rows = g.int(0, 300), chunk_rows = g.int(0, 400),
      }, { min = 1, max = 4 }),
      fn = function(streams)
        assert(p:exec('DROP TABLE IF EXISTS `pool_p28`'))
        assert(p:exec(src:create_table_sql('pool_p28')))
        local kids, first = {}, 0
        for i, s in ipairs(streams) do
          local args = { log = '/dev/null', seed = seed, size = s.size, name = 'p28_' .. i, table = 'pool_p28',
                         first = first, rows = s.rows, threads = s.threads, method = s.method,
                         batch_rows = s.batch_rows, chunk_rows = s.chunk_rows }
          local child, out, err = spawn(dir, 'p28_' .. i, LOAD_CHILD, args)
          kids[i] = { child = child, out = out, err = err, rows = s.rows }
          first = first + s.rows
        end
        for i, k in ipairs(kids) do
          local code = wait(k.child, 'stream ' .. i)
          local res, text = tagged(k.out, 'RESULT')
          assert(code == 0 and res and res.ok, ('stream %d failed (exit %s): %s %s'):format(i, tostring(code),
                 res and res.msg or text, T.read_file(k.err) or ''))
          assert(res.r.rows == k.rows and res.r.duplicates == 0,
                 ('stream %d wrote %d rows (%d duplicates) of %d'):format(i, res.r.rows, res.r.duplicates, k.rows))
        end
        local v = assert(V.compare { target = { pool = p, table = 'pool_p28' }, key = 'id', log = false,
                                     expected = { generator = src, first = 0, count = first } })
        assert(v.ok and v.counts.matched == first, V.format(v))
      end,
    }
  end)
end)
