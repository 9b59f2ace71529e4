-- fmhost.proxy carrying real MariaDB traffic #mysql
--
-- The stock `mariadb` client talks to the private MariaDB (cfg.mysql; the
-- local stack starts it when mysql.managed) once directly and once through
-- the proxy over TCP; the outputs must be the same bytes. Then the proxy's
-- faults must show up in the client as the errors a real network produces,
-- and go away when the toxic is cleared. Upper time bounds are generous:
-- they only tell "failed fast" from "waited for a 20 s timeout".
local proxy = require 'fmhost.proxy'
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'
local system = require 'system'

local function get(path, default) return stack.get(_G.cfg or {}, path, default) end

local HOST = get('mysql.host', '127.0.0.1')
local PORT = math.tointeger(tonumber(get('mysql.port', 13306)))
local USER = get('mysql.user', 'fmhost')
local PASSWORD = get('mysql.password', 'fmhost')
local DATABASE = get('mysql.database', 'fmhost')

-- The stock client's arguments; the password travels in MYSQL_PWD, not on
-- the command line. Plain TCP (--skip-ssl): the private server offers TLS,
-- and a cut inside a TLS session reads as a TLS error instead of the
-- client's "Lost connection" these specs look for (TLS has its own spec).
local function argv(port, sql, extra)
  return {
    'mariadb', '--no-defaults', '--skip-ssl', '--protocol=TCP', '-h', HOST, '-P', tostring(port), '-u', USER, '-D', DATABASE,
    '--default-character-set=utf8mb4', '--batch', '--skip-column-names', extra or '--connect-timeout=20',
    '-e', sql,
  }
end

local read_file = require('fmhost.testing').read_file -- '' when absent

-- Run the client to completion: {code=, stdout=, stderr=, secs=}. The
-- timeout only guards against a hang; no test comes near it.
local function client(port, sql, extra)
  local t = argv(port, sql, extra)
  t.env, t.timeout_ms, t.max_output = { MYSQL_PWD = PASSWORD }, 120000, 64 * 1024 * 1024
  local r = assert(proc.run(t))
  return { code = r.code, stdout = r.stdout, stderr = r.stderr, secs = r.ms / 1000 }
end

-- Start the client in the background; finish() waits and gives what client() does.
local function start_client(port, sql, extra)
  local out, err = os.tmpname(), os.tmpname()
  local t = argv(port, sql, extra)
  t.env, t.stdout, t.stderr, t.group = { MYSQL_PWD = PASSWORD }, out, err, true
  local t0 = system.monotime()
  local h = assert(proc.spawn(t))
  return {
    finish = function()
      local exited, code = h:wait(120000)
      if not exited then h:kill_tree() end
      local r = { code = exited and code or -1, stdout = read_file(out), stderr = read_file(err),
                  secs = system.monotime() - t0 }
      os.remove(out); os.remove(err)
      return r
    end,
  }
end

local function wait_for(fn, secs)
  local deadline = system.monotime() + (secs or 30)
  while not fn() do
    if system.monotime() > deadline then return false end
    system.sleep(0.01)
  end
  return true
end

local BIG = "SELECT REPEAT('x', 1000000)"
local ROWS = "SELECT seq, CONCAT('row ', seq, ' ', REPEAT('\u{1F600}\u{E9}\u{4E2D}', seq % 40), ' end')," ..
             " seq * 1.5, IF(seq % 7 = 0, NULL, seq) FROM seq_1_to_20000"

describe('fmhost.proxy in front of MariaDB #mysql', function()
  local p, direct

  lazy_setup(function()
    assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
    direct = {}
    for _, sql in ipairs { BIG, ROWS } do
      local r = client(PORT, sql)
      assert(r.code == 0, 'direct query failed: ' .. r.stderr)
      direct[sql] = r.stdout
    end
  end)

  before_each(function()
    p = assert(proxy.new { upstream_host = HOST, upstream_port = PORT, name = 'mysql' })
  end)

  after_each(function() p:close() end)

  it('returns a 1 MB value through the proxy byte-identical to the direct query', function()
    assert.are.equal(1000001, #direct[BIG])
    local r = client(p:port(), BIG)
    assert.are.equal(0, r.code, r.stderr)
    assert.is_true(r.stdout == direct[BIG], 'outputs differ')
    local s = p:stats()
    assert.is_true(s.bytes_down > 1000000)
    assert.are.equal(1, s.accepted)
  end)

  it('returns 20000 rows with emoji, accents, CJK and NULLs byte-identical to the direct query', function()
    assert.matches('\u{1F600}', direct[ROWS])
    local r = client(p:port(), ROWS)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(#direct[ROWS], #r.stdout)
    assert.is_true(r.stdout == direct[ROWS], 'outputs differ')
  end)

  it('stays byte-identical under latency with jitter, slicing and a bandwidth cap', function()
    p:toxic('latency', { ms = 5, jitter = 4 })
    p:toxic('slicer', { avg_size = 700, size_variation = 600, delay_us = 20 })
    p:toxic('bandwidth', { rate = 8192, direction = 'down' })
    for _, sql in ipairs { BIG, ROWS } do
      local r = client(p:port(), sql)
      assert.are.equal(0, r.code, r.stderr)
      assert.is_true(r.stdout == direct[sql], 'outputs differ for ' .. sql:sub(1, 30))
    end
    local a = p:stats().activations
    assert.is_true(a.latency > 0 and a.slicer > 0 and a.bandwidth > 0)
  end)

  it('down: a new client fails fast with "Can\'t connect"; after clear it works again', function()
    p:toxic('down')
    local r = client(p:port(), 'SELECT 1')
    assert.are_not.equal(0, r.code)
    assert.matches("Can't connect to server", r.stderr)
    assert.is_true(r.secs < 10, ('took %.1f s with a 20 s connect timeout'):format(r.secs))
    p:clear()
    r = client(p:port(), 'SELECT 1')
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal('1\n', r.stdout)
  end)

  it('down drops a connection in the middle of a query: "Lost connection"', function()
    local h = start_client(p:port(), 'SELECT SLEEP(5)')
    assert.is_true(wait_for(function() return p:stats().bytes_up > 0 and p:stats().active == 1 end))
    system.sleep(0.3) -- the query is on the server now
    p:toxic('down')
    local r = h.finish()
    assert.are_not.equal(0, r.code)
    assert.matches('Lost connection to server during query', r.stderr)
    assert.is_true(r.secs < 4.5, ('the client waited %.1f s'):format(r.secs))
  end)

  it('reset_peer in the middle of a query: the client sees a lost connection at once', function()
    local h = start_client(p:port(), 'SELECT SLEEP(5)')
    assert.is_true(wait_for(function() return p:stats().bytes_up > 0 and p:stats().active == 1 end))
    system.sleep(0.3)
    p:toxic('reset_peer')
    local r = h.finish()
    assert.are_not.equal(0, r.code)
    assert.matches('Lost connection', r.stderr)
    assert.is_true(r.secs < 4.5, ('the client waited %.1f s'):format(r.secs))
    assert.are.equal(1, p:stats().activations.reset_peer)
  end)

  it('blackhole: a client with --connect-timeout=2 gives up after about 2 s, nothing hangs', function()
    p:toxic('blackhole')
    local r = client(p:port(), 'SELECT 1', '--connect-timeout=2')
    assert.are_not.equal(0, r.code)
    assert.matches("Lost connection to server at 'handshake", r.stderr)
    assert.is_true(r.secs >= 1.9, ('gave up after %.2f s'):format(r.secs))
    assert.is_true(r.secs < 15, ('gave up after %.2f s'):format(r.secs))
    assert.is_true(p:stats().bytes_dropped > 0) -- the server's greeting went nowhere
    p:clear()
    r = client(p:port(), 'SELECT 2')
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal('2\n', r.stdout)
  end)
end)
