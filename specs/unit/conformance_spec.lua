-- fmhost.conformance without servers: the type mapping a user writes, how
-- cases are grouped into pipelines, the decimal and temporal helpers the
-- defect assertions use, and the per-type section of the report.
local C = require 'fmhost.conformance'
local report = require 'fmhost.report'

describe('fmhost.conformance (no server)', function()
  it('maps MariaDB column types to the Flink source type, sink type and SELECT expression of the documented mapping',
    function()
      local function m(t) return { C.flink_types(t) } end
      assert.are.same({ 'TINYINT', 'TINYINT', '%s' }, m('TINYINT'))
      assert.are.same({ 'SMALLINT', 'SMALLINT', '%s' }, m('TINYINT UNSIGNED'))
      assert.are.same({ 'INT', 'INT', '%s' }, m('SMALLINT UNSIGNED'))
      assert.are.same({ 'INT', 'INT', '%s' }, m('MEDIUMINT UNSIGNED'))
      assert.are.same({ 'BIGINT', 'BIGINT', '%s' }, m('INT UNSIGNED'))
      assert.are.same({ 'DECIMAL(20,0)', 'DECIMAL(20,0)', '%s' }, m('BIGINT UNSIGNED'))
      assert.are.same({ 'DECIMAL(38,10)', 'DECIMAL(38,10)', '%s' }, m('DECIMAL(38,10)'))
      assert.are.same({ 'DECIMAL(20,0)', 'DECIMAL(20,0)', '%s' }, m('DECIMAL(20,0) UNSIGNED'))
      assert.are.same({ 'STRING', 'STRING', '%s' }, m('VARCHAR(64)'))
      assert.are.same({ 'STRING', 'STRING', '%s' }, m('JSON'))
      assert.are.same({ 'STRING', 'STRING', '%s' }, m("ENUM('a','b')"))
      assert.are.same({ 'BYTES', 'BYTES', '%s' }, m('MEDIUMBLOB'))
      assert.are.same({ 'TIME(3)', 'TIME(3)', '%s' }, m('TIME(3)'))
      assert.are.same({ 'TIMESTAMP(0)', 'TIMESTAMP(0)', '%s' }, m('DATETIME'))
      assert.are.same({ 'TIMESTAMP_LTZ(6)', 'TIMESTAMP(6)', 'CAST(%s AS TIMESTAMP(6))' }, m('TIMESTAMP(6)'))
    end)

  it('refuses DECIMAL beyond precision 38 without an explicit Flink type, naming both ways out', function()
    local t, msg = C.flink_types('DECIMAL(65,30)')
    assert.is_nil(t)
    assert.matches("flink = 'STRING'", msg, 1, true)
    assert.matches('DECIMAL%(38,s%)', msg)
  end)

  it('groups cases by writer, session and JDBC options and runs a case expected to fail its job alone', function()
    local a = { name = 'a', columns = { { name = 'x', type = 'INT' } } }
    local b = { name = 'b', columns = { { name = 'y', type = 'INT' } } }
    local c = { name = 'c', writer = { json_as_value = true }, columns = { { name = 'z', type = 'JSON' } } }
    local d = { name = 'd', expect_job = 'FAILED', columns = { { name = 'w', type = 'FLOAT' } } }
    local e = { name = 'e', columns = { { name = 'v', type = 'INT' } } }
    local plan = C.plan { a, b, c, d, e }
    assert.are.equal(3, #plan)
    assert.are.same({ a, b, e }, plan[1].cases)
    assert.are.same({ c }, plan[2].cases)
    assert.are.same({ d }, plan[3].cases)
  end)

  it('refuses a column name used by two cases, and the runner\'s key name', function()
    local a = { name = 'a', columns = { { name = 'x', type = 'INT' } } }
    local b = { name = 'b', columns = { { name = 'x', type = 'BIGINT' } } }
    assert.has_error(function() C.plan { a, b } end,
      'conformance: column x appears in "a" and "b": column names must be unique across the cases')
    assert.has_error(function() C.plan { { name = 'k', columns = { { name = 'id', type = 'INT' } } } } end)
    assert.has_error(function() C.plan { { name = 'k', columns = {} } } end)
  end)

  it('rounds decimal text half away from zero like Java HALF_UP, carrying into new digits', function()
    assert.are.equal('1.234', C.decimal_round('1.2344', 3))
    assert.are.equal('1.235', C.decimal_round('1.2345', 3))
    assert.are.equal('-0.001', C.decimal_round('-0.0005', 3))
    assert.are.equal('100.000', C.decimal_round('99.9996', 3))
    assert.are.equal('5', C.decimal_round('5', 3))
    assert.are.equal('12', C.decimal_round('11.5', 0))
    assert.are.equal(36, C.integer_digits(C.decimal_round(('9'):rep(35) .. '.9999', 3)))
    assert.are.equal(0, C.integer_digits('0.5'))
    assert.are.equal(3, C.integer_digits('-123.4'))
  end)

  it('reads DATETIME and TIME texts as microseconds', function()
    assert.are.equal(0, C.micros('1970-01-01 00:00:00'))
    assert.are.equal(86400 * 1000000 + 5, C.micros('1970-01-02 00:00:00.000005'))
    assert.are.equal(-1000000, C.micros('1969-12-31 23:59:59'))
    assert.are.equal(253402300799999999, C.micros('9999-12-31 23:59:59.999999'))
    assert.are.equal(C.micros('2024-03-01 00:00:00') - 86400 * 1000000, C.micros('2024-02-29 00:00:00'))
    assert.are.equal(3723456000, C.micros('01:02:03.456'))
    assert.are.equal(-(838 * 3600 + 59 * 60 + 59) * 1000000, C.micros('-838:59:59'))
  end)

  it('summarises each column of a result as exact, defect or FAIL', function()
    local r = { name = 'n', rows = 10, seed = 7, facts = { state = 'FINISHED' },
      case = { columns = { { name = 'a' }, { name = 'b' } } },
      columns = { a = { name = 'a', mariadb = 'TIME(3)', flink = 'TIME(3)', sink = 'TIME(3)', nulls = 1,
                        edges = { zero = 2 }, mismatches = 0, samples = {} },
                  b = { name = 'b', mariadb = 'TIME(6)', flink = 'TIME(6)', sink = 'TIME(6)', nulls = 0, edges = {},
                        mismatches = 1, samples = { { key = 3, expected = '00:00:00.5', actual = '00:00:00' } } } } }
    local rows = C.summary_rows(r, true, 'TIME cut')
    assert.are.equal('exact', rows[1].outcome)
    assert.are.equal('defect: TIME cut', rows[2].outcome)
    assert.are.equal('id 3: expected 00:00:00.5, got 00:00:00', rows[2].sample)
    assert.are.equal('7', rows[1].seed)
    assert.are.equal('FAIL', C.summary_rows(r, false, 'TIME cut')[1].outcome)
  end)

  it('renders the per-type section of the report with one row per column and the asserted defects', function()
    local md = report.types_markdown {
      run = { seed = '42', rows = 3000.0, pipelines = 2.0 },
      cases = { { name = 'times lose fractions', defect = 'TIME cut', passed = true, state = 'FINISHED' } },
      columns = { { outcome = 'defect: TIME cut', mariadb = 'TIME(3)', column = 't|3', flink = 'TIME(3)',
                    sink = 'TIME(3)', nulls = 0.0, edges = 'zero×2', mismatches = 5.0,
                    sample = 'id 1: expected 00:00:00.5, got 00:00:00' } } }
    assert.matches('seed 42 (FMHOST_SEED=42 replays it), 3000 rows per pipeline, 2 pipelines', md, 1, true)
    assert.matches('| *defect: TIME cut* | TIME(3) | t\\|3 | TIME(3) | 0 | zero×2 | 5 | id 1: expected', md, 1, true)
    assert.matches('- **TIME cut** (asserted, still present): times lose fractions', md, 1, true)
  end)
end)
