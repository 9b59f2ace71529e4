-- fmhost.report.merge_junit: the unit specs' JUnit file and the stack specs'
-- become the one build/junit.xml the report and the property coverage read.
local R = require 'fmhost.report'

local function write(text)
  local path = os.tmpname()
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
  return path
end

describe('report.merge_junit', function()
  local files = {}
  after_each(function()
    for _, p in ipairs(files) do os.remove(p) end
    files = {}
  end)
  local function tmp(text)
    local p = write(text)
    files[#files + 1] = p
    return p
  end

  it('keeps every suite and case of each file, in order, with summed counts', function()
    local a = tmp([[<?xml version="1.0" encoding="UTF-8"?>
<testsuites errors='0' tests='2' skip='0' time='1.50' failures='1'>
	<testsuite name='Run 1 of 1' time='1.5' tests='2' skip='0' timestamp='t' errors='0' failures='1'>
		<testcase classname='specs/unit/a_spec.lua:3' time='0.5' name='one'/>
		<testcase classname='specs/unit/a_spec.lua:9' time='1.0' name='two'><failure type='failure' message='boom'>trace</failure></testcase>
	</testsuite>
</testsuites>]])
    local b = tmp([[<testsuites errors='1' tests='3' skip='1' time='10.25' failures='0'>
	<testsuite name='Run 1 of 1' time='10.25' tests='3' skip='1' timestamp='t' errors='1' failures='0'>
		<testcase classname='specs/scenarios/b_spec.lua:1' time='4' name='three'/>
		<testcase classname='specs/scenarios/b_spec.lua:2' time='6' name='four'><error type='error' message='bad'>x</error></testcase>
		<testcase classname='specs/scenarios/b_spec.lua:3' time='0.25' name='five'><skipped/></testcase>
	</testsuite>
</testsuites>]])
    local out = tmp('')
    assert.is_true(R.merge_junit(out, { a, b }))
    local r = assert(R.parse_junit(out))
    local names = {}
    for _, c in ipairs(r.cases) do names[#names + 1] = c.name .. '=' .. c.status end
    assert.are.same({ 'one=passed', 'two=failed', 'three=passed', 'four=failed', 'five=skipped' }, names)
    assert.are.equal(2, r.passed)
    assert.are.equal(2, r.failed)
    assert.are.equal(1, r.skipped)
    local head = assert(io.open(out)):read('a'):match('<testsuites[^>]*>')
    assert.matches('tests="5"', head, 1, true)
    assert.matches('failures="1"', head, 1, true)
    assert.matches('errors="1"', head, 1, true)
    assert.matches('skip="1"', head, 1, true)
    assert.matches('time="11.75"', head, 1, true)
  end)

  it('names a missing or empty input and writes nothing', function()
    local out = os.tmpname()
    os.remove(out)
    local ok, msg = R.merge_junit(out, { '/nonexistent/junit.xml' })
    assert.is_nil(ok)
    assert.matches('cannot read /nonexistent/junit.xml', msg, 1, true)
    local empty = tmp('<testsuites/>')
    ok, msg = R.merge_junit(out, { empty })
    assert.is_nil(ok)
    assert.matches('holds no <testsuite>', msg, 1, true)
    assert.is_nil(io.open(out))
  end)
end)
