-- fmhost.pool: every type the generator produces survives a round trip
-- through prepared statements #mysql
--
-- Values go in as bound parameters and come back both through a prepared
-- statement (binary protocol) and a plain query (text protocol); each is
-- compared value by value, type included, with what went in.
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'

local NULL = pool.NULL

local function open(over)
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  return assert(pool.open((_G.cfg or {}).mysql or {}, over))
end

local DDL = [[
CREATE TABLE pool_types (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED,
  dec65 DECIMAL(65,30), dec9 DECIMAL(22,9),
  fl FLOAT, db DOUBLE,
  vc VARCHAR(64), tx TEXT,
  dt0 DATETIME, dt3 DATETIME(3), dt6 DATETIME(6), ts6 TIMESTAMP(6) NULL, d DATE, tm6 TIME(6),
  js JSON, bl BLOB, vb VARBINARY(16),
  bt BIT(64), yr YEAR, en ENUM('a','b','c'), st SET('a','b','c'), bo BOOLEAN
) CHARACTER SET utf8mb4]]

local COLS = { 'ti', 'tiu', 'si', 'siu', 'mi', 'miu', 'i', 'iu', 'bi', 'biu', 'dec65', 'dec9', 'fl', 'db', 'vc',
               'tx', 'dt0', 'dt3', 'dt6', 'ts6', 'd', 'tm6', 'js', 'bl', 'vb', 'bt', 'yr', 'en', 'st', 'bo' }

-- Each case: the values bound (by column), and what reading back must give
-- when it differs from what was bound.
local cases = {
  { name = 'minimums',
    put = { ti = -128, tiu = 0, si = -32768, siu = 0, mi = -8388608, miu = 0, i = -2147483648, iu = 0,
            bi = math.mininteger, biu = 0,
            dec65 = pool.decimal('-99999999999999999999999999999999999.999999999999999999999999999999'),
            dec9 = '-9999999999999.999999999', fl = -3.25, db = -1.7976931348623157e308,
            vc = '', tx = '', dt0 = '1000-01-01 00:00:00', dt3 = '1000-01-01 00:00:00.000',
            dt6 = pool.datetime('1000-01-01 00:00:00.000000'), ts6 = '1970-01-01 00:00:01.000000',
            d = '1000-01-01', tm6 = '-838:59:59.000000', js = '[]', bl = '', vb = '', bt = 0, yr = 1901,
            en = 'a', st = '', bo = false },
    get = { bo = 0 } },
  { name = 'maximums',
    put = { ti = 127, tiu = 255, si = 32767, siu = 65535, mi = 8388607, miu = 16777215, i = 2147483647,
            iu = 4294967295, bi = math.maxinteger, biu = '18446744073709551615',
            dec65 = '99999999999999999999999999999999999.999999999999999999999999999999',
            dec9 = '9999999999999.999999999', fl = 3.4028234663852886e38, db = 1.7976931348623157e308,
            vc = string.rep('😀', 64), tx = string.rep('𝄞', 1000), dt0 = '9999-12-31 23:59:59',
            dt3 = '9999-12-31 23:59:59.999', dt6 = '9999-12-31 23:59:59.999999',
            ts6 = '2038-01-19 03:14:07.999999', d = '9999-12-31', tm6 = '838:59:59.000000',
            js = '{"a": [1, 2.5, "x", null, true], "b": {"c": "😀"}}',
            bl = '\0\1\2\255\254abc\0', vb = pool.blob('\0\0\0'), bt = math.maxinteger, yr = 2155,
            en = 'c', st = 'a,b,c', bo = true },
    get = { bo = 1, fl = 3.4028235e38 },
    -- the server sends FLOAT in text with 6 significant digits
    text = { fl = 3.40282e38 } },
  { name = 'ordinary values',
    put = { ti = 7, tiu = 200, si = -1234, siu = 40000, mi = 100000, miu = 9000000, i = 123456789, iu = 3000000000,
            bi = -9007199254740993, biu = pool.decimal('9223372036854775808'),
            dec65 = '0.000000000000000000000000000001', dec9 = '-0.000000001', fl = 0.1, db = 0.1,
            vc = 'naïve café — ☕ Ελληνικά 中文 😀', tx = 'line1\nline2\ttab \'q\' "dq" \\ back',
            dt0 = '2024-02-29 12:34:56', dt3 = '2024-02-29 12:34:56.789', dt6 = '2024-02-29 12:34:56.000001',
            ts6 = '2024-02-29 12:34:56.123456', d = '2024-02-29', tm6 = '12:34:56.500000',
            js = '{"n": 1}', bl = 'binary\0with\0nuls', vb = 'ab\0cd', bt = 5, yr = 2024, en = 'b', st = 'a,c',
            bo = 1 },
    get = { biu = '9223372036854775808', fl = 0.1, dec65 = '0.000000000000000000000000000001',
            vb = 'ab\0cd' } },
  { name = 'NULL in every column',
    put = {},
    get = {} },
}

local function expected(case, col, how)
  local v
  if how == 'text' and case.text then v = case.text[col] end
  if v == nil then v = case.get[col] end
  if v == nil then v = case.put[col] end
  if v == nil then return NULL end
  if type(v) == 'table' then return tostring(v) end -- a typed wrapper holds its text
  return v
end

local INTEGER_COLS = { ti = 1, tiu = 1, si = 1, siu = 1, mi = 1, miu = 1, i = 1, iu = 1, bi = 1, bt = 1, yr = 1, bo = 1 }

local function compare(case, row, how)
  for _, col in ipairs(COLS) do
    local want, got = expected(case, col, how), row[col]
    assert(got ~= nil, ('%s/%s: column %s missing'):format(case.name, how, col))
    assert(want == got or (want ~= want and got ~= got),
           ('%s/%s: column %s: want %q, got %q'):format(case.name, how, col, tostring(want), tostring(got)))
    if INTEGER_COLS[col] and want ~= NULL then
      assert(math.type(got) == 'integer', ('%s/%s: column %s is not an integer'):format(case.name, how, col))
    end
  end
end

describe('fmhost.pool type round trip #mysql', function()
  local p
  lazy_setup(function()
    p = open { time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION' }
    p:exec('DROP TABLE IF EXISTS pool_types')
    assert(p:exec(DDL))
    local marks = {}
    for i = 1, #COLS do marks[i] = '?' end
    local sql = 'INSERT INTO pool_types (id, ' .. table.concat(COLS, ', ') .. ') VALUES (?, '
      .. table.concat(marks, ', ') .. ')'
    for id, case in ipairs(cases) do
      local args = { id }
      for k, col in ipairs(COLS) do
        local v = case.put[col]
        if v == nil then v = NULL end
        args[k + 1] = v
      end
      local n, msg = p:exec(sql, table.unpack(args, 1, #COLS + 1))
      assert(n == 1, ('insert %s: %s'):format(case.name, tostring(msg)))
    end
  end)
  lazy_teardown(function()
    if p then
      p:exec('DROP TABLE IF EXISTS pool_types')
      p:close()
    end
  end)

  for id, case in ipairs(cases) do
    it(case.name .. ' come back unchanged through a prepared statement', function()
      local row = assert(p:row('SELECT * FROM pool_types WHERE id = ?', id))
      compare(case, row, 'prepared')
    end)

    it(case.name .. ' come back unchanged through the text protocol', function()
      local row = assert(p:row('SELECT * FROM pool_types WHERE id = ' .. id))
      compare(case, row, 'text')
    end)
  end

  it('keeps every column of a row, NULLs included', function()
    local rows, meta = p:query('SELECT * FROM pool_types WHERE id = ?', 4)
    local n = 0
    for _ in pairs(rows[1]) do n = n + 1 end
    assert.are.equal(#COLS + 1, n)
    assert.are.equal(#COLS + 1, #meta.columns)
  end)

  it('reports each column type with its fsp and scale', function()
    local _, meta = p:query('SELECT dec65, dt3, dt6, js, bl, vc, biu FROM pool_types WHERE id = 1')
    local by = {}
    for _, c in ipairs(meta.columns) do by[c.name] = c end
    assert.are.same({ 'decimal', 30 }, { by.dec65.type, by.dec65.decimals })
    assert.are.same({ 'datetime', 3 }, { by.dt3.type, by.dt3.decimals })
    assert.are.same({ 'datetime', 6 }, { by.dt6.type, by.dt6.decimals })
    assert.are.equal('json', by.js.type)
    assert.are.equal('blob', by.bl.type)
    assert.is_true(by.bl.binary)
    assert.are.equal('varchar', by.vc.type)
    assert.is_true(by.biu.unsigned)
  end)

  it('returns typed values for expressions as well as columns', function()
    local r = p:row('SELECT ? AS i, ? AS f, ? AS s, ? AS n, ? AS b, ? AS dt, ? AS de',
                    42, 2.5, 'x', NULL, true, pool.datetime('2020-01-02 03:04:05.250000'), pool.decimal('1.50'))
    assert.are.equal(42, r.i)
    assert.are.equal('integer', math.type(r.i))
    assert.are.equal(2.5, r.f)
    assert.are.equal('x', r.s)
    assert.are.equal(NULL, r.n)
    assert.are.equal(1, r.b)
    assert.are.equal('2020-01-02 03:04:05.250000', r.dt)
    assert.are.equal('1.50', r.de)
  end)

  it('prints NULL as NULL and tells it from nil', function()
    assert.are.equal('NULL', tostring(NULL))
    assert.is_true(pool.is_null(NULL))
    assert.is_false(pool.is_null(nil))
    assert.is_false(pool.is_null(0))
  end)

  it('reads FLOAT exactly through prepared statements, and as the server prints it (6 digits) in text', function()
    local c <close> = assert(p:acquire())
    c:exec('DROP TEMPORARY TABLE IF EXISTS pool_fl')
    c:exec('CREATE TEMPORARY TABLE pool_fl (f FLOAT)')
    assert(c:exec('INSERT INTO pool_fl VALUES (?)', 1234567))
    assert.are.equal(1234567, c:scalar('SELECT f FROM pool_fl WHERE 1 = ?', 1))
    assert.are.equal(1234570, c:scalar('SELECT f FROM pool_fl'))
    local q = open { prepare_all = true }
    local c2 <close> = assert(q:acquire())
    c2:exec('DROP TEMPORARY TABLE IF EXISTS pool_fl')
    c2:exec('CREATE TEMPORARY TABLE pool_fl (f FLOAT)')
    assert(c2:exec('INSERT INTO pool_fl VALUES (?)', 1234567))
    assert.are.equal(1234567, c2:scalar('SELECT f FROM pool_fl'))
    c2:release()
    q:close()
  end)

  it('streams rows whose values outgrow the buffers of earlier rows', function()
    local c <close> = assert(p:acquire())
    c:exec('DROP TEMPORARY TABLE IF EXISTS pool_grow')
    c:exec('CREATE TEMPORARY TABLE pool_grow (id INT PRIMARY KEY, a MEDIUMTEXT, b VARCHAR(64), n INT)')
    local lens = { 10, 300, 5, 5000, 0, 70000, 20, 257 }
    for i, n in ipairs(lens) do
      assert(c:exec('INSERT INTO pool_grow VALUES (?, ?, ?, ?)', i, string.rep(string.char(65 + i), n),
                    string.rep('😀', i * 8), i))
    end
    local k = 0
    for row in c:rows('SELECT * FROM pool_grow WHERE id > ? ORDER BY id', 0) do
      k = k + 1
      assert.are.equal(string.rep(string.char(65 + k), lens[k]), row.a)
      assert.are.equal(string.rep('😀', k * 8), row.b)
      assert.are.equal(k, row.n)
    end
    assert.are.equal(#lens, k)
  end)

  it('reads a long value past the first buffer, with its NUL bytes', function()
    local big = string.rep('ab\0cd\255', 50000)
    local c <close> = assert(p:acquire())
    c:exec('DROP TEMPORARY TABLE IF EXISTS pool_big')
    c:exec('CREATE TEMPORARY TABLE pool_big (b LONGBLOB)')
    assert(c:exec('INSERT INTO pool_big VALUES (?)', big))
    assert.are.equal(big, c:scalar('SELECT b FROM pool_big WHERE 1 = ?', 1))
    assert.are.equal(big, c:scalar('SELECT b FROM pool_big'))
  end)
end)
