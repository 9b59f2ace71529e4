-- fmhost.pool bulk loading: LOAD DATA LOCAL INFILE fed from memory and
-- batched multi-row INSERT, from C worker threads #mysql
--
-- After each load the whole table is read back in key order and every row
-- is compared, value by value, with the row the source says it holds; the
-- files written for the benchmark baselines are loaded by the stock client
-- and must give the same table.
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'

local function open(over)
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  return assert(pool.open((_G.cfg or {}).mysql or {}, over))
end

local COLS = { 'id', 'i', 'd', 'f', 's', 'ts', 'b' }

-- Every row of the table equals src:row(k) for k = first .. first+count-1.
local function assert_table_holds(p, tbl, src, first, count)
  local c <close> = assert(p:acquire())
  local agg = c:row('SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d, MIN(id) AS lo, MAX(id) AS hi FROM ' .. tbl)
  assert.are.same({ count, count, first, first + count - 1 }, { agg.n, agg.d, agg.lo, agg.hi })
  local k = first
  for row in c:rows('SELECT * FROM ' .. tbl .. ' ORDER BY id') do
    local want = src:row(k)
    for _, col in ipairs(COLS) do
      if want[col] ~= row[col] then
        error(('row %d column %s: want %q, got %q'):format(k, col, tostring(want[col]), tostring(row[col])), 2)
      end
    end
    k = k + 1
  end
  assert.are.equal(first + count, k)
end

local function fresh(p, tbl, src)
  p:exec('DROP TABLE IF EXISTS ' .. tbl)
  assert(p:exec(src:ddl(tbl)))
end

describe('fmhost.pool bulk load #mysql', function()
  local p, src
  before_each(function()
    p = open { size = 4, acquire_timeout_ms = 60000 }
    src = pool.bench_source { seed = 20240601 }
    fresh(p, 'pool_bulk', src)
  end)
  after_each(function()
    p:exec('DROP TABLE IF EXISTS pool_bulk')
    local s = p:stats()
    assert.are.equal(0, s.active, 'no connection left out')
    p:close()
  end)

  it('gives the same row for the same (seed, key) and different rows for another seed', function()
    assert.are.same(src:row(12345), pool.bench_source { seed = 20240601 }:row(12345))
    assert.are_not.same(src:row(12345), pool.bench_source { seed = 7 }:row(12345))
    assert.are.equal(12345, src:row(12345).id)
  end)

  it('loads N rows through LOAD DATA LOCAL INFILE fed from memory, and the table holds exactly those rows', function()
    local r = assert(p:load { table = 'pool_bulk', source = src, rows = 20000, method = 'infile' })
    assert.are.equal(20000, r.rows)
    assert.are.equal(1, r.statements)
    assert.are.equal(0, r.warnings)
    assert_table_holds(p, 'pool_bulk', src, 0, 20000)
  end)

  it('splits a range over C threads, each on its own connection, with no key lost or doubled', function()
    local r = assert(p:load { table = 'pool_bulk', source = src, first = 1000, rows = 30001, threads = 3,
                              chunk_rows = 7000, method = 'infile' })
    assert.are.equal(30001, r.rows)
    assert.are.equal(3, r.threads)
    assert.are.equal(6, r.statements) -- 10001, 10000, 10000 rows in chunks of 7000
    assert_table_holds(p, 'pool_bulk', src, 1000, 30001)
    assert.is_true(p:stats().peak_active >= 2)
  end)

  it('loads N rows through batched multi-row INSERTs from threads', function()
    local r = assert(p:load { table = 'pool_bulk', source = src, rows = 12345, threads = 2, batch_rows = 500,
                              method = 'insert' })
    assert.are.equal(12345, r.rows)
    assert.are.equal(26, r.statements) -- 6173 and 6172 rows: 13 batches each
    assert_table_holds(p, 'pool_bulk', src, 0, 12345)
  end)

  it('keeps each INSERT under the byte limit it is given', function()
    local r = assert(p:load { table = 'pool_bulk', source = src, rows = 3000, batch_bytes = 8192,
                              method = 'insert' })
    assert.are.equal(3000, r.rows)
    assert.is_true(r.statements >= r.bytes // 8192, 'statements ' .. r.statements)
    assert.is_true(r.bytes / r.statements <= 8192)
    assert_table_holds(p, 'pool_bulk', src, 0, 3000)
  end)

  it('waits for connections when there are more threads than the pool size', function()
    local small = open { size = 2, acquire_timeout_ms = 60000 }
    local r = assert(small:load { table = 'pool_bulk', source = src, rows = 4000, threads = 4, method = 'infile' })
    assert.are.equal(4000, r.rows)
    assert.is_true(small:stats().peak_active <= 2)
    assert.are.equal(0, small:stats().active)
    small:close()
    assert_table_holds(p, 'pool_bulk', src, 0, 4000)
  end)

  it('fails a load into a missing table with a clear error and leaks nothing', function()
    local r, msg, info = p:load { table = 'pool_no_such_table', source = src, rows = 100, threads = 2 }
    assert.is_nil(r)
    assert.matches("pool_no_such_table' doesn't exist", msg)
    assert.are.same({ 1146, false }, { info.code, info.retryable })
    r, msg, info = p:load { table = 'pool_no_such_table', source = src, rows = 100, method = 'insert' }
    assert.is_nil(r)
    assert.are.equal(1146, info.code)
  end)

  it('refuses duplicate keys: INSERT fails with 1062, LOAD DATA LOCAL skips them with warnings', function()
    assert(p:load { table = 'pool_bulk', source = src, rows = 100, method = 'insert' })
    local r, _, info = p:load { table = 'pool_bulk', source = src, rows = 100, method = 'insert' }
    assert.is_nil(r)
    assert.are.equal(1062, info.code)
    r = assert(p:load { table = 'pool_bulk', source = src, rows = 150, method = 'infile' })
    assert.are.equal(50, r.rows)
    assert.are.equal(100, r.warnings)
    assert_table_holds(p, 'pool_bulk', src, 0, 150)
  end)

  it('writes the CSV and SQL files the stock client loads into the same rows', function()
    local s = stack.service('mariadb').settings(_G.cfg or {})
    local csv, sql = os.tmpname(), os.tmpname()
    assert(src:write_csv(csv, 0, 2500))
    assert(src:write_sql(sql, 'pool_bulk', 2500, 2500, 1000))
    local client = ('MYSQL_PWD=%s mariadb --no-defaults --protocol=TCP -h %s -P %d -u %s -D %s '
      .. '--default-character-set=utf8mb4 --local-infile=1'):format(
        stack.shell_quote(s.password), s.host, s.port, stack.shell_quote(s.user), stack.shell_quote(s.database))
    local load = ("LOAD DATA LOCAL INFILE '%s' INTO TABLE pool_bulk %s %s"):format(csv,
      [[CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '\\' LINES TERMINATED BY '\n']],
      src.columns)
    assert.is_true(os.execute(client .. ' -e ' .. stack.shell_quote(load)))
    assert.is_true(os.execute(client .. ' < ' .. stack.shell_quote(sql)))
    os.remove(csv); os.remove(sql)
    assert_table_holds(p, 'pool_bulk', src, 0, 5000)
  end)
end)
