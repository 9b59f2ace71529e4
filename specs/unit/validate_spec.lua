-- fmhost.validate value rules that need no server: exact decimals, JSON
-- compared semantically, ULP distances, and the verdict's text.
local V = require 'fmhost.validate'

describe('fmhost.validate value rules', function()
  it('puts decimal text in one canonical form whatever its zeros and sign', function()
    assert.are.equal('1234e-2', V.decimal_canon('12.34'))
    assert.are.equal('1234e-2', V.decimal_canon('0012.3400'))
    assert.are.equal('-1234e-2', V.decimal_canon('-12.340'))
    assert.are.equal('0', V.decimal_canon('-0.000'))
    assert.are.equal('0', V.decimal_canon('0'))
    assert.are.equal('1e2', V.decimal_canon('100'))
    assert.are.equal('1e2', V.decimal_canon('1e2'))
    assert.are.equal('1e2', V.decimal_canon('0.1E+3'))
    assert.are.equal('12345678901234567890123456789012345', V.decimal_canon('12345678901234567890123456789012345.000'))
    assert.is_nil(V.decimal_canon('12a'))
    assert.is_nil(V.decimal_canon(''))
    assert.is_nil(V.decimal_canon('.'))
  end)

  it('calls two decimal texts equal exactly when their canonical forms are (the plain-text fast path)', function()
    assert.is_true(V.decimal_equal('-67.570000000', '-67.57'))
    assert.is_true(V.decimal_equal('-0.00', '0'))
    assert.is_true(V.decimal_equal('007.50', '7.5'))
    assert.is_false(V.decimal_equal('10', '1'))
    assert.is_false(V.decimal_equal('1.5', '-1.5'))
    assert.is_false(V.decimal_equal('0.15', '1.5'))
    assert.is_true(V.decimal_equal('1e2', '100.0')) -- not plain: the general path
    local eq, invalid = V.decimal_equal('12a', '12a')
    assert.is_true(eq)
    assert.is_true(invalid)
    -- random plain texts around each other: leading and trailing zeros, signs, zero
    local check = require 'fmhost.check'
    local g = check.gen
    local digits = g.string { chars = '0123456789', min = 1, max = 4 }
    local function text(p)
      local zi, zf = string.rep('0', p.lead), string.rep('0', p.trail)
      return (p.neg and '-' or '') .. zi .. p.int .. (p.frac and ('.' .. p.frac .. zf) or '')
    end
    local part = g.record { neg = g.bool(), lead = g.int(0, 2), trail = g.int(0, 2), int = digits,
                            frac = g.one_of { g.constant(false), digits } }
    check.property {
      name = 'decimal_equal agrees with decimal_canon', runs = 400,
      gen = g.record { a = part, b = part, same = g.bool() },
      fn = function(c)
        local a = text(c.a)
        local b = c.same and text { neg = c.a.neg, lead = c.b.lead, trail = c.b.trail, int = c.a.int, frac = c.a.frac }
                  or text(c.b)
        local eq, invalid = V.decimal_equal(a, b)
        assert.is_false(invalid, a .. ' vs ' .. b)
        assert.are.equal(V.decimal_canon(a) == V.decimal_canon(b), eq, a .. ' vs ' .. b)
      end,
    }
  end)

  it('finds JSON documents equal when only member order or spacing differs', function()
    assert.is_true(V.json_equal('{"a":1,"b":[1,2,{"c":null}]}', '{ "b": [1, 2, {"c": null}], "a": 1 }'))
    assert.is_true(V.json_equal('{"n":1.50}', '{"n":1.5}'))
    assert.is_true(V.json_equal('{"n":100}', '{"n":1e2}'))
    assert.is_true(V.json_equal('"\\u00e9"', '"é"'))
    assert.is_true(V.json_equal('"\\ud83d\\ude00"', '"😀"'))
    assert.is_true(V.json_equal('{}', ' {} '))
  end)

  it('names the path where two JSON documents differ', function()
    local eq, where = V.json_equal('{"a":{"b":[1,2,3]}}', '{"a":{"b":[1,2,4]}}')
    assert.is_false(eq)
    assert.are.equal('$.a.b[2]: number 3 vs 4', where)
    eq, where = V.json_equal('{"a":1}', '{"a":1,"b":2}')
    assert.is_false(eq)
    assert.are.equal('$.b: only in the target document', where)
    eq, where = V.json_equal('[1,2]', '[2,1]')
    assert.is_false(eq)
    assert.matches('^%$%[0%]', where)
    eq, where = V.json_equal('{"s":"x"}', '{"s":1}')
    assert.is_false(eq)
    assert.are.equal('$.s: string vs number', where)
  end)

  it('compares JSON numbers exactly, past double precision', function()
    assert.is_false(V.json_equal('12345678901234567890123', '12345678901234567890124'))
    assert.is_true(V.json_equal('12345678901234567890123', '12345678901234567890123.0'))
    assert.is_false(V.json_equal('0.1000000000000000000001', '0.1'))
  end)

  it('reports invalid JSON as such', function()
    local eq, where = V.json_equal('{"a":', '{}')
    assert.is_false(eq)
    assert.matches('expected document is not JSON', where)
    eq, where = V.json_equal('{}', '{"a" 1}')
    assert.is_false(eq)
    assert.matches('target document is not JSON', where)
  end)

  it('measures double distances in units in the last place', function()
    assert.are.equal(0, V.ulp_distance(1.5, 1.5))
    assert.are.equal(0, V.ulp_distance(0.0, -0.0))
    assert.are.equal(1, V.ulp_distance(1.0, 1.0 + 2 ^ -52))
    assert.are.equal(2, V.ulp_distance(-4.9e-324, 4.9e-324))
    assert.are.equal(1, V.ulp_distance(1.0, 1.0 - 2 ^ -53))
    assert.are.equal(3, V.ulp_distance(2.0, 2.0 + 3 * 2 ^ -51))
  end)

  it('formats a verdict as readable text', function()
    local text = V.format {
      ok = false, mode = 'stream', seed = 7, range = { 0, 99 },
      counts = { expected = 100, target = 100, matched = 99, missing = 1, extra = 1, duplicated = 0,
                 mismatched_rows = 1, mismatched_fields = 1 },
      missing = { 5 }, extra = { 'k\n1' }, duplicated = {},
      mismatches = { { key = { 1, 'a' }, column = 'd', expected = '1.5', actual = V.NULL, reason = 'null_actual',
                       detail = 'expected a value, the target holds NULL' } },
      elapsed_s = 0.5, rows_per_s = 200,
    }
    assert.matches('FAILED', text, 1, true)
    assert.matches('generator seed 7, rows 0..99', text, 1, true)
    assert.matches('missing keys (1): 5', text, 1, true)
    assert.matches("extra keys (1): 'k\\n1'", text, 1, true)
    assert.matches("key (1, 'a') column d [null_actual]: expected '1.5', target NULL", text, 1, true)
  end)

  -- a failed verdict with a diagnosis: a pattern in column amount, missing rows explained
  local function diagnosed()
    return {
      ok = false, mode = 'stream',
      counts = { expected = 10, target = 7, matched = 7, exact = 5, differing = 2, missing = 3, extra = 0,
                 duplicated = 0, mismatched_rows = 2, mismatched_fields = 2 },
      missing = { 8, 9, 10 }, extra = {}, duplicated = {},
      columns = { { name = 'amount', compare = 'decimal', mismatches = 2 } },
      mismatches = { { key = 1, column = 'amount', expected = '1000.00', actual = '999.99', reason = 'value',
                       detail = 'the largest value its column can hold' } },
      patterns = { { column = 'amount', kind = 'clipping', count = 2, of = 2,
                     text = 'values clipped to the largest a DECIMAL(5,2) holds',
                     examples = { "key 1: '1000.00' -> '999.99'", "key 2: '5000.00' -> '999.99'" } } },
      explain = { { column = 'id', kind = 'missing', count = 3, of = 3, text = 'all 3 missing rows have id >= 8' } },
      missing_rows = { "key 8: id='8', amount='1.00'" },
      elapsed_s = 0.5, rows_per_s = 20,
    }
  end

  it('formats the parts of a verdict a caller names, in the text\'s order, and refuses an unknown part', function()
    local v = diagnosed()
    local all = V.format(v)
    local part = V.format(v, { 'rows', 'diagnosis', 'counts' })
    assert.are.equal('  rows: expected 10, target 7; keys present 7 (exact 5, differing 2), missing 3, extra 0, '
      .. 'duplicated 0; 2 differing fields\n'
      .. '  diagnosis:\n    all 3 missing rows have id >= 8\n'
      .. "    column amount: values clipped to the largest a DECIMAL(5,2) holds e.g. key 1: '1000.00' -> '999.99'; "
      .. "key 2: '5000.00' -> '999.99'\n"
      .. "  missing row key 8: id='8', amount='1.00'\n", part)
    -- each part is the same text as in the whole
    for l in part:gmatch('[^\n]+') do assert.matches(l, all, 1, true) end
    assert.are.equal('', V.format(v, { 'columns' }))
    assert.are.equal(all, V.format(v, { 'head', 'counts', 'time', 'columns', 'diagnosis', 'rows', 'keys', 'samples' }))
    assert.has_error(function() V.format(v, { 'count' }) end,
      "validate.format: unknown part 'count' (head, counts, time, columns, diagnosis, rows, keys, samples)")
  end)

  it('assert.verdict fails a spec (a busted failure) with the verdict\'s text, and passes an ok verdict', function()
    local v = diagnosed()
    local ok, e = pcall(function() assert.verdict(v) end)
    assert.is_false(ok)
    -- a luassert failure (busted reports it as a failure, not an error) carrying validate.format(v)
    assert.are.equal('table', type(e))
    assert.matches(V.format(v), tostring(e.message), 1, true)
    v.ok = true
    assert.verdict(v)
    local ok2, e2 = pcall(function() assert.verdict(nil, 'no such table') end)
    assert.is_false(ok2)
    assert.matches('assert.verdict needs a verdict of fmhost.validate, got nil (no such table)', tostring(e2.message),
      1, true)
  end)
end)
