-- fmhost.proxy without a database: a proxy in front of fmhost's echo server
-- (proxy.echo_server, a test peer that sends back every byte it reads),
-- driven by fmhost's blocking spec client (proxy.tcp_client).
--
-- Timing assertions are lower bounds only (a delay is at least what was
-- configured); upper bounds are generous timeouts, so a slow machine cannot
-- fail these. Payloads are random from a seed printed once per run; the
-- seed replays them: fmhost --seed N specs/unit/proxy_spec.lua
local proxy = require 'fmhost.proxy'
local check = require 'fmhost.check'
local system = require 'system'
local lfs = require 'lfs'

local ECONNREFUSED, ECONNRESET = 111, 104
local LONG = 30000 -- ms: an upper bound that only a hang reaches

local SEED = check.resolve_seed()
print(('proxy_spec: payload seed %d (replay: fmhost --seed %d specs/unit/proxy_spec.lua)'):format(SEED, SEED))

-- n random bytes, a pure function of (seed, n): xorshift64*, 8 bytes a step
local function payload(n, seed)
  local x = (seed * 2654435761 + 88172645463325252) | 1
  local parts, mask = {}, 0xffffffffffffffff
  for i = 1, (n + 7) // 8 do
    x = x ~ (x >> 12); x = x ~ (x << 25); x = x ~ (x >> 27)
    parts[i] = string.pack('<i8', (x * 2685821657736338717) & mask)
  end
  return table.concat(parts):sub(1, n)
end

-- equality with the first differing offset in the message
local function same_bytes(expected, got)
  if expected == got then return true end
  local n = math.min(#expected, #got)
  for i = 1, n do
    if expected:byte(i) ~= got:byte(i) then
      error(('bytes differ at offset %d (expected %d bytes, got %d)'):format(i - 1, #expected, #got), 2)
    end
  end
  error(('lengths differ: expected %d bytes, got %d'):format(#expected, #got), 2)
end

local function now() return system.monotime() end

-- The proxy thread counts bytes after they are written, so a client can hold
-- the last of them a moment before the counters say so: wait until the
-- stats reach what the spec expects (bounded), then compare them exactly.
local function settled_stats(p, want)
  local deadline = now() + 10
  local s = p:stats()
  while now() < deadline do
    local done = true
    for k, v in pairs(want) do if s[k] ~= v then done = false end end
    if done then break end
    system.sleep(0.01)
    s = p:stats()
  end
  return s
end

local function fd_count()
  local n = 0
  for _ in lfs.dir('/proc/self/fd') do n = n + 1 end
  return n
end

local function thread_count()
  local n = 0
  for name in lfs.dir('/proc/self/task') do
    if name ~= '.' and name ~= '..' then n = n + 1 end
  end
  return n
end

describe('fmhost.proxy', function()
  local echo, p

  before_each(function()
    echo = assert(proxy.echo_server { name = 'echo' })
    p = assert(proxy.new { upstream_host = '127.0.0.1', upstream_port = echo:port(), name = 'spec', seed = SEED })
  end)

  after_each(function()
    p:close()
    echo:close()
  end)

  local function connect(opts)
    return assert(proxy.tcp_client('127.0.0.1', p:port(), opts))
  end

  describe('forwarding', function()
    it('listens on the ephemeral port it reports and names its upstream', function()
      assert.is_true(p:port() > 0 and p:port() ~= echo:port())
      local host, port = p:upstream()
      assert.are.equal('127.0.0.1', host)
      assert.are.equal(echo:port(), port)
      assert.is_nil(echo:upstream())
      assert.are.equal('spec', p:name())
    end)

    it('passes a 4 MiB random payload both ways unchanged, byte for byte', function()
      local data = payload(4 * 1024 * 1024, SEED)
      local c = connect()
      local got, eof = c:exchange(data, #data, LONG)
      assert.is_false(eof)
      assert.is_true(same_bytes(data, got))
      c:close()
      local s = settled_stats(p, { bytes_up = #data, bytes_down = #data })
      assert.are.equal(#data, s.bytes_up)
      assert.are.equal(#data, s.bytes_down)
      assert.are.equal(0, s.bytes_dropped)
    end)

    it('keeps several connections apart', function()
      local cs = {}
      for i = 1, 5 do cs[i] = connect() end
      for round = 1, 3 do
        for i = 1, 5 do
          local data = payload(10000 + 997 * i, SEED + 31 * i + round)
          assert.is_true(same_bytes(data, (cs[i]:exchange(data, #data, LONG))))
        end
      end
      assert.are.equal(5, p:stats().active)
      for i = 1, 5 do cs[i]:close() end
    end)

    it('passes the end of stream on, and closes once both sides are done', function()
      local c = connect()
      assert.are.equal('abc', (c:exchange('abc', 3, LONG)))
      c:shutdown() -- the echo server sees the end, ends its side, which comes back
      local rest, eof = c:recv(10, LONG)
      assert.are.equal('', rest)
      assert.is_true(eof)
      c:close()
      local deadline = now() + LONG / 1000
      while p:stats().active > 0 and now() < deadline do system.sleep(0.01) end
      local s = p:stats()
      assert.are.equal(1, s.accepted)
      assert.are.equal(1, s.closed)
      assert.are.equal(0, s.active)
    end)

    it('answers a second close() of a proxy, a TCP client and an echo server with false, "already closed"', function()
      local echo = assert(proxy.echo_server())
      local q = assert(proxy.new { upstream_host = '127.0.0.1', upstream_port = echo:port() })
      local c = assert(proxy.tcp_client('127.0.0.1', q:port()))
      for _, h in ipairs { c, q, echo } do
        assert.is_true(h:close())
        assert.are.same({ false, 'already closed' }, { h:close() })
      end
    end)

    it('closes the client when the upstream refuses, and counts it', function()
      local gone = assert(proxy.echo_server())
      local port = gone:port()
      gone:close()
      local q = assert(proxy.new { upstream_host = '127.0.0.1', upstream_port = port })
      local c = assert(proxy.tcp_client('127.0.0.1', q:port()))
      local got, eof = c:recv(1, LONG)
      assert.are.equal('', got)
      assert.is_true(eof)
      assert.are.equal(1, q:stats().upstream_errors)
      c:close()
      q:close()
    end)

    it('passes an upstream reset on to the client, after the bytes sent before it', function()
      -- the echo server itself resets after echoing 1000 bytes
      echo:toxic('reset_peer', { after_bytes = 1000 })
      local data = payload(5000, SEED + 5)
      local c = connect()
      local got, msg, info = c:exchange(data, #data, LONG)
      assert.is_nil(got)
      assert.are.equal(ECONNRESET, info.code, msg)
      assert.are.equal(1000, info.received)
      assert.are.equal(data:sub(1, 1000), info.data)
      c:close()
    end)

    it('returns nil, msg, info when the listen port is in use', function()
      local q, msg, info = proxy.new { upstream_host = '127.0.0.1', upstream_port = echo:port(),
                                       listen_port = p:port(), name = 'twin' }
      assert.is_nil(q)
      assert.matches('twin', msg)
      assert.matches('Address already in use', msg)
      assert.are.equal('os', info.kind)
      assert.are.equal(98, info.code)
      assert.is_false(info.retryable)
    end)

    it('returns nil, msg, info when the upstream host does not resolve', function()
      local q, msg = proxy.new { upstream_host = 'no-such-host.invalid', upstream_port = 1 }
      assert.is_nil(q)
      assert.matches("cannot resolve upstream host 'no%-such%-host.invalid'", msg)
    end)
  end)

  describe('toxics', function()
    it('raises on misuse: unknown toxic, unknown option, bad value, bad direction', function()
      assert.has_error(function() p:toxic('lag') end, "bad argument #1 to 'toxic' (unknown toxic 'lag')")
      assert.has_error(function() p:toxic('latency', { msec = 5 }) end)
      assert.has_error(function() p:toxic('latency', { ms = -1 }) end)
      assert.has_error(function() p:toxic('bandwidth') end) -- rate is required
      assert.has_error(function() p:toxic('slicer', { avg_size = 4, size_variation = 4 }) end)
      assert.has_error(function() p:toxic('latency', { ms = 5, direction = 'sideways' }) end)
      assert.are.same({}, p:toxics())
    end)

    it('lists the active toxics and removes them by name and direction', function()
      p:toxic('latency', { ms = 50, jitter = 10 })
      p:toxic('bandwidth', { rate = 64, direction = 'down' })
      p:toxic('down', { reset = true })
      assert.are.same({
        { name = 'down', reset = true },
        { name = 'latency', ms = 50.0, jitter = 10.0, direction = 'both' },
        { name = 'bandwidth', rate = 64.0, direction = 'down' },
      }, p:toxics())
      assert.is_true(p:remove('latency', 'up'))
      assert.is_false(p:remove('slicer'))
      assert.are.same({ name = 'latency', ms = 50.0, jitter = 10.0, direction = 'down' }, p:toxics()[2])
      p:clear()
      assert.are.same({}, p:toxics())
    end)

    it('latency delays each direction by at least the configured time', function()
      local c = connect()
      c:exchange('warm', 4, LONG)
      p:toxic('latency', { ms = 150, direction = 'down' })
      local t0 = now()
      assert.are.equal('ping', (c:exchange('ping', 4, LONG)))
      assert.is_true(now() - t0 >= 0.150, 'one way: ' .. (now() - t0))
      p:toxic('latency', { ms = 100, jitter = 40 }) -- both ways, 60..140 ms each
      t0 = now()
      assert.are.equal('pong', (c:exchange('pong', 4, LONG)))
      assert.is_true(now() - t0 >= 0.120, 'round trip: ' .. (now() - t0))
      assert.is_true(p:stats().activations.latency >= 3)
      c:close()
    end)

    it('latency with jitter keeps the order of many small chunks', function()
      -- the echo server answers in small delayed pieces, so the proxy reads
      -- many chunks, each with its own jitter draw
      echo:toxic('slicer', { avg_size = 200, size_variation = 150, delay_us = 300 })
      p:toxic('latency', { ms = 20, jitter = 19, direction = 'down' })
      local data = payload(200000, SEED + 1)
      local c = connect()
      assert.is_true(same_bytes(data, (c:exchange(data, #data, LONG))))
      assert.is_true(p:stats().activations.latency >= 50)
      c:close()
    end)

    it('bandwidth caps the rate of one direction (lower bound only)', function()
      local c = connect()
      p:toxic('bandwidth', { rate = 512, direction = 'up' }) -- KiB/s
      local data = payload(512 * 1024, SEED + 2)
      local t0 = now()
      assert.is_true(same_bytes(data, (c:exchange(data, #data, LONG))))
      local elapsed = now() - t0
      -- 1 s at the cap; the bucket holds 50 ms of credit at most
      assert.is_true(elapsed >= 0.9, ('512 KiB at 512 KiB/s took %.3f s'):format(elapsed))
      assert.is_true(p:stats().activations.bandwidth > 0)
      c:close()
    end)

    it('slicer delivers every byte intact in both directions', function()
      p:toxic('slicer', { avg_size = 300, size_variation = 250, delay_us = 20 })
      local data = payload(256 * 1024, SEED + 3)
      local c = connect()
      assert.is_true(same_bytes(data, (c:exchange(data, #data, LONG))))
      assert.is_true(p:stats().activations.slicer > 0)
      c:close()
    end)

    it('down refuses new connections and drops existing ones; removing it restores the port', function()
      local c = connect()
      assert.are.equal('x', (c:exchange('x', 1, LONG)))
      p:toxic('down')
      local got, eof = c:recv(1, LONG)
      assert.are.equal('', got)
      assert.is_true(eof)
      local d, msg, info = proxy.tcp_client('127.0.0.1', p:port())
      assert.is_nil(d)
      assert.matches('Connection refused', msg)
      assert.are.equal(ECONNREFUSED, info.code)
      assert.is_true(info.retryable)
      assert.are.equal(1, p:stats().activations.down)
      c:close()
      assert.is_true(p:remove('down'))
      local e = connect()
      assert.are.equal('back', (e:exchange('back', 4, LONG)))
      e:close()
    end)

    it('down with reset = true drops existing connections with a reset', function()
      local c = connect()
      c:exchange('x', 1, LONG)
      p:toxic('down', { reset = true })
      local got, msg, info = c:recv(1, LONG)
      assert.is_nil(got)
      assert.matches('reset', msg)
      assert.are.equal(ECONNRESET, info.code)
      c:close()
    end)

    it('blackhole accepts and reads, never answers nor closes, and the client timeout fires', function()
      p:toxic('blackhole')
      local c = connect() -- accepted
      local t0 = now()
      local got, msg, info = c:exchange('hello?', 6, 400)
      assert.is_nil(got)
      assert.are.equal('timeout', info.kind)
      assert.are.equal(0, info.received)
      assert.matches('timed out after 400 ms', msg)
      assert.is_true(now() - t0 >= 0.39)
      local s = p:stats()
      assert.are.equal(6, s.bytes_dropped)
      assert.are.equal(0, s.bytes_up)
      assert.are.equal(1, s.active) -- still open
      c:close()
    end)

    it('timeout swallows data and closes the connection after timeout_ms', function()
      local c = connect()
      p:toxic('timeout', { timeout_ms = 300 })
      local t0 = now()
      local got, eof = c:exchange('anyone?', 7, LONG)
      assert.are.equal('', got)
      assert.is_true(eof)
      assert.is_true(now() - t0 >= 0.29)
      assert.are.equal(1, p:stats().activations.timeout)
      c:close()
    end)

    it('reset_peer resets existing connections at once', function()
      local c = connect()
      c:exchange('x', 1, LONG)
      p:toxic('reset_peer')
      local got, msg, info = c:recv(1, LONG)
      assert.is_nil(got)
      assert.are.equal(ECONNRESET, info.code)
      assert.matches('Connection reset by peer', msg)
      assert.are.equal(1, p:stats().activations.reset_peer)
      c:close()
    end)

    it('reset_peer with after_bytes forwards exactly that many bytes, then resets', function()
      local c = connect()
      p:toxic('reset_peer', { after_bytes = 1000, direction = 'up' })
      local data = payload(5000, SEED + 4)
      local got, msg, info = c:exchange(data, #data, LONG)
      assert.is_nil(got)
      assert.are.equal(ECONNRESET, info.code, msg)
      assert.is_true(info.received <= 1000)
      assert.are.equal(data:sub(1, info.received), info.data)
      assert.are.equal(1000, p:stats().bytes_up)
      c:close()
    end)

    it('reset_peer with timeout_ms resets a connection that long after it is set', function()
      local c = connect()
      p:toxic('reset_peer', { timeout_ms = 300 })
      local t0 = now()
      local got, _, info = c:recv(1, LONG)
      assert.is_nil(got)
      assert.are.equal(ECONNRESET, info.code)
      assert.is_true(now() - t0 >= 0.29)
      c:close()
    end)

    it('close_connections resets every open connection once and leaves no toxic', function()
      local a, b = connect(), connect()
      a:exchange('a', 1, LONG); b:exchange('b', 1, LONG)
      assert.are.equal(2, p:close_connections())
      for _, c in ipairs { a, b } do
        local got, _, info = c:recv(1, LONG)
        assert.is_nil(got)
        assert.are.equal(ECONNRESET, info.code)
        c:close()
      end
      assert.are.same({}, p:toxics())
      local c = connect()
      assert.are.equal('new', (c:exchange('new', 3, LONG)))
      assert.are.equal(1, p:close_connections { reset = false })
      local got, eof = c:recv(1, LONG)
      assert.are.equal('', got)
      assert.is_true(eof)
      c:close()
    end)

    it('resets new connections while set, and a new connection works again after clear', function()
      p:toxic('reset_peer')
      -- the reset may beat the end of connect(2) or come at the first read
      local c, msg, info = proxy.tcp_client('127.0.0.1', p:port())
      if c then
        local got
        got, msg, info = c:recv(1, LONG)
        assert.is_nil(got)
        c:close()
      end
      assert.are.equal(ECONNRESET, info.code, msg)
      p:clear()
      c = connect()
      assert.are.equal('ok', (c:exchange('ok', 2, LONG)))
      c:close()
    end)
  end)
end)

describe('fmhost.proxy lifecycle', function()
  it('close stops the thread and closes every socket, even with connections open', function()
    collectgarbage()
    local fds, threads = fd_count(), thread_count()
    local echo = assert(proxy.echo_server())
    local p = assert(proxy.new { upstream_host = '127.0.0.1', upstream_port = echo:port() })
    p:toxic('latency', { ms = 10 })
    local cs = {}
    for i = 1, 4 do
      cs[i] = assert(proxy.tcp_client('127.0.0.1', p:port()))
      cs[i]:exchange('hi', 2, LONG)
    end
    assert.is_true(fd_count() >= fds + 4 * 3)
    assert.are.equal(threads + 2, thread_count())
    p:close()
    echo:close()
    for i = 1, 4 do cs[i]:close() end
    assert.are.equal(fds, fd_count())
    assert.are.equal(threads, thread_count())
    assert.has_error(function() p:port() end, 'proxy is closed')
    p:close() -- idempotent
  end)

  it('<close> and garbage collection release a proxy too', function()
    collectgarbage()
    local fds = fd_count()
    do
      local e <close> = assert(proxy.echo_server())
      local c <close> = assert(proxy.tcp_client('127.0.0.1', e:port()))
      assert.are.equal('z', (c:exchange('z', 1, LONG)))
    end
    assert.are.equal(fds, fd_count())
    local e = assert(proxy.echo_server())
    e:toxic('latency', { ms = 1 })
    e = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.are.equal(fds, fd_count())
  end)
end)
