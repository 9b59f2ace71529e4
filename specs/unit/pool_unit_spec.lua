-- fmhost.pool without a server: option checks, the NULL sentinel and typed
-- wrappers, failures to connect (nothing listens on port 1), and the
-- built-in benchmark row source. The specs tagged #mysql use a real server.
local pool = require 'fmhost.pool'

local REFUSED = { host = '127.0.0.1', port = 1, user = 'nobody', password = 'x', connect_timeout_ms = 2000 }

describe('fmhost.pool (no server)', function()
  describe('options', function()
    it('raises on options out of range', function()
      assert.has_error(function() pool.open { size = 0 } end, 'pool: size must be 1..10000')
      assert.has_error(function() pool.open { size = 2, min_idle = 3 } end, 'pool: min_idle must be 0..size')
      assert.has_error(function() pool.open { time_zone = "+00:00'; DROP" } end)
      assert.has_error(function() pool.open { tls = { mode = 'sometimes' } } end)
      assert.has_error(function() pool.open { tls = { mode = 'verify-identity' } } end,
                       'pool: tls mode verify-ca and verify-identity need tls ca')
      assert.has_error(function() pool.open { tls = { mode = 'required', cert = '/x.pem' } } end,
                       'pool: tls cert and key go together')
      assert.has_error(function() pool.open { size = 'many' } end, "option 'size' must be an integer")
    end)

    it('names a TLS file it would use that is missing or not a file, before connecting', function()
      local missing = os.tmpname() -- a fresh name; os.tmpname made that file: it goes at once
      os.remove(missing)
      missing = missing .. '.absent.pem'
      local dir = os.tmpname()
      os.remove(dir)
      assert(require('lfs').mkdir(dir))
      local function opening(tls) return function() pool.open(REFUSED, { lazy = true, tls = tls }) end end
      assert.has_error(opening { mode = 'verify-ca', ca = missing },
                       "pool: tls ca '" .. missing .. "' cannot be read: No such file or directory")
      assert.has_error(opening { mode = 'verify-identity', ca = dir }, "pool: tls ca '" .. dir .. "' is not a regular file")
      assert.has_error(opening { mode = 'preferred', cert = missing, key = missing },
                       "pool: tls cert '" .. missing .. "' cannot be read: No such file or directory")
      -- required checks no certificate: its CA is not read, so not checked either
      local log = require 'fmhost.log'
      local old = log.level()
      log.set_level('error') -- the pool warns that this CA goes unused
      local ok, p = pcall(pool.open, REFUSED, { lazy = true, tls = { mode = 'required', ca = missing } })
      log.set_level(old)
      assert(ok, p)
      p:close()
      os.remove(dir)
    end)

    it('lets a second table override the first (cfg.mysql plus local changes)', function()
      local p = pool.open({ port = 3306, size = 1, lazy = true }, { port = 1, size = 3, name = 'over' })
      local s = p:stats()
      assert.are.equal(3, s.size)
      assert.are.equal('over', s.name)
      p:close()
    end)
  end)

  describe('connection failures', function()
    it('returns a retryable connection error when nothing listens', function()
      local p, msg, info = pool.open(REFUSED)
      assert.is_nil(p)
      assert.matches('^connect nobody@127.0.0.1:1/: ', msg)
      assert.are.equal('mysql', info.kind)
      assert.is_true(info.code == 2002 or info.code == 2003)
      assert.are.equal('connection', info.class)
      assert.is_true(info.retryable)
    end)

    it('a lazy pool opens without a server and fails each acquire the same way, leaking nothing', function()
      local p = assert(pool.open(REFUSED, { lazy = true, size = 2 }))
      for _ = 1, 3 do
        local c, _, info = p:acquire()
        assert.is_nil(c)
        assert.are.equal('connection', info.class)
      end
      local s = p:stats()
      assert.are.same({ 0, 0, 0, 0, 3, 0 }, { s.total, s.active, s.idle, s.opening, s.connect_failures, s.created })
      p:close()
      assert.has_error(function() p:acquire() end)
      assert.has_error(function() p:stats() end)
    end)

    it('retries opening a connection by its connect_retry policy, then gives up with the last cause', function()
      local retry = require 'fmhost.retry'
      local t0 = require('fmhost.proc').now_ms()
      local p, msg, info = pool.open(REFUSED, { connect_retry = retry.policy { max_attempts = 3, base_ms = 60, factor = 2 } })
      local took = require('fmhost.proc').now_ms() - t0
      assert.is_nil(p)
      assert.matches('^gave up after 3 attempts %(attempts%): connect nobody@127.0.0.1:1/', msg)
      assert.are.equal('connection', info.class)
      assert.is_true(info.retryable)
      assert.is_true(took >= 170, 'took ' .. took .. ' ms') -- 60 + 120 ms of backoff
      assert.has_error(function() pool.open(REFUSED, { connect_retry = { factor = 0.5 } }) end,
                       'pool: connect_retry: retry policy: factor must be >= 1')
    end)

    it('a load that cannot connect says which rows are committed: those from= named, clipped and merged', function()
      local p = assert(pool.open(REFUSED, { lazy = true, size = 2 }))
      local src = pool.bench_source { seed = 1 }
      local r, msg, info = p:load { table = 't', source = src, first = 10, rows = 100, threads = 2,
                                    from = { committed = { { 0, 20 }, { 15, 10 }, { 50, 1000 } }, uncertain = { { 30, 5 } } } }
      assert.is_nil(r)
      assert.are.equal('connection', info.class)
      assert.are.same({ { { 10, 15 }, { 50, 60 } }, 75, 75, {}, 0 },
                      { info.committed, info.rows_committed, info.rows_resumed, info.uncertain, info.rows })
      assert.matches('committed 75 of 100 rows (10..24, 50..109); from=<this info> loads the rest', msg, 1, true)
      -- with resume=true the journal cannot be read: the same answer, nothing more counted
      r, msg, info = p:load { table = 't', source = src, rows = 100, resume = true, from = { { 0, 30 } } }
      assert.is_nil(r)
      assert.are.same({ 'connection', true, { { 0, 30 } }, 30 }, { info.class, info.journaled, info.committed, info.rows_committed })
      assert.matches('committed 30 of 100 rows (0..29); resume=true loads the rest', msg, 1, true)
      -- a load that from= says is complete has nothing to do and needs no server
      r = assert(p:load { table = 't', source = src, first = 10, rows = 100, method = 'insert', from = { { 0, 200 } } })
      assert.are.same({ 0, 0, 100, 100, { { 10, 100 } }, 0 },
                      { r.rows, r.duplicates, r.rows_resumed, r.rows_committed, r.committed, r.statements })
      assert.are.equal(0, p:stats().created)
      assert.has_error(function() p:load { table = 't', source = src, rows = 1, from = { { -1, 2 } } } end,
                       'load: from[1] must be {first, count} with integers >= 0')
      assert.has_error(function() p:load { table = 't', source = src, rows = 1, from = { committed = { 'x' } } } end,
                       'load: from.committed[1] must be {first, count} with integers >= 0')
      p:close()
    end)

    it('a closed pool stays closed and a second close() returns false, "already closed"', function()
      local p = assert(pool.open(REFUSED, { lazy = true }))
      assert.is_true(p:close())
      assert.are.same({ false, 'already closed' }, { p:close() })
      assert.matches('closed', tostring(p))
    end)
  end)

  describe('a Pool in other bindings', function()
    -- the folder this spec file is in, up to the source tree's root
    local root = debug.getinfo(1, 'S').source:match('^@(.-)specs/unit/[^/]+$') or ''

    local function read(path)
      local f = assert(io.open(root .. path, 'rb'))
      local s = f:read('a')
      f:close()
      return s
    end

    it('reach the fmh_pool only through include/fmhost/pool_lua.h, never through the userdata layout', function()
      local header = read('include/fmhost/pool_lua.h')
      assert.matches('fmh_pool %*fmh_lua_checkpool%(lua_State %*L, int idx%);', header)
      assert.matches('fmh_pool %*fmh_lua_topool%(lua_State %*L, int idx, int %*closed%);', header)
      local bindings = assert(io.popen('ls ' .. root .. 'bindings/*.c')):read('a')
      local seen = 0
      for path in bindings:gmatch('[^\n]+') do
        local name = path:match('([^/]+)%.c$')
        if name ~= 'pool' then
          seen = seen + 1
          local src = read('bindings/' .. name .. '.c')
          assert.is_nil(src:find('"fmhost.pool.Pool"', 1, true), 'bindings/' .. name .. '.c reads the Pool userdata')
        end
      end
      assert.is_true(seen >= 2)
      assert.matches('#include "fmhost/pool_lua.h"', read('bindings/validate.c'), 1, true)
    end)

    it('take a generator only through include/fmhost/gen_lua.h and its rows only through the row source interface', function()
      assert.matches('fmh_row_source', read('include/fmhost/rowsource.h'), 1, true)
      local bindings = assert(io.popen('ls ' .. root .. 'bindings/*.c')):read('a')
      for path in bindings:gmatch('[^\n]+') do
        local name = path:match('([^/]+)%.c$')
        local src = read('bindings/' .. name .. '.c')
        assert.is_nil(src:find('__fmh_row_source', 1, true), 'bindings/' .. name .. '.c marks a row source by a field')
        if name ~= 'gen' then
          assert.is_nil(src:find('"fmhost.gen.Gen"', 1, true), 'bindings/' .. name .. '.c reads the Gen userdata')
        end
      end
      assert.matches('#include "fmhost/gen_lua.h"', read('bindings/validate.c'), 1, true)
      assert.matches('#include "fmhost/gen_lua.h"', read('bindings/pool.c'), 1, true)
    end)

    it('fmhost.validate refuses a closed pool and a value that is not a pool, naming the argument', function()
      local validate = require 'fmhost.validate'
      local p = assert(pool.open(REFUSED, { lazy = true }))
      p:close()
      local expected = { query = 'SELECT 1 AS id', pool = p }
      assert.has_error(function() validate.compare { target = { pool = p, table = 't' }, expected = expected, key = 'id' } end,
                       'validate.compare: target: the pool is closed')
      assert.has_error(function()
        validate.compare { target = { pool = {}, table = 't' }, expected = expected, key = 'id' }
      end, "validate.compare: target: 'pool' must be a pool from fmhost.pool.open")
    end)
  end)

  describe('values', function()
    it('has one NULL that prints as NULL and is not nil', function()
      assert.are.equal('NULL', tostring(pool.NULL))
      assert.is_true(pool.is_null(pool.NULL))
      assert.is_false(pool.is_null(nil))
      assert.is_false(pool.is_null(false))
      package.loaded['fmhost.pool'] = nil
      local again = require 'fmhost.pool'
      assert.are.equal(pool.NULL, again.NULL)
    end)

    it('wraps exact decimals, datetimes and blobs, and rejects what is not a decimal', function()
      assert.are.equal('-12.50', tostring(pool.decimal('-12.50')))
      assert.are.equal('2024-01-02 03:04:05.5', tostring(pool.datetime('2024-01-02 03:04:05.5')))
      assert.are.equal('\0\1', tostring(pool.blob('\0\1')))
      assert.has_error(function() pool.decimal('1e5') end)
      assert.has_error(function() pool.decimal('') end)
      assert.has_error(function() pool.decimal(12) end)
    end)
  end)

  describe('the benchmark row source', function()
    local src = pool.bench_source { seed = 99 }

    it('makes row k a pure function of (seed, k)', function()
      assert.are.same(src:row(1000000), pool.bench_source { seed = 99 }:row(1000000))
      assert.are.equal(src:csv(7), pool.bench_source { seed = 99 }:csv(7))
      assert.are_not.equal(src:csv(7), pool.bench_source { seed = 98 }:csv(7))
      assert.are.equal(99, src.seed)
      assert.are.equal('(id,i,d,f,s,ts,b)', src.columns)
    end)

    it('keeps every value inside its column type', function()
      local nulls = 0
      for k = 0, 4999 do
        local r = src:row(k)
        assert.are.equal(k, r.id)
        assert.is_true(r.i >= -2147483648 and r.i <= 2147483647)
        assert.matches('^%-?%d+%.%d%d%d%d%d%d%d%d%d$', r.d)
        assert.is_true(#r.d:match('^%-?(%d+)') <= 13)
        assert.is_true(r.f >= -2 ^ 30 and r.f < 2 ^ 30 and r.f * 1024 == math.floor(r.f * 1024))
        if r.s == pool.NULL then nulls = nulls + 1 else assert.is_true(#r.s <= 64) end
        assert.matches('^20[0-3]%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d%d%d%d$', r.ts)
        assert.is_true(r.b == 0 or r.b == 1)
      end
      assert.is_true(nulls > 50 and nulls < 200, 'NULLs: ' .. nulls)
    end)

    it('escapes quotes and backslashes in CSV and SQL', function()
      for k = 0, 2000 do
        local r = src:row(k)
        if r.s ~= pool.NULL and r.s:find('["\\\']') then
          local csv, sql = src:csv(k), src:sql(k)
          local want_csv = '"' .. r.s:gsub('[\\"]', '\\%0') .. '"'
          local want_sql = "'" .. r.s:gsub("[\\']", '\\%0') .. "'"
          assert.is_truthy(csv:find(want_csv, 1, true), csv)
          assert.is_truthy(sql:find(want_sql, 1, true), sql)
          return
        end
      end
      error('no row with a quote in 2000 rows')
    end)

    it('writes CSV lines and INSERT statements to files', function()
      local csv, sql = os.tmpname(), os.tmpname()
      assert(src:write_csv(csv, 10, 2500))
      assert(src:write_sql(sql, 't', 10, 2500, 1000))
      local lines, first = 0, nil
      for line in io.lines(csv) do
        lines = lines + 1
        first = first or line
      end
      assert.are.equal(2500, lines)
      assert.are.equal(src:csv(10), first .. '\n')
      local stmts = 0
      for line in io.lines(sql) do
        stmts = stmts + 1
        assert.matches('^INSERT INTO t %(id,i,d,f,s,ts,b%) VALUES %(.*%);$', line)
      end
      assert.are.equal(3, stmts)
      os.remove(csv); os.remove(sql)
      local ok, msg = src:write_csv('/nonexistent-dir/x.csv', 0, 1)
      assert.is_nil(ok)
      assert.matches('cannot write /nonexistent%-dir/x.csv', msg)
    end)
  end)
end)
