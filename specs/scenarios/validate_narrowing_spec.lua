-- fmhost.validate against target columns narrower than the data #mysql
--
-- A pipeline that writes into a column narrower than its data loses data
-- silently when the server runs in a non-strict sql_mode: DOUBLE kept at
-- float precision in a FLOAT, DECIMAL(38,18) rounded or clipped in a
-- DECIMAL(10,2), VARCHAR(64) text cut in a VARCHAR(8), DATETIME(6) cut in
-- a DATETIME(0) (or left a date in a DATE), utf8mb4 text turned into '?'
-- in a latin1 column, INT clipped in a TINYINT. For each narrowing the
-- generator's table is created with that one column narrowed and loaded in
-- sql_mode '' (as such a pipeline would), then:
--   * compare, against the generator, against a correct copy (table side)
--     and by checksum, must name exactly the rows whose value the server
--     changed (found by the server itself: a join of the narrowed table
--     with the correct copy), in that column only, with a detail that names
--     the narrowing;
--   * schema{generator=} must report exactly that column (type or charset);
--   * where a column option loosens the comparison (as='float', fsp=0,
--     tolerance=), the rows left are exactly those the loosening does not
--     cover.
-- The seed is printed; FMHOST_SEED=N replays a run.
local pool = require 'fmhost.pool'
local gen = require 'fmhost.gen'
local stack = require 'fmhost.stack'
local V = require 'fmhost.validate'
local check = require 'fmhost.check'

local N = 600
local BASE = 'vnar_base'
local T = 'vnar_t'

local SCHEMA = {
  name = 'vnar',
  columns = {
    { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
    { name = 'f', type = 'DOUBLE', edge_ratio = 0.1 },
    { name = 'd', type = 'DECIMAL(38,18)', edge_ratio = 0.1 },
    { name = 's', type = 'VARCHAR(64)', min_length = 1, edge_ratio = 0.05 },
    { name = 'dt', type = 'DATETIME(6)', edge_ratio = 0.05 },
    { name = 'u', type = 'VARCHAR(32)', charset = 'utf8', min_length = 1 },
    { name = 'n', type = 'INT', edge_ratio = 0.1 },
  },
}

-- Each narrowing: the column, its narrowed type, the reason of its
-- mismatches, the patterns one of which every mismatch's detail matches,
-- what schema reports, and (when there is one) the loosening that lets the
-- narrowed values through, with the SQL condition (b: the correct row, n:
-- the narrowed row) of the rows it still cannot excuse.
local NARROWINGS = {
  { col = 'f', narrow = 'FLOAT', reason = 'double', schema = 'type',
    details = { 'the target holds the expected value at float precision', 'the target holds the largest FLOAT' },
    loosen = { as = 'float' }, still = 'ABS(b.f) > 3.4028234663852886e38' },
  { col = 'd', narrow = 'DECIMAL(10,2)', reason = 'decimal', schema = 'type',
    details = { 'the target holds the value rounded to 2 decimal places',
                'the target holds the largest value its column can hold' },
    loosen = { tolerance = 0.005 }, still = 'ABS(b.d - n.d) > 0.005' },
  { col = 's', narrow = 'VARCHAR(8)', reason = 'string', schema = 'type',
    details = { 'the target holds the first 8 of %d+ characters %(cut%)' } },
  { col = 'dt', narrow = 'DATETIME', reason = 'temporal', schema = 'type',
    details = { 'the expected value cut to 0 fraction digits' },
    loosen = { fsp = 0 }, still = 'FALSE' },
  { col = 'dt', narrow = 'DATE', reason = 'temporal', schema = 'type',
    details = { 'the target holds the date only %(a DATE column for DATETIME data%?%)' } },
  { col = 'u', narrow = 'VARCHAR(32) CHARACTER SET latin1', reason = 'string', schema = 'charset',
    details = { "characters? became '%?' %(the first, U%+%x+ at character %d+%): the target column's character set" } },
  { col = 'n', narrow = 'TINYINT', reason = 'integer', schema = 'type',
    details = { 'the target holds the maximum of TINYINT', 'the target holds the minimum of TINYINT' } },
}

local seed = check.resolve_seed()
print(('validate_narrowing_spec: seed %d (FMHOST_SEED=%d replays it)'):format(seed, seed))

local p, loose, g

local function sorted(t)
  table.sort(t)
  return t
end

-- The keys whose `col` the narrowed table holds differently from the
-- correct copy, as the server sees it (strings compared byte for byte).
local function changed_keys(col, cond)
  local c <close> = assert(p:acquire())
  local diff = cond or (col == 's' or col == 'u')
    and ('NOT (CAST(b.%s AS BINARY) <=> CAST(CONVERT(n.%s USING utf8mb4) AS BINARY))'):format(col, col)
    or ('NOT (b.%s <=> n.%s)'):format(col, col)
  local out = {}
  for row in c:rows(('SELECT b.id FROM %s b JOIN %s n ON n.id = b.id WHERE %s ORDER BY b.id'):format(BASE, T, diff)) do
    out[#out + 1] = row.id
  end
  return out
end

-- The keys of the field mismatches of a verdict, all in column `col`.
local function mismatch_keys(v, col)
  local out = {}
  for _, m in ipairs(v.mismatches) do
    assert.are.equal(col, m.column, 'a mismatch outside the narrowed column: ' .. V.format(v))
    out[#out + 1] = m.key
  end
  return sorted(out)
end

local function compare(expected, columns)
  return assert(V.compare { target = { pool = p, table = T }, expected = expected, key = 'id', columns = columns,
                            max_samples = N, log = false })
end

local function from_generator(columns) return compare({ generator = g, first = 0, count = N }, columns) end

-- Exactly the rows `keys` differ, in `col` only, nothing missing or extra.
local function assert_names(v, col, keys, nr)
  assert.is_false(v.truncated)
  assert.are.equal(N, v.counts.matched)
  assert.are.equal(0, v.counts.missing + v.counts.extra + v.counts.duplicated)
  assert.are.same(keys, mismatch_keys(v, col))
  assert.are.equal(#keys, v.counts.mismatched_fields)
  assert.are.equal(#keys == 0, v.ok)
  for _, m in ipairs(v.mismatches) do
    assert.are.equal(nr.reason, m.reason)
    local hit = false
    for _, pat in ipairs(nr.details) do hit = hit or m.detail:find(pat) ~= nil end
    assert(hit, ('key %s: the detail "%s" does not name the narrowing (%s -> %s)'):format(tostring(m.key), m.detail,
      nr.col, nr.narrow))
  end
end

describe('fmhost.validate reports every kind of narrowed column #mysql', function()
  lazy_setup(function()
    assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
    p = assert(pool.open(cfg.mysql, { size = 3, acquire_timeout_ms = 60000 }))
    -- what a pipeline's connection does in a non-strict server: narrow and warn
    loose = assert(pool.open(cfg.mysql, { size = 1, acquire_timeout_ms = 60000, sql_mode = '' }))
    g = assert(gen.new(SCHEMA, { seed = seed }))
    p:exec('DROP TABLE IF EXISTS ' .. BASE)
    assert(p:exec(g:create_table_sql(BASE)))
    assert(p:load { table = BASE, source = g, rows = N })
  end)

  lazy_teardown(function()
    if p then
      p:exec('DROP TABLE IF EXISTS ' .. T)
      p:exec('DROP TABLE IF EXISTS ' .. BASE)
      assert.are.equal(0, p:stats().active)
      p:close()
    end
    if loose then loose:close() end
  end)

  it('finds the correct copy equal by value and by schema', function()
    p:exec('DROP TABLE IF EXISTS ' .. T)
    assert(p:exec(g:create_table_sql(T)))
    assert(loose:load { table = T, source = g, rows = N })
    local v = from_generator()
    assert.verdict(v)
    local names = {}
    for _, c in ipairs(v.columns) do names[#names + 1] = c.name .. '=' .. c.compare end
    assert.are.same({ 'f=double', 'd=decimal', 's=string', 'dt=temporal', 'u=string', 'n=integer' }, names)
    local s = assert(V.schema { pool = p, table = T, generator = g })
    assert.are.same({}, s.issues)
    assert.is_true(s.ok)
  end)

  for _, nr in ipairs(NARROWINGS) do
    it(('reports %s data in a %s column: compare by value, schema by type'):format(nr.col, nr.narrow), function()
      p:exec('DROP TABLE IF EXISTS ' .. T)
      assert(p:exec(g:create_table_sql(T)))
      assert(p:exec(('ALTER TABLE %s MODIFY %s %s NOT NULL'):format(T, nr.col, nr.narrow)))
      assert(loose:load { table = T, source = g, rows = N })
      assert.are.equal(N, p:scalar('SELECT COUNT(*) FROM ' .. T))
      local keys = changed_keys(nr.col)
      assert(#keys > 0, ('the data of %s never needed more than %s: nothing was narrowed'):format(nr.col, nr.narrow))

      -- against the generator, against the correct copy, and by checksum
      assert_names(from_generator(), nr.col, keys, nr)
      assert_names(compare { pool = p, table = BASE }, nr.col, keys, nr)
      local cs = assert(V.checksum { a = { pool = p, table = T }, b = { pool = p, table = BASE }, key = 'id',
                                     chunk_rows = 100, leaf_rows = 20, max_samples = N, log = false })
      assert.are.same(keys, mismatch_keys(cs, nr.col))
      assert.are.equal(#keys, cs.counts.mismatched_fields)

      -- the definition: exactly this column, for the reason expected
      local s = assert(V.schema { pool = p, table = T, generator = g })
      assert.is_false(s.ok)
      assert.are.equal(1, #s.issues, 'schema issues: ' .. require('cjson').encode(s.issues))
      assert.are.equal(nr.col, s.issues[1].column)
      assert.are.equal(nr.schema, s.issues[1].what)

      -- a loosening the caller asks for, on this column only, excuses what it covers
      if nr.loosen then
        local left = changed_keys(nr.col, nr.still)
        local v = from_generator { [nr.col] = nr.loosen }
        assert.are.same(left, mismatch_keys(v, nr.col))
        assert.are.equal(#left == 0, v.ok)
      end
    end)
  end

  it('reports a text column in another collation of utf8mb4 by schema, and its equal values as equal', function()
    p:exec('DROP TABLE IF EXISTS ' .. T)
    assert(p:exec(g:create_table_sql(T)))
    assert(p:exec('ALTER TABLE ' .. T .. ' MODIFY u VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL'))
    assert(loose:load { table = T, source = g, rows = N })
    local s = assert(V.schema { pool = p, table = T, generator = g })
    assert.are.same({ { column = 'u', what = 'collation', expected = 'utf8mb4_nopad_bin',
                        actual = 'utf8mb4_general_ci' } }, s.issues)
    local v = from_generator()
    assert.verdict(v)
  end)

  it('checks charset and collation given by the caller', function()
    local s = assert(V.schema { pool = p, table = BASE, columns = {
      { name = 'u', charset = 'latin1' }, { name = 's', charset = 'utf8mb4', collation = 'utf8mb4_unicode_ci' },
      { name = 'n', charset = 'utf8mb4' }, { name = 'dt', charset = 'utf8mb4', collation = 'utf8mb4_bin' },
      { name = 'f' } } })
    assert.are.same({
      { column = 'u', what = 'charset', expected = 'latin1', actual = 'utf8mb4' },
      { column = 's', what = 'collation', expected = 'utf8mb4_unicode_ci', actual = 'utf8mb4_nopad_bin' },
      { column = 'n', what = 'charset', expected = 'utf8mb4', actual = '(none)' },
      { column = 'dt', what = 'charset', expected = 'utf8mb4', actual = '(none)' },
    }, s.issues)
  end)

  it('refuses a tolerance that is negative or on a column that is no number', function()
    local ok, err = pcall(from_generator, { d = { tolerance = -1 } })
    assert.is_false(ok)
    assert.matches("column 'd': tolerance must be a finite number >= 0", tostring(err), 1, true)
    ok, err = pcall(from_generator, { s = { tolerance = 1 } })
    assert.is_false(ok)
    assert.matches("column 's': tolerance applies to numbers", tostring(err), 1, true)
  end)
end)
