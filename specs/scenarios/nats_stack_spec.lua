-- The local stack's NATS service on an ISOLATED nats-server: its own
-- stack.dir under /tmp and its own free client and monitoring ports, so the
-- stack's server other specs use (and the machine's shared one on 4222)
-- is never touched. Real nats-server, real JetStream file store, real pids.
-- #nats
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'
local nats = require 'fmhost.nats'
local gen = require 'fmhost.gen'
local T = require 'fmhost.testing'

local servers_of = T.nats_servers

-- Two different free ports: each listener stays open until both are picked.
local function two_ports()
  local a, b = assert(proc.listen(0)), assert(proc.listen(0))
  local pa, pb = a.port, b.port
  a:close()
  b:close()
  return pa, pb
end

describe('local stack: NATS #nats', function()
  local dir, cfg, port, mport, first_pid

  lazy_setup(function()
    dir = T.tmpdir('fmhost-nats-stack')
    cfg = T.deepcopy(rawget(_G, 'cfg') or {})
    cfg.stack = cfg.stack or {}
    cfg.stack.dir = dir
    cfg.nats = cfg.nats or {}
    port, mport = two_ports()
    cfg.nats.port, cfg.nats.monitor_port, cfg.nats.url, cfg.nats.managed = port, mport, '', true
  end)

  lazy_teardown(function()
    if cfg then
      stack.nats.stop(cfg)
      for _, pid in ipairs(servers_of(cfg)) do proc.kill_tree(pid, 'KILL') end
    end
    if dir then T.rmtree(dir) end
  end)

  -- the command line a user types, as a new process
  local function fmhost_stack(...)
    return T.run_fmhost({ '--set', 'stack.dir=' .. dir, '--set', 'nats.port=' .. port,
                          '--set', 'nats.monitor_port=' .. mport, '--set', 'nats.url=', 'stack', ... })
  end

  it('starts a private nats-server with JetStream on 127.0.0.1, its store under stack.dir', function()
    local r = fmhost_stack('up', 'nats')
    assert.are.equal(0, r.code, r.stderr)
    assert.matches('nats: started nats%-server [%d.]+ with JetStream %(pid %d+%) on 127.0.0.1:' .. port, r.stdout)
    first_pid = math.tointeger(tonumber(r.stdout:match('pid (%d+)')))
    assert.are.same({ first_pid }, servers_of(cfg))
    assert.is_true(proc.port_open('127.0.0.1', port, 2000))
    assert.is_true(proc.port_open('127.0.0.1', mport, 2000))
    -- bound to the loopback address only
    local conf = T.read_file(dir .. '/nats/nats.conf')
    assert.matches('listen: "127.0.0.1:' .. port .. '"', conf, 1, true)
    assert.matches('http: "127.0.0.1:' .. mport .. '"', conf, 1, true)
    -- JetStream answers, and keeps its files where the stack says
    local c <close> = assert(nats.connect(cfg.nats))
    assert(c:stream_add { name = 'STACKPROBE', subjects = { 'stackprobe.>' } })
    local jsz = assert(stack.nats.monitor(cfg, '/jsz'))
    assert.are.equal(dir .. '/nats/store/jetstream', jsz.config.store_dir)
    assert.are.equal(1, jsz.streams)
    assert.are.equal('directory', require('lfs').attributes(dir .. '/nats/store/jetstream/$G/streams/STACKPROBE', 'mode'))
  end)

  it('is harmless to bring up again, and status from a new process reports it running', function()
    local r = fmhost_stack('up', 'nats')
    assert.are.equal(0, r.code, r.stderr)
    assert.matches('nats: already running (pid ' .. first_pid .. ', port ' .. port .. ')', r.stdout, 1, true)
    assert.are.same({ first_pid }, servers_of(cfg))
    r = fmhost_stack('status', 'nats')
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches('nats: running', r.stdout, 1, true)
    assert.matches('pid%s+' .. first_pid, r.stdout)
    assert.matches('127.0.0.1:' .. port .. ' (accepting)', r.stdout, 1, true)
    assert.matches('1 streams, 0 consumers, 0 messages', r.stdout, 1, true)
  end)

  it('keeps stream data across a kill -9 and a restart (file storage); a connection comes back by itself', function()
    local g = assert(gen.load('events'))
    local c = assert(nats.connect(cfg.nats))
    assert(c:stream_add { name = 'KEEP', subjects = { 'keep.*' }, storage = 'file', duplicate_window_ms = 600000 })
    local r = assert(c:publish_rows { generator = g, subjects = { 'keep.a', 'keep.b' }, rows = 5000,
                                      spread = 'round_robin' })
    assert.are.equal(5000, r.acked)
    local ok, killed = stack.nats.kill(cfg, 'KILL')
    assert.is_true(ok, killed)
    assert.are.equal(first_pid, killed)
    assert.is_false(proc.pid_alive(first_pid))
    assert.is_false(proc.port_open('127.0.0.1', port, 500))
    assert.is_false(stack.nats.status(cfg).running)
    local sok, info = stack.nats.start(cfg)
    assert.is_true(sok, info)
    assert.are_not.equal(first_pid, info.pid)
    first_pid = info.pid
    -- the connection made before the crash comes back by itself
    local deadline = proc.now_ms() + 30000
    while not c:connected() and proc.now_ms() < deadline do proc.sleep(50) end
    assert.is_true(c:connected(), 'the connection did not come back within 30 s')
    local st = assert(c:stream_info('KEEP', { subjects = true })).state
    assert.are.same({ 5000, 1, 5000, 2500, 2500 },
      { st.messages, st.first_seq, st.last_seq, st.subjects['keep.a'], st.subjects['keep.b'] })
    for _, i in ipairs { 0, 1, 2499, 4999 } do
      assert.are.equal((g:jsonl(i, i + 1):gsub('\n$', '')), assert(c:get_msg('KEEP', i + 1)).data)
    end
    -- the dedup window survived as well: the same rows again store nothing
    r = assert(c:publish_rows { generator = g, subjects = { 'keep.a', 'keep.b' }, rows = 5000,
                                spread = 'round_robin' })
    assert.are.same({ 5000, 5000 }, { r.acked, r.duplicates })
    assert.are.equal(5000, assert(c:stream_info('KEEP')).state.messages)
    c:close()
  end)

  it('fails a publish the server does not ack, retryable; published again, the stream holds every row once',
    function()
      local g = assert(gen.load('events'))
      local o = T.deepcopy(cfg.nats)
      o.max_pending = 100
      local c <close> = assert(nats.connect(o))
      assert(c:stream_add { name = 'RETRY', subjects = { 'retry.*' }, duplicate_window_ms = 600000 })
      -- a hung server: it takes what is sent but acks nothing
      assert(stack.nats.kill(cfg, 'STOP'))
      local stopped = true
      finally(function() if stopped then stack.nats.kill(cfg, 'CONT') end end)
      local r, msg, info = c:publish_rows { generator = g, subject = 'retry.a', rows = 1000, timeout_ms = 1500 }
      assert.is_nil(r)
      assert.matches('100 asynchronous publishes stayed unacknowledged for 1500 ms', msg, 1, true)
      assert.is_true(info.retryable)
      -- the window (max_pending) was full: nothing more was sent, and what was is given up
      assert.are.same({ 100, 0, 100 }, { info.published, info.acked, info.unacked })
      assert(stack.nats.kill(cfg, 'CONT'))
      stopped = false
      -- the retry: the 100 the server took meanwhile are duplicates now
      r = assert(c:publish_rows { generator = g, subject = 'retry.a', rows = 1000, timeout_ms = 60000 })
      assert.are.same({ 1000, 1000, 100 }, { r.published, r.acked, r.duplicates })
      local msgs = assert(c:read('RETRY', { count = 2000 }))
      assert.are.equal(1000, #msgs)
      for i, m in ipairs(msgs) do
        assert.are.equal((g:jsonl(i - 1, i):gsub('\n$', '')), m.data, 'seq ' .. i)
      end
    end)

  it('refuses a port already in use with one line naming it, and starts nothing', function()
    local l = assert(proc.listen(0))
    finally(function() l:close() end)
    local r = T.run_fmhost({ '--set', 'stack.dir=' .. dir .. '/other', '--set', 'nats.port=' .. l.port,
                             '--set', 'nats.monitor_port=0', 'stack', 'up', 'nats' })
    assert.are.equal(1, r.code)
    assert.are.equal('', r.stdout)
    assert.are.equal(string.format('fmhost: nats: port %d (nats.port) is already in use by fmhost (pid %d); '
      .. 'set nats.port to a free port\n', l.port, proc.getpid()), r.stderr)
    local other = T.deepcopy(cfg)
    other.stack.dir, other.nats.port, other.nats.monitor_port = dir .. '/other', l.port, 0
    assert.are.same({}, servers_of(other))
  end)

  it('stops: the process is gone, both ports closed, status exits 3; down again is harmless', function()
    local r = fmhost_stack('down', 'nats')
    assert.are.equal(0, r.code, r.stderr)
    assert.matches('nats: stopped (pid ' .. first_pid .. ')', r.stdout, 1, true)
    assert.is_false(proc.pid_alive(first_pid))
    assert.are.same({}, servers_of(cfg))
    assert.is_true(proc.port_free(port))
    assert.is_true(proc.port_free(mport))
    assert.is_nil(stack.read_state(cfg, 'nats'))
    r = fmhost_stack('status', 'nats')
    assert.are.equal(3, r.code)
    assert.matches('nats: not running', r.stdout, 1, true)
    r = fmhost_stack('down', 'nats')
    assert.are.equal(0, r.code, r.stderr)
    assert.matches('nats: not running', r.stdout, 1, true)
    -- the store stays for the next start
    assert.are.equal('directory', require('lfs').attributes(dir .. '/nats/store/jetstream', 'mode'))
  end)
end)
