-- The REPL fed through a pipe, as a user's script or a CI job would.
local T = require 'fmhost.testing'

describe('the REPL', function()
  it('prints =expr values, continues multi-line chunks, survives errors', function()
    local input = table.concat({
      '=1+1',
      'function add(a,',
      '  b) return a + b',
      'end',
      '=add(20, 22)',
      'error("boom")',
      'print("still " .. "here")',
      'return "two", 2',
    }, '\n') .. '\n'
    local r = T.run_fmhost({}, { stdin = input })
    assert.are.equal(0, r.code)
    assert.are.equal('2\n42\nstill here\ntwo\t2\n', r.stdout)
    assert.matches('stdin:1: boom', r.stderr, 1, true)
    assert.matches('stack traceback', r.stderr, 1, true)
  end)

  it('prints 2 for =1+1, as the README promises', function()
    local r = T.run_fmhost({}, { stdin = '=1+1\n' })
    assert.are.same({ code = 0, stdout = '2\n', stderr = '' }, r)
  end)

  it('has the fmhost modules and the configuration ready', function()
    local r = T.run_fmhost({ 'repl' }, { stdin = '=type(fmhost.log.info)\n=type(cfg)\n' })
    assert.are.equal('function\ntable\n', r.stdout)
  end)

  it('re-runs an edited scenario with dofile without restarting', function()
    local dir = T.tmpdir()
    local file = dir .. '/scenario.lua'
    T.write_file(file, 'return "first"\n')
    local input = ('=dofile(%q)\ndo local f = io.open(%q, "w"); f:write("return \\"second\\"\\n"); f:close() end\n=dofile(%q)\n')
      :format(file, file, file)
    local r = T.run_fmhost({}, { stdin = input })
    T.rmtree(dir)
    assert.are.equal('first\nsecond\n', r.stdout)
  end)
end)
