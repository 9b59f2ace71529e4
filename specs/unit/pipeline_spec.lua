-- fmhost.pipeline without servers: statement splitting with lines, the
-- placeholders, the description's checks (closest valid key), changelogs.
local P = require 'fmhost.pipeline'

local function perr(fn)
  local ok, e = pcall(fn)
  assert.is_false(ok, 'no error raised')
  return type(e) == 'table' and e.pipeline_error or tostring(e)
end

describe('fmhost.pipeline (no servers)', function()
  it('splits SQL text into statements at semicolons outside quotes and comments, with the line of each', function()
    local st = P.split_sql("CREATE TABLE a (x STRING) WITH ('k' = 'a;b');\n-- a comment; here\n\n"
      .. "INSERT INTO a\n SELECT ';' FROM b; /* ; */ SELECT 1")
    assert.are.equal(3, #st)
    assert.are.equal("CREATE TABLE a (x STRING) WITH ('k' = 'a;b')", st[1].sql)
    assert.are.equal(1, st[1].line)
    assert.matches('^%-%- a comment', st[2].sql)
    assert.are.equal(2, st[2].line)
    assert.are.equal('SELECT 1', st[3].sql:gsub('^/%*.-%*/%s*', ''))
  end)

  it('keeps EXECUTE STATEMENT SET BEGIN ... END as one statement', function()
    local st = P.split_sql('EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT 2; END;\nSELECT 3;')
    assert.are.equal(2, #st)
    assert.matches('END$', st[1].sql)
    assert.are.equal(2, st[2].line)
  end)

  it('fills placeholders and names the closest one for an unknown placeholder', function()
    local vars = { ['sink.jdbc'] = "'connector' = 'jdbc'", ['source.orders.options'] = 'x' }
    assert.are.equal("WITH ('connector' = 'jdbc')", P.expand('WITH (${sink.jdbc})', vars))
    local msg = perr(function() P.expand('WITH (${sink.jdbcc})', vars, 'statement 2') end)
    assert.matches('statement 2: unknown placeholder ${sink.jdbcc}, did you mean ${sink.jdbc}?', msg, 1, true)
  end)

  it('rejects an unknown key of the description, naming the closest valid one', function()
    assert.matches("unknown key 'expext', did you mean 'expect'?",
      perr(function() P.check { name = 'x', expext = {} } end), 1, true)
    assert.matches("flink: unknown key 'sesion', did you mean 'session'?",
      perr(function() P.check { name = 'x', flink = { sesion = {} } } end), 1, true)
    assert.matches("unknown guarantee 'exactly-once', did you mean 'exactly_once'?",
      perr(function() P.check { name = 'x', expect = { guarantee = 'exactly-once' } } end), 1, true)
    assert.matches("unknown action 'kill_taskmanger', did you mean 'kill_taskmanager'?",
      perr(function() P.check { name = 'x', faults = { { 'kill_taskmanger' } } } end), 1, true)
    assert.matches("data.orders: unknown key 'colums', did you mean 'columns'?",
      perr(function() P.check { name = 'x', data = { orders = { colums = {} } } } end), 1, true)
    assert.matches('sink: latency_ms must be milliseconds between 0 and 60000, got -1',
      perr(function() P.check { name = 'x', sink = { latency_ms = -1 } } end), 1, true)
    assert.matches('latency_ms must be milliseconds between 0 and 60000, got 1 ms',
      perr(function() P.check { name = 'x', sink = { latency_ms = '1 ms' } } end), 1, true)
    assert(P.check { name = 'x', sink = { latency_ms = 2 } })
  end)

  it('loads a file with a Lua error as one message naming the file and line', function()
    local T = require 'fmhost.testing'
    local dir = T.tmpdir('fmhost-pl-unit')
    finally(function() T.rmtree(dir) end)
    local f = assert(io.open(dir .. '/bad.pipeline.lua', 'w'))
    f:write('return {\n name = "bad",\n data = { x = 1 +  },\n}\n')
    f:close()
    local d, msg = P.load(dir .. '/bad.pipeline.lua')
    assert.is_nil(d)
    assert.matches('bad.pipeline.lua:3:', msg, 1, true)
  end)

  it('builds a changelog whose final state applies the events in order: deletes remove, replays and '
    .. 'out-of-order updates leave the last applied version', function()
    local ev = P.changelog_events({ keys = 50, updates = 3, delete_ratio = 0.3, replay_ratio = 0.2,
                                    reorder_ratio = 0.3, rekey_ratio = 0.1 }, 5)
    -- the same seed, the same events
    local again = P.changelog_events({ keys = 50, updates = 3, delete_ratio = 0.3, replay_ratio = 0.2,
                                       reorder_ratio = 0.3, rekey_ratio = 0.1 }, 5)
    assert.are.same(ev, again)
    local s = { events = ev }
    local idx = {}
    for i = 0, #ev - 1 do idx[#idx + 1] = i end
    local state = P.changelog_state(s, idx)
    -- an independent fold
    local want = {}
    for _, e in ipairs(ev) do
      if e.op == 'd' then want[e.key] = nil else want[e.key] = e.after end
    end
    local n = 0
    for _, e in ipairs(state) do
      n = n + 1
      assert.are.equal(want[e.key], e.index)
    end
    local wn = 0
    for _ in pairs(want) do wn = wn + 1 end
    assert.are.equal(wn, n)
    local ops = {}
    for _, e in ipairs(ev) do ops[e.op] = (ops[e.op] or 0) + 1 end
    assert.is_true(ops.d > 0 and ops.u > 0 and ops.c > 50, 'the changelog lacks deletes, updates or key changes')
  end)

  it('merges shrinking indices into row ranges', function()
    assert.are.same({ { 0, 3 }, { 7, 1 }, { 9, 2 } }, P.ranges_of { indices = { 0, 1, 2, 7, 9, 10 } })
    assert.are.same({ { 0, 5 } }, P.ranges_of { rows = 5 })
  end)
  -- a result as pipeline.run leaves it: a finished job, a verdict with a
  -- pattern in amount, a column no pattern explains, missing rows explained
  local function result()
    local V = require 'fmhost.validate'
    return {
      name = 'orders', seed = 42, rows = 10, ok = false, job_ok = true, sink_table = 'pl_orders_out', key = { 'id' },
      job = { id = 'j1', state = 'FINISHED', restarts = 0, checkpoints = 1 }, faults = {},
      verdict = {
        ok = false, mode = 'stream',
        counts = { expected = 10, target = 7, matched = 7, exact = 4, differing = 3, missing = 3, extra = 0,
                   duplicated = 0, expected_duplicated = 0, mismatched_rows = 3, mismatched_fields = 3 },
        missing = { 8, 9, 10 }, extra = {}, duplicated = {},
        columns = { { name = 'amount', compare = 'decimal', mismatches = 2 },
                    { name = 'city', compare = 'string', mismatches = 1 } },
        mismatches = {
          { key = 1, column = 'amount', expected = '1000.00', actual = '999.99', reason = 'value' },
          { key = 2, column = 'amount', expected = '5000.00', actual = '999.99', reason = 'value' },
          { key = 3, column = 'city', expected = 'Oslo', actual = V.NULL, reason = 'null_actual' } },
        patterns = { { column = 'amount', kind = 'clipping', count = 2, of = 2,
                       text = 'values clipped to the largest a DECIMAL(5,2) holds (2 of 2 mismatches)',
                       examples = { "key 1: '1000.00' -> '999.99'", "key 2: '5000.00' -> '999.99'" } } },
        explain = { { column = 'id', kind = 'missing', count = 3, of = 3,
                      text = 'all 3 missing rows have id >= 8, and no target row does' } },
        missing_rows = { "key 8: id='8', amount='1.00'" },
      },
    }
  end

  it('leads the diagnosis with the cause and the verdict\'s explanation, then the counts, the patterns and the '
    .. 'explanations in validate.format\'s words', function()
    local r = result()
    local text = P.format(r)
    local lines = {}
    for l in text:gmatch('[^\n]+') do lines[#lines + 1] = l end
    assert.are.equal('pipeline orders FAILED (seed 42, 10 input rows)', lines[1])
    assert.are.equal('  cause: 3 expected row(s) missing from pl_orders_out (keys 8, 9, 10): all 3 missing rows '
      .. 'have id >= 8, and no target row does', lines[2])
    -- the counts, the diagnosis and the rows are validate.format's own lines
    local part = require('fmhost.validate').format(r.verdict, { 'counts', 'columns', 'diagnosis', 'rows' })
    assert.matches(part, text, 1, true)
    assert.matches('keys present 7 (exact 4, differing 3), missing 3', text, 1, true)
    assert.matches("    column amount: values clipped to the largest a DECIMAL(5,2) holds (2 of 2 mismatches) e.g. "
      .. "key 1: '1000.00' -> '999.99'; key 2: '5000.00' -> '999.99'", text, 1, true)
    -- a column with a pattern is not sampled again; one without is, twice at most
    assert.matches('  column amount (decimal): 2 value(s) differ, clipping (above)', text, 1, true)
    assert.is_nil(text:find('id 1: expected', 1, true))
    assert.matches('  column city (string): 1 value(s) differ\n    id 3: expected Oslo, got NULL', text, 1, true)
    -- without missing rows, the worst column leads with its pattern
    r.verdict.counts.missing, r.verdict.missing, r.verdict.explain = 0, {}, {}
    assert.are.equal('column amount differs in 2 row(s): values clipped to the largest a DECIMAL(5,2) holds '
      .. '(2 of 2 mismatches)', P.cause_line(r))
  end)
end)
