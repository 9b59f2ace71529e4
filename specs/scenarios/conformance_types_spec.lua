-- Type conformance: does a Flink SQL pipeline write every MariaDB column type
-- into MariaDB correctly and completely?
--
-- Each case below names MariaDB columns (fmhost.gen keys: type, NULL ratio,
-- edge cases) and, where the JDBC connector's documented type mapping is not
-- what a user writes, the Flink types. fmhost.conformance generates the rows
-- (seeded), writes them as JSON lines, reads them with a Flink `filesystem`
-- source (format json), writes them through a JDBC upsert sink into a table
-- made by g:create_table_sql, waits for the job to end and compares MariaDB
-- with the generator value by value. Cases that can share a pipeline do (one
-- job for most of them); the verdict stays per case and per column.
--
-- A case without `check` must arrive exactly. A case with `defect` asserts
-- the exact way the pipeline loses or changes data (or fails): it passes
-- while the defect is there, with every changed value explained, and fails
-- (naming what changed) the day the defect goes away or changes shape.
--
-- Add a case: append a table to CASES (column names unique across cases).
-- The seed is printed; FMHOST_SEED=N (or --seed N) replays a run.
-- FMHOST_CONFORMANCE_ROWS sets the rows per pipeline (default 3000).
local C = require 'fmhost.conformance'
local check = require 'fmhost.check'
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local validate = require 'fmhost.validate'

local NULL = pool.NULL
local SEED = check.resolve_seed()
local ROWS = math.tointeger(tonumber(os.getenv('FMHOST_CONFORMANCE_ROWS') or '')) or 3000
print(('conformance_types_spec: seed %d, %d rows per pipeline (FMHOST_SEED=%d replays it)'):format(SEED, ROWS, SEED))

local function is_null(v) return v == nil or v == NULL end

local function failed_job(r, needle)
  local f = r.facts
  assert(f.state == 'FAILED', ('the job ended %s, not FAILED: has the defect gone?\n%s'):format(tostring(f.state),
    C.describe(r)))
  local text = tostring(f.root_exception or f.job_message)
  assert(text:find(needle, 1, true), ('the job failed, but not with "%s":\n%s'):format(needle, tostring(f.cause)))
end

-- Two JSON texts are equal when every number of both is read as a double
-- (what Jackson does to a nested document Flink reads into STRING), with
-- "Infinity" standing for the overflowed number it replaced.
local function json_equal_as_doubles(a, b)
  local cjson = require('cjson').new()
  cjson.decode_invalid_numbers(true)
  local ok1, x = pcall(cjson.decode, a)
  local ok2, y = pcall(cjson.decode, b)
  if not (ok1 and ok2) then return false end
  local function eq(u, v)
    if v == 'Infinity' or v == '-Infinity' then v = v == 'Infinity' and math.huge or -math.huge end
    if type(u) ~= type(v) then return false end
    if type(u) == 'number' then return u == v end
    if type(u) ~= 'table' then return u == v end
    for k, uv in pairs(u) do if v[k] == nil or not eq(uv, v[k]) then return false end end
    for k in pairs(v) do if u[k] == nil then return false end end
    return true
  end
  return eq(x, y)
end

local FLOAT_EDGES = 'minus_zero,zero,min_subnormal,minus_min_subnormal,max_subnormal,min_normal,one,one_plus_ulp,'
  .. 'tenth,third,two_pow_53,two_pow_53_plus_two,big,tiny_fixed'
local TEXT_EDGES = { 'emoji', 'combining', 'rtl', 'cjk', 'specials', 'null_word', 'backslash_n', 'spaces',
                     'limit_chars', 'limit_bytes', 'empty' }

local CASES = {
  -- integers ---------------------------------------------------------------
  { name = 'signed TINYINT, SMALLINT, MEDIUMINT, INT and BIGINT arrive exactly, with their minimum, maximum and NULLs',
    columns = {
      { name = 'i_tiny', type = 'TINYINT', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
      { name = 'i_small', type = 'SMALLINT', edge_ratio = 0.3 },
      { name = 'i_medium', type = 'MEDIUMINT', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
      { name = 'i_int', type = 'INT', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
      { name = 'i_big', type = 'BIGINT', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
    } },
  { name = 'unsigned TINYINT..BIGINT arrive exactly through the wider Flink types of the documented mapping '
      .. '(BIGINT UNSIGNED as DECIMAL(20,0), 2^63 and 2^64-1 included)',
    columns = {
      { name = 'u_tiny', type = 'TINYINT UNSIGNED', edge_ratio = 0.3 },
      { name = 'u_small', type = 'SMALLINT UNSIGNED', edge_ratio = 0.3 },
      { name = 'u_medium', type = 'MEDIUMINT UNSIGNED', edge_ratio = 0.3 },
      { name = 'u_int', type = 'INT UNSIGNED', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
      { name = 'u_big', type = 'BIGINT UNSIGNED', nullable = true, null_ratio = 0.05, edge_ratio = 0.4 },
    } },

  -- decimals ---------------------------------------------------------------
  { name = 'DECIMAL(p,s) up to Flink\'s precision 38 arrives digit for digit: (10,2), (22,9), (38,0), (38,10), '
      .. '(38,38) and DECIMAL(20,0) UNSIGNED, read from exact JSON number literals',
    columns = {
      { name = 'd_10_2', type = 'DECIMAL(10,2)', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
      { name = 'd_22_9', type = 'DECIMAL(22,9)', edge_ratio = 0.3 },
      { name = 'd_38_0', type = 'DECIMAL(38,0)', edge_ratio = 0.3 },
      { name = 'd_38_10', type = 'DECIMAL(38,10)', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
      { name = 'd_38_38', type = 'DECIMAL(38,38)', edge_ratio = 0.3 },
      { name = 'd_20_0u', type = 'DECIMAL(20,0) UNSIGNED', edge_ratio = 0.3 },
    } },
  { name = 'DECIMAL(65,30), beyond Flink\'s 38 digits, arrives digit for digit when the pipeline carries it as STRING',
    columns = {
      { name = 'd65_as_string', type = 'DECIMAL(65,30)', flink = 'STRING', nullable = true, null_ratio = 0.05,
        edge_ratio = 0.3 },
    } },
  { name = 'DECIMAL(65,30) through the widest Flink DECIMAL(38,s) loses data without an error: with (38,30) every '
      .. 'value of more than 8 integer digits arrives as NULL, with (38,3) every fraction is rounded half up to 3 digits',
    defect = 'DECIMAL above precision 38: NULL on overflow, rounding',
    columns = {
      { name = 'd65_as_38_30', type = 'DECIMAL(65,30)', flink = 'DECIMAL(38,30)', nullable = true, null_ratio = 0.05,
        edge_ratio = 0.2 },
      { name = 'd65_as_38_3', type = 'DECIMAL(65,30)', flink = 'DECIMAL(38,3)', nullable = true, null_ratio = 0.05,
        edge_ratio = 0.2 },
    },
    check = function(r)
      C.assert_only_differ(r, { 'd65_as_38_30', 'd65_as_38_3' })
      local a, b = r.columns.d65_as_38_30, r.columns.d65_as_38_3
      C.assert_every(r, a.name, function(m) return is_null(m.actual) and C.integer_digits(m.expected) > 8 end,
        'by arriving as NULL for a value of more than 8 integer digits')
      local over = C.count_values(r, a.name, function(v) return not is_null(v) and C.integer_digits(v) > 8 end)
      assert(over > 0, 'no value of more than 8 integer digits was drawn')
      assert.are.equal(over, a.mismatches, 'values of more than 8 integer digits that did not become NULL')
      C.assert_every(r, b.name, function(m)
        local want = C.decimal_round(m.expected, 3)
        if C.integer_digits(want) > 35 then return is_null(m.actual) end -- rounding overflowed DECIMAL(38,3)
        return not is_null(m.actual) and validate.decimal_canon(m.actual) == validate.decimal_canon(want)
      end, 'by rounding half up to 3 fraction digits')
      local rounded = C.count_values(r, b.name, function(v)
        return not is_null(v) and validate.decimal_canon(C.decimal_round(v, 3)) ~= validate.decimal_canon(v)
      end)
      assert.are.equal(rounded, b.mismatches, 'values with more than 3 fraction digits that arrived unrounded')
    end },

  -- floating point ------------------------------------------------------------
  { name = 'FLOAT and DOUBLE arrive bit for bit: subnormals, DBL_MAX, 2^53+2, 0.1, 1/3 and NULLs '
      .. '(-0.0 arrives as 0, as MariaDB stores it from any client)',
    columns = {
      { name = 'f_float', type = 'FLOAT', nullable = true, null_ratio = 0.05, edge_ratio = 0.3, edges = FLOAT_EDGES },
      { name = 'f_double', type = 'DOUBLE', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
    },
    check = function(r)
      C.assert_exact(r)
      -- the comparison takes -0.0 = 0; show that MariaDB, not the pipeline, drops the sign
      local rows = assert(r.pool:query('SELECT id, CAST(f_double AS CHAR) AS t FROM ' .. r.table))
      local negzero = 0
      for _, row in ipairs(rows) do
        if C.kind(r, row.id, 'f_double') == 'edge:minus_zero' then
          negzero = negzero + 1
          assert.are.equal('0', row.t, 'id ' .. row.id .. ': -0.0 arrived as ' .. tostring(row.t))
        end
      end
      assert(negzero > 0, 'no -0.0 was drawn')
      local t = r.table .. '_negzero'
      assert(r.pool:exec('DROP TABLE IF EXISTS ' .. t))
      assert(r.pool:exec('CREATE TABLE ' .. t .. ' (id INT PRIMARY KEY, d DOUBLE)'))
      assert(r.pool:exec('INSERT INTO ' .. t .. ' VALUES (1, ?), (2, -0.0e0)', -0.0))
      local direct = assert(r.pool:query('SELECT CAST(d AS CHAR) AS t FROM ' .. t .. ' ORDER BY id'))
      assert(r.pool:exec('DROP TABLE ' .. t))
      assert.are.same({ '0', '0' }, { direct[1].t, direct[2].t }, 'MariaDB kept the sign of -0.0 written directly')
    end },
  { name = 'FLOAT ±3.4028235E38 (FLT_MAX) fails the job: the driver sends Java\'s shortest text "3.4028235E38", '
      .. 'which MariaDB reads as a number above FLT_MAX and refuses as out of range',
    defect = 'FLOAT max refused (Out of range)',
    expect_job = 'FAILED', jdbc = { ['sink.max-retries'] = '0' },
    columns = { { name = 'f_float_max', type = 'FLOAT', edge_ratio = 1, edges = 'max,minus_max' } },
    check = function(r)
      failed_job(r, "Out of range value for column 'f_float_max'")
      -- the same text refused by MariaDB itself; the float's exact value accepted
      local t = r.table .. '_fltmax'
      assert(r.pool:exec('DROP TABLE IF EXISTS ' .. t))
      assert(r.pool:exec('CREATE TABLE ' .. t .. ' (id INT PRIMARY KEY, f FLOAT)'))
      local ok, msg = r.pool:exec('INSERT INTO ' .. t .. ' VALUES (1, 3.4028235E38)')
      local exact = r.pool:exec('INSERT INTO ' .. t .. ' VALUES (2, 340282346638528859811704183484516925440)')
      assert(r.pool:exec('DROP TABLE ' .. t))
      assert(not ok and tostring(msg):find('Out of range', 1, true),
        'MariaDB accepted 3.4028235E38 into FLOAT: ' .. tostring(msg))
      assert(exact, 'MariaDB refused the exact value of FLT_MAX')
    end },

  -- booleans, strings, bytes ---------------------------------------------------
  { name = 'BOOLEAN arrives as 0 and 1 exactly, with NULLs',
    columns = { { name = 'b_bool', type = 'BOOLEAN', nullable = true, null_ratio = 0.1, edge_ratio = 0.2 } } },
  { name = 'CHAR, VARCHAR, TINYTEXT, TEXT and MEDIUMTEXT arrive byte for byte, with NULLs and every text edge case',
    columns = {
      { name = 's_char', type = 'CHAR(10)', edge_ratio = 0.3 },
      { name = 's_varchar', type = 'VARCHAR(64)', nullable = true, null_ratio = 0.05, edge_ratio = 0.4 },
      { name = 's_tinytext', type = 'TINYTEXT', edge_ratio = 0.3 },
      { name = 's_text', type = 'TEXT', length = 200, nullable = true, null_ratio = 0.05, edge_ratio = 0.2 },
      { name = 's_medtext', type = 'MEDIUMTEXT', length = 100, max_bytes = 100000, edge_ratio = 0.05 },
    } },
  (function()
    local cols = { { name = 't_emoji_only', type = 'VARCHAR(32)', charset = 'emoji', min_length = 1 } }
    for _, e in ipairs(TEXT_EDGES) do
      cols[#cols + 1] = { name = 't_' .. e, type = 'VARCHAR(255)', edge_ratio = 1, edges = e }
    end
    return { name = 'each text edge case arrives byte for byte in its own column: 4-byte UTF-8 emoji, combining '
        .. 'marks, right-to-left scripts, CJK, NUL/backslash/quotes/newline/tab/^Z, the word NULL, a literal \\N, '
        .. 'leading and trailing blanks, 255 characters, 1020 bytes, the empty string', columns = cols }
  end)(),
  { name = 'BINARY(8), VARBINARY(32), BLOB and MEDIUMBLOB arrive byte for byte from base64 JSON: zero bytes, 0xFF, '
      .. 'quotes and backslashes, invalid UTF-8, empty values and NULLs',
    columns = {
      { name = 'y_binary', type = 'BINARY(8)', edge_ratio = 0.3 },
      { name = 'y_varbinary', type = 'VARBINARY(32)', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
      { name = 'y_blob', type = 'BLOB', length = 64, edge_ratio = 0.2 },
      { name = 'y_medblob', type = 'MEDIUMBLOB', length = 3000, max_bytes = 70000, edge_ratio = 0.05 },
    } },
  { name = 'ENUM and SET arrive as their member texts through STRING',
    columns = {
      { name = 'e_enum', type = 'ENUM', values = { 'red', 'green', 'dark blue', 'ünïcödé', "it's", '😀' },
        nullable = true, null_ratio = 0.05, edge_ratio = 0.1 },
      { name = 'e_set', type = "SET('a','b','c d','e''f')", edge_ratio = 0.1 },
    } },
  { name = 'JSON documents carried as JSON strings arrive byte for byte: nesting 31 deep, big numbers, '
      .. 'unicode escapes, empty containers, JSON null and NULL',
    columns = {
      { name = 'j_doc', type = 'JSON', nullable = true, null_ratio = 0.05, edge_ratio = 0.3, depth = 3, width = 4,
        compare = { as = 'string' } },
    } },

  -- temporal -----------------------------------------------------------------
  { name = 'DATE arrives exactly from 1000-01-01 to 9999-12-31, leap days included',
    columns = { { name = 'dt_date', type = 'DATE', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 } } },
  { name = 'DATETIME(0), DATETIME(3) and DATETIME(6) arrive to the microsecond, .999999 and '
      .. '9999-12-31 23:59:59.999999 included',
    columns = {
      { name = 'dt_dt0', type = 'DATETIME', edge_ratio = 0.3 },
      { name = 'dt_dt3', type = 'DATETIME(3)', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
      { name = 'dt_dt6', type = 'DATETIME(6)', edge_ratio = 0.3 },
    } },
  { name = 'TIMESTAMP(0) and TIMESTAMP(6) arrive as the same instants from 1970-01-01 00:00:01 to '
      .. '2038-01-19 03:14:07.999999 UTC when the Flink session, the TaskManager and MariaDB all use UTC',
    columns = {
      { name = 'ts_ts0', type = 'TIMESTAMP', edge_ratio = 0.3 },
      { name = 'ts_ts6', type = 'TIMESTAMP(6)', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
    } },
  { name = 'TIME(0) within a day arrives exactly',
    columns = { { name = 'tm_0', type = 'TIME', min = '00:00:00', max = '23:59:59', edge_ratio = 0.2,
                  edges = 'zero,day_end', nullable = true, null_ratio = 0.05 } } },
  { name = 'TIME(3) and TIME(6) lose their fractional seconds: every value arrives cut to the whole second, '
      .. 'whether Flink\'s json format parses it or a CAST from STRING does',
    defect = 'TIME fraction cut to whole seconds',
    columns = {
      { name = 'tm_3', type = 'TIME(3)', min = '00:00:00', max = '23:59:59.999', edge_ratio = 0.2,
        edges = 'zero,day_end' },
      { name = 'tm_6', type = 'TIME(6)', min = '00:00:00', max = '23:59:59.999999', edge_ratio = 0.2,
        edges = 'zero,day_end' },
      { name = 'tm_3_cast', type = 'TIME(3)', min = '00:00:00', max = '23:59:59.999', flink = 'STRING',
        sink = 'TIME(3)' },
    },
    check = function(r)
      C.assert_only_differ(r, { 'tm_3', 'tm_6', 'tm_3_cast' })
      for _, col in ipairs { 'tm_3', 'tm_6', 'tm_3_cast' } do
        C.assert_every(r, col, function(m)
          return not is_null(m.actual) and C.micros(m.actual) == C.micros(m.expected) // 1000000 * 1000000
        end, 'by being cut to the whole second')
        local fractional = C.count_values(r, col, function(v) return not is_null(v) and C.micros(v) % 1000000 ~= 0 end)
        assert(fractional > 0, col .. ': no value with a fraction was drawn')
        assert.are.equal(fractional, r.columns[col].mismatches, col .. ': values with a fraction that kept it')
      end
    end },
  { name = 'TIME outside 00:00:00..23:59:59 (MariaDB allows -838:59:59..838:59:59) fails the job: Flink\'s json '
      .. 'format cannot read such a value into TIME',
    defect = 'TIME beyond a day fails the job',
    expect_job = 'FAILED',
    columns = { { name = 'tm_wide', type = 'TIME', edge_ratio = 0.3 } },
    check = function(r)
      failed_job(r, 'Fail to deserialize at field: tm_wide')
      local line = tostring(r.facts.root_exception):match("Failed to deserialize JSON '([^\n]-)'%.")
      assert(line, 'the failure names no JSON line:\n' .. tostring(r.facts.cause))
      local v = require('cjson').decode(line).tm_wide
      local us = C.micros(v)
      assert(us < 0 or us >= 86400 * 1000000, 'the refused value ' .. v .. ' lies within a day')
    end },

  -- time zones ---------------------------------------------------------------
  { name = 'TIMESTAMP instants shift by the zone offset when the Flink session\'s table.local-time-zone '
      .. '(Europe/Berlin) differs from MariaDB\'s: +1 h in winter, +2 h in summer, DATETIME unaffected',
    defect = 'TIMESTAMP shifted by the Flink session zone',
    session = { ['table.local-time-zone'] = 'Europe/Berlin' },
    columns = {
      -- the last hours before 2038-01-19 03:14:07 UTC would leave TIMESTAMP's range once shifted
      { name = 'tz_ts', type = 'TIMESTAMP(6)', nullable = true, null_ratio = 0.05, max = '2037-12-31 00:00:00',
        edge_ratio = 0.2, edges = 'min,leap_day,max_fraction' },
      { name = 'tz_dt', type = 'DATETIME(6)', edge_ratio = 0.2 },
    },
    check = function(r)
      C.assert_only_differ(r, { 'tz_ts' })
      local seen = {}
      C.assert_every(r, 'tz_ts', function(m)
        local d = C.micros(m.actual) - C.micros(m.expected)
        seen[d] = true
        return d == 3600 * 1000000 or d == 7200 * 1000000
      end, 'by +1 h or +2 h (Europe/Berlin)')
      assert(seen[3600 * 1000000] and seen[7200 * 1000000], 'not both winter and summer offsets were seen')
      local c = r.columns.tz_ts
      assert.are.equal(r.rows - c.nulls, c.mismatches, 'TIMESTAMP values that did not shift')
    end },

  -- JSON read as a nested value --------------------------------------------------
  { name = 'JSON documents nested as JSON values and read into STRING are re-written by Flink: every number with '
      .. 'a fraction or exponent goes through a double (digits past ~17 lost, 1E+400 becomes the string "Infinity") '
      .. 'and the JSON null document arrives as SQL NULL',
    defect = 'nested JSON re-serialised through doubles',
    writer = { json_as_value = true },
    columns = {
      { name = 'j_nested', type = 'JSON', nullable = true, null_ratio = 0.05, edge_ratio = 0.3, depth = 3, width = 4,
        edges = 'empty_object,empty_array,deep,big_numbers,unicode,null_literal' },
    },
    check = function(r)
      C.assert_only_differ(r, { 'j_nested' })
      local kinds = {}
      C.assert_every(r, 'j_nested', function(m)
        local k = C.kind(r, m.key, 'j_nested')
        if k == 'edge:null_literal' then
          kinds.null = true
          return is_null(m.actual)
        end
        if is_null(m.actual) then return false end
        if k == 'edge:big_numbers' then
          kinds.infinity = kinds.infinity or tostring(m.actual):find('"Infinity"', 1, true) ~= nil
        else
          kinds.double = true
        end
        return json_equal_as_doubles(m.expected, m.actual)
      end, 'by reading each number as a double (or the JSON null document as NULL)')
      local c = r.columns.j_nested
      assert(kinds.double, 'no document changed its numbers')
      if (c.edges.null_literal or 0) > 0 then assert(kinds.null, 'the JSON null document arrived unchanged') end
      if (c.edges.big_numbers or 0) > 0 then assert(kinds.infinity, '1E+400 arrived without becoming "Infinity"') end
    end },
  { name = 'a JSON string document nested as a JSON value arrives without its quotes, which is no JSON: '
      .. 'MariaDB\'s JSON check refuses the row and the job fails',
    defect = 'nested JSON string loses its quotes',
    writer = { json_as_value = true }, expect_job = 'FAILED', jdbc = { ['sink.max-retries'] = '0' },
    columns = { { name = 'j_scalar', type = 'JSON', edge_ratio = 1, edges = 'scalar' } },
    check = function(r)
      failed_job(r, 'CONSTRAINT `' .. r.table .. '.j_scalar` failed')
    end },
}

local function summary_path()
  local p = os.getenv('FMHOST_CONFORMANCE_SUMMARY')
  if p and p ~= '' then return p end
  return stack.dir(cfg) .. '/conformance/summary.json'
end

describe('Type conformance of a Flink -> MariaDB pipeline (filesystem json source, JDBC upsert sink) '
  .. '#flink #mysql #conformance', function()
  local runner, summary, case_rows = nil, {}, {}
  local plan = C.plan(CASES)

  lazy_setup(function()
    runner = C.open(cfg, { seed = SEED, rows = ROWS, prefix = 'ct', on_pipeline = function(f)
      local t = f.timings
      print(('\n  pipeline %s: %d case(s), %d columns, %d rows, job %s %s; write %.2f s, job %.2f s, compare %.2f s'):format(
        f.table, f.cases, f.columns or 0, f.rows, tostring(f.job_id), tostring(f.state or f.error),
        t.write_s or 0, t.job_s or 0, t.validate_s or 0))
    end })
  end)

  lazy_teardown(function()
    if runner then runner:close() end
    local run = { seed = tostring(SEED), rows = ROWS, pipelines = runner and runner.batches_run or 0 }
    pcall(C.write_summary, summary_path(), { run = run, cases = case_rows, columns = summary })
  end)

  for _, case in ipairs(CASES) do
    it(case.name, function()
      local r = runner:result(case, plan)
      local ok, err
      if r.error then
        ok, err = false, C.describe(r)
      else
        ok, err = pcall(case.check or C.assert_exact, r)
      end
      for _, row in ipairs(C.summary_rows(r, ok, case.defect)) do summary[#summary + 1] = row end
      case_rows[#case_rows + 1] = { name = case.name, defect = case.defect, passed = ok,
        state = r.facts and r.facts.state, cause = r.facts and r.facts.cause,
        message = (not ok) and tostring(err):sub(1, 2000) or nil }
      if not ok then error(err, 0) end
    end)
  end
end)
