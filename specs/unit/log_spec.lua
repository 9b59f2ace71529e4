-- fmhost.log: every line is one JSON object with the required fields,
-- secrets never reach it, and a child fmhost writes its lines where told.
local log = require 'fmhost.log'
local cjson = require 'cjson'
local T = require 'fmhost.testing'

local TS = '^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$'

describe('fmhost.log', function()
  it('formats an event as one JSON object with ts, level, event, code, msg and context', function()
    local line = log.format('error', 'pool.acquire', { code = 'POOL_EXHAUSTED', msg = 'pool exhausted after 50 ms',
                                                      size = 4, waiting = 2, ratio = 0.5, ok = false })
    assert.is_nil(line:find('\n'))
    local e = cjson.decode(line)
    assert.matches(TS, e.ts)
    assert.are.same({ level = 'error', event = 'pool.acquire', code = 'POOL_EXHAUSTED',
                      msg = 'pool exhausted after 50 ms', size = 4, waiting = 2, ratio = 0.5, ok = false },
                    { level = e.level, event = e.event, code = e.code, msg = e.msg, size = e.size,
                      waiting = e.waiting, ratio = e.ratio, ok = e.ok })
  end)

  it('writes numeric codes as strings', function()
    local e = cjson.decode(log.format('warn', 'mysql.error', { code = 1062 }))
    assert.are.equal('1062', e.code)
  end)

  it('masks every field whose key names a secret', function()
    local line = log.format('info', 'pool.open', { password = 's3cret', db_password = 'x1', token = 'abc',
                                                 user = 'fmhost' })
    assert.is_nil(line:find('s3cret', 1, true))
    assert.is_nil(line:find('x1', 1, true))
    local e = cjson.decode(line)
    assert.are.same({ '***', '***', '***', 'fmhost' }, { e.password, e.db_password, e.token, e.user })
  end)

  it('keeps the line valid JSON for control characters, quotes, emoji and invalid UTF-8', function()
    local nasty = 'a"b\\c\n\t\0d\1 😀 \xff\xfe end'
    local e = cjson.decode(log.format('info', 'x', { msg = nasty, field = nasty }))
    assert.are.equal('a"b\\c\n\t\0d\1 😀 \u{ff}\u{fe} end', e.msg)
  end)

  it('writes a context key that names a line field as _<key>, never twice', function()
    local line = log.format('info', 'e', { msg = 'm', ts = 'fake', level = 'x', event = 'y' })
    local e = cjson.decode(line)
    assert.are.same({ 'info', 'e', 'm', 'fake', 'x', 'y' }, { e.level, e.event, e.msg, e._ts, e._level, e._event })
    for _, k in ipairs({ 'ts', 'level', 'event', 'msg' }) do
      local _, n = line:gsub('"' .. k .. '":', '')
      assert.are.equal(1, n, k .. ' appears more than once')
    end
  end)

  it('rejects an unknown level', function()
    assert.has_error(function() log.format('loud', 'x') end)
  end)

  it('appends lines to --log-file at the chosen level and filters lower ones', function()
    local dir = T.tmpdir()
    local file = dir .. '/fmhost.log'
    local r = T.run_fmhost({ '--log-file', file, '--log-level', 'info', '-e', [[
      local log = require 'fmhost.log'
      log.debug('dropped', { msg = 'below the level' })
      log.info('kept.one', { rows = 10 })
      log.error('kept.two', { code = 'E1', msg = 'bad', table = 't1' })
    ]] })
    local text = T.read_file(file)
    T.rmtree(dir)
    assert.are.equal(0, r.code)
    local events = {}
    for line in text:gmatch('[^\n]+') do events[#events + 1] = cjson.decode(line) end
    assert.are.equal(2, #events)
    assert.are.same({ 'kept.one', 10 }, { events[1].event, events[1].rows })
    assert.are.same({ 'kept.two', 'E1', 'bad', 't1' }, { events[2].event, events[2].code, events[2].msg, events[2].table })
  end)

  it('refuses an unwritable --log-file with a clear message and exit status 2', function()
    local r = T.run_fmhost({ '--log-file', '/nonexistent/dir/x.log', '-e', 'print(1)' })
    assert.are.equal(2, r.code)
    assert.matches('cannot open log file /nonexistent/dir/x.log', r.stderr, 1, true)
  end)
end)
