-- Planted mistakes: each example is changed the way a user's mistake would
-- change it (their DDL, their SQL, their session settings, a fault), and
-- each run must FAIL with a diagnosis that names the right column or the
-- right keys. A spec here would pass on a harness that cannot see the
-- mistake only if pipeline.run reported ok: every one asserts r.ok == false
-- and the diagnosis' content.
local P = require 'fmhost.pipeline'
local stack = require 'fmhost.stack'

local DIR = _FMHOST_ROOT .. '/examples/pipelines'

local function copy(t, seen)
  if type(t) ~= 'table' then return t end
  seen = seen or {}
  if seen[t] then return seen[t] end
  local c = {}
  seen[t] = c
  for k, v in pairs(t) do c[k] = copy(v, seen) end
  return c
end

-- The example, with text replacements in its SQL or DDL: {field, from, to}
-- (a plain-text replacement that must apply).
local function mutant(name, edits)
  local d = copy(assert(P.load(DIR .. '/' .. name .. '.pipeline.lua')))
  for _, e in ipairs(edits or {}) do
    local t = e[1] == 'sql' and d.flink or d.sink
    local field = e[1] == 'sql' and 'sql' or 'ddl'
    local i, j = t[field]:find(e[2], 1, true)
    assert(i, 'the edit does not apply: ' .. e[2])
    t[field] = t[field]:sub(1, i - 1) .. e[3] .. t[field]:sub(j + 1)
  end
  return d
end

local function failing(d)
  local r = P.run(d)
  local text = P.format(r)
  assert(not r.ok, 'the planted mistake was not found:\n' .. text)
  assert.is_nil(r.error, text)
  return r, text
end

-- the first line after the header is the cause
local function cause_of(text) return text:match('\n  cause: ([^\n]*)') or '' end

describe('planted mistakes fail with the right diagnosis #flink #mysql #conformance', function()
  lazy_setup(function() assert(stack.ensure(cfg, { 'mariadb', 'flink' })) end)

  it('filtering: WHERE status = \'paid\' drops the shipped orders; the missing keys are exactly shipped ones', function()
    local r, text = failing(mutant('orders', { { 'sql', "status IN ('paid', 'shipped')", "status = 'paid'" } }))
    assert.matches('expected row%(s%) missing', cause_of(text))
    assert.is_true(r.verdict.counts.missing > 500)
    assert.are.equal(0, r.verdict.counts.mismatched_rows)
    -- each missing key is a shipped order of the generator
    local g = require('fmhost.gen').new { seed = r.sources.orders.seed, columns =
      assert(P.load(DIR .. '/orders.pipeline.lua')).data.orders.columns }
    for _, k in ipairs(r.verdict.missing) do assert.are.equal('shipped', g:record(k - 1).status) end
  end)

  it('type narrowing (their DDL and their session settings): DECIMAL(8,2) with a non-strict sql_mode clips '
    .. 'the amounts; the diagnosis names column amount', function()
    local d = mutant('orders', { { 'ddl', 'amount DECIMAL(12,2) NOT NULL', 'amount DECIMAL(8,2) NOT NULL' } })
    -- the user's URL parameters: a lax sql_mode, and the driver told not to raise on truncation
    d.sink.url_params = { sessionVariables = 'sql_mode=NO_ENGINE_SUBSTITUTION', jdbcCompliantTruncation = 'false' }
    local r, text = failing(d)
    assert.matches('column amount differs', cause_of(text))
    assert.matches('column amount %(decimal%)', text)
    assert.are.equal(0, r.verdict.counts.missing)
    -- the verdict names the pattern: clipped to the largest a DECIMAL(8,2) holds, in the cause and the diagnosis
    assert.are.equal(1, #r.verdict.patterns, text)
    local p = r.verdict.patterns[1]
    assert.are.same({ 'amount', 'clipping' }, { p.column, p.kind })
    assert.matches('DECIMAL(8,2)', p.text, 1, true)
    assert.matches(p.text, cause_of(text), 1, true)
    assert.matches('    column amount: ' .. p.text, text, 1, true)
  end)

  it('type narrowing in their SQL: CAST(... AS DECIMAL(5,2)) overflows to NULL; the failed job\'s cause names '
    .. 'column tax', function()
    local _, text = failing(mutant('orders', { { 'sql', 'CAST(amount * 0.2 AS DECIMAL(12,2))',
      'CAST(amount * 0.2 AS DECIMAL(5,2))' } }))
    assert.matches('the job ended FAILED', cause_of(text))
    assert.matches('tax', cause_of(text))
  end)

  it('character set: a latin1 column for emoji notes fails the job; the cause names column note', function()
    local _, text = failing(mutant('orders', { { 'ddl', 'note VARCHAR(40) NULL', 'note VARCHAR(40) CHARACTER SET latin1 NULL' } }))
    assert.matches('the job ended FAILED', cause_of(text))
    assert.matches('note', cause_of(text))
    -- the connector's context, then the driver's message (no Flink wrapper, no class names)
    assert.matches('the job ended FAILED: JDBC write failed: Data truncation: Incorrect string value', cause_of(text),
      1, true)
  end)

  it('time zone (their session): table.local-time-zone Asia/Kolkata shifts every ts by 5:30; the diagnosis '
    .. 'names column ts', function()
    local d = mutant('events')
    d.flink.session = { ['table.local-time-zone'] = 'Asia/Kolkata' }
    local r, text = failing(d)
    assert.matches('column ts differs in 2000 row', cause_of(text))
    local m = r.verdict.mismatches[1]
    assert.are.equal('ts', m.column)
    -- the verdict names the pattern: a constant shift of +05:30 (or -05:30), in the cause and the diagnosis
    assert.are.equal(1, #r.verdict.patterns, text)
    local p = r.verdict.patterns[1]
    assert.are.same({ 'ts', 'time_shift' }, { p.column, p.kind })
    assert.matches('05:30', p.text, 1, true)
    assert.matches(p.text, cause_of(text), 1, true)
    assert.matches('    column ts: ' .. p.text, text, 1, true)
  end)

  it('JSON path: $.geo.cty instead of $.geo.city leaves every city NULL; the diagnosis names column city', function()
    local r, text = failing(mutant('events', { { 'sql', "'$.geo.city'", "'$.geo.cty'" } }))
    assert.matches('column city differs', cause_of(text))
    for _, m in ipairs(r.verdict.mismatches) do
      assert.are.equal('city', m.column)
      assert.are.equal(require('fmhost.pool').NULL, m.actual)
    end
  end)

  it('joins: joining on the order id instead of the customer id loses orders and mismatches names; the '
    .. 'diagnosis names the missing keys', function()
    local r, text = failing(mutant('orders_customers', { { 'sql', 'o.customer_id = c.id', 'o.id = c.id' } }))
    assert.matches('missing', cause_of(text))
    assert.are.equal(1800, r.verdict.counts.missing)
    assert.are.equal(201, r.verdict.missing[1])
  end)

  it('changelog (their session): the default upsert materializer keeps keys the changelog deleted after a '
    .. 'replayed update; the diagnosis names those keys as unexpected', function()
    local d = mutant('changelog')
    d.flink.session = nil
    local r, text = failing(d)
    assert.matches('unexpected row%(s%)', cause_of(text))
    -- each unexpected key was deleted by the changelog
    local ev = P.changelog_events(d.data.accounts.changelog, r.sources.accounts.seed)
    local deleted = {}
    for _, e in ipairs(ev) do
      if e.op == 'd' then deleted[e.key] = true elseif e.op == 'c' then deleted[e.key] = nil end
    end
    for _, k in ipairs(r.verdict.extra) do assert.is_true(deleted[k], 'key ' .. k .. ' was not deleted') end
  end)

  it('delivery guarantee: an append sink (no key) with a TaskManager killed mid-run writes rows twice; '
    .. 'the diagnosis names the duplicated keys, identical replays', function()
    local d = mutant('orders', { { 'sql', ',\n        PRIMARY KEY (id) NOT ENFORCED', '' },
                                 { 'ddl', 'id BIGINT PRIMARY KEY', 'id BIGINT NOT NULL' } })
    d.expect.key = 'id'
    d.data.orders.rate = 300
    -- their checkpoint interval: the kill lands before the first checkpoint, so the
    -- restarted job reads its files again from the start
    d.flink.session = { ['execution.checkpointing.interval'] = '20 s' }
    d.faults = { { 'kill_taskmanager', at = { rows = 400 } } }
    local r, text = failing(d)
    assert.matches('written more than once', cause_of(text))
    assert.is_true(#r.verdict.duplicated > 0)
    assert.is_true(r.duplicates.identical > 0)
    assert.are.equal(0, r.verdict.counts.missing)
  end)

  it('cancellation: the job cancelled mid-run is named as the cause and the rows it never wrote are '
    .. 'missing', function()
    local d = mutant('orders')
    d.data.orders.rate = 300
    d.faults = { { 'cancel', at = { rows = 300 } } }
    local r, text = failing(d)
    assert.matches('the job ended CANCELED', cause_of(text))
    assert.is_true(r.verdict.counts.missing > 0)
    assert.matches('missing keys: ', text, 1, true)
  end)

  it('network cut (their session: no restarts, no JDBC retries): the job fails on the cut and the '
    .. 'diagnosis names the connection failure and the missing keys', function()
    local d = mutant('orders')
    d.data.orders.rate = 300
    d.sink.options = { ['sink.max-retries'] = '0' }
    d.flink.session = { ['restart-strategy.type'] = 'none' }
    d.faults = { { 'cut', at = { rows = 400 }, duration_s = 3 } }
    local r, text = failing(d)
    assert.matches('the job ended FAILED', cause_of(text))
    -- the cause in one line: the connector, the driver, the socket (no Flink wrapper)
    assert.matches('JDBC write failed: Communications link failure', cause_of(text), 1, true)
    assert.is_nil(cause_of(text):find('Recovery is suppressed', 1, true))
    assert.is_true(r.verdict.counts.missing > 0)
  end)
end)
