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
end)
