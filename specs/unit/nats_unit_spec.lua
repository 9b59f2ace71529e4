-- fmhost.nats without a server: a refused connection is an expected,
-- retryable failure after the configured attempts; misuse raises; the
-- key text and the subject hash of publish_rows are what the reference
-- says (checked against an FNV-1a written here, in Lua).
local nats = require 'fmhost.nats'
local gen = require 'fmhost.gen'
local proc = require 'fmhost.proc'

-- FNV-1a 64 of s, mod n (unsigned), plus 1: the oracle of nats.key_slot.
local function fnv_slot(s, n)
  local h = 0xcbf29ce484222325
  for i = 1, #s do
    h = (h ~ s:byte(i)) * 0x100000001b3
  end
  local r = ((h >> 1) % n * 2 + (h & 1)) % n -- h as an unsigned 64-bit number
  return r + 1
end

-- A TCP port on 127.0.0.1 that nothing listens on.
local function closed_port()
  local l = assert(proc.listen(0))
  local port = l.port
  l:close()
  return port
end

describe('fmhost.nats without a server', function()
  it('is built with libnats', function()
    assert.is_true(nats.available())
  end)

  it('reports a refused connection after the configured attempts, retryable, naming the URL', function()
    local port = closed_port()
    local t0 = proc.now_ms()
    local c, msg, info = nats.connect { url = 'nats://127.0.0.1:' .. port, connect_attempts = 3,
                                       connect_backoff_ms = 100, connect_timeout_ms = 1000 }
    local ms = proc.now_ms() - t0
    assert.is_nil(c)
    assert.matches('gave up after 3 attempts', msg, 1, true)
    assert.matches('cannot connect to nats://127.0.0.1:' .. port, msg, 1, true)
    assert.matches('no server available', msg, 1, true)
    assert.are.equal('nats', info.kind)
    assert.are.equal('no_server', info.reason)
    assert.is_true(info.retryable)
    -- two backoff delays, 100 ms and 200 ms, were waited
    assert.is_true(ms >= 300, 'waited only ' .. ms .. ' ms')
  end)

  it('builds the URL from host and port, as cfg.nats gives them', function()
    local port = closed_port()
    local _, msg = nats.connect { host = '127.0.0.1', port = port, url = '', connect_attempts = 1 }
    assert.matches('cannot connect to nats://127.0.0.1:' .. port .. ':', msg, 1, true)
    assert.not_matches('gave up', msg, 1, true) -- one attempt: no retry message
  end)

  it('raises on misuse: no URL nor port, a non-positive timeout, a bad retry policy', function()
    assert.has_error(function() nats.connect { url = '' } end,
      'nats.connect: give url, or port (pass cfg.nats)')
    assert.has_error(function() nats.connect { url = 'nats://127.0.0.1:1', timeout_ms = 0 } end)
    assert.has_error(function() nats.connect { url = 'nats://127.0.0.1:1', connect_attempts = 0 } end)
    assert.has_error(function() nats.connect { url = 'nats://127.0.0.1:1', port = 'x', name = 3 } end)
  end)

  it('hashes keys to subjects with FNV-1a 64, as the reference says', function()
    for _, k in ipairs { '', '0', '1', '42', '99999', 'order-7', 'ü%20x', string.rep('z', 300) } do
      for _, n in ipairs { 1, 2, 3, 4, 7, 16 } do
        assert.are.equal(fnv_slot(k, n), nats.key_slot(k, n), k .. ' mod ' .. n)
      end
    end
    -- the spread is even enough over many keys
    local counts = { 0, 0, 0, 0 }
    for i = 0, 9999 do
      local s = nats.key_slot(tostring(i), 4)
      counts[s] = counts[s] + 1
    end
    for s = 1, 4 do assert.is_true(counts[s] > 2200 and counts[s] < 2800, 'slot ' .. s .. ': ' .. counts[s]) end
  end)

  describe('row keys', function()
    local g
    lazy_setup(function()
      g = assert(gen.new { seed = 11, columns = {
        { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
        { name = 'tag', type = 'VARCHAR(20)', charset = 'utf8', min_length = 3 },
        { name = 'd', type = 'DECIMAL(8,2)' },
        { name = 'day', type = 'DATE' },
      } })
    end)

    it('are the primary key by default, in decimal', function()
      for _, i in ipairs { 0, 1, 17, 4999 } do
        assert.are.equal(tostring(g:record(i).id), nats.row_key(g, i))
      end
    end)

    it('are the row index with key=false', function()
      assert.are.equal('123', nats.row_key(g, 123, { key = false }))
    end)

    it('join several columns with commas and percent-encode what a header cannot hold', function()
      for _, i in ipairs { 0, 5, 77 } do
        local r = g:record(i)
        -- the text column alone: its bytes, %XX outside '!'..'~' and for '%'
        local want_tag = r.tag:gsub('[%%]', '%%25'):gsub('[^!-~]', function(c) return ('%%%02X'):format(c:byte()) end)
        assert.are.equal(want_tag, nats.row_key(g, i, { key = 'tag' }))
        local key = nats.row_key(g, i, { key = { 'id', 'd', 'day' } })
        assert.are.equal(('%d,%s,%s'):format(r.id, r.d, r.day), key)
        assert.is_nil(key:find('[^!-~]'))
      end
    end)

    it('name an unknown key column', function()
      assert.has_error(function() nats.row_key(g, 1, { key = 'nope' }) end,
        "option 'key': the generator has no column 'nope'")
    end)
  end)
end)
