-- The REPL fed through a pipe, as a user's script or a CI job would, and
-- at a terminal (a pseudo-terminal from fmhost.proc), as a person types.
local T = require 'fmhost.testing'
local proc = require 'fmhost.proc'

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
    assert.are.equal('2\n42\nstill here\ntwo\t2\n', r.stdout)
    assert.matches('stdin:1: boom', r.stderr, 1, true)
    assert.matches('stack traceback', r.stderr, 1, true)
    -- as `lua < script`: a chunk that raised makes the exit status non-zero
    assert.are.equal(1, r.code)
  end)

  it('prints 2 for =1+1, as the README promises', function()
    local r = T.run_fmhost({}, { stdin = '=1+1\n' })
    assert.are.same({ code = 0, stdout = '2\n', stderr = '' }, r)
  end)

  it('takes a line longer than 4095 bytes whole', function()
    local long = string.rep('x', 10000)
    local r = T.run_fmhost({}, { stdin = ('=#"%s"\n=#"%s"\n'):format(long, long .. 'yz') })
    assert.are.equal('10000\n10002\n', r.stdout)
    assert.are.equal(0, r.code)
  end)

  it('reports a chunk left unfinished at the end of the input and exits non-zero', function()
    local r = T.run_fmhost({}, { stdin = '=1\nfunction f(a,\n' })
    assert.are.equal(1, r.code)
    assert.are.equal('1\n', r.stdout)
    assert.matches("stdin:1: <name> or '...' expected near <eof>", r.stderr, 1, true)
  end)

  it('prints the fields of a table error and names a nil one', function()
    local r = T.run_fmhost({}, { stdin = 'error({code = 7, msg = "bad input"})\nerror({code = 1})\nerror(nil)\n' })
    assert.matches('^bad input %(code = 7%)\nstack traceback', r.stderr)
    assert.matches('\nerror object is a table: {code = 1}\nstack traceback', r.stderr, 1, true)
    assert.matches('\nerror object is nil\nstack traceback', r.stderr, 1, true)
    assert.are.equal(1, r.code)
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

-- A terminal session with fmhost's REPL. What the terminal shows is kept
-- with carriage returns and escape sequences taken out; expect(text) waits
-- until text shows after what an earlier expect matched.
local Session = {}
Session.__index = Session

local function start(dir)
  local p = assert(proc.spawn {
    T.exe(), pty = { rows = 24, cols = 200 },
    env = { FMHOST_STACK_DIR = dir, HOME = dir, INPUTRC = '/dev/null', TERM = 'dumb' },
  })
  return setmetatable({ p = p, shown = '', pending = '', seen = 0 }, Session)
end

-- Take new output in: an escape sequence cut at the end waits for the rest.
function Session:take(raw)
  raw = self.pending .. raw
  self.pending = ''
  local esc = raw:find('\27[^\27]*$')
  if esc and raw:sub(esc):match('^\27%[?[%d;?]*$') then
    self.pending = raw:sub(esc)
    raw = raw:sub(1, esc - 1)
  end
  raw = raw:gsub('\27%[[%d;?]*[%a~]', ''):gsub('\27[%(%)]%w', ''):gsub('\27[=>]', ''):gsub('\r', '')
  self.shown = self.shown .. raw
end

function Session:expect(text, timeout_ms)
  local deadline = proc.now_ms() + (timeout_ms or 30000)
  while true do
    local a, b = self.shown:find(text, self.seen + 1, true)
    if a then
      local between = self.shown:sub(self.seen + 1, b)
      self.seen = b
      return between
    end
    local left = deadline - proc.now_ms()
    if left <= 0 then
      error(('the terminal did not show %q in time; after the last match it showed:\n%s')
        :format(text, self.shown:sub(self.seen + 1)), 2)
    end
    local s, msg = self.p:read(math.floor(left) + 1)
    if not s then
      error(('the terminal closed before it showed %q (%s); it showed:\n%s')
        :format(text, msg, self.shown:sub(self.seen + 1)), 2)
    end
    self:take(s)
  end
end

function Session:type(text) assert(self.p:write(text)) end

-- Ctrl-D at an empty prompt; returns the exit status once fmhost is gone.
function Session:leave()
  self:type('\4')
  local exited, code, sig = self.p:wait(30000)
  assert.is_true(exited, 'fmhost did not leave on Ctrl-D')
  return code, sig
end

function Session:close()
  if self.p:alive() then self.p:kill_tree('KILL') end
  self.p:wait(10000)
end

describe('the REPL at a terminal', function()
  local dir, s
  before_each(function() dir = T.tmpdir('fmhost-repl') end)
  after_each(function()
    if s then s:close() end
    s = nil
    T.rmtree(dir)
  end)

  it('evaluates =1+1, continues a two-line function with the second prompt, and leaves on Ctrl-D', function()
    s = start(dir)
    s:expect('Ctrl-D leaves\n')
    s:expect('fmhost> ')
    s:type('=1+1\r')
    assert.are.equal('=1+1\n2\nfmhost> ', s:expect('\n2\nfmhost> '))
    s:type('function add(a, b)\r')
    s:expect('    >> ')
    s:type('return a + b end\r')
    s:expect('fmhost> ')
    s:type('=add(20, 22)\r')
    s:expect('\n42\nfmhost> ')
    s:type('print("h" .. "i")\r')
    s:expect('\nhi\nfmhost> ')
    assert.are.same({ 0, nil }, { s:leave() })
  end)

  it('prints a traceback for an error and goes on', function()
    s = start(dir)
    s:expect('fmhost> ')
    s:type('error("bo" .. "om")\r')
    s:expect('stdin:1: boom\nstack traceback:\n')
    s:expect('fmhost> ')
    s:type('=2+3\r')
    s:expect('\n5\nfmhost> ')
    assert.are.same({ 0, nil }, { s:leave() })
  end)

  it('interrupts a running chunk on Ctrl-C and goes on; at the prompt Ctrl-C drops the line', function()
    s = start(dir)
    s:expect('fmhost> ')
    s:type('print("loop" .. "ing") while true do end\r')
    s:expect('\nlooping\n')    -- the loop runs now
    s:type('\3')
    s:expect('interrupted!\n')
    s:expect('fmhost> ')
    s:type('=2+3\r')
    s:expect('\n5\nfmhost> ')
    s:type('print("dro" .. "pped")')
    s:expect('"pped")')
    s:type('\3')
    s:expect('fmhost> ')
    s:type('=6*7\r')
    local shown = s:expect('\n42\nfmhost> ')
    assert.is_nil(shown:find('\ndropped\n', 1, true), shown)
    assert.are.same({ 0, nil }, { s:leave() })
  end)

  it('recalls the previous line with the Up arrow, and keeps history across runs under stack.dir', function()
    s = start(dir)
    s:expect('fmhost> ')
    s:type('="hist" .. "ory"\r')
    s:expect('\nhistory\nfmhost> ')
    s:type('\27[A\r')             -- Up, Enter
    s:expect('\nhistory\nfmhost> ')
    assert.are.same({ 0, nil }, { s:leave() })
    assert.matches('="hist" .. "ory"\n', T.read_file(dir .. '/repl_history'), 1, true)

    s = start(dir)
    s:expect('fmhost> ')
    s:type('\27[A\r')
    s:expect('\nhistory\nfmhost> ')
    assert.are.same({ 0, nil }, { s:leave() })
  end)
end)
