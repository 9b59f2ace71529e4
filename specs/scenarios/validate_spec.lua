-- fmhost.validate compare, checksum, schema and quality against MariaDB #mysql
--
-- Tables and queries on one pool and on two pools, integer, string and
-- composite keys, the per-column options (ULP tolerance, fsp, time zone,
-- ignore, forced comparison), capped samples, and the failures a caller must
-- be told about. Checksum mode must find exactly the differences injected
-- between two tables, with an integer key and with a string key.
local pool = require 'fmhost.pool'
local gen = require 'fmhost.gen'
local stack = require 'fmhost.stack'
local V = require 'fmhost.validate'
local check = require 'fmhost.check'

local seed = check.resolve_seed()
print(('validate_spec: seed %d (FMHOST_SEED=%d replays it)'):format(seed, seed))

local p, p2

local function exec(sql, ...) return assert(p:exec(sql, ...)) end

local function sorted(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c, function(a, b) return tostring(a) < tostring(b) end)
  return c
end

local function fields(v)
  local out = {}
  for _, m in ipairs(v.mismatches) do
    local k = type(m.key) == 'table' and table.concat(m.key, '/') or tostring(m.key)
    out[#out + 1] = k .. ':' .. m.column
  end
  table.sort(out)
  return out
end

describe('fmhost.validate #mysql', function()
  lazy_setup(function()
    assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
    p = assert(pool.open(cfg.mysql, { size = 4, acquire_timeout_ms = 60000, name = 'validate-a' }))
    p2 = assert(pool.open(cfg.mysql, { size = 2, acquire_timeout_ms = 60000, name = 'validate-b' }))
  end)

  lazy_teardown(function()
    for _, t in ipairs { 'vs_a', 'vs_b', 'vs_c', 'vs_k1', 'vs_k2', 'vs_parent', 'vs_child', 'vs_ci' } do
      p:exec('DROP TABLE IF EXISTS ' .. t)
    end
    assert.are.equal(0, p:stats().active, 'a connection of pool a was left out')
    assert.are.equal(0, p2:stats().active, 'a connection of pool b was left out')
    p:close()
    p2:close()
  end)

  describe('compare', function()
    before_each(function()
      for _, t in ipairs { 'vs_a', 'vs_b' } do
        p:exec('DROP TABLE IF EXISTS ' .. t)
        exec('CREATE TABLE ' .. t .. ' (id INT PRIMARY KEY, f DOUBLE, g FLOAT, ts DATETIME(6), d DECIMAL(12,4), '
             .. 'b VARBINARY(8), note VARCHAR(20))')
        exec('INSERT INTO ' .. t .. " VALUES (1, 0.1, 1.5, '2024-01-01 10:00:00.123456', 1.5, 'a\\0b', 'x'), "
             .. "(2, 1e300, -2.25, '1970-01-01 00:00:01.000000', -0.0001, '', NULL), "
             .. "(3, -5e-324, 3.4e38, '9999-12-31 23:59:59.999999', 0, NULL, 'z')")
      end
    end)

    it('finds two equal tables on two pools equal', function()
      local v = assert(V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p2, table = 'vs_b' },
                                   key = 'id', log = false })
      assert.is_true(v.ok)
      assert.are.same({ expected = 3, target = 3, matched = 3, present = 3, exact = 3, differing = 0, missing = 0,
                        extra = 0, duplicated = 0, duplicate_rows = 0, copies_differing = 0, expected_duplicated = 0,
                        mismatched_rows = 0, mismatched_fields = 0 },
                      v.counts)
      assert.is_nil(v.seed)
    end)

    it('compares a table with a query, and a query with a query', function()
      exec("UPDATE vs_a SET note = 'changed' WHERE id = 2")
      local v = assert(V.compare { target = { pool = p, query = 'SELECT id, note FROM vs_a WHERE id >= 2' },
                                   expected = { pool = p2, query = 'SELECT id, note FROM vs_b' }, key = 'id',
                                   log = false })
      assert.are.same({ 1 }, v.missing)
      assert.are.same({ '2:note' }, fields(v))
      assert.are.equal(pool.NULL, v.mismatches[1].expected)
      assert.are.equal('null_expected', v.mismatches[1].reason)
      local w = assert(V.compare { target = { pool = p, table = 'vs_a', where = 'id <> 2' },
                                   expected = { pool = p, query = 'SELECT * FROM vs_b WHERE id <> 2 ORDER BY id',
                                                ordered = true },
                                   key = 'id', log = false })
      assert.is_true(w.ok)
      assert.are.equal(2, w.counts.matched)
    end)

    it('tolerates a declared number of ULPs on a DOUBLE and no more', function()
      exec('UPDATE vs_a SET f = f * (1 + 2.3e-16) WHERE id = 2')  -- 1 or 2 ULP away
      local strict = assert(V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' },
                                        key = 'id', log = false })
      assert.are.same({ '2:f' }, fields(strict))
      assert.are.equal('double', strict.mismatches[1].reason)
      local d = V.ulp_distance(tonumber(strict.mismatches[1].expected), tonumber(strict.mismatches[1].actual))
      assert.is_true(d >= 1 and d <= 2)
      local loose = assert(V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' },
                                       key = 'id', columns = { f = { ulp = 2 } }, log = false })
      assert.is_true(loose.ok)
    end)

    it('compares temporal values at a declared fsp', function()
      exec("UPDATE vs_a SET ts = '2024-01-01 10:00:00.123999' WHERE id = 1")
      local v = assert(V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' },
                                   key = 'id', log = false })
      assert.are.same({ '1:ts' }, fields(v))
      local v3 = assert(V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' },
                                    key = 'id', columns = { ts = { fsp = 3 } }, log = false })
      assert.is_true(v3.ok)
    end)

    it('compares bytes byte for byte, NUL included', function()
      exec("UPDATE vs_a SET b = 'a\\0c' WHERE id = 1")
      local v = assert(V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' },
                                   key = 'id', log = false })
      assert.are.same({ '1:b' }, fields(v))
      assert.are.equal('bytes', v.mismatches[1].reason)
      assert.are.equal('a\0b', v.mismatches[1].expected)
      assert.are.equal('a\0c', v.mismatches[1].actual)
      assert.matches('at byte 2', v.mismatches[1].detail, 1, true)
    end)

    it('leaves ignored columns out and reports columns one side lacks', function()
      exec('ALTER TABLE vs_a ADD COLUMN extra_col INT, DROP COLUMN note')
      local v = assert(V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' },
                                   key = 'id', log = false })
      assert.is_false(v.ok)
      assert.are.same({ 'note' }, v.missing_columns)
      assert.are.same({ 'extra_col' }, v.extra_columns)
      assert.are.equal(0, v.counts.mismatched_fields)
      local w = assert(V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' },
                                   key = 'id', ignore = { 'note', 'extra_col' }, log = false })
      assert.is_true(w.ok)
    end)

    it('counts every difference but keeps only max_samples of each kind', function()
      exec('DELETE FROM vs_a')
      exec('DELETE FROM vs_b')
      exec('INSERT INTO vs_b (id, note) SELECT seq, CONCAT("n", seq) FROM seq_1_to_500')
      exec('INSERT INTO vs_a (id, note) SELECT seq, CONCAT("m", seq) FROM seq_1_to_400')
      exec('INSERT INTO vs_a (id, note) SELECT seq, "x" FROM seq_1001_to_1100')
      local v = assert(V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' },
                                   key = 'id', max_samples = 4, log = false })
      assert.are.equal(100, v.counts.missing)
      assert.are.equal(100, v.counts.extra)
      assert.are.equal(400, v.counts.mismatched_rows)
      assert.are.same({ 401, 402, 403, 404 }, v.missing)
      assert.are.same({ 1001, 1002, 1003, 1004 }, v.extra)
      assert.are.equal(4, #v.mismatches)
      assert.is_true(v.truncated)
      assert.matches('samples capped', V.format(v), 1, true)
    end)

    it('merges on a composite key', function()
      p:exec('DROP TABLE IF EXISTS vs_k1')
      p:exec('DROP TABLE IF EXISTS vs_k2')
      for _, t in ipairs { 'vs_k1', 'vs_k2' } do
        exec('CREATE TABLE ' .. t .. ' (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b))')
        exec('INSERT INTO ' .. t .. " VALUES (1,'x',1),(1,'y',2),(2,'a',3),(2,'b',4)")
      end
      exec("DELETE FROM vs_k1 WHERE a = 1 AND b = 'y'")
      exec("UPDATE vs_k1 SET v = 40 WHERE a = 2 AND b = 'b'")
      exec("INSERT INTO vs_k1 VALUES (3, 'a', 5)")
      local v = assert(V.compare { target = { pool = p, table = 'vs_k1' }, expected = { pool = p, table = 'vs_k2' },
                                   key = { 'a', 'b' }, log = false })
      assert.are.same({ { 1, 'y' } }, v.missing)
      assert.are.same({ { 3, 'a' } }, v.extra)
      assert.are.same({ '2/b:v' }, fields(v))
    end)

    it('merges on a string key in binary order, emoji and NUL included', function()
      p:exec('DROP TABLE IF EXISTS vs_k1')
      p:exec('DROP TABLE IF EXISTS vs_k2')
      local keys = { 'a', 'a\0', 'a b', 'B', 'é', '😀', 'zz', '' }
      for _, t in ipairs { 'vs_k1', 'vs_k2' } do
        exec('CREATE TABLE ' .. t .. ' (k VARCHAR(10) PRIMARY KEY, v INT)')
        for i, k in ipairs(keys) do exec('INSERT INTO ' .. t .. ' VALUES (?, ?)', k, i) end
      end
      exec('DELETE FROM vs_k1 WHERE k = ?', '😀')
      exec('UPDATE vs_k1 SET v = 0 WHERE k = ?', 'a\0')
      local v = assert(V.compare { target = { pool = p, table = 'vs_k1' }, expected = { pool = p2, table = 'vs_k2' },
                                   key = 'k', log = false })
      assert.are.same({ '😀' }, v.missing)
      assert.are.equal(1, #v.mismatches)
      assert.are.equal('a\0', v.mismatches[1].key)
      assert.are.equal(#keys - 1, v.counts.matched)
    end)

    it('stops with an error when a side is not in binary key order', function()
      p:exec('DROP TABLE IF EXISTS vs_ci')
      exec('CREATE TABLE vs_ci (k VARCHAR(10) COLLATE utf8mb4_general_ci PRIMARY KEY)')
      exec("INSERT INTO vs_ci VALUES ('a'), ('B'), ('c')")
      local v, msg, info = V.compare { target = { pool = p, table = 'vs_ci' }, expected = { pool = p, table = 'vs_ci' },
                                       key = 'k', log = false }
      assert.is_nil(v)
      assert.matches('not in key order', msg, 1, true)
      assert.matches('binary collation', msg, 1, true)
      assert.is_table(info)
    end)

    it('returns nil, msg, info for SQL errors and raises on misuse', function()
      local v, msg, info = V.compare { target = { pool = p, table = 'vs_nope' }, expected = { pool = p, table = 'vs_b' },
                                       key = 'id', log = false }
      assert.is_nil(v)
      assert.matches("vs_nope", msg, 1, true)
      assert.are.equal(1146, info.code)
      assert.has_error(function() V.compare { target = { pool = p, table = 'vs_a' }, key = 'id' } end)
      assert.has_error(function()
        V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' } }
      end)
      assert.has_error(function()
        V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' }, key = 'nope' }
      end, nil)
      assert.has_error(function()
        V.compare { target = { pool = p, table = 'vs_a' }, expected = { pool = p, table = 'vs_b' }, key = 'id',
                    columns = { f = { as = 'banana' } } }
      end)
      assert.are.equal(0, p:stats().active)
    end)
  end)

  describe('compare against a generator', function()
    it('matches every column of every type the generator knows', function()
      local g = assert(gen.load('all_types', { seed = seed }))
      p:exec('DROP TABLE IF EXISTS vs_c')
      exec(g:create_table_sql('vs_c'))
      assert(p:load { table = 'vs_c', source = g, rows = 3000, first = 0 })
      local v = assert(V.compare { target = { pool = p, table = 'vs_c' }, expected = { generator = g, count = 3000 },
                                   key = 'id', log = false })
      assert.verdict(v)
      assert.are.equal(3000, v.counts.matched)
      assert.are.equal(seed, v.seed)
      assert.are.same({ 0, 2999 }, v.range)
      -- a sub-range of the generator against the whole table: the rest is extra
      local w = assert(V.compare { target = { pool = p, table = 'vs_c' },
                                   expected = { generator = g, first = 1000, count = 10 }, key = 'id', log = false })
      assert.are.equal(10, w.counts.matched)
      assert.are.equal(2990, w.counts.extra)
      -- the same schema, the generator's timestamps rendered at another offset than the session
      local z = assert(V.compare { target = { pool = p, table = 'vs_c' }, expected = { generator = g, count = 3000 },
                                   key = 'id', columns = { c_ts = { time_zone = '+01:00' } }, log = false })
      assert.is_true(z.counts.mismatched_fields > 0)
      for _, m in ipairs(z.mismatches) do
        assert.are.equal('c_ts', m.column)
        assert.matches('-1 hours', m.detail, 1, true)
      end
      local s = assert(V.schema { pool = p, table = 'vs_c', generator = g })
      assert.is_true(s.ok)
      p:exec('DROP TABLE vs_c')
    end)
  end)

  describe('checksum', function()
    local g
    local N = 8000
    local function load_pair(keyname)
      g = assert(gen.load('all_types', { seed = seed }))
      for _, t in ipairs { 'vs_a', 'vs_b' } do
        p:exec('DROP TABLE IF EXISTS ' .. t)
        exec(g:create_table_sql(t))
        assert(p:load { table = t, source = g, rows = N })
      end
    end

    -- k differences of several kinds in vs_a, at rows chosen from the seed; returns the keys
    -- (by keyname) that must be reported, per kind
    local function inject(keyname, k)
      local rng = check.Rng.for_case(seed, 2)
      local chosen, want = {}, { missing = {}, extra = {}, fields = {} }
      local function key_of(id)
        return keyname == 'id' and id or p:scalar('SELECT ' .. keyname .. ' FROM vs_b WHERE id = ?', id)
      end
      local i = 0
      while i < k do
        local id = rng:int(1, N)
        if not chosen[id] then
          chosen[id] = true
          i = i + 1
          local kind = i % 4
          if kind == 0 then
            exec('DELETE FROM vs_a WHERE id = ?', id)
            want.missing[#want.missing + 1] = key_of(id)
          elseif kind == 1 then
            exec('UPDATE vs_a SET c_int = IF(c_int IS NULL, 7, NULL) WHERE id = ?', id)
            want.fields[#want.fields + 1] = tostring(key_of(id)) .. ':c_int'
          elseif kind == 2 then
            exec('UPDATE vs_a SET c_double = IF(c_double = 1.5, 2.5, 1.5) WHERE id = ?', id)
            want.fields[#want.fields + 1] = tostring(key_of(id)) .. ':c_double'
          else
            exec("UPDATE vs_a SET c_varchar = 'fmhost-changed' WHERE id = ?", id)
            want.fields[#want.fields + 1] = tostring(key_of(id)) .. ':c_varchar'
          end
        end
      end
      -- one row only in a (a fresh key), and JSON members reordered on one side, which must not count
      local c <close> = assert(p:acquire())
      assert(c:exec('CREATE TEMPORARY TABLE vs_tmp SELECT * FROM vs_b WHERE id = 1'))
      assert(c:exec("UPDATE vs_tmp SET id = ?, c_ukey = 'fmhost-extra'", N + 10))
      assert(c:exec('INSERT INTO vs_a SELECT * FROM vs_tmp'))
      assert(c:exec('DROP TEMPORARY TABLE vs_tmp'))
      local x = N
      while chosen[x] do x = x - 1 end
      -- two rows of one chunk shifted alike: equal CRC changes must not cancel
      local y = 2
      while chosen[y] or chosen[y + 1] or y + 1 == x do y = y + 1 end
      exec("UPDATE vs_a SET c_dt = c_dt - INTERVAL 1 MICROSECOND WHERE id IN (?, ?) AND c_dt > '1001-01-01'", y, y + 1)
      for _, id in ipairs { y, y + 1 } do
        if p:scalar('SELECT c_dt <> (SELECT c_dt FROM vs_b WHERE id = ?) FROM vs_a WHERE id = ?', id, id) == 1 then
          want.fields[#want.fields + 1] = tostring(key_of(id)) .. ':c_dt'
        end
      end
      exec([[UPDATE vs_a SET c_json = '{"b": [2, {"y": 1, "x": 0}], "a": 1}' WHERE id = ?]], x)
      exec([[UPDATE vs_b SET c_json = '{"a":1,"b":[2,{"x":0,"y":1}]}' WHERE id = ?]], x)
      return want
    end

    it('does not let two equal changes in one chunk cancel out', function()
      for _, t in ipairs { 'vs_a', 'vs_b' } do
        p:exec('DROP TABLE IF EXISTS ' .. t)
        exec('CREATE TABLE ' .. t .. ' (id INT PRIMARY KEY, ts DATETIME(6), b TINYINT)')
        exec('INSERT INTO ' .. t .. " SELECT seq, '2024-01-01 00:00:00.000005', 1 FROM seq_1_to_100")
      end
      -- the same bit flip at the same place of two rows' encodings: equal CRC32 changes
      exec("UPDATE vs_a SET ts = '2024-01-01 00:00:00.000004' WHERE id IN (10, 20)")
      local v = assert(V.checksum { a = { pool = p, table = 'vs_a' }, b = { pool = p, table = 'vs_b' }, key = 'id',
                                    chunk_rows = 1000, leaf_rows = 10, parallel = false, log = false })
      assert.are.same({ '10:ts', '20:ts' }, fields(v))
      assert.are.equal(1, v.checksum.differing)
    end)

    it('cuts sparse integer keys into few chunks', function()
      for _, t in ipairs { 'vs_a', 'vs_b' } do
        p:exec('DROP TABLE IF EXISTS ' .. t)
        exec('CREATE TABLE ' .. t .. ' (id BIGINT PRIMARY KEY, v INT)')
        exec('INSERT INTO ' .. t .. ' VALUES (-9223372036854775808, 1), (1, 2), (2, 3), (9223372036854775807, 4)')
      end
      exec('UPDATE vs_a SET v = 5 WHERE id = 9223372036854775807')
      local v = assert(V.checksum { a = { pool = p, table = 'vs_a' }, b = { pool = p, table = 'vs_b' }, key = 'id',
                                    chunk_rows = 2, leaf_rows = 1, log = false })
      assert.are.same({ '9223372036854775807:v' }, fields(v))
      assert.are.equal(4, v.counts.matched) -- keys on both sides, the differing one included
      assert.is_true(v.checksum.chunks <= 8, v.checksum.chunks .. ' chunks')
    end)

    for _, keyname in ipairs { 'id', 'c_ukey' } do
      it('finds exactly the injected differences, key ' .. keyname, function()
        load_pair(keyname)
        local same = assert(V.checksum { a = { pool = p, table = 'vs_a' }, b = { pool = p2, table = 'vs_b' },
                                         key = keyname, chunk_rows = 500, leaf_rows = 40, log = false })
        assert.is_true(same.ok)
        assert.are.equal(N, same.counts.matched)
        assert.are.equal(0, same.checksum.differing)
        assert.are.equal(0, same.checksum.rows_streamed)
        local want = inject(keyname, 40)
        local v = assert(V.checksum { a = { pool = p, table = 'vs_a' }, b = { pool = p2, table = 'vs_b' },
                                      key = keyname, chunk_rows = 500, leaf_rows = 40, max_samples = 100,
                                      log = false })
        assert.are.same(sorted(want.missing), sorted(v.missing))
        assert.are.same({ keyname == 'id' and N + 10 or 'fmhost-extra' }, v.extra)
        assert.are.same(sorted(want.fields), fields(v))
        assert.are.equal(0, v.counts.duplicated)
        assert.are.equal(N, v.counts.expected)
        assert.are.equal(N - #want.missing + 1, v.counts.target)
        -- only the small ranges around the differences were streamed: at most leaf_rows per side each
        assert.is_true(v.checksum.rows_streamed <= 2 * 40 * 42, 'bisection streamed ' .. v.checksum.rows_streamed .. ' rows')
        -- the stack's servers have fmhost_rowsum: each hashes its own rows (SipHash of the packed text)
        assert.are.same({ a = 'udf', b = 'udf' }, v.checksum.hash_at)
        assert.matches('^SipHash%-1%-3 .* of the row text CONCAT%(', v.checksum.row_hash)
      end)
    end
  end)

  describe('quality', function()
    it('answers each check with counts and sample keys', function()
      p:exec('DROP TABLE IF EXISTS vs_child')
      p:exec('DROP TABLE IF EXISTS vs_parent')
      exec('CREATE TABLE vs_parent (id INT PRIMARY KEY)')
      exec('INSERT INTO vs_parent VALUES (1), (2), (3)')
      exec('CREATE TABLE vs_child (id INT PRIMARY KEY, pid INT, color VARCHAR(10), u INT)')
      exec("INSERT INTO vs_child VALUES (1,1,'red',1),(2,2,'blue',2),(3,9,'green',2),(4,NULL,'mauve',3),"
           .. "(5,7,NULL,3),(6,1,'red',3)")
      local q = assert(V.quality { pool = p, table = 'vs_child', checks = {
        { 'row_count', min = 1, max = 10 }, { 'row_count', min = 10 },
        { 'unique', column = 'u' }, { 'unique', columns = { 'pid', 'color' } }, { 'unique', column = 'id' },
        { 'not_null', column = 'pid' }, { 'accepted', column = 'color', values = { 'red', 'green', 'blue' } },
        { 'relationship', column = 'pid', ref_table = 'vs_parent', ref_column = 'id' },
      } })
      assert.is_false(q.ok)
      local r = q.results
      assert.is_true(r[1].ok)
      assert.is_false(r[2].ok)
      assert.are.same({ false, 2, 5, { 2, 3 } }, { r[3].ok, r[3].groups, r[3].failing, r[3].samples })
      assert.are.same({ { 1, 'red' } }, r[4].samples)
      assert.is_true(r[5].ok)
      assert.are.same({ 1, { 4 } }, { r[6].failing, r[6].samples })
      assert.are.same({ 1, { 4 } }, { r[7].failing, r[7].samples })
      assert.are.same({ 2, { 3, 5 } }, { r[8].failing, r[8].samples })
      assert.are.equal(6, r[8].rows)
    end)
  end)

  describe('schema', function()
    it('names missing columns, wrong types, nullability, keys and the primary key', function()
      p:exec('DROP TABLE IF EXISTS vs_a')
      exec('CREATE TABLE vs_a (id BIGINT NOT NULL PRIMARY KEY, d DECIMAL(10,2), ok BOOLEAN NOT NULL, '
           .. 'j JSON, s VARCHAR(20) UNIQUE)')
      local good = assert(V.schema { pool = p, table = 'vs_a', exact = true, primary_key = { 'id' }, columns = {
        { name = 'id', type = 'bigint', nullable = false, key = 'PRI' }, { name = 'd', type = 'decimal(10,2)' },
        { name = 'ok', type = 'boolean', nullable = false }, { name = 'j', type = 'json' },
        { name = 's', type = 'varchar(20)', key = 'UNI' } } })
      assert.is_true(good.ok)
      assert.are.same({ 'id' }, good.primary_key)
      local bad = assert(V.schema { pool = p, table = 'vs_a', primary_key = { 's' }, columns = {
        { name = 'id', type = 'int' }, { name = 'd', type = 'decimal(10,2)', nullable = false },
        { name = 's', key = '' }, { name = 'gone' } } })
      assert.is_false(bad.ok)
      local got = {}
      for _, i in ipairs(bad.issues) do got[#got + 1] = i.column .. ':' .. i.what end
      table.sort(got)
      assert.are.same({ '(primary key):primary_key', 'd:nullable', 'gone:missing', 'id:type', 's:key' }, got)
      local none, msg = V.schema { pool = p, table = 'vs_nope', columns = {} }
      assert.is_nil(none)
      assert.matches('not found', msg, 1, true)
    end)
  end)
end)
