-- `fmhost properties`: the 35 seed properties, the specs naming each, and
-- their result in a JUnit XML (matched by the it()'s file and line).
local T = require 'fmhost.testing'
local P = require 'fmhost.properties'

describe('fmhost properties', function()
  local dir
  lazy_setup(function() dir = T.tmpdir() end)
  lazy_teardown(function() if dir then T.rmtree(dir) end end)

  local function write(path, text)
    local f = assert(io.open(path, 'wb'))
    f:write(text)
    f:close()
  end

  it('reads the 35 properties of the seed with their text', function()
    local props = assert(P.coverage { junit = dir .. '/none.xml' })
    assert.equal(35, #props)
    assert.equal('Connection establishment reliability', props[1].title)
    assert.matches('^For any valid MySQL configuration', props[1].text)
    assert.equal('Custom transformation support', props[35].title)
  end)

  it("gives each property its specs' last JUnit result, a failure winning", function()
    -- a spec tree of two files and a JUnit XML naming their it() lines
    os.execute('mkdir -p ' .. dir .. '/specs/properties')
    -- split so that this file names no property itself
    local F = 'Feature: flink-mysql-connector-test, Prop' .. 'erty '
    write(dir .. '/specs/properties/a_spec.lua', table.concat({
      "describe('a', function()",
      "  it('" .. F .. "1: connects', function() end)",
      "  it('checks a property inside', function()",
      "    check.property { name = '" .. F .. "5: pool size' }",
      "  end)",
      "  it('" .. F .. "5: threads', function() end)",
      "end)", '' }, '\n'))
    write(dir .. '/junit.xml', [[<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="busted" tests="3">
<testcase classname="specs/properties/a_spec.lua:2" name="a connects" time="0.1"/>
<testcase classname=".../a_spec.lua:3" name="a checks a property inside" time="0.1"/>
<testcase classname="specs/properties/a_spec.lua:6" name="a threads" time="0.1"><failure message="boom">boom</failure></testcase>
</testsuite></testsuites>]])
    local props, summary = assert(P.coverage { specs = dir .. '/specs', junit = dir .. '/junit.xml' })
    assert.equal('passed', props[1].result)
    assert.same({ file = 'specs/properties/a_spec.lua', line = 2, name = F .. '1: connects',
                  result = 'passed' }, props[1].specs[1])
    assert.equal(2, #props[5].specs)
    assert.equal(3, props[5].specs[1].line)
    assert.equal('passed', props[5].specs[1].result)
    assert.equal('failed', props[5].specs[2].result)
    assert.equal('failed', props[5].result)
    assert.equal('uncovered', props[2].result)
    assert.same({ 2, 1, 1, 33 }, { summary.covered, summary.passed, summary.failed, summary.uncovered })
  end)

  it('prints the table at the terminal, and refuses a missing JUnit file in one line', function()
    local r = T.run_fmhost { 'properties' }
    assert.equal(0, r.code)
    assert.matches('\n 1  [%a ]+Connection establishment reliability\n', '\n' .. r.stdout)
    assert.matches('35 properties: %d+ covered by specs', r.stdout)
    local bad = T.run_fmhost { 'properties', '--junit', dir .. '/nope.xml' }
    assert.equal(2, bad.code)
    assert.equal('fmhost: properties: cannot read ' .. dir .. '/nope.xml\n', bad.stderr)
    assert.equal('', bad.stdout)
  end)
end)
