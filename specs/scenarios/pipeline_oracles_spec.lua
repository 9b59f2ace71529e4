-- The oracles and keys of fmhost.pipeline against the real stack: a Lua
-- function oracle, a table without a key (rows compared as a multiset), a
-- composite key, data delivered as a staged MariaDB table, and the same
-- file run twice unchanged against "existing servers" (mysql.managed=false,
-- flink.managed=false), where fmhost touches only the tables it created.
local P = require 'fmhost.pipeline'
local stack = require 'fmhost.stack'
local pool = require 'fmhost.pool'

local DIR = _FMHOST_ROOT .. '/examples/pipelines'

-- tax = amount * 0.2 rounded half away from zero, in exact decimal text
local function tax_of(amount)
  local sign, int, frac = amount:match('^(%-?)(%d+)%.(%d%d)$')
  local cents = tonumber(int) * 100 + tonumber(frac)
  local t = (cents * 2 + 5) // 10
  return ('%s%d.%02d'):format(t == 0 and '' or sign, t // 100, t % 100)
end

describe('pipeline oracles and keys #flink #mysql', function()
  lazy_setup(function() assert(stack.ensure(cfg, { 'mariadb', 'flink' })) end)

  it('a Lua function oracle row -> row | nil, over a sink compared without a key as a multiset', function()
    local d = assert(P.load(DIR .. '/orders.pipeline.lua'))
    d.rows = 400
    d.expect = { key = false, fn = function(row)
      if row.status ~= 'paid' and row.status ~= 'shipped' then return nil end
      return { id = row.id, customer_id = row.customer_id, amount = row.amount, tax = tax_of(row.amount),
               note = row.note, created_at = row.created_at }
    end }
    local r = P.run(d)
    assert.pipeline(r)
    assert.is_true(r.keyless)
    assert.is_true(r.verdict.counts.matched > 100)
  end)

  it('without a key, a row written twice is a duplicate of the multiset; with a wrong fn, the rows differ', function()
    local d = assert(P.load(DIR .. '/orders.pipeline.lua'))
    d.rows = 300
    d.flink.sql = d.flink.sql:gsub(',%s*PRIMARY KEY %(id%) NOT ENFORCED', '')
      :gsub("WHERE status IN %('paid', 'shipped'%);", "WHERE status IN ('paid', 'shipped') UNION ALL "
        .. "SELECT id, customer_id, amount, CAST(amount * 0.2 AS DECIMAL(12,2)), note, created_at FROM orders WHERE id = 7;")
    d.sink.ddl = d.sink.ddl:gsub('id BIGINT PRIMARY KEY', 'id BIGINT NOT NULL')
    local r = P.run(d)
    local text = P.format(r)
    assert.is_false(r.ok, text)
    assert.are.equal(1, r.verdict.counts.duplicated, text)
    assert.are.equal(0, r.verdict.counts.missing)
  end)

  it('a composite key (order_id, country) on the join', function()
    local d = assert(P.load(DIR .. '/orders_customers.pipeline.lua'))
    d.expect.key = { 'order_id', 'country' }
    local r = P.run(d)
    assert.pipeline(r)
    assert.are.same({ 'order_id', 'country' }, r.key)
    assert.are.same('table', type(r.verdict.mismatches))
  end)

  it('runs the same file twice unchanged against existing servers with the data delivered as a table, '
    .. 'touching only the tables it created', function()
    local T = require 'fmhost.testing'
    local m = cfg.mysql
    local db = assert(pool.open { host = m.host, port = m.port, user = m.user, password = m.password,
                                  database = m.database, size = 1 })
    finally(function() db:close() end)
    local dir = T.tmpdir('fmhost-pl-remote')
    finally(function() T.rmtree(dir) end)
    local src = assert(io.open(DIR .. '/orders.pipeline.lua')):read('a')
    src = src:gsub("name = 'orders',", "name = 'remote_orders',")
      :gsub("    orders = {\n", "    orders = {\n      deliver = 'table',\n", 1)
    local f = assert(io.open(dir .. '/remote_orders.pipeline.lua', 'w'))
    f:write(src)
    f:close()
    for _, t in ipairs { 'pl_remote_orders_out', 'pl_remote_orders_orders' } do assert(db:exec('DROP TABLE IF EXISTS ' .. t)) end
    local rest, gw = stack.flink.urls(cfg)
    local args = { '--set', 'mysql.managed=false', '--set', 'flink.managed=false', '--set', 'flink.rest_url=' .. rest,
                   '--set', 'flink.gateway_url=' .. gw, 'check', dir .. '/remote_orders.pipeline.lua' }
    for run = 1, 2 do
      local r = T.run_fmhost(args)
      assert.are.equal(0, r.code, ('run %d: %s%s'):format(run, r.stdout, r.stderr))
      assert.matches('PASS remote_orders: 1547 rows matched', r.stdout, 1, true)
    end
    assert.are.equal(P.OWNER_MARK, db:scalar("SELECT table_comment FROM information_schema.tables WHERE "
      .. "table_schema = DATABASE() AND table_name = 'pl_remote_orders_out'"))
  end)
end)
