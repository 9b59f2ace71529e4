-- The spec runner as a user meets it: fmhost started as a child on fixture
-- files, its closing line, exit status and JUnit output.
local T = require 'fmhost.testing'
local root = _FMHOST_ROOT

local function last_line(s)
  local last
  for line in s:gmatch('[^\n]+') do last = line end
  return last
end

describe('the spec runner', function()
  it('exits non-zero and prints "0 passed, 1 failed" for a failing spec', function()
    local r = T.run_fmhost({ root .. '/specs/fixtures/failing_fixture.lua' })
    assert.are.equal(1, r.code)
    assert.are.equal('0 passed, 1 failed', last_line(r.stdout))
  end)

  it('exits zero and counts passed and skipped specs', function()
    local r = T.run_fmhost({ root .. '/specs/fixtures/passing_fixture.lua' })
    assert.are.equal(0, r.code)
    assert.are.equal('2 passed, 0 failed, 1 skipped', last_line(r.stdout))
  end)

  it('runs only the tagged specs with --tags', function()
    local r = T.run_fmhost({ root .. '/specs/fixtures/passing_fixture.lua', '--tags', 'fast' })
    assert.are.equal(0, r.code)
    assert.are.equal('1 passed, 0 failed', last_line(r.stdout))
  end)

  it('leaves out excluded tags and filters by name', function()
    local r = T.run_fmhost({ root .. '/specs/fixtures/passing_fixture.lua',
                             '--exclude-tags', 'fast', '--filter', 'concatenates' })
    assert.are.equal('1 passed, 0 failed', last_line(r.stdout))
  end)

  it('writes well-formed JUnit XML that counts the failure', function()
    local dir = T.tmpdir()
    local xmlfile = dir .. '/junit.xml'
    local r = T.run_fmhost({ root .. '/specs/fixtures/failing_fixture.lua',
                             root .. '/specs/fixtures/passing_fixture.lua', '--junit', xmlfile })
    assert.are.equal(1, r.code)
    assert.are.equal('2 passed, 1 failed, 1 skipped', last_line(r.stdout))
    local text = T.read_file(xmlfile)
    T.rmtree(dir)
    local doc = require('pl.xml').parse(text, false, true)
    assert.is_not_nil(doc, 'JUnit output does not parse as XML')
    assert.are.equal('testsuites', doc.tag)
    assert.are.equal('4', doc.attr.tests)
    assert.are.equal('1', doc.attr.failures)
    local cases = 0
    for _, suite in ipairs(doc) do
      if type(suite) == 'table' and suite.tag == 'testsuite' then
        for _, c in ipairs(suite) do
          if type(c) == 'table' and c.tag == 'testcase' then cases = cases + 1 end
        end
      end
    end
    assert.are.equal(4, cases)
  end)

  it("fails with one line naming the file, the line and Lua's message when a spec has a syntax error", function()
    local file = root .. '/specs/fixtures/syntax_error_fixture.lua'
    local r = T.run_fmhost({ file })
    assert.are.equal(1, r.code)
    assert.are.equal('fmhost: spec file does not load: ' .. file .. ":4: unexpected symbol near '='\n", r.stderr)
    assert.are.equal('\n0 passed, 1 failed\n', r.stdout)
  end)

  it('names a spec that calls os.exit, says it tried to exit, and runs the rest', function()
    local r = T.run_fmhost({ root .. '/specs/fixtures/exit_fixture.lua' })
    assert.are.equal(1, r.code)
    assert.matches('exit_fixture.lua:5: spec "a suite exits midway" tried to exit fmhost with os.exit(0); '
                   .. 'a spec must not end the process', r.stdout, 1, true)
    assert.are.equal('1 passed, 1 failed', last_line(r.stdout))
  end)

  it('refuses an unknown option with one usage line and exit status 2', function()
    for _, args in ipairs({ { '--bogus' }, { '--bogus', root .. '/specs/fixtures/passing_fixture.lua' },
                            { root .. '/specs/fixtures/passing_fixture.lua', '-x' } }) do
      local r = T.run_fmhost(args)
      assert.are.equal(2, r.code)
      assert.are.equal('', r.stdout)
      local opt = args[1] == '--bogus' and '--bogus' or '-x'
      assert.truthy(r.stderr:match('^fmhost: unknown option ' .. opt:gsub('%-', '%%-') .. '; usage: fmhost %[options%] [^\n]*\n$'),
                    r.stderr)
    end
    -- busted's own options still pass
    local r = T.run_fmhost({ '--no-keep-going', '-v', root .. '/specs/fixtures/passing_fixture.lua', '--shuffle' })
    assert.are.equal(0, r.code, r.stderr)
  end)

  it('refuses a missing spec path with one clear line and exit status 2', function()
    local r = T.run_fmhost({ '/nonexistent/specs' })
    assert.are.equal(2, r.code)
    assert.are.equal('fmhost: no such spec file or folder: /nonexistent/specs\n', r.stderr)
    assert.are.equal('', r.stdout)
  end)

  it('prints the versions of fmhost and its libraries', function()
    local r = T.run_fmhost({ '--version' })
    assert.are.equal(0, r.code)
    for _, lib in ipairs({ '^fmhost %d', 'Lua 5%.4', 'libmariadb %d', 'libcurl %d', 'libyaml %d' }) do
      assert.matches(lib, r.stdout:gsub('\n%s*', '\n'):gsub('\n', ' \n'), 1)
    end
  end)

  it('runs a chunk with -e and a file with run, passing arguments', function()
    local r = T.run_fmhost({ '-e', 'print(1 + 1)' })
    assert.are.same({ code = 0, stdout = '2\n', stderr = '' }, r)
    local dir = T.tmpdir()
    T.write_file(dir .. '/s.lua', 'print(arg[0]:match("s.lua$"), ...)\n')
    r = T.run_fmhost({ 'run', dir .. '/s.lua', 'a', 'b' })
    T.rmtree(dir)
    assert.are.same({ code = 0, stdout = 's.lua\ta\tb\n', stderr = '' }, r)
  end)

  it('exits non-zero with the error when a chunk raises', function()
    local r = T.run_fmhost({ '-e', 'error("boom")' })
    assert.are.equal(1, r.code)
    assert.matches('boom', r.stderr, 1, true)
  end)

  it('prints the fields of a table error, and says so for a nil one', function()
    local r = T.run_fmhost({ '-e', 'error({code=1})' })
    assert.are.equal(1, r.code)
    assert.matches('^fmhost: error object is a table: {code = 1}\nstack traceback:\n', r.stderr)
    r = T.run_fmhost({ '-e', 'error({msg="no such table", code=1146, sqlstate="42S02"})' })
    assert.matches('^fmhost: no such table %(code = 1146, sqlstate = "42S02"%)\nstack traceback:\n', r.stderr)
    r = T.run_fmhost({ '-e', 'error(nil)' })
    assert.are.equal(1, r.code)
    assert.matches('^fmhost: error object is nil\nstack traceback:\n', r.stderr)
  end)

  it('rejects an unknown command-line usage with exit status 2', function()
    local r = T.run_fmhost({ '--set' })
    assert.are.equal(2, r.code)
    assert.matches('--set needs a value', r.stderr, 1, true)
  end)
end)
