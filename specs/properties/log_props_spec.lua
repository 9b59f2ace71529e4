-- Seed properties 17 and 20 over generated events and call sequences:
-- every line the logger writes is one JSON object with the required fields;
-- error lines carry their code and context; with tracing on, every call of
-- a primitive leaves exactly one trace line naming it, in call order.
local check = require 'fmhost.check'
local log = require 'fmhost.log'
local cjson = require 'cjson'
local T = require 'fmhost.testing'
local g = check.gen

local TS = '^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%dZ$'

local key = g.one_of{ g.string{ min = 1, max = 12, chars = 'abcdefghijklmnopqrstuvwxyz_' },
                      g.elements{ 'ts', 'level', 'event' } }
  :filter(function(k) return k ~= 'code' and k ~= 'msg' and not k:find('pass') and not k:find('token')
                         and not k:find('secret') end)
local value = g.one_of{ g.int(-2 ^ 53, 2 ^ 53), g.string{ max = 40, utf8 = true }, g.bool(),
                        g.float(-1e6, 1e6) }
local context = g.array(g.tuple(key, value), { max = 8 }):map(function(pairs_)
  local t = {}
  for _, kv in ipairs(pairs_) do t[kv[1]] = kv[2] end
  return t
end)

describe('structured logging', function()
  it('Feature: flink-mysql-connector-test, Property 17: every error line is JSON with code, timestamp and context', function()
    check.property{
      name = 'Feature: flink-mysql-connector-test, Property 17: structured error logging',
      gen = g.record{
        level = g.elements{ 'warn', 'error' },
        event = g.string{ min = 1, max = 30, utf8 = true },
        code = g.one_of{ g.int(1, 9999), g.string{ min = 1, max = 16, chars = 'ABCDEFGHIJ_0123456789' } },
        msg = g.string{ max = 200, utf8 = true },
        ctx = context,
      },
      fn = function(c)
        local fields = { code = c.code, msg = c.msg }
        for k, v in pairs(c.ctx) do fields[k] = v end
        local line = log.format(c.level, c.event, fields)
        assert(not line:find('\n'), 'a log line holds a newline')
        local e = cjson.decode(line)
        assert(e.ts:match(TS), 'bad timestamp ' .. tostring(e.ts))
        assert(e.level == c.level and e.event == c.event and e.msg == c.msg)
        assert(e.code == tostring(c.code), 'code lost: ' .. tostring(e.code))
        for k, v in pairs(c.ctx) do
          -- a context key that names a field every line has is written as _<key>
          local got = e[(k == 'ts' or k == 'level' or k == 'event') and '_' .. k or k]
          if math.type(v) == 'float' then
            assert(got == v or math.abs(got - v) <= math.abs(v) * 1e-15, 'context ' .. k .. ' changed')
          else
            assert(got == v, ('context %s: %s became %s'):format(k, tostring(v), tostring(got)))
          end
        end
      end,
    }
  end)

  it('Feature: flink-mysql-connector-test, Property 20: with --trace every primitive call leaves one trace line, in order #slow', function()
    local calls = {
      { 'classify_mysql', g.int(1000, 4100) },
      { 'classify_http', g.int(100, 599) },
      { 'classify_curl', g.int(0, 90) },
    }
    local call = g.one_of{
      g.tuple(g.constant(1), calls[1][2]),
      g.tuple(g.constant(2), calls[2][2]),
      g.tuple(g.constant(3), calls[3][2]),
    }
    check.property{
      name = 'Feature: flink-mysql-connector-test, Property 20: debug trace generation',
      gen = g.array(call, { min = 1, max = 12 }),
      fn = function(seq)
        local lines = {}
        for i, c in ipairs(seq) do
          lines[i] = ('retry.%s(%d)'):format(calls[c[1]][1], c[2])
        end
        local dir = T.tmpdir()
        local file = dir .. '/trace.log'
        local r = T.run_fmhost({ '--trace', '--log-file', file, '-e',
          'local retry = require "fmhost.retry"\n' .. table.concat(lines, '\n') })
        local text = T.read_file(file)
        T.rmtree(dir)
        assert(r.code == 0, r.stderr)
        local traced = {}
        for line in text:gmatch('[^\n]+') do
          local e = cjson.decode(line)
          -- the CLI's own calls (config.load) are traced too; keep this chunk's
          if e.event == 'trace.call' and e.fn:find('^fmhost%.retry%.') then traced[#traced + 1] = e end
        end
        assert(#traced == #seq, ('%d calls, %d trace lines'):format(#seq, #traced))
        for i, c in ipairs(seq) do
          local e = traced[i]
          assert(e.fn == 'fmhost.retry.' .. calls[c[1]][1], 'call ' .. i .. ' traced as ' .. tostring(e.fn))
          assert(e.args == tostring(c[2]), 'call ' .. i .. ' args ' .. tostring(e.args))
          assert(e.ok == true and type(e.ms) == 'number' and e.level == 'trace')
        end
      end,
    }
  end)
end)
