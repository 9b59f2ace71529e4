-- fmhost.pool bulk loading: LOAD DATA LOCAL INFILE fed from memory and
-- batched multi-row INSERT, from C worker threads #mysql
--
-- After each load the whole table is read back in key order and every row
-- is compared, value by value, with the row the source says it holds; the
-- files written for the benchmark baselines are loaded by the stock client
-- and must give the same table. A load made to fail part way (a trigger
-- refuses one key) must name exactly the source rows the table kept, and
-- its resume (from= its failure, or resume=true and the journal) must load
-- exactly the rest; a duplicate key is never counted as a loaded row.
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

  it('refuses duplicate keys: INSERT fails with 1062, LOAD DATA LOCAL skips them and counts them as duplicates', function()
    assert(p:load { table = 'pool_bulk', source = src, rows = 100, method = 'insert' })
    local r, msg, info = p:load { table = 'pool_bulk', source = src, rows = 100, method = 'insert' }
    assert.is_nil(r)
    assert.are.equal(1062, info.code)
    assert.are.same({ 0, {}, {} }, { info.rows_committed, info.committed, info.uncertain })
    assert.matches('committed 0 of 100 rows', msg, 1, true)
    r = assert(p:load { table = 'pool_bulk', source = src, rows = 150, method = 'infile' })
    -- the 100 rows already there are no loaded rows, and no anonymous warnings either
    assert.are.same({ 50, 100, 0 }, { r.rows, r.duplicates, r.warnings })
    assert_table_holds(p, 'pool_bulk', src, 0, 150)
  end)

  describe('a load that fails part way', function()
    -- a trigger refuses one key, so the thread whose share holds it fails
    -- and the others are stopped wherever they are
    local function refuse(id)
      assert(p:exec(('CREATE TRIGGER pool_bulk_refuse BEFORE INSERT ON pool_bulk FOR EACH ROW BEGIN '
        .. "IF NEW.id = %d THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'key %d refused'; END IF; END"):format(id, id)))
    end
    local function allow() assert(p:exec('DROP TRIGGER pool_bulk_refuse')) end
    local function count(lo, hi)
      return p:scalar(('SELECT COUNT(*) FROM pool_bulk WHERE id BETWEEN %d AND %d'):format(lo, hi))
    end
    -- the table holds exactly the ranges the failure calls committed
    local function assert_committed_exactly(info, rows)
      local n = 0
      for _, r in ipairs(info.committed) do
        assert.are.equal(r[2], count(r[1], r[1] + r[2] - 1))
        n = n + r[2]
      end
      assert.are.equal(n, info.rows_committed)
      assert.are.equal(n, p:scalar('SELECT COUNT(*) FROM pool_bulk'))
      assert.is_true(n < rows)
    end
    after_each(function()
      p:exec('DROP TABLE IF EXISTS pool_bulk_journal')
    end)

    for _, method in ipairs { 'infile', 'insert' } do
      it(('says which source rows committed (%s), even where a statement was cut short'):format(method), function()
        refuse(10)
        local r, msg, info = p:load { table = 'pool_bulk', source = src, rows = 60000, threads = 2,
                                      method = method, batch_rows = 2000 }
        assert.is_nil(r)
        assert.matches('key 10 refused', msg)
        assert.matches(('committed %d of 60000 rows'):format(info.rows_committed), msg, 1, true)
        assert.are.same({}, info.uncertain) -- a server error is certain: nothing of that statement stayed
        assert_committed_exactly(info, 60000)
        -- the first thread's share (0..29999) failed on its first statement
        assert.are.equal(0, count(0, 29999))
      end)

      it(('loads exactly the rest from the failure\'s info (%s)'):format(method), function()
        refuse(40000)
        local r, _, info = p:load { table = 'pool_bulk', source = src, rows = 50000, threads = 2, method = method,
                                    chunk_rows = 5000, batch_rows = 1000 }
        assert.is_nil(r)
        assert.is_true(info.rows_committed >= 15000, 'the failing thread committed its chunks before the refused key')
        allow()
        r = assert(p:load { table = 'pool_bulk', source = src, rows = 50000, threads = 2, method = method,
                            chunk_rows = 5000, batch_rows = 1000, from = info })
        assert.are.same({ 50000 - info.rows_committed, 0, info.rows_committed, 50000, { { 0, 50000 } } },
                        { r.rows, r.duplicates, r.rows_resumed, r.rows_committed, r.committed })
        assert_table_holds(p, 'pool_bulk', src, 0, 50000)
      end)

      it(('journals each statement with its data and resumes from the journal (%s)'):format(method), function()
        refuse(33333)
        local opts = { table = 'pool_bulk', source = src, rows = 40000, threads = 2, method = method,
                       chunk_rows = 4000, batch_rows = 1500, resume = true, journal = 'pool_bulk_journal' }
        local r, msg, info = p:load(opts)
        assert.is_nil(r)
        assert.is_true(info.journaled)
        assert.matches('resume=true loads the rest', msg, 1, true)
        assert_committed_exactly(info, 40000)
        -- the journal holds exactly the committed ranges
        local c <close> = assert(p:acquire())
        local journaled = {}
        for row in c:rows("SELECT first_row, n_rows FROM pool_bulk_journal WHERE load_id = 'pool_bulk' ORDER BY first_row") do
          local last = journaled[#journaled]
          if last and last[1] + last[2] == row.first_row then last[2] = last[2] + row.n_rows
          else journaled[#journaled + 1] = { row.first_row, row.n_rows } end
        end
        c:release()
        assert.are.same(info.committed, journaled)
        allow()
        r = assert(p:load(opts))
        assert.are.same({ 40000 - info.rows_committed, 0, info.rows_committed },
                        { r.rows, r.duplicates, r.rows_resumed })
        assert_table_holds(p, 'pool_bulk', src, 0, 40000)
        assert.are.equal(0, p:scalar('SELECT COUNT(*) FROM pool_bulk_journal'), 'a completed load forgets its journal')
      end)

      it(('re-loads ranges whose commit is uncertain with their duplicates skipped and counted (%s)'):format(method), function()
        -- rows 1000..1999 were lost with the server, rows 2000..2999 committed but the answer was lost
        assert(p:load { table = 'pool_bulk', source = src, first = 0, rows = 1000, method = method })
        assert(p:load { table = 'pool_bulk', source = src, first = 2000, rows = 1000, method = method })
        local info = { committed = { { 0, 1000 } }, uncertain = { { 1000, 1000 }, { 2000, 1000 } } }
        local r = assert(p:load { table = 'pool_bulk', source = src, rows = 5000, threads = 2, method = method,
                                  batch_rows = 300, from = info })
        assert.are.same({ 3000, 1000, 1000 }, { r.rows, r.duplicates, r.rows_resumed })
        assert_table_holds(p, 'pool_bulk', src, 0, 5000)
      end)
    end

    for _, method in ipairs { 'infile', 'insert' } do
      it(('commits each statement with its journal row: a journal row refused takes its rows back (%s)'):format(method), function()
        -- the journal, made beforehand, refuses the row of the statement at source row 2000
        assert(p:exec('CREATE TABLE pool_bulk_journal (load_id VARBINARY(255) NOT NULL, first_row BIGINT UNSIGNED NOT NULL, '
          .. 'n_rows BIGINT UNSIGNED NOT NULL, inserted BIGINT UNSIGNED NOT NULL, '
          .. 'committed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (load_id, first_row), '
          .. 'CONSTRAINT not_2000 CHECK (first_row <> 2000)) ENGINE=InnoDB'))
        local r, _, info = p:load { table = 'pool_bulk', source = src, rows = 5000, method = method, chunk_rows = 1000,
                                    batch_rows = 1000, resume = true, journal = 'pool_bulk_journal' }
        assert.is_nil(r)
        assert.are.same({ { { 0, 2000 } }, {} }, { info.committed, info.uncertain })
        assert_table_holds(p, 'pool_bulk', src, 0, 2000)
      end)
    end

    it('fails on rows already there that nothing said might be', function()
      assert(p:load { table = 'pool_bulk', source = src, first = 2000, rows = 10, method = 'insert' })
      local r, _, info = p:load { table = 'pool_bulk', source = src, rows = 3000, method = 'insert',
                                  from = { { 0, 1000 } } }
      assert.is_nil(r)
      assert.are.equal(1062, info.code)
    end)

    it('refuses to resume from a journal whose table was emptied since', function()
      refuse(500)
      local opts = { table = 'pool_bulk', source = src, rows = 3000, threads = 2, method = 'insert', batch_rows = 100,
                     resume = true, journal = 'pool_bulk_journal' }
      local _, _, info = p:load(opts)
      assert.is_true(info.rows_committed > 0)
      allow()
      assert(p:exec('TRUNCATE TABLE pool_bulk'))
      local r, msg = p:load(opts)
      assert.is_nil(r)
      assert.matches('emptied or recreated', msg)
      assert.are.equal(0, p:scalar('SELECT COUNT(*) FROM pool_bulk'), 'nothing loaded')
    end)

    it('raises on a from= that is not a list of ranges', function()
      assert.has_error(function() p:load { table = 'pool_bulk', source = src, rows = 10, from = { { 1 } } } end,
                       'load: from[1] must be {first, count} with integers >= 0')
      assert.has_error(function() p:load { table = 'pool_bulk', source = src, rows = 10, from = 3 } end)
    end)
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
