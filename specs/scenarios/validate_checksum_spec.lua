-- fmhost.validate checksum mode at scale: sum segments in flight on several
-- connections, hashed by the server (SHA-1 based SQL) or read and hashed here
-- (the same text, or SipHash-1-3 when no server hashes), a generator side
-- hashed in C, traps of normalisation,
-- planted differences found exactly, budget and a dying server giving a
-- partial verdict, never a false "equal". #mysql
local pool = require 'fmhost.pool'
local gen = require 'fmhost.gen'
local stack = require 'fmhost.stack'
local V = require 'fmhost.validate'
local check = require 'fmhost.check'
local T = require 'fmhost.testing'

local seed = check.resolve_seed()
print(('validate_checksum_spec: seed %d (FMHOST_SEED=%d replays it)'):format(seed, seed))

local p
local function exec(sql, ...) return assert(p:exec(sql, ...)) end

local function fields(v)
  local out = {}
  for _, m in ipairs(v.mismatches) do out[#out + 1] = tostring(m.key) .. ':' .. m.column end
  table.sort(out)
  return out
end

local function sorted(t)
  local c = {}
  for i, x in ipairs(t) do c[i] = x end
  table.sort(c, function(a, b) return tostring(a) < tostring(b) end)
  return c
end

local function pair(ddl_a, ddl_b, rows_sql)
  for t, ddl in pairs { vc_a = ddl_a, vc_b = ddl_b } do
    p:exec('DROP TABLE IF EXISTS ' .. t)
    exec('CREATE TABLE ' .. t .. ' ' .. ddl)
    if rows_sql then exec('INSERT INTO ' .. t .. ' ' .. rows_sql) end
  end
end

local function sum(o)
  o.a = o.a or { pool = p, table = 'vc_a' }
  o.b = o.b or { pool = p, table = 'vc_b' }
  o.key = o.key or 'id'
  o.log = false
  o.progress_s = 0
  return V.checksum(o)
end

describe('fmhost.validate checksum at scale #mysql', function()
  local N = 6000
  local g
  lazy_setup(function()
    assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
    p = assert(pool.open(cfg.mysql, { size = 8 }))
    g = assert(gen.load('all_types', { seed = seed }))
  end)
  lazy_teardown(function()
    for _, t in ipairs { 'vc_a', 'vc_b', 'vc_g' } do p:exec('DROP TABLE IF EXISTS ' .. t) end
    p:close()
  end)

  -- hash_at: 'server' (the SQL hash on each server), 'client' (rows read here, both sides: SipHash-1-3),
  -- 'udf' (the server's fmhost_rowsum: the same SipHash, computed natively by the server)
  for _, mode in ipairs { 'server', 'client', 'udf' } do
  it('finds identical tables equal with several segments in flight, and every planted difference exactly (hash_at '
     .. mode .. ')', function()
    for _, t in ipairs { 'vc_a', 'vc_b' } do
      p:exec('DROP TABLE IF EXISTS ' .. t)
      exec(g:create_table_sql(t))
      assert(p:load { table = t, source = g, rows = N })
    end
    local same = assert(sum { chunk_rows = 300, threads = 3, hash_at = mode })
    assert.is_true(same.ok, V.format(same))
    assert.are.equal(N, same.counts.matched)
    assert.are.equal(0, same.checksum.differing)
    assert.is_false(same.checksum.partial)
    assert.are.same({ a = mode, b = mode }, same.checksum.hash_at)
    if mode == 'server' then
      assert.matches('^CRC32%(h%) << 32 | CRC32C%(h%), h = SHA1%(CONCAT%(', same.checksum.row_hash)
    else
      assert.matches('^SipHash%-1%-3 under a key drawn for this run, computed '
                     .. (mode == 'udf' and "by each server's fmhost_rowsum" or 'in fmhost')
                     .. ', of the row text CONCAT%(', same.checksum.row_hash)
    end
    -- planted: changed values in several columns, rows deleted
    local rng = check.Rng.for_case(seed, 7)
    local want, chosen, miss = {}, {}, {}
    local cols = { 'c_int', 'c_double', 'c_varchar', 'c_dec', 'c_dt' }
    for i = 1, 25 do
      local id
      repeat id = rng:int(1, N) until not chosen[id]
      chosen[id] = true
      if i % 6 == 0 then
        exec('DELETE FROM vc_a WHERE id = ?', id)
        miss[#miss + 1] = id
      else
        local c = cols[i % 6]
        local set = ({ c_int = 'c_int = IF(c_int IS NULL, 7, NULL)', c_double = 'c_double = IF(c_double <=> 1.5, 2.5, 1.5)',
                       c_varchar = "c_varchar = IF(c_varchar <=> 'x', 'y', 'x')",
                       c_dec = 'c_dec = IF(c_dec IS NULL, 1, NULL)',
                       c_dt = "c_dt = IF(c_dt = '2001-01-01', '2002-02-02', '2001-01-01')" })[c]
        exec('UPDATE vc_a SET ' .. set .. ' WHERE id = ?', id)
        want[#want + 1] = id .. ':' .. c
      end
    end
    table.sort(want)
    local v = assert(sum { chunk_rows = 300, leaf_rows = 20, threads = 3, max_samples = 100, hash_at = mode })
    assert.is_false(v.ok)
    assert.are.same(want, fields(v))
    assert.are.same(sorted(miss), sorted(v.missing))
    assert.are.same({}, v.extra)
    assert.is_true(v.checksum.rows_streamed < N, 'streamed ' .. v.checksum.rows_streamed)
  end)
  end

  it('reads a table and hashes it in fmhost exactly as its server hashes it, for every type (no row streamed)',
     function()
    p:exec('DROP TABLE IF EXISTS vc_g')
    exec(g:create_table_sql('vc_g'))
    assert(p:load { table = 'vc_g', source = g, rows = N })
    -- the same table on both sides: one side hashed by the server's SQL, the other here
    -- (and one side by the server's fmhost_rowsum, the other here: the server packs as fmhost does)
    for _, h in ipairs { { a = 'server', b = 'client' }, { a = 'client', b = 'server' }, { a = 'udf', b = 'client' },
                         { a = 'client', b = 'udf' } } do
      local v = assert(sum { a = { pool = p, table = 'vc_g' }, b = { pool = p, table = 'vc_g' }, chunk_rows = 500,
                             hash_at = h })
      assert.are.same(h, v.checksum.hash_at)
      assert.is_true(v.ok, V.format(v))
      assert.are.equal(N, v.counts.matched)
      -- every segment agreed by hash: the row texts built here equal the server's, type by type
      assert.are.equal(0, v.checksum.differing, V.format(v))
      assert.are.equal(0, v.checksum.rows_streamed)
      assert.matches((h.a == 'server' or h.b == 'server') and '^CRC32%(h%)' or '^SipHash', v.checksum.row_hash)
    end
    -- types the generator does not make: BIT, YEAR, a long negative TIME, FLOAT extremes, a zero date
    pair('(id INT PRIMARY KEY, bt BIT(10), y YEAR, tm TIME(6), fl FLOAT, dt DATE, e ENUM(\'x\',\'y z\'))',
         '(id INT PRIMARY KEY, bt BIT(10), y YEAR, tm TIME(6), fl FLOAT, dt DATE, e ENUM(\'x\',\'y z\'))')
    for _, t in ipairs { 'vc_a', 'vc_b' } do
      exec('INSERT INTO ' .. t .. [[ VALUES (1, b'1010101010', 2024, '-838:59:58.999999', 3.40282e38, '1000-01-01', 'y z'),
        (2, b'0', 1901, '00:00:00.000001', -1.17549435e-38, '9999-12-31', 'x'),
        (3, NULL, NULL, NULL, NULL, NULL, NULL), (4, b'1111111111', 2155, '838:59:59', 0.1, '2024-02-29', 'x')]])
    end
    for _, h in ipairs { { a = 'server', b = 'client' }, { a = 'udf', b = 'client' } } do
      local t = assert(sum { chunk_rows = 2, hash_at = h })
      assert.is_true(t.ok, V.format(t))
      assert.are.equal(0, t.checksum.differing, V.format(t))
    end
    -- a difference between a server-hashed and a client-hashed side is found exactly
    p:exec('DROP TABLE IF EXISTS vc_b')
    exec('CREATE TABLE vc_b LIKE vc_g')
    exec('INSERT INTO vc_b SELECT * FROM vc_g')
    exec('UPDATE vc_b SET c_double = IF(c_double <=> 0.5, 0.25, 0.5) WHERE id = 77')
    local d = assert(sum { a = { pool = p, table = 'vc_g' }, b = { pool = p, table = 'vc_b' }, chunk_rows = 500,
                           leaf_rows = 20, hash_at = { a = 'server', b = 'client' } })
    assert.is_false(d.ok)
    assert.are.same({ '77:c_double' }, fields(d))
    assert.are.equal(1, d.checksum.differing)
  end)

  it('auto has each server hash its rows with fmhost_rowsum (the stack installs it); a bad hash_at is refused',
     function()
    pair('(id INT PRIMARY KEY, v INT)', '(id INT PRIMARY KEY, v INT)', 'SELECT seq, seq FROM seq_1_to_50')
    local v = assert(sum {})
    assert.is_true(v.ok, V.format(v))
    assert.are.same({ a = 'udf', b = 'udf' }, v.checksum.hash_at)
    local ok, err = pcall(sum, { hash_at = 'nowhere' })
    assert.is_false(ok)
    assert.matches("hash_at%.a must be 'auto', 'udf', 'server' or 'client', not 'nowhere'", tostring(err))
    ok, err = pcall(sum, { hash_at = { b = 'elsewhere' } })
    assert.is_false(ok)
    assert.matches("hash_at%.b must be 'auto', 'udf', 'server' or 'client', not 'elsewhere'", tostring(err))
    -- the two hashes cannot meet: 'udf' against 'server' is refused; against an auto side, that side reads rows
    ok, err = pcall(sum, { hash_at = { a = 'udf', b = 'server' } })
    assert.is_false(ok)
    assert.matches("hash_at 'udf' on one side and 'server' on the other cannot be compared", tostring(err))
    v = assert(sum { hash_at = { a = 'server' } })
    assert.are.same({ a = 'server', b = 'client' }, v.checksum.hash_at)
    assert.is_true(v.ok, V.format(v))
    -- the function refuses what it cannot read, naming it (a library of another version among them)
    for _, c in ipairs {
      { "'fmh0:00:i', v", "initialize function 'fmhost_rowsum'; reads descriptors of version fmh1, not .fmh0.: a library of another" },
      { "'fmh1:xyz:i', v", "the descriptor's key must be 32 hex digits" },
      { "'fmh1:" .. ('0'):rep(32) .. ":ii', v", 'the descriptor names more columns than the arguments' },
      { "'fmh1:" .. ('0'):rep(32) .. ":i', v, v", 'the descriptor names fewer columns than the arguments' },
      { "'fmh1:" .. ('0'):rep(32) .. ":T9', v", 'must be followed by the fraction.s digits' },
      { "'fmh1:" .. ('0'):rep(32) .. ":q', v", "unknown column code 'q'" },
      { 'v, v', 'the first argument must be the constant descriptor' },
    } do
      local r, qerr = p:query('SELECT fmhost_rowsum(' .. c[1] .. ') FROM vc_a')
      assert.is_nil(r, c[1])
      assert.matches(c[2], tostring(qerr))
    end
    -- a difference is found whichever side hashes how
    exec('UPDATE vc_b SET v = -v WHERE id = 17')
    for _, h in ipairs { 'auto', { a = 'udf', b = 'client' }, { a = 'client', b = 'udf' } } do
      local d = assert(sum { hash_at = h, chunk_rows = 10, leaf_rows = 2 })
      assert.is_false(d.ok)
      assert.are.same({ '17:v' }, fields(d))
      assert.are.equal(1, d.checksum.differing)
    end
  end)

  for _, mode in ipairs { 'server', 'client', 'udf' } do
  it('hashes a generator in C exactly as the table loaded from it hashes (no staging; hash_at ' .. mode .. ')',
     function()
    p:exec('DROP TABLE IF EXISTS vc_g')
    exec(g:create_table_sql('vc_g'))
    assert(p:load { table = 'vc_g', source = g, rows = N })
    local v = assert(sum { a = { pool = p, table = 'vc_g' }, b = { generator = g, first = 0, count = N },
                           chunk_rows = 500, threads = 2, hash_at = mode })
    assert.are.same({ a = mode, b = 'generator' }, v.checksum.hash_at)
    assert.is_true(v.ok, V.format(v))
    assert.are.equal(N, v.counts.matched)
    -- every segment agreed by hash: no row had to be streamed
    assert.are.equal(0, v.checksum.rows_streamed, V.format(v))
    exec("UPDATE vc_g SET c_varchar = IF(c_varchar <=> 'gen', 'GEN', 'gen') WHERE id = 4321")
    exec('DELETE FROM vc_g WHERE id = 17')
    local d = assert(sum { a = { pool = p, table = 'vc_g' }, b = { generator = g, first = 0, count = N },
                           chunk_rows = 500, leaf_rows = 50, hash_at = mode })
    assert.is_false(d.ok)
    assert.are.same({ '4321:c_varchar' }, fields(d))
    assert.are.same({ 17 }, d.missing)
    assert.are.equal(2, d.checksum.differing)
  end)
  end

  for _, mode in ipairs { 'server', 'client', 'udf' } do
  it('does not let linear cancellation hide differences (same bit flip, opposite directions; hash_at ' .. mode .. ')',
     function()
    pair('(id INT PRIMARY KEY, ts DATETIME(6), n INT)', '(id INT PRIMARY KEY, ts DATETIME(6), n INT)',
         "SELECT seq, '2024-01-01 00:00:00.000005', seq FROM seq_1_to_100")
    -- equal CRC32 changes in two rows, and a +1/-1 pair that a plain sum of values would cancel
    exec("UPDATE vc_a SET ts = '2024-01-01 00:00:00.000004' WHERE id IN (10, 20)")
    exec('UPDATE vc_a SET n = n + 1 WHERE id = 30')
    exec('UPDATE vc_a SET n = n - 1 WHERE id = 40')
    -- two rows' values swapped between keys
    exec('UPDATE vc_a SET n = 51 WHERE id = 50')
    exec('UPDATE vc_a SET n = 50 WHERE id = 51')
    local v = assert(sum { chunk_rows = 1000, leaf_rows = 10, threads = 1, hash_at = mode })
    assert.are.same({ '10:ts', '20:ts', '30:n', '40:n', '50:n', '51:n' }, fields(v))
    assert.are.equal(1, v.checksum.differing)
  end)
  end

  -- Read here with no server hashing, temporal values are hashed as packed counts, not as text: two
  -- values must pack alike exactly when the server's texts are alike, at every edge of every type.
  for _, mode in ipairs { 'server', 'client', 'udf' } do
  it('temporal values hash alike exactly when their texts are alike: zero dates, invalid days, long and '
     .. 'negative TIMEs, fractions, TIMESTAMP against DATETIME (hash_at ' .. mode .. ')', function()
    local cols = 'id INT PRIMARY KEY, d DATE, t TIME(6), t0 TIME, dt3 DATETIME(3), dt DATETIME(6)'
    pair('(' .. cols .. ', ts TIMESTAMP(6) NULL)', '(' .. cols .. ', ts DATETIME(6))')
    local rows = [[(1, '1000-01-01', '-838:59:59.999999', '-838:59:59', '1000-01-01 00:00:00.001',
                     '0000-00-00 00:00:00', '1970-01-01 00:00:01.000000'),
      (2, '9999-12-31', '838:59:59.999999', '00:00:00', '9999-12-31 23:59:59.999', '2020-00-15 10:00:00',
          '2038-01-19 03:14:07.999999'),
      (3, '2024-02-29', '-00:00:00.000001', '-00:00:01', '1969-12-31 23:59:59.999', '1969-12-31 23:59:59.999999',
          '2000-01-01 00:00:00'),
      (4, '2021-02-30', '00:00:00', '24:00:00', '2021-02-30 12:00:00.5', '2021-02-30 10:00:00', NULL),
      (5, NULL, NULL, NULL, NULL, NULL, NULL)]]
    for _, tb in ipairs { 'vc_a', 'vc_b' } do
      exec("SET STATEMENT sql_mode = 'ALLOW_INVALID_DATES', time_zone = '+00:00' FOR INSERT INTO " .. tb
           .. ' VALUES ' .. rows)
    end
    assert.are.equal('2021-02-30', p:scalar('SELECT CAST(d AS CHAR) FROM vc_a WHERE id = 4'))
    local v = assert(sum { chunk_rows = 2, hash_at = mode })
    assert.are.same({ a = mode, b = mode }, v.checksum.hash_at)
    assert.is_true(v.ok, V.format(v))
    assert.are.equal(5, v.counts.matched)
    assert.are.equal(0, v.checksum.rows_streamed, V.format(v))
    -- one step of the shown precision in each type; an invalid day against the day it would count as
    -- ('2021-02-30' is '2021-03-02' days after 1970-01-01); a zero month against a real one
    local function set(col, id, val)
      exec('SET STATEMENT sql_mode = \'ALLOW_INVALID_DATES\', time_zone = \'+00:00\' FOR UPDATE vc_b SET '
           .. col .. ' = ? WHERE id = ?', val, id)
    end
    set('d', 1, '1000-01-02')
    set('t', 3, '-00:00:00.000002')
    set('t0', 2, '-00:00:00')
    set('dt3', 2, '9999-12-31 23:59:59.998')
    set('dt', 4, '2021-03-02 10:00:00')
    set('ts', 3, '2000-01-01 00:00:00.000001')
    set('dt', 2, '2020-01-15 10:00:00')
    local d = assert(sum { chunk_rows = 2, leaf_rows = 1, hash_at = mode })
    assert.is_false(d.ok)
    -- '-00:00:00' is stored as 00:00:00: no difference at row 2's t0
    assert.are.same({ '1:d', '2:dt', '2:dt3', '3:t', '3:ts', '4:dt' }, fields(d))
    -- values compared as counts are still shown as their server printed them (fraction digits, zero month)
    for _, m in ipairs(d.mismatches) do
      local function text(t)
        return p:scalar('SET STATEMENT time_zone = \'+00:00\' FOR SELECT CAST(' .. m.column .. ' AS CHAR) FROM ' .. t
                        .. ' WHERE id = ?', m.key)
      end
      assert.are.same({ text('vc_b'), text('vc_a') }, { m.expected, m.actual }, m.key .. ':' .. m.column)
    end
    -- a temporal key keeps its server text in the verdict (a DATETIME(0) key shows no fraction, a TIME(2)
    -- key two digits), though the stream compares it as a count
    pair('(k DATETIME PRIMARY KEY, t TIME(2))', '(k DATETIME PRIMARY KEY, t TIME(2))')
    exec("INSERT INTO vc_a VALUES ('2024-01-01 10:00:00', '-01:02:03.40'), ('2024-01-02 00:00:00', '00:00:00')")
    exec("INSERT INTO vc_b VALUES ('2024-01-01 10:00:00', '-01:02:03.41'), ('2024-01-03 00:00:00', '00:00:00')")
    local k = assert(V.compare { target = { pool = p, table = 'vc_a' }, expected = { pool = p, table = 'vc_b' },
                                 key = 'k', log = false })
    assert.are.same({ '2024-01-03 00:00:00' }, k.missing)
    assert.are.same({ '2024-01-02 00:00:00' }, k.extra)
    assert.are.same({ '-01:02:03.41', '-01:02:03.40' }, { k.mismatches[1].expected, k.mismatches[1].actual })
  end)
  end

  for _, mode in ipairs { 'server', 'client', 'udf' } do
  describe('normalisation traps (hash_at ' .. mode .. ')', function()
    local function sumh(o)
      o.hash_at = mode
      return sum(o)
    end
    it('-0 and 0 in a DOUBLE hash alike', function()
      pair('(id INT PRIMARY KEY, f DOUBLE)', '(id INT PRIMARY KEY, f DOUBLE)', 'SELECT seq, 0 FROM seq_1_to_10')
      exec('UPDATE vc_a SET f = -0e0 WHERE id = 3')
      assert.are.equal(1, p:scalar('SELECT COUNT(*) FROM vc_a WHERE f = 0 AND 1/f < 0 OR id = 3 AND f = 0'))
      local v = assert(sumh {})
      assert.is_true(v.ok, V.format(v))
      assert.are.equal(0, v.checksum.differing)
    end)

    it('a different column order and a different DECIMAL scale are not differences', function()
      pair('(id INT PRIMARY KEY, d DECIMAL(10,2), s VARCHAR(10))', '(s VARCHAR(10), id INT PRIMARY KEY, d DECIMAL(12,4))')
      exec("INSERT INTO vc_a VALUES (1, 1.50, 'x'), (2, -0.00, ''), (3, NULL, NULL)")
      exec("INSERT INTO vc_b (id, d, s) VALUES (1, 1.5, 'x'), (2, 0, ''), (3, NULL, NULL)")
      local v = assert(sumh {})
      assert.is_true(v.ok, V.format(v))
      assert.are.equal(3, v.counts.matched)
    end)

    it('NULL and the empty string stay distinct; CHAR trailing spaces do not count', function()
      pair('(id INT PRIMARY KEY, s VARCHAR(10), c CHAR(5))', '(id INT PRIMARY KEY, s VARCHAR(10), c VARCHAR(5))')
      exec("INSERT INTO vc_a VALUES (1, '', 'ab'), (2, NULL, 'cd  ')")
      exec("INSERT INTO vc_b VALUES (1, NULL, 'ab'), (2, '', 'cd')")
      local v = assert(sumh { leaf_rows = 1 })
      assert.are.same({ '1:s', '2:s' }, fields(v))
    end)

    it('timestamp precision: DATETIME(6) against DATETIME(0) differs unless fsp loosens the column', function()
      pair('(id INT PRIMARY KEY, t DATETIME(6))', '(id INT PRIMARY KEY, t DATETIME(0))')
      exec("INSERT INTO vc_a VALUES (1, '2024-01-01 10:00:00.000000'), (2, '2024-01-01 10:00:00.250000')")
      exec("INSERT INTO vc_b VALUES (1, '2024-01-01 10:00:00'), (2, '2024-01-01 10:00:00')")
      local v = assert(sumh { leaf_rows = 1 })
      assert.are.same({ '2:t' }, fields(v))
      local l = assert(sumh { leaf_rows = 1, columns = { t = { fsp = 0 } } })
      assert.is_true(l.ok, V.format(l))
    end)

    it('a case-insensitive key: equal tables verify equal, a difference is never called equal', function()
      local ddl = '(k VARCHAR(10) COLLATE utf8mb4_general_ci PRIMARY KEY, v INT)'
      pair(ddl, ddl, nil)
      for _, t in ipairs { 'vc_a', 'vc_b' } do
        exec('INSERT INTO ' .. t .. " VALUES ('a',1),('B',2),('c',3),('D',4),('e',5)")
      end
      local same = assert(sumh { key = 'k', chunk_rows = 2 })
      assert.is_true(same.ok, V.format(same))
      assert.are.equal(5, same.counts.matched)
      exec("UPDATE vc_a SET v = 9 WHERE k = 'c'")
      local v = assert(sumh { key = 'k', chunk_rows = 2, leaf_rows = 1 })
      assert.is_false(v.ok)
      -- the differing segment is either narrowed down to the row or left as an honest partial
      if #v.mismatches == 0 then assert.is_true(v.checksum.partial, V.format(v)) end
    end)
  end)
  end

  describe('bad input', function()
    it('a key typed differently on the two sides is an error naming both types', function()
      pair('(id INT PRIMARY KEY, v INT)', '(id VARCHAR(10) PRIMARY KEY, v INT)')
      local ok, err = pcall(sum, {})
      assert.is_false(ok)
      assert.matches("key 'id' is integer %(int%) in vc_a but string %(varchar%) in vc_b", tostring(err))
    end)

    it('a table key typed otherwise than the generator key is an error', function()
      p:exec('DROP TABLE IF EXISTS vc_a')
      exec('CREATE TABLE vc_a (id VARCHAR(20) PRIMARY KEY, c_int INT)')
      local ok, err = pcall(sum, { b = { generator = g, first = 0, count = 10 } })
      assert.is_false(ok)
      assert.matches("key 'id' is string %(varchar%) in vc_a but an integer in the generator", tostring(err))
    end)

    it('a column missing on one side fails the verdict and names it', function()
      pair('(id INT PRIMARY KEY, v INT)', '(id INT PRIMARY KEY, v INT, w INT)')
      exec('INSERT INTO vc_a SELECT seq, seq FROM seq_1_to_5')
      exec('INSERT INTO vc_b SELECT seq, seq, seq FROM seq_1_to_5')
      local v = assert(sum {})
      assert.is_false(v.ok)
      assert.are.same({ 'w' }, v.missing_columns)
    end)

    it('a key that is not unique on one side is reported, never equal', function()
      pair('(id INT, v INT)', '(id INT PRIMARY KEY, v INT)')
      exec('INSERT INTO vc_a VALUES (1, 1), (2, 2), (2, 2), (3, 3)')
      exec('INSERT INTO vc_b VALUES (1, 1), (2, 2), (3, 3)')
      local v = assert(sum { leaf_rows = 1 })
      assert.is_false(v.ok)
      assert.are.equal(1, v.counts.duplicated)
    end)

    it('a time budget that runs out gives a partial verdict naming what was verified', function()
      pair('(id INT PRIMARY KEY, v INT)', '(id INT PRIMARY KEY, v INT)', 'SELECT seq, seq FROM seq_1_to_2000')
      local v = assert(sum { chunk_rows = 10, budget_s = 1e-9, threads = 1 })
      assert.is_false(v.ok)
      assert.is_true(v.checksum.partial)
      assert.is_true(v.checksum.segments_skipped > 0)
      assert.matches('not checked: segments %d+%-%d+ %(keys .*%): the time budget ran out', v.checksum.partial_detail)
      assert.matches('PARTIAL', V.format(v))
    end)
  end)

  describe('a server that goes away mid-run', function()
    local dir, c2, p2
    lazy_setup(function()
      dir = T.tmpdir('fmhost-vsum')
      c2 = T.isolated_mariadb_cfg(dir)
      assert(stack.mariadb.up(c2))
      p2 = assert(pool.open(c2.mysql, { size = 4, acquire_timeout_ms = 2000, connect_timeout_ms = 2000 }))
    end)
    lazy_teardown(function()
      if p2 then p2:close() end
      T.remove_isolated_mariadb(c2, dir)
    end)

    it('without fmhost_rowsum on a server, auto reads its rows here, and hash_at udf names the cause', function()
      for _, q in ipairs { p, p2 } do
        q:exec('DROP TABLE IF EXISTS vc_y')
        assert(q:exec('CREATE TABLE vc_y (id INT PRIMARY KEY, v VARCHAR(20), d DATETIME(2))'))
        assert(q:exec("INSERT INTO vc_y SELECT seq, CONCAT('v', seq), '2024-01-01' + INTERVAL seq SECOND "
                      .. 'FROM seq_1_to_300'))
      end
      local o = { a = { pool = p, table = 'vc_y' }, b = { pool = p2, table = 'vc_y' }, chunk_rows = 50 }
      assert(p2:exec('DROP FUNCTION IF EXISTS fmhost_rowsum'))
      local v = assert(sum(o))
      assert.are.same({ a = 'udf', b = 'client' }, v.checksum.hash_at)
      assert.is_true(v.ok, V.format(v))
      assert.are.equal(0, v.checksum.differing)
      o.hash_at = { b = 'udf' }
      local r, err = sum(o)
      assert.is_nil(r)
      assert.matches("side b: hash_at 'udf' needs the aggregate function fmhost_rowsum %(build/fmhost_rowsum.so%) "
                     .. 'on the server of vc_y: .*fmhost_rowsum does not exist', tostring(err))
      assert(p2:exec("CREATE AGGREGATE FUNCTION fmhost_rowsum RETURNS INTEGER SONAME 'fmhost_rowsum.so'"))
      v = assert(sum(o))
      assert.are.same({ a = 'udf', b = 'udf' }, v.checksum.hash_at)
      assert.is_true(v.ok, V.format(v))
      assert.are.equal(300, v.counts.matched)
    end)

    it('compares across servers, then gives a partial verdict (never equal) when one dies', function()
      for _, q in ipairs { p, p2 } do
        q:exec('DROP TABLE IF EXISTS vc_x')
        assert(q:exec('CREATE TABLE vc_x (id INT PRIMARY KEY, v VARCHAR(20))'))
        assert(q:exec("INSERT INTO vc_x SELECT seq, CONCAT('v', seq) FROM seq_1_to_20000"))
      end
      local o = { a = { pool = p, table = 'vc_x' }, b = { pool = p2, table = 'vc_x' }, chunk_rows = 200,
                  threads = 2, retries = 1 }
      local v = assert(sum(o))
      assert.is_true(v.ok, V.format(v))
      -- pace it so the kill lands mid-run
      o.max_rows_per_s = 4000
      -- kill the second server from a child process after a second
      local proc = require 'fmhost.proc'
      local pids = T.mariadb_servers(c2)
      assert.is_true(#pids > 0)
      local h = assert(proc.spawn { 'sh', '-c', 'sleep 1; kill -9 ' .. table.concat(pids, ' ') })
      local r = assert(sum(o))
      h:wait(10000)
      assert.is_false(r.ok)
      assert.is_true(r.checksum.partial, V.format(r))
      assert.is_true(r.checksum.segments_failed > 0)
      assert.matches('not checked', r.checksum.partial_detail)
    end)
  end)
end)
