-- Verdicts that explain, through a real Flink pipeline: a user's mistake
-- planted in the orders example (their sink DDL, their SQL, their session
-- settings) must FAIL with a diagnosis (pipeline.format) that names the
-- pattern fmhost.validate recognised and the column it is in: clipping to
-- a type's range, '?' for characters a character set cannot hold, rows
-- collapsed by a wrong key, missing rows explained by a range. Each
-- asserts the verdict's pattern (kind and column) and that the diagnosis
-- text carries it; on the code before the diagnosis named patterns, the
-- pipeline's text had none of these sentences. (The time-zone shift and a
-- DECIMAL clipped are in pipeline_mistakes_spec, on the mistakes there.)
local P = require 'fmhost.pipeline'
local stack = require 'fmhost.stack'

local DIR = _FMHOST_ROOT .. '/examples/pipelines'

-- The orders example with plain-text edits of its SQL or sink DDL.
local function mutant(edits)
  local d = assert(P.load(DIR .. '/orders.pipeline.lua'))
  for _, e in ipairs(edits) do
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
  assert.are.equal('FINISHED', r.job.state, text)
  return r, text
end

local function cause_of(text) return text:match('\n  cause: ([^\n]*)') or '' end

local function pattern(r, column, text)
  for _, p in ipairs(r.verdict.patterns or {}) do
    if p.column == column then return p end
  end
  error(('no pattern for column %s in:\n%s'):format(column, text), 2)
end

local function explanation(r, kind, text)
  for _, x in ipairs(r.verdict.explain or {}) do
    if x.kind == kind then return x end
  end
  error(('no %s explanation in:\n%s'):format(kind, text), 2)
end

describe('pipeline diagnoses name the pattern behind a planted mistake #flink #mysql #conformance', function()
  lazy_setup(function() assert(stack.ensure(cfg, { 'mariadb', 'flink' })) end)

  -- one job, two narrowings of their sink DDL, written in their non-strict session
  local narrowed
  local function run_narrowed()
    if not narrowed then
      local d = mutant {
        { 'ddl', 'customer_id INT NOT NULL', 'customer_id TINYINT NOT NULL' },
        { 'ddl', 'note VARCHAR(40) NULL', 'note VARCHAR(40) CHARACTER SET latin1 NULL' },
      }
      d.sink.url_params = { sessionVariables = 'sql_mode=NO_ENGINE_SUBSTITUTION', jdbcCompliantTruncation = 'false' }
      narrowed = { failing(d) }
    end
    return table.unpack(narrowed)
  end

  it('clipping: a TINYINT sink column for INT customer ids (non-strict) is named as clipped to TINYINT\'s range',
    function()
    local r, text = run_narrowed()
    local p = pattern(r, 'customer_id', text)
    assert.are.equal('clipping', p.kind, text)
    assert.matches('TINYINT', p.text, 1, true)
    -- every customer id above 127 differs, and only those
    assert.are.equal(p.of, p.count, text)
    assert.matches('    column customer_id: ' .. p.text, text, 1, true)
    assert.matches("'127'", p.examples[1], 1, true)
    assert.are.equal(0, r.verdict.counts.missing)
  end)

  it('\'?\' replacement: a latin1 sink column for emoji notes (non-strict) is named as characters turned into \'?\'',
    function()
    local r, text = run_narrowed()
    local p = pattern(r, 'note', text)
    assert.are.equal('charset', p.kind, text)
    assert.matches("replaced by '?'", p.text, 1, true)
    assert.matches('    column note: ' .. p.text, text, 1, true)
    assert.is_true(#p.examples >= 1)
  end)

  it('a collapse by a wrong key: their sink keyed on customer_id keeps one row per customer; the diagnosis names '
    .. 'the collapse by customer_id', function()
    local d = mutant { { 'ddl', 'id BIGINT PRIMARY KEY, customer_id INT NOT NULL',
                         'id BIGINT NOT NULL, customer_id INT PRIMARY KEY' } }
    d.expect.key = 'id'
    local r, text = failing(d)
    local x = explanation(r, 'collapse', text)
    assert.are.equal('customer_id', x.column, text)
    assert.matches('rows collapsed by customer_id', x.text, 1, true)
    assert.matches('missing from ' .. r.sink_table, cause_of(text), 1, true)
    assert.matches(x.text, cause_of(text), 1, true)
    -- one target row per customer: the rest of the expected rows are missing
    local customers = math.tointeger(r.verdict.counts.target)
    assert.are.equal(r.verdict.counts.expected - customers, r.verdict.counts.missing)
  end)

  it('missing rows explained by a range: their WHERE drops id > 2000; the diagnosis names the bound on id', function()
    local d = mutant { { 'sql', "FROM orders WHERE status IN ('paid', 'shipped')",
                         "FROM orders WHERE status IN ('paid', 'shipped') AND id <= 2000" } }
    local r, text = failing(d)
    local x = explanation(r, 'missing', text)
    assert.are.equal('id', x.column, text)
    assert.matches('>= 20', x.text, 1, true)
    assert.matches(x.text, cause_of(text), 1, true)
    assert.matches('  diagnosis:\n    ' .. x.text, text, 1, true)
    for _, k in ipairs(r.verdict.missing) do assert.is_true(k > 2000) end
    assert.are.equal(0, r.verdict.counts.mismatched_rows)
  end)
end)
