-- Seed properties 14 and 34 for fmhost.validate #mysql
--
-- 14: every field-level difference the validator finds is logged as one
-- structured event naming the key, the column, both values and the reason,
-- the same as the verdict says. 34: validating streams: the peak memory of
-- a child fmhost validating 800k rows is that of one validating 200k rows.
local pool = require 'fmhost.pool'
local gen = require 'fmhost.gen'
local stack = require 'fmhost.stack'
local V = require 'fmhost.validate'
local log = require 'fmhost.log'
local check = require 'fmhost.check'
local cjson = require 'cjson'
local T = require 'fmhost.testing'
local g = check.gen

local SCHEMA = {
  name = 'vprops',
  columns = {
    { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
    { name = 'd', type = 'DECIMAL(22,9)', nullable = true, null_ratio = 0.05 },
    { name = 'dt', type = 'DATETIME(6)' },
    { name = 's', type = 'VARCHAR(40)', nullable = true, null_ratio = 0.05 },
    { name = 'j', type = 'JSON', nullable = true, null_ratio = 0.05, depth = 2, width = 3 },
    { name = 'f', type = 'DOUBLE' },
    { name = 'n', type = 'INT', nullable = true, null_ratio = 0.1 },
  },
}

-- one change per column kind, and its undoing from the base table
local CHANGE = {
  d = 'd = IF(d IS NULL, 1.5, NULL)',
  dt = "dt = IF(dt > '1001-01-01', dt - INTERVAL 1 MICROSECOND, dt + INTERVAL 1 MICROSECOND)",
  s = "s = IF(s <=> 'fmhost', 'fmhosT', 'fmhost')",
  j = "j = IF(j <=> '[1]', '[2]', '[1]')",
  f = 'f = IF(f = 0.5, 0.25, 0.5)',
  n = 'n = IF(n IS NULL, 7, NULL)',
}
local REASONS = {
  d = { decimal = true, null_expected = true, null_actual = true },
  dt = { temporal = true },
  s = { string = true, null_expected = true },
  j = { json = true, null_expected = true },
  f = { double = true },
  n = { null_expected = true, null_actual = true },
}

-- a Lua literal of plain data, for the child's chunk
local function literal(v)
  if type(v) == 'table' then
    local parts = {}
    for k, x in pairs(v) do
      local key = math.type(k) == 'integer' and ('[' .. k .. ']') or ('[' .. ('%q'):format(k) .. ']')
      parts[#parts + 1] = key .. '=' .. literal(x)
    end
    table.sort(parts)
    return '{' .. table.concat(parts, ',') .. '}'
  elseif type(v) == 'string' then
    return ('%q'):format(v)
  end
  return tostring(v)
end

describe('fmhost.validate properties #mysql', function()
  local p, gn
  local N = 2000

  lazy_setup(function()
    assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
    p = assert(pool.open(cfg.mysql, { size = 4, acquire_timeout_ms = 60000, read_timeout_ms = 600000 }))
    gn = assert(gen.new(SCHEMA, { seed = 14 }))
  end)

  lazy_teardown(function()
    p:exec('DROP TABLE IF EXISTS vprop_t')
    p:exec('DROP TABLE IF EXISTS vprop_base')
    p:exec('DROP TABLE IF EXISTS vprop_big')
    assert.are.equal(0, p:stats().active)
    p:close()
  end)

  it('Feature: flink-mysql-connector-test, Property 14: every field difference is logged with key, column, both values and the reason', function()
    p:exec('DROP TABLE IF EXISTS vprop_base')
    p:exec('DROP TABLE IF EXISTS vprop_t')
    assert(p:exec(gn:create_table_sql('vprop_base')))
    assert(p:load { table = 'vprop_base', source = gn, rows = N })
    assert(p:exec('CREATE TABLE vprop_t LIKE vprop_base'))
    assert(p:exec('INSERT INTO vprop_t SELECT * FROM vprop_base'))
    local dir = T.tmpdir('fmhost-vprops')
    local level = log.level()
    local ok, err = pcall(check.property, {
      name = 'Feature: flink-mysql-connector-test, Property 14: data validation error logging',
      gen = g.record { rows = g.array(g.int(1, N), { min = 1, max = 3 }), column = g.elements { 'd', 'dt', 's', 'j', 'f', 'n' } },
      fn = function(c)
        local ids, seen = {}, {}
        for _, id in ipairs(c.rows) do
          if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
        end
        table.sort(ids)
        local list = table.concat(ids, ',')
        local file = dir .. '/log.jsonl'
        os.remove(file)
        assert(log.configure { level = 'warn', stderr = false, file = file })
        assert(p:exec('UPDATE vprop_t SET ' .. CHANGE[c.column] .. ' WHERE id IN (' .. list .. ')'))
        local v = assert(V.compare { target = { pool = p, table = 'vprop_t' },
                                     expected = { generator = gn, count = N }, key = 'id', log = 'samples',
                                     label = 'vprop_t' })
        assert(p:exec('UPDATE vprop_t t JOIN vprop_base b USING (id) SET t.' .. c.column .. ' = b.' .. c.column
                      .. ' WHERE id IN (' .. list .. ')'))
        assert(log.configure { level = level, stderr = true })
        local events = {}
        for line in io.lines(file) do
          local e = cjson.decode(line)
          if e.event == 'validate.mismatch' then events[#events + 1] = e end
        end
        -- the verdict and the log agree, one event per changed field, nothing else
        assert(#v.mismatches == #ids, ('%d mismatches for %d changed rows'):format(#v.mismatches, #ids))
        assert(#events == #ids, ('%d log events for %d changed rows'):format(#events, #ids))
        for k, m in ipairs(v.mismatches) do
          local e = events[k]
          assert(m.key == ids[k] and m.column == c.column, 'the verdict names another field')
          assert(e.key == tostring(ids[k]) and e.column == c.column and e.label == 'vprop_t',
                 'the event names another field: ' .. cjson.encode(e))
          assert(e.level == 'warn' and e.code == m.reason and e.reason == m.reason, 'reason lost')
          assert(REASONS[c.column][m.reason], 'unexpected reason ' .. m.reason)
          assert(e.expected == (m.expected == pool.NULL and 'NULL' or m.expected), 'expected value lost')
          assert(e.actual == (m.actual == pool.NULL and 'NULL' or m.actual), 'actual value lost')
          assert(type(e.detail) == 'string' and #e.detail > 0, 'no detail')
        end
      end,
    })
    log.configure { level = level, stderr = true }
    T.rmtree(dir)
    assert(ok, err)
  end)

  it('Feature: flink-mysql-connector-test, Property 34: validating 800k rows takes the memory of 200k rows #slow', function()
    local big = 800000
    p:exec('DROP TABLE IF EXISTS vprop_big')
    assert(p:exec(gn:create_table_sql('vprop_big')))
    assert(p:load { table = 'vprop_big', source = gn, rows = big, threads = 2 })
    local function hwm(rows)
      local code = ([[
        local V = require 'fmhost.validate'
        local g = assert(require('fmhost.gen').new(%s, { seed = 14 }))
        local p = assert(require('fmhost.pool').open(cfg.mysql, { size = 2, read_timeout_ms = 600000 }))
        local v = assert(V.compare { target = { pool = p, table = 'vprop_big', where = 'id <= %d' },
                                     expected = { generator = g, count = %d }, key = 'id', log = false })
        assert(v.ok and v.counts.matched == %d, require('fmhost.validate').format(v))
        p:close()
        local f = io.open('/proc/self/status'); local st = f:read('a'); f:close()
        print('HWM', st:match('VmHWM:%%s*(%%d+)'))
      ]]):format(literal(SCHEMA), rows, rows, rows)
      local r = T.run_fmhost({ '-e', code })
      assert(r.code == 0, r.stdout .. r.stderr)
      return tonumber(r.stdout:match('HWM%s+(%d+)')) / 1024
    end
    local small, large = hwm(big // 4), hwm(big)
    print(('validate_props: peak RSS %.1f MiB for %d rows, %.1f MiB for %d rows'):format(small, big // 4, large, big))
    assert.is_true(large <= small * 1.10 + 1, ('%.1f MiB for %d rows vs %.1f MiB for %d rows'):format(large, big,
                                                                                                   small, big // 4))
    assert.is_true(large <= 64)
  end)
end)
