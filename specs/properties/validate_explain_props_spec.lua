-- fmhost.validate names no pattern that does not hold #mysql
--
-- Each run copies a seeded base table, makes random differences in it
-- (fields replaced by another row's value, rows deleted at random) and, in
-- most runs, plants one pattern (a column narrowed in a non-strict
-- sql_mode, a time shift, rows deleted by a range). The verdict must name
-- the planted pattern, and nothing else: no column pattern on a column the
-- random differences touched, no predicate for randomly deleted rows.
-- The seed is printed; FMHOST_SEED=N replays a run.
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local V = require 'fmhost.validate'
local check = require 'fmhost.check'
local Rng = require 'fmhost.check.rng'

local N, RUNS = 300, 12
local seed = check.resolve_seed()
print(('validate_explain_props: seed %d (FMHOST_SEED=%d replays it)'):format(seed, seed))

local BASE, T = 'vxp_base', 'vxp_t'
local COLS = { 'cust_id', 'qty', 'price', 'name', 'ts', 'f' }
local PLANTS = {
  { col = 'price', kind = 'rounding', sql = 'ALTER TABLE $T MODIFY price DECIMAL(12,2) NOT NULL' },
  { col = 'name', kind = 'truncation', sql = 'ALTER TABLE $T MODIFY name VARCHAR(6) NOT NULL' },
  { col = 'qty', kind = 'clipping', sql = 'ALTER TABLE $T MODIFY qty TINYINT NOT NULL' },
  { col = 'ts', kind = 'time_shift', sql = 'UPDATE $T SET ts = ts - INTERVAL 2 HOUR' },
  { col = 'ts', kind = 'fsp', sql = 'ALTER TABLE $T MODIFY ts DATETIME(3) NOT NULL' },
  { col = 'f', kind = 'float_precision', sql = 'ALTER TABLE $T MODIFY f FLOAT NOT NULL' },
  { explain = 'missing', col = 'cust_id', sql = 'DELETE FROM $T WHERE cust_id > 250' },
  false, -- nothing planted
}

describe('fmhost.validate diagnosis properties #mysql', function()
  local p, loose
  lazy_setup(function()
    assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
    p = assert(pool.open(cfg.mysql, { size = 2, acquire_timeout_ms = 60000 }))
    loose = assert(pool.open(cfg.mysql, { size = 1, acquire_timeout_ms = 60000, sql_mode = '' }))
    local rng = Rng.for_case(seed, 0)
    assert(p:exec('DROP TABLE IF EXISTS ' .. BASE))
    assert(p:exec(('CREATE TABLE %s (id BIGINT PRIMARY KEY, cust_id INT NOT NULL, qty INT NOT NULL, '
                   .. 'price DECIMAL(12,4) NOT NULL, name VARCHAR(40) NOT NULL, ts DATETIME(6) NOT NULL, '
                   .. 'f DOUBLE NOT NULL) DEFAULT CHARSET = utf8mb4'):format(BASE)))
    local rows = {}
    for id = 1, N do
      rows[#rows + 1] = ("(%d, %d, %d, %d.%04d, 'n%d-%s', '2024-%02d-%02d %02d:%02d:%02d.%06d', %.17g)"):format(
        id, rng:int(1, 300), rng:int(-1000, 1000), rng:int(0, 99999), rng:int(1, 9999), id,
        ('x'):rep(rng:int(8, 20)), rng:int(1, 12), rng:int(1, 28), rng:int(0, 23), rng:int(0, 59), rng:int(0, 59),
        rng:int(1, 999999), rng:float() * 1000 + 0.1)
    end
    assert(p:exec(('INSERT INTO %s VALUES %s'):format(BASE, table.concat(rows, ', '))))
  end)
  lazy_teardown(function()
    if p then
      p:exec('DROP TABLE IF EXISTS ' .. T)
      p:exec('DROP TABLE IF EXISTS ' .. BASE)
      p:close()
    end
    if loose then loose:close() end
  end)

  it('names the planted pattern and no other', function()
    for run = 1, RUNS do
      local rng = Rng.for_case(seed, run)
      local plant = PLANTS[rng:int(1, #PLANTS)]
      assert(p:exec('DROP TABLE IF EXISTS ' .. T))
      assert(p:exec(('CREATE TABLE %s LIKE %s'):format(T, BASE)))
      assert(p:exec(('INSERT INTO %s SELECT * FROM %s'):format(T, BASE)))
      local touched = {}
      for _ = 1, rng:int(3, 10) do -- a field replaced by another row's value
        local col = COLS[rng:int(1, #COLS)]
        if not (plant and plant.col == col) then
          touched[col] = true
          assert(p:exec(('UPDATE %s t JOIN %s b ON b.id = %d SET t.%s = b.%s WHERE t.id = %d')
                          :format(T, BASE, rng:int(1, N), col, col, rng:int(1, N))))
        end
      end
      local deleted = {}
      -- (random deletions would blur a planted one: rows missing for two reasons share no predicate)
      for _ = 1, (plant and plant.explain) and 0 or rng:int(0, 5) do deleted[#deleted + 1] = rng:int(1, N) end
      if #deleted > 0 then assert(p:exec(('DELETE FROM %s WHERE id IN (%s)'):format(T, table.concat(deleted, ',')))) end
      if plant then assert(loose:exec((plant.sql:gsub('%$T', T)))) end
      local v = assert(V.compare { target = { pool = p, table = T }, expected = { pool = p, table = BASE },
                                   key = 'id', log = false })
      local text = ('seed %d run %d, planted %s, random fields in %s:\n%s'):format(seed, run,
        plant and (plant.kind or plant.explain) or 'nothing', table.concat((function()
          local l = {} for k in pairs(touched) do l[#l + 1] = k end table.sort(l) return l end)(), ','), V.format(v))
      for _, pt in ipairs(v.patterns) do
        assert(plant and pt.column == plant.col and pt.kind == plant.kind, 'a pattern not planted: ' .. text)
      end
      if plant and plant.kind then
        assert(#v.patterns == 1, 'the planted pattern not named: ' .. text)
      end
      for _, x in ipairs(v.explain) do
        assert(plant and plant.explain == x.kind and x.column == 'cust_id', 'an explanation not planted: ' .. text)
      end
      if plant and plant.explain then assert(#v.explain == 1, 'the planted deletion not explained: ' .. text) end
    end
  end)
end)
