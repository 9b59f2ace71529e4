-- fmhost.validate names the pattern behind differences #mysql
--
-- A base table of seeded rows is copied into a target, and one pattern is
-- planted in the copy through MariaDB itself (a narrower column altered in a
-- non-strict sql_mode, values shifted, rows deleted by a condition, a target
-- keyed on the wrong column, rows appended without a key). The verdict must
-- name exactly that pattern, on that column, with its count, in its
-- diagnosis (verdict.patterns / verdict.explain) and in V.format's text.
-- On the old code none of these sentences existed: every test fails there.
-- The seed is printed; FMHOST_SEED=N replays a run.
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local V = require 'fmhost.validate'
local check = require 'fmhost.check'
local Rng = require 'fmhost.check.rng'

local N = 400
local seed = check.resolve_seed()
print(('validate_explain_spec: seed %d (FMHOST_SEED=%d replays it)'):format(seed, seed))

local p, loose
local BASE, T = 'vx_base', 'vx_t'

local DDL = [[CREATE TABLE %s (
  id BIGINT NOT NULL, cust_id INT NOT NULL, region VARCHAR(8) NOT NULL, qty INT NOT NULL,
  price DECIMAL(12,4) NOT NULL, name VARCHAR(40) CHARACTER SET utf8mb4 NOT NULL, ts DATETIME(6) NOT NULL,
  note VARCHAR(20) NULL, f DOUBLE NOT NULL, doc VARCHAR(200) NOT NULL, PRIMARY KEY (id)
) DEFAULT CHARSET = utf8mb4 COLLATE utf8mb4_bin]]

local REGIONS = { 'eu', 'us', 'apac', 'latam' }
local WIDE = { 'Grüße', 'Ωmega', '日本語', 'naïve' }

local function build_base()
  local rng = Rng.for_case(seed, 0)
  assert(p:exec('DROP TABLE IF EXISTS ' .. BASE))
  assert(p:exec(DDL:format(BASE)))
  local rows = {}
  for id = 1, N do
    local emoji = rng:int(0, 3) == 0 and '\u{1F600}' or ''
    local name = WIDE[rng:int(1, #WIDE)] .. ' ' .. emoji .. ('name-%d-abcdefgh'):format(id)
    local ts = ('2024-%02d-%02d %02d:%02d:%02d.%06d'):format(rng:int(1, 12), rng:int(1, 28), rng:int(0, 23),
                                                           rng:int(0, 59), rng:int(0, 59), rng:int(1, 999999))
    local note = id % 9 == 0 and 'NULL' or ("'n%d'"):format(id)
    rows[#rows + 1] = ("(%d, %d, '%s', %d, %d.%04d, '%s', '%s', %s, %.17g, '{\"a\": %d, \"b\": [1, 2]}')"):format(
      id, rng:int(1, 300), REGIONS[rng:int(1, #REGIONS)], rng:int(-1000, 1000), rng:int(0, 99999), rng:int(1, 9999),
      name, ts, note, rng:float() * 1000 + 0.1, id)
  end
  assert(p:exec(('INSERT INTO %s VALUES %s'):format(BASE, table.concat(rows, ', '))))
end

-- A fresh copy of the base, then `plant` (statements run in sql_mode '').
local function target(plant, ddl, nocopy)
  assert(p:exec('DROP TABLE IF EXISTS ' .. T))
  assert(p:exec(ddl or ('CREATE TABLE %s LIKE %s'):format(T, BASE)))
  if not nocopy then assert(loose:exec(('INSERT INTO %s SELECT * FROM %s ORDER BY id'):format(T, BASE))) end
  for _, sql in ipairs(plant or {}) do assert(loose:exec((sql:gsub('%$T', T)))) end
end

local function compare(opts)
  opts = opts or {}
  local v = assert(V.compare { target = { pool = p, table = T }, expected = { pool = p, table = BASE },
                               key = 'id', log = false, columns = opts.columns })
  assert.is_false(v.ok)
  return v
end

local function count(sql) return math.tointeger(p:scalar((sql:gsub('%$T', T):gsub('%$B', BASE)))) end

-- The one pattern named for `col`, of `kind`, whose text matches `text`.
local function assert_pattern(v, col, kind, text, n)
  local text_all = V.format(v)
  assert.are.equal(1, #v.patterns, text_all)
  local pt = v.patterns[1]
  assert.are.equal(col, pt.column, text_all)
  assert.are.equal(kind, pt.kind, text_all)
  assert.matches(text, pt.text, 1, true)
  if n then assert.are.equal(n, pt.count, text_all) end
  assert.is_true(#pt.examples >= 1)
  assert.matches('column ' .. col .. ': ' .. pt.text, text_all, 1, true)
  return pt
end

local function assert_explain(v, kind, text, col)
  local all = V.format(v)
  for _, x in ipairs(v.explain) do
    if x.kind == kind and x.text:find(text, 1, true) and (not col or x.column == col) then
      assert.matches(x.text, all, 1, true)
      return x
    end
  end
  error(('no %s explanation with %q in:\n%s'):format(kind, text, all))
end

describe('fmhost.validate explains its verdicts #mysql', function()
  lazy_setup(function()
    assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
    p = assert(pool.open(cfg.mysql, { size = 3, acquire_timeout_ms = 60000 }))
    loose = assert(pool.open(cfg.mysql, { size = 1, acquire_timeout_ms = 60000, sql_mode = '' }))
    build_base()
  end)
  lazy_teardown(function()
    if p then
      p:exec('DROP TABLE IF EXISTS ' .. T)
      p:exec('DROP TABLE IF EXISTS ' .. BASE)
      p:close()
    end
    if loose then loose:close() end
  end)

  it('an equal copy has no diagnosis and honest counts', function()
    target()
    local v = assert(V.compare { target = { pool = p, table = T }, expected = { pool = p, table = BASE }, key = 'id',
                                 log = false })
    assert.is_true(v.ok)
    assert.are.same({}, v.patterns)
    assert.are.same({}, v.explain)
    assert.are.equal(N, v.counts.present)
    assert.are.equal(N, v.counts.exact)
    assert.are.equal(0, v.counts.differing)
  end)

  it('names rounding to N decimal places', function()
    target { 'ALTER TABLE $T MODIFY price DECIMAL(12,2) NOT NULL' }
    local v = compare()
    assert_pattern(v, 'price', 'rounding', 'values rounded to 2 decimal places',
                   count('SELECT COUNT(*) FROM $B b JOIN $T t USING (id) WHERE b.price <> t.price'))
    assert.are.equal(v.counts.present - v.counts.exact, v.counts.differing)
  end)

  it('names a cut to N characters', function()
    target { 'ALTER TABLE $T MODIFY name VARCHAR(8) CHARACTER SET utf8mb4 NOT NULL' }
    assert_pattern(compare(), 'name', 'truncation', 'values cut to 8 characters', N)
  end)

  it("names clipping to a type's range", function()
    target { 'ALTER TABLE $T MODIFY qty TINYINT NOT NULL' }
    local n = count('SELECT COUNT(*) FROM $B WHERE qty > 127 OR qty < -128')
    assert_pattern(compare(), 'qty', 'clipping', "values clipped to TINYINT's range", n)
  end)

  it("names characters turned into '?' by a latin1 column", function()
    target { 'ALTER TABLE $T MODIFY name VARCHAR(40) CHARACTER SET latin1 NOT NULL' }
    local n = count("SELECT COUNT(*) FROM $B b JOIN $T t USING (id) WHERE CAST(b.name AS BINARY) <> "
                    .. "CAST(CONVERT(t.name USING utf8mb4) AS BINARY)")
    assert_pattern(compare(), 'name', 'charset', "characters outside Latin-1 replaced by '?'", n)
  end)

  it("names 4-byte characters turned into '?' by a utf8mb3 column", function()
    target { 'ALTER TABLE $T MODIFY name VARCHAR(40) CHARACTER SET utf8mb3 NOT NULL' }
    local n = count("SELECT COUNT(*) FROM $B WHERE name LIKE '%\u{1F600}%'")
    assert.is_true(n > 0)
    assert_pattern(compare(), 'name', 'charset', "4-byte characters", n)
  end)

  it('names a constant time shift', function()
    target { 'UPDATE $T SET ts = ts + INTERVAL 330 MINUTE' }
    assert_pattern(compare(), 'ts', 'time_shift', 'values shifted by +05:30', N)
  end)

  it('names a shift that changes with daylight saving time', function()
    -- New York local time written where UTC was meant (US rules, 2024:
    -- daylight saving from March 10 to November 3)
    target { "UPDATE $T SET ts = ts - INTERVAL IF(ts >= '2024-03-10 07:00:00' AND ts < '2024-11-03 06:00:00', 4, 5) HOUR" }
    local pt = assert_pattern(compare(), 'ts', 'dst_shift', 'values shifted by -05:00 in winter and -04:00 in summer', N)
    assert.matches('America/New_York vs UTC', pt.text, 1, true)
  end)

  it('names fractional seconds cut to N digits, compared at the precision the data has', function()
    target { 'ALTER TABLE $T MODIFY ts DATETIME(2) NOT NULL' }
    local v = compare()
    -- a value whose microseconds end in 0000 survives the cut (about 4 runs in 100 hold one)
    assert_pattern(v, 'ts', 'fsp', 'fractional seconds cut to 2 digits',
                   count('SELECT COUNT(*) FROM $B b JOIN $T t USING (id) WHERE b.ts <> t.ts'))
    assert.matches('(compared at fsp 6)', v.mismatches[1].detail, 1, true)
  end)

  it('names NULLs absorbed by a NOT NULL default', function()
    target({},
           (DDL:format(T):gsub('note VARCHAR%(20%) NULL', "note VARCHAR(20) NOT NULL DEFAULT ''")))
    local pt = assert_pattern(compare(), 'note', 'null_default', "NULLs replaced by ''", N // 9)
    assert.matches('non-strict', pt.text, 1, true)
  end)

  it('names single precision', function()
    target { 'ALTER TABLE $T MODIFY f FLOAT NOT NULL' }
    assert_pattern(compare(), 'f', 'float_precision', 'single (FLOAT) precision')
  end)

  it('names JSON re-serialised as other text', function()
    target { 'UPDATE $T SET doc = JSON_COMPACT(doc)' }
    assert_pattern(compare(), 'doc', 'json_text', 'the same JSON document in other text', N)
  end)

  it('names no pattern where the differences fit none', function()
    target { 'UPDATE $T SET qty = qty + 1 + id % 5 WHERE id % 3 = 0' }
    local v = compare()
    assert.are.same({}, v.patterns)
    assert.are.equal(N // 3, v.counts.differing)
  end)

  it('explains missing rows by a range of a column, and shows their expected rows', function()
    target { 'DELETE FROM $T WHERE cust_id > 200' }
    local v = compare()
    local n = count('SELECT COUNT(*) FROM $B WHERE cust_id > 200')
    local lo = count('SELECT MIN(cust_id) FROM $B WHERE cust_id > 200')
    assert.are.equal(n, v.counts.missing)
    assert_explain(v, 'missing', ('all %d missing rows have cust_id >= %d'):format(n, lo), 'cust_id')
    assert.is_true(#v.missing_rows >= 1)
    assert.matches('cust_id=', v.missing_rows[1], 1, true)
    assert.matches('region=', V.format(v), 1, true)
  end)

  it('explains missing rows by a modulus of the key, by NULL and by a set of values', function()
    target { 'DELETE FROM $T WHERE id % 7 = 0' }
    assert_explain(compare(), 'missing', 'every missing key is a multiple of 7')
    target { 'DELETE FROM $T WHERE note IS NULL' }
    assert_explain(compare(), 'missing', 'have note NULL', 'note')
    target { "DELETE FROM $T WHERE region IN ('eu', 'apac')" }
    assert_explain(compare(), 'missing', "have region in (", 'region')
  end)

  it('explains extra rows', function()
    target { ('INSERT INTO $T SELECT id + 100000, cust_id, region, qty, price, name, ts, note, f, doc FROM %s '
              .. 'WHERE id <= 20'):format(BASE) }
    assert_explain(compare(), 'extra', 'all 20 extra rows have id >= 100001', 'id')
  end)

  it('names rows collapsed by a wrong key', function()
    target({ ('REPLACE INTO $T SELECT * FROM %s ORDER BY id'):format(BASE) },
           (DDL:format(T):gsub('PRIMARY KEY %(id%)', 'PRIMARY KEY (cust_id)')), true)
    -- REPLACE keeps the last row of each cust_id
    local v = compare()
    assert.are.equal(count('SELECT COUNT(DISTINCT cust_id) FROM $B'), v.counts.target)
    assert_explain(v, 'collapse', 'the target holds one row per distinct cust_id', 'cust_id')
  end)

  it('names a split: several differing rows per key, kept without a key', function()
    target({ 'INSERT INTO $T SELECT id, cust_id, region, qty - 1, price, name, ts, note, f, doc FROM $T '
             .. 'WHERE id % 10 = 0' },
           (DDL:format(T):gsub(', PRIMARY KEY %(id%)', ', KEY (id)')))
    local v = compare()
    assert.are.equal(N // 10, v.counts.duplicated)
    assert.are.equal(N, v.counts.present)
    assert_explain(v, 'split', 'differing in qty')
  end)
end)
