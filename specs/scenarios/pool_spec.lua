-- fmhost.pool against the private MariaDB #mysql
--
-- The local stack starts the server when it is not running (cfg.mysql,
-- mysql.managed); every check reads the real outcome back from MariaDB or
-- from the pool's own counters. Time bounds are generous: they only tell
-- "timed out as configured" from "hung".
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local log = require 'fmhost.log'
local cjson = require 'cjson'
local system = require 'system'

local function open(over)
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  local mysql = (_G.cfg or {}).mysql or {}
  return assert(pool.open(mysql, over))
end

local function balanced(p)
  local s = p:stats()
  assert.are.equal(s.total, s.active + s.idle + s.opening, 'total = active + idle + opening')
  assert.are.equal(s.total - s.opening, s.created - s.destroyed, 'open connections = created - destroyed')
  assert.is_true(s.total <= s.size, 'total <= size')
  return s
end

local function wait_until(secs, fn)
  local deadline = system.monotime() + secs
  while system.monotime() < deadline do
    if fn() then return true end
    system.sleep(0.02)
  end
  return fn()
end

local function thread_id(c) return c:info().thread_id end

describe('fmhost.pool #mysql', function()
  local p
  after_each(function()
    if p then p:close() end
    p = nil
  end)

  describe('acquire and release', function()
    it('hands out a working connection and takes it back when its <close> scope ends', function()
      p = open { size = 2 }
      do
        local c <close> = assert(p:acquire())
        assert.are.equal(3, c:scalar('SELECT 1 + 2'))
        assert.are.equal(1, p:stats().active)
      end
      local s = balanced(p)
      assert.are.equal(0, s.active)
      assert.are.equal(1, s.idle)
      assert.are.equal(1, s.acquires)
      assert.are.equal(1, s.releases)
    end)

    it('reuses an idle connection instead of opening another', function()
      p = open { size = 4 }
      local c1 = assert(p:acquire())
      local id = thread_id(c1)
      c1:release()
      local c2 = assert(p:acquire())
      assert.are.equal(id, thread_id(c2))
      c2:release()
      assert.are.equal(1, balanced(p).created)
    end)

    it('raises when a released connection is used', function()
      p = open()
      local c = assert(p:acquire())
      c:release()
      assert.has_error(function() c:query('SELECT 1') end)
      c:release() -- twice is harmless
    end)

    it('never opens more than size: the next acquire fails with "pool exhausted after N ms"', function()
      p = open { size = 2, acquire_timeout_ms = 150 }
      local a, b = assert(p:acquire()), assert(p:acquire())
      local t0 = system.monotime()
      local c, msg, info = p:acquire()
      local waited = system.monotime() - t0
      assert.is_nil(c)
      assert.matches('^pool exhausted after 150 ms', msg)
      assert.are.equal('timeout', info.kind)
      assert.are.equal('pool_exhausted', info.class)
      assert.is_true(info.retryable)
      assert.is_true(waited >= 0.14 and waited < 5, 'waited ' .. waited)
      local s = balanced(p)
      assert.are.equal(2, s.total)
      assert.are.equal(1, s.timeouts)
      a:release(); b:release()
      assert.are.equal(0, balanced(p).active)
    end)

    it('takes a per-call acquire timeout', function()
      p = open { size = 1, acquire_timeout_ms = 60000 }
      local a = assert(p:acquire())
      local c, msg = p:acquire(30)
      assert.is_nil(c)
      assert.matches('^pool exhausted after 30 ms', msg)
      a:release()
    end)
  end)

  describe('validation and replacement', function()
    it('pings a connection idle longer than validate_after_ms before handing it out', function()
      p = open { validate_after_ms = 0 }
      p:acquire():release()
      p:acquire():release()
      assert.is_true(p:stats().validations >= 1)
    end)

    it('replaces an idle connection the server killed', function()
      p = open { size = 2, validate_after_ms = 0 }
      local victim = assert(p:acquire())
      local killer = assert(p:acquire())
      local vid = thread_id(victim)
      victim:release()
      assert(killer:exec('KILL ' .. vid))
      killer:release()
      -- the most recently used connection (the killer) comes first: take both
      local c1, c2 = assert(p:acquire()), assert(p:acquire())
      assert.are_not.equal(vid, thread_id(c1))
      assert.are_not.equal(vid, thread_id(c2))
      assert.are.equal(1, c1:scalar('SELECT 1'))
      assert.are.equal(1, c2:scalar('SELECT 1'))
      c1:release(); c2:release()
      local s = balanced(p)
      assert.are.equal(1, s.validation_failures)
      assert.are.equal(1, s.destroyed)
    end)

    it('detects a connection that died in use, returns a retryable error and closes it on release', function()
      p = open { size = 2 }
      local victim = assert(p:acquire())
      local vid = thread_id(victim)
      local killer = assert(p:acquire())
      assert(killer:exec('KILL ' .. vid))
      killer:release()
      local v, msg, info = victim:query('SELECT 1')
      assert.is_nil(v)
      assert.is_true(info.retryable, msg)
      assert.are.equal('connection', info.class)
      assert.is_true(victim:info().broken)
      victim:release()
      local s = balanced(p)
      assert.are.equal(1, s.broken)
      local c = assert(p:acquire())
      assert.are.equal(1, c:scalar('SELECT 1'))
      assert.are_not.equal(vid, thread_id(c))
      c:release()
    end)

    it('closes idle connections past idle_timeout_ms down to min_idle', function()
      p = open { size = 3, min_idle = 1, idle_timeout_ms = 150, housekeeping_ms = 30 }
      local cs = { assert(p:acquire()), assert(p:acquire()), assert(p:acquire()) }
      for _, c in ipairs(cs) do c:release() end
      assert.are.equal(3, p:stats().idle)
      assert.is_true(wait_until(10, function() return p:stats().idle == 1 end))
      system.sleep(0.3)
      local s = balanced(p)
      assert.are.equal(1, s.idle)
      assert.are.equal(2, s.evicted_idle)
    end)

    it('opens connections up to min_idle in the background', function()
      p = open { size = 4, min_idle = 3, housekeeping_ms = 30, lazy = true }
      assert.is_true(wait_until(10, function() return p:stats().idle == 3 end))
      assert.are.equal(3, balanced(p).created)
    end)

    it('retires a connection older than max_lifetime_ms', function()
      p = open { max_lifetime_ms = 200 }
      local c = assert(p:acquire())
      local id = thread_id(c)
      c:release()
      system.sleep(0.3)
      c = assert(p:acquire())
      assert.are_not.equal(id, thread_id(c))
      c:release()
      assert.is_true(balanced(p).evicted_lifetime >= 1)
    end)
  end)

  describe('sessions', function()
    it('applies time_zone and sql_mode to every connection', function()
      p = open { time_zone = '+05:00', sql_mode = 'NO_ENGINE_SUBSTITUTION' }
      local row = p:row('SELECT @@session.time_zone AS tz, @@session.sql_mode AS mode')
      assert.are.equal('+05:00', row.tz)
      assert.are.equal('NO_ENGINE_SUBSTITUTION', row.mode)
    end)

    it('rolls back a transaction left open when the connection comes back', function()
      p = open { size = 1 }
      p:exec('DROP TABLE IF EXISTS pool_leftover')
      p:exec('CREATE TABLE pool_leftover (id INT PRIMARY KEY)')
      local c = assert(p:acquire())
      assert(c:exec('START TRANSACTION'))
      assert(c:exec('INSERT INTO pool_leftover VALUES (1)'))
      c:release()
      assert.are.equal(0, p:scalar('SELECT COUNT(*) FROM pool_leftover'))
      p:exec('DROP TABLE pool_leftover')
    end)

    it('fails a statement that outlasts read_timeout_ms with a retryable error instead of hanging', function()
      p = open { read_timeout_ms = 1000 }
      local c = assert(p:acquire())
      local t0 = system.monotime()
      local v, msg, info = c:query('SELECT SLEEP(20)')
      local took = system.monotime() - t0
      assert.is_nil(v)
      assert.is_true(info.retryable, msg)
      assert.is_true(took < 10, 'took ' .. took)
      c:release()
      local s = balanced(p)
      assert.are.equal(1, s.broken)
    end)
  end)

  describe('lifetimes', function()
    it('keeps the pool alive while one of its connections is referenced', function()
      local function only_a_conn()
        local q = open()
        return assert(q:acquire())
      end
      local c = only_a_conn()
      collectgarbage(); collectgarbage()
      assert.are.equal(7, c:scalar('SELECT 7'))
      c:release()
    end)

    it('keeps the connection alive while one of its cursors is referenced', function()
      p = open()
      local function only_a_cursor()
        local c = assert(p:acquire())
        return c:cursor('SELECT 1 AS x UNION ALL SELECT 2')
      end
      local cur = only_a_cursor()
      collectgarbage(); collectgarbage()
      assert.are.equal(1, cur:fetch().x)
      assert.are.equal(2, cur:fetch().x)
      assert.is_nil(cur:fetch())
      cur:close()
    end)

    it('closes connections still in use when they come back after pool:close()', function()
      p = open { size = 2 }
      local c = assert(p:acquire())
      p:close()
      assert.has_error(function() p:acquire() end)
      assert.are.equal(1, c:scalar('SELECT 1'))
      c:release()
      p = nil
    end)
  end)

  describe('statements', function()
    before_each(function()
      p = open { size = 2 }
      p:exec('DROP TABLE IF EXISTS pool_t')
      p:exec('CREATE TABLE pool_t (id INT PRIMARY KEY, s VARCHAR(8))')
    end)

    it('reports affected rows and the insert id', function()
      local n, meta = p:exec('INSERT INTO pool_t VALUES (?, ?), (?, ?)', 1, 'a', 2, 'b')
      assert.are.equal(2, n)
      assert.are.equal(2, meta.affected_rows)
      assert.are.equal(0, meta.warnings)
      assert.are.equal(2, p:scalar('SELECT COUNT(*) FROM pool_t'))
    end)

    it('returns rows keyed by column name with the columns described', function()
      p:exec('INSERT INTO pool_t VALUES (1, NULL), (2, ?)', 'x')
      local rows, meta = p:query('SELECT id, s FROM pool_t ORDER BY id')
      assert.are.equal(2, #rows)
      assert.are.equal(pool.NULL, rows[1].s)
      assert.are.equal('x', rows[2].s)
      assert.are.same({ 'id', 's' }, { meta.columns[1].name, meta.columns[2].name })
      assert.are.equal('int', meta.columns[1].type)
      assert.are.equal('varchar', meta.columns[2].type)
      assert.is_true(meta.columns[2].nullable)
    end)

    it('streams rows through a for loop and closes the cursor on break', function()
      local c <close> = assert(p:acquire())
      for i = 1, 300 do c:exec('INSERT INTO pool_t VALUES (?, ?)', i, tostring(i)) end
      local n = 0
      for row in c:rows('SELECT id FROM pool_t ORDER BY id') do
        n = n + 1
        assert.are.equal(n, row.id)
        if n == 10 then break end
      end
      assert.are.equal(10, n)
      -- the unread rows were drained: the connection answers the next statement
      assert.are.equal(300, c:scalar('SELECT COUNT(*) FROM pool_t'))
      local sum = 0
      for row in c:rows('SELECT id FROM pool_t WHERE id > ?', 290) do sum = sum + row.id end
      assert.are.equal(2955, sum)
    end)

    it('refuses a second statement while a cursor is open on the connection', function()
      local c <close> = assert(p:acquire())
      p:exec('INSERT INTO pool_t VALUES (1, ?), (2, ?)', 'a', 'b')
      local cur <close> = assert(c:cursor('SELECT * FROM pool_t'))
      assert.has_error(function() c:query('SELECT 1') end)
      assert.are.same({ 1, 'a' }, cur:fetch('a'))
      cur:close()
      assert.are.equal(1, c:scalar('SELECT 1'))
    end)

    it('commits a transaction whose function returns normally', function()
      local r = p:transaction(function(c)
        c:exec('INSERT INTO pool_t VALUES (1, ?)', 'a')
        c:exec('INSERT INTO pool_t VALUES (2, ?)', 'b')
        return 'done'
      end)
      assert.are.equal('done', r)
      assert.are.equal(2, p:scalar('SELECT COUNT(*) FROM pool_t'))
    end)

    it('rolls back a transaction whose function raises, and raises the same error', function()
      assert.has_error(function()
        p:transaction(function(c)
          c:exec('INSERT INTO pool_t VALUES (1, ?)', 'a')
          error('boom', 0)
        end)
      end, 'boom')
      assert.are.equal(0, p:scalar('SELECT COUNT(*) FROM pool_t'))
      assert.are.equal(0, balanced(p).active)
    end)

    it('rolls back a transaction whose function returns nil, msg, info', function()
      local v, msg, info = p:transaction(function(c)
        assert(c:exec('INSERT INTO pool_t VALUES (1, ?)', 'a'))
        return c:exec('INSERT INTO pool_t VALUES (1, ?)', 'dup')
      end)
      assert.is_nil(v)
      assert.matches('Duplicate entry', msg)
      assert.are.equal(1062, info.code)
      assert.are.equal(0, p:scalar('SELECT COUNT(*) FROM pool_t'))
    end)
  end)

  describe('bad input', function()
    local function bad_open(over)
      assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
      return pool.open((_G.cfg or {}).mysql or {}, over)
    end

    it('a wrong password: access denied, not retryable', function()
      local q, msg, info = bad_open { password = 'not-the-password' }
      assert.is_nil(q)
      assert.matches('Access denied', msg)
      assert.are.equal(1045, info.code)
      assert.are.equal('auth', info.class)
      assert.is_false(info.retryable)
    end)

    it('an unknown database: named in the message, not retryable', function()
      local q, msg, info = bad_open { database = 'no_such_db_fmhost' }
      assert.is_nil(q)
      assert.matches('no_such_db_fmhost', msg)
      assert.are.equal(1049, info.code)
      assert.are.equal('schema', info.class)
      assert.is_false(info.retryable)
    end)

    it('a port where nothing listens: a retryable connection error, quickly', function()
      local t0 = system.monotime()
      local q, msg, info = bad_open { host = '127.0.0.1', port = 1 }
      assert.is_nil(q)
      assert.matches("Can't connect", msg)
      assert.is_true(info.code == 2002 or info.code == 2003, 'code ' .. tostring(info.code))
      assert.are.equal('connection', info.class)
      assert.is_true(info.retryable)
      assert.is_true(system.monotime() - t0 < 10)
    end)

    it('an option out of range raises', function()
      assert.has_error(function() pool.open({ size = 0 }) end, 'pool: size must be 1..10000')
      assert.has_error(function() pool.open({ tls = { mode = 'sometimes' } }) end)
      assert.has_error(function() pool.open({ tls = { mode = 'verify-ca' } }) end,
                       'pool: tls mode verify-ca and verify-identity need tls ca')
    end)

    describe('statements', function()
      before_each(function()
        p = open { size = 2 }
        p:exec('DROP TABLE IF EXISTS pool_bad')
        p:exec('CREATE TABLE pool_bad (id INT PRIMARY KEY, s VARCHAR(4) NOT NULL)')
      end)
      after_each(function()
        if p then
          local s = balanced(p)
          assert.are.equal(0, s.active, 'nothing leaked')
        end
      end)

      it('malformed SQL: a syntax error, not retryable', function()
        local v, msg, info = p:exec('INSERT INTO pool_bad VALUS (1)')
        assert.is_nil(v)
        assert.matches('SQL syntax', msg)
        assert.are.same({ 1064, 'syntax', false }, { info.code, info.class, info.retryable })
      end)

      it('NULL into a NOT NULL column: error 1048, not retryable', function()
        local v, msg, info = p:exec('INSERT INTO pool_bad VALUES (?, ?)', 1, pool.NULL)
        assert.is_nil(v)
        assert.matches("Column 's' cannot be null", msg)
        assert.are.same({ 1048, 'data', false }, { info.code, info.class, info.retryable })
        assert.are.equal(0, p:scalar('SELECT COUNT(*) FROM pool_bad'))
      end)

      it('a value too long under strict sql_mode: error 1406, not retryable, nothing stored', function()
        local q = open { sql_mode = 'STRICT_TRANS_TABLES' }
        local v, msg, info = q:exec('INSERT INTO pool_bad VALUES (?, ?)', 1, 'too long')
        assert.is_nil(v)
        assert.matches("Data too long for column 's'", msg)
        assert.are.same({ 1406, '22001', 'data', false }, { info.code, info.sqlstate, info.class, info.retryable })
        assert.are.equal(0, q:scalar('SELECT COUNT(*) FROM pool_bad'))
        q:close()
      end)

      it('a value too long under non-strict sql_mode: stored truncated, with a warning to read', function()
        local q = open { sql_mode = '' }
        local c <close> = assert(q:acquire())
        local n, meta = c:exec('INSERT INTO pool_bad VALUES (?, ?)', 1, 'too long')
        assert.are.equal(1, n)
        assert.are.equal(1, meta.warnings)
        local w = c:warnings()
        assert.are.equal(1265, w[1].code)
        assert.are.equal('Warning', w[1].level)
        assert.are.equal('too ', c:scalar('SELECT s FROM pool_bad WHERE id = 1'))
        c:release()
        q:close()
      end)

      it('a duplicate key: error 1062, not retryable', function()
        assert(p:exec('INSERT INTO pool_bad VALUES (1, ?)', 'a'))
        local v, _, info = p:exec('INSERT INTO pool_bad VALUES (1, ?)', 'b')
        assert.is_nil(v)
        assert.are.same({ 1062, 'duplicate', false }, { info.code, info.class, info.retryable })
      end)

      it('a wrong number of parameters raises', function()
        assert.has_error(function() p:exec('INSERT INTO pool_bad VALUES (?, ?)', 1) end,
                         'statement has 2 placeholders but 1 values were given')
      end)
    end)
  end)

  describe('concurrency', function()
    it('N C threads x M acquires with random hold times never exceed size, and every connection comes back', function()
      p = open { size = 3, acquire_timeout_ms = 60000 }
      local r = assert(p:stress { threads = 8, acquires = 150, hold_us_max = 2000, seed = 17, query = true })
      assert.are.equal(8 * 150, r.acquired)
      assert.are.equal(0, r.timeouts)
      assert.are.equal(0, r.errors, r.first_error)
      assert.are.equal(8 * 150, r.queries)
      assert.is_true(r.max_in_use <= 3, 'max in use ' .. r.max_in_use)
      local s = balanced(p)
      assert.is_true(s.peak_active <= 3)
      assert.are.equal(0, s.active)
      assert.are.equal(0, s.waiting)
      assert.are.equal(s.acquires, s.releases)
    end)

    it('serves waiting C threads in the order they queued (FIFO), one hand-off at a time', function()
      p = open { size = 2, acquire_timeout_ms = 30000 }
      local served = assert(p:fifo_probe(12))
      assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, served)
      local s = balanced(p)
      assert.are.equal(0, s.active)
      assert.are.equal(2, s.created)
    end)

    it('counts acquire timeouts under contention and still balances', function()
      p = open { size = 1 }
      local r = assert(p:stress { threads = 4, acquires = 20, hold_us_max = 20000, timeout_ms = 5, seed = 3 })
      assert.is_true(r.timeouts > 0)
      assert.are.equal(80, r.acquired + r.timeouts)
      assert.are.equal(1, r.max_in_use)
      local s = balanced(p)
      assert.are.equal(r.timeouts, s.timeouts)
      assert.are.equal(0, s.active)
    end)
  end)

  describe('state-change log', function()
    it('logs every state change as pool.state with the active and idle counts', function()
      local path = os.tmpname()
      local old = log.level()
      assert(log.configure { level = 'debug', file = path, stderr = false })
      p = open { name = 'logged', size = 2 }
      local c = assert(p:acquire())
      c:release()
      p:close()
      p = nil
      assert(log.configure { level = old, stderr = true, file = '' })
      local changes = {}
      for line in io.lines(path) do
        local e = cjson.decode(line)
        if e.event == 'pool.state' and e.pool == 'logged' then
          assert.is_number(e.active)
          assert.is_number(e.idle)
          assert.is_number(e.size)
          changes[#changes + 1] = ('%s:%d/%d'):format(e.change, e.active, e.idle)
        end
      end
      os.remove(path)
      assert.are.same({ 'open:0/1', 'acquire:1/0', 'release:0/1', 'close:0/0' }, changes)
    end)
  end)
end)
