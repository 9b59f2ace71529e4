-- specs/scenarios/readme_example_spec.lua: the worked example of README.md, kept
-- running so the README never shows code that does not work.
local pool  = require 'fmhost.pool'
local gen   = require 'fmhost.gen'
local check = require 'fmhost.check'
local validate = require 'fmhost.validate'

describe('orders loaded through LOAD DATA #mysql', function()
  local p
  lazy_setup(function()      -- lazy: a --tags run that leaves these out starts nothing
    require('fmhost.stack').ensure(cfg, { 'mariadb' })   -- the private MariaDB
    p = assert(pool.open(cfg.mysql))
  end)
  lazy_teardown(function() p:close() end)

  it('keeps every row exactly, NULLs and emoji included', function()
    local g = assert(gen.new{ seed = 7, columns = {
      { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
      { name = 'amount', type = 'DECIMAL(22,9)', nullable = true, edge_ratio = 0.1 },
      { name = 'note', type = 'VARCHAR(64)', charset = 'emoji', nullable = true },
    } })
    assert(p:exec('DROP TABLE IF EXISTS orders'))
    assert(p:exec(g:create_table_sql('orders')))
    assert(p:load{ source = g, table = 'orders', rows = 10000, threads = 2 })
    local v = assert(validate.compare{ target = { pool = p, table = 'orders' }, key = 'id',
                                       expected = { generator = g, first = 0, count = 10000 } })
    assert.is_true(v.ok, validate.format(v))
  end)

  it('Feature: flink-mysql-connector-test, Property 10: DECIMAL keeps every digit', function()
    check.property{
      name = 'Feature: flink-mysql-connector-test, Property 10: numeric precision preservation',
      gen = check.gen.int(-999999999999999, 999999999999999):map(function(n) return ('%d.%09d'):format(n, math.abs(n) % 10^9) end),
      fn = function(d)
        assert(p:scalar('SELECT CAST(? AS DECIMAL(24,9))', pool.decimal(d)) == d)
      end,
    }
  end)
end)
