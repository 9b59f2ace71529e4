-- Shrinking a failing run: a pipeline that silently drops every order whose
-- id is a multiple of 997 (3 of 3000 rows) shrinks, by delta debugging over
-- the row indices, to one offending row within the run budget; the printed
-- replay (the indices and the seed) reproduces the failure on its own.
local P = require 'fmhost.pipeline'
local stack = require 'fmhost.stack'

local function drop997()
  return {
    name = 'drop997',
    seed = 3,
    rows = 3000,
    data = { orders = { columns = {
      { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
      { name = 'amount', type = 'DECIMAL(12,2)' },
      { name = 'note', type = 'VARCHAR(20)', charset = 'utf8' },
    } } },
    flink = { sql = [[
      CREATE TEMPORARY TABLE orders (${source.columns}) WITH (${source.options});
      CREATE TEMPORARY TABLE out_orders (id BIGINT, amount DECIMAL(12,2), note STRING, PRIMARY KEY (id) NOT ENFORCED)
        WITH (${sink.jdbc});
      INSERT INTO out_orders SELECT * FROM orders WHERE MOD(id, 997) <> 0;
    ]] },
    sink = { from = 'orders' },
  }
end

describe('shrinking a failing pipeline #flink #mysql #conformance', function()
  lazy_setup(function() assert(stack.ensure(cfg, { 'mariadb', 'flink' })) end)

  it('shrinks a pipeline dropping every id that is a multiple of 997, over 3000 rows, to one offending row '
    .. 'within the budget, and the printed replay reproduces it', function()
    local d = drop997()
    local r = P.run(d)
    assert.is_false(r.ok, P.format(r))
    assert.are.same({ 997, 1994, 2991 }, r.verdict.missing)
    local budget = 40
    local s = P.shrink(d, r, { budget = budget })
    local text = P.format_shrink(s)
    print('\n' .. text)
    assert.are.equal(1, #s.indices, text)
    assert.is_true(s.runs <= budget)
    local i = s.indices[1]
    assert.is_true(i == 996 or i == 1993 or i == 2990, 'the offending row is not one the job drops: ' .. i)
    -- the text names the row (its values), its index and the seed
    assert.matches(('row %d: amount='):format(i), text, 1, true)
    assert.matches('seed 3', text, 1, true)
    assert.matches(('data.orders.indices = { %d }, seed = 3'):format(i), text, 1, true)
    -- the replay alone reproduces it
    local rr = P.run(P.replay_desc(d, s))
    assert.is_false(rr.ok)
    assert.are.equal(1, rr.verdict.counts.expected)
    assert.are.same({ i + 1 }, rr.verdict.missing)
  end)
end)
