-- A pipeline source delivered through JetStream (fmhost.pipeline_nats): the
-- description's checks and the connector options it gives, without servers.
local P = require 'fmhost.pipeline'
local PN = require 'fmhost.pipeline_nats'

local COLS = { { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' } }

local function desc(src)
  src.columns = src.columns or COLS
  src.deliver = src.deliver or 'jetstream'
  return { name = 'p', data = { orders = src }, flink = { sql = 'INSERT INTO x SELECT 1' } }
end

local function refused(d)
  local ok, err = pcall(P.check, d)
  assert.is_false(ok)
  return err.pipeline_error
end

describe('pipeline data delivered through JetStream', function()
  it("accepts deliver = 'jetstream' with stream, subjects (a list or a count), spread, bounded, rate", function()
    assert(P.check(desc { stream = 'ORDERS', subjects = { 'o.eu', 'o.us' }, spread = 'round_robin', bounded = true }))
    assert(P.check(desc { subjects = 4, rate = 100 }))
  end)

  it('names a wrong deliver, a misspelled key, a wildcard subject, a changelog, a bad format', function()
    assert.matches("deliver must be 'files', 'table' or 'jetstream', not 'nats'", refused(desc { deliver = 'nats' }), 1, true)
    assert.matches("unknown key 'subject', did you mean 'subjects'?", refused(desc { subject = 'a' }), 1, true)
    assert.matches('a literal subject', refused(desc { subjects = { 'o.*' } }), 1, true)
    assert.matches('changelog= and document= need', refused(desc { changelog = { keys = 3 } }), 1, true)
    assert.matches("not 'debezium-json'", refused(desc { format = 'debezium-json' }), 1, true)
    assert.matches('stream must be a JetStream stream name', refused(desc { stream = 'a.b' }), 1, true)
  end)

  it('gives the connector options: servers, stream, subjects, format and the bounded mode', function()
    local run = { name = 'orders_js', cfg = { nats = { url = 'nats://127.0.0.1:4999' } } }
    local s = { name = 'orders', format = 'json' }
    PN.prepare(run, s, { subjects = 2 })
    assert.are.equal('PL_ORDERS_JS_ORDERS', s.stream)
    assert.are.same({ 'pl_orders_js_orders.orders.1', 'pl_orders_js_orders.orders.2' }, s.subjects)
    assert.is_true(s.bounded)
    local o = PN.options(run.cfg, s)
    for _, want in ipairs { "'connector' = 'nats-jetstream'", "'stream' = 'PL_ORDERS_JS_ORDERS'",
                            "'subjects' = 'pl_orders_js_orders.orders.1;pl_orders_js_orders.orders.2'",
                            "'format' = 'json'", "'scan.bounded.mode' = 'latest'" } do
      assert.matches(want, o, 1, true)
    end
    -- paced: unbounded
    local p = { name = 'orders', format = 'csv', rate = 10 }
    PN.prepare(run, p, { rate = 10 })
    assert.is_false(p.bounded)
    assert.matches("'scan.bounded.mode' = 'unbounded'", PN.options(run.cfg, p), 1, true)
    assert.matches("'format' = 'csv'", PN.options(run.cfg, p), 1, true)
  end)
end)

describe("Flink's unsupported options in a refused statement", function()
  it('are named with the closest supported option', function()
    local text = "org.apache.flink.table.api.ValidationException: Unsupported options found for 'nats-jetstream'.\n\n"
      .. 'Unsupported options:\n\nscan.batch-sise\n\nSupported options:\n\nconnector\nformat\nscan.batch-size\n'
      .. 'scan.bounded.mode\nservers\n\n\tat org.apache.flink.table.factories.FactoryUtil.validate(FactoryUtil.java:1)'
    assert.are.equal('(unsupported: scan.batch-sise; did you mean scan.batch-size?)', P.unsupported_options(text))
    -- JSON-escaped newlines, as in the gateway's error body
    assert.are.equal('(unsupported: scan.batch-sise; did you mean scan.batch-size?)',
      P.unsupported_options((text:gsub('\n', '\\n'))))
    assert.is_nil(P.unsupported_options('Object not found'))
  end)
end)
