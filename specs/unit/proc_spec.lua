-- fmhost.proc: children of /bin/sh with real exit codes, signals, files,
-- environments and timeouts; a missing program is an expected failure; no
-- child is left running or as a zombie.
local proc = require 'fmhost.proc'
local T = require 'fmhost.testing'

-- The state letter of a pid ('Z' for a zombie), or nil when it is gone.
local function state_of(pid)
  local f = io.open('/proc/' .. pid .. '/stat', 'r')
  if not f then return nil end
  local s = f:read('a')
  f:close()
  return s:match('%) (%a)')
end

describe('fmhost.proc', function()
  local dir
  before_each(function() dir = T.tmpdir('fmhost-proc') end)
  after_each(function() T.rmtree(dir) end)

  describe('spawn and wait', function()
    it('reports the exit status of a child', function()
      local p = assert(proc.spawn { '/bin/sh', '-c', 'exit 7' })
      assert.is_number(p.pid)
      local exited, code, sig = p:wait(10000)
      assert.is_true(exited)
      assert.are.equal(7, code)
      assert.is_nil(sig)
      assert.is_false(p:alive())
    end)

    it('reports the signal that ended a child', function()
      local p = assert(proc.spawn { '/bin/sh', '-c', 'kill -USR1 $$; sleep 5' })
      local exited, code, sig = p:wait(10000)
      assert.are.same({ true, nil, 'USR1' }, { exited, code, sig })
    end)

    it('returns false from wait when the timeout passes first, and the child runs on', function()
      local p = assert(proc.spawn { 'sleep', '30' })
      local t0 = proc.now_ms()
      assert.is_false(p:wait(150))
      local waited = proc.now_ms() - t0
      assert.is_true(waited >= 140, 'waited ' .. waited .. ' ms')
      assert.is_true(p:alive())
      assert.is_true(p:signal('KILL'))
      assert.are.same({ true, nil, 'KILL' }, { p:wait(10000) })
    end)

    it('wall_ms counts milliseconds since the epoch, as another process reads the clock', function()
      local before = proc.wall_ms()
      local r = assert(proc.run { 'date', '+%s%3N' })
      local after = proc.wall_ms()
      local theirs = assert(tonumber((r.stdout:gsub('%s+$', ''))))
      -- date truncates to the millisecond
      assert.is_true(theirs >= math.floor(before) and theirs <= after,
        ('date said %d, fmhost %.3f .. %.3f'):format(theirs, before, after))
    end)

    it('sends signals by name or number, to the child or to its whole group', function()
      local p = assert(proc.spawn { '/bin/sh', '-c', 'sleep 30 & sleep 30 & wait', group = true })
      proc.sleep(100)
      local kids = {}
      for line in io.popen('pgrep -g ' .. p.pid):lines() do kids[#kids + 1] = tonumber(line) end
      assert.are.equal(3, #kids) -- the shell and its two sleeps share the group
      assert.is_true(p:signal(15, true))
      assert.are.same({ true, nil, 'TERM' }, { p:wait(10000) })
      for _, k in ipairs(kids) do
        assert.is_true(proc.wait_pid(k, 10000), 'pid ' .. k .. ' still runs')
      end
    end)

    it('kill_tree ends descendants that left the group', function()
      local pidfile = dir .. '/grandchild'
      local p = assert(proc.spawn { '/bin/sh', '-c',
        'setsid sh -c "echo \\$\\$ > ' .. pidfile .. '; exec sleep 30" & wait' })
      local gpid = assert(require('fmhost.stack').wait_until(5000, 20, function()
        return tonumber(T.read_file(pidfile):match('%d+'))
      end))
      assert.is_true(proc.pid_alive(gpid))
      assert.is_true(p:kill_tree('KILL') >= 2)
      assert.is_true(p:wait(10000))
      assert.is_true(proc.wait_pid(gpid, 10000))
    end)

    it('writes stdout and stderr to files, truncating or appending', function()
      local out, err = dir .. '/out.txt', dir .. '/err.txt'
      T.write_file(out, 'old\n')
      local p = assert(proc.spawn { '/bin/sh', '-c', 'echo one; echo two >&2', stdout = out, stderr = err })
      assert.are.same({ true, 0 }, { p:wait(10000) })
      assert.are.equal('one\n', T.read_file(out))
      assert.are.equal('two\n', T.read_file(err))
      p = assert(proc.spawn { '/bin/sh', '-c', 'echo three; echo four >&2', stdout = out, merge_stderr = true,
                              append = true })
      assert.are.same({ true, 0 }, { p:wait(10000) })
      assert.are.equal('one\nthree\nfour\n', T.read_file(out))
    end)

    it('sends output to /dev/null when no file is given', function()
      -- $(...) runs in a subshell; $$ stays the shell that proc started
      local p = assert(proc.spawn { '/bin/sh', '-c', 'w=$(readlink /proc/$$/fd/1); echo "$w" > ' .. dir .. '/where' })
      assert.is_true(p:wait(10000))
      assert.matches('/dev/null', T.read_file(dir .. '/where'), 1, true)
    end)

    it('passes only stdin, stdout and stderr to the child', function()
      local keep = assert(io.open(dir .. '/held-open', 'w')) -- an fd that must not leak
      local r = assert(proc.run { '/bin/sh', '-c', 'ls /proc/$$/fd' })
      keep:close()
      local fds = {}
      for n in r.stdout:gmatch('%d+') do fds[#fds + 1] = tonumber(n) end
      table.sort(fds)
      -- 0-2, plus the fd ls itself opens on /proc/PID/fd
      for _, fd in ipairs(fds) do assert.is_true(fd <= 3, 'fd ' .. fd .. ' leaked: ' .. r.stdout) end
    end)

    it('adds to the environment, unsets keys, or replaces it whole', function()
      local script = 'echo "$FMH_A|${FMH_B-unset}|${HOME-nohome}"'
      local r = assert(proc.run { '/bin/sh', '-c', script, env = { FMH_A = 'x y', FMH_B = false, HOME = '/h' } })
      assert.are.equal('x y|unset|/h\n', r.stdout)
      r = assert(proc.run { '/bin/sh', '-c', script, env = { FMH_A = 1 }, clear_env = true })
      assert.are.equal('1|unset|nohome\n', r.stdout)
    end)

    it('runs the child in the given working directory', function()
      local r = assert(proc.run { 'pwd', cwd = dir })
      assert.are.equal(dir .. '\n', r.stdout)
    end)

    it('puts the child in its own session when asked', function()
      local p = assert(proc.spawn { '/bin/sh', '-c', 'ps -o sid= -p $$ > ' .. dir .. '/sid', session = true })
      assert.is_true(p:wait(10000))
      assert.are.equal(p.pid, tonumber(T.read_file(dir .. '/sid'):match('%d+')))
    end)
  end)

  describe('failures', function()
    it('returns nil, a message and info when the program does not exist', function()
      local p, msg, info = proc.spawn { 'fmhost-no-such-program', '--x' }
      assert.is_nil(p)
      assert.are.equal('cannot start fmhost-no-such-program: No such file or directory', msg)
      assert.are.equal('os', info.kind)
      assert.are.equal(2, info.code) -- ENOENT
      assert.is_false(info.retryable)
      local r, rmsg = proc.run { '/nonexistent/bin/tool' }
      assert.is_nil(r)
      assert.are.equal('cannot start /nonexistent/bin/tool: No such file or directory', rmsg)
    end)

    it('names a missing working directory and an unwritable output file', function()
      local p, msg = proc.spawn { 'true', cwd = dir .. '/missing' }
      assert.is_nil(p)
      assert.are.equal('cannot start true: working directory ' .. dir .. '/missing: No such file or directory', msg)
      p, msg = proc.spawn { 'true', stdout = dir .. '/no/such/dir/out.log' }
      assert.is_nil(p)
      assert.matches('cannot open .*/no/such/dir/out.log for stdout', msg)
    end)

    it('raises on misuse', function()
      assert.has_error(function() proc.spawn {} end)
      assert.has_error(function() proc.spawn { 'true', env = { [1] = 'x' } } end)
      local p = assert(proc.spawn { 'true' })
      assert.has_error(function() p:signal('NOSUCHSIG') end)
      assert.has_error(function() p:wait() end)
      p:wait(10000)
    end)

    it('says so when signalling a child that has ended', function()
      local p = assert(proc.spawn { 'true' })
      assert.is_true(p:wait(10000))
      local ok, msg, info = p:signal('TERM')
      assert.is_nil(ok)
      assert.matches('has ended', msg)
      assert.are.equal(3, info.code) -- ESRCH
    end)
  end)

  describe('run', function()
    it('captures stdout and stderr and feeds stdin', function()
      local r = assert(proc.run { '/bin/sh', '-c', 'tr a-z A-Z; echo oops >&2; exit 3', input = 'hello\n' })
      assert.are.same({ 3, false, 'HELLO\n', 'oops\n', false },
                      { r.code, r.ok, r.stdout, r.stderr, r.truncated })
    end)

    it('bounds what it keeps of a large output', function()
      local r = assert(proc.run { '/bin/sh', '-c', 'head -c 300000 /dev/zero', max_output = 1000 })
      assert.are.equal(1000, #r.stdout)
      assert.is_true(r.truncated)
      assert.is_true(r.ok) -- the rest was read and dropped: the child was not blocked
    end)

    it('survives a child that does not read its input', function()
      local r = assert(proc.run { 'true', input = string.rep('x', 1 << 20) })
      assert.is_true(r.ok)
    end)

    it('kills the child and its descendants on timeout', function()
      local pidfile = dir .. '/bg'
      local t0 = proc.now_ms()
      local r, msg, info = proc.run { '/bin/sh', '-c', 'echo started; sleep 30 & echo $! > ' .. pidfile .. '; wait',
                                      timeout_ms = 300 }
      local took = proc.now_ms() - t0
      assert.is_nil(r)
      assert.are.equal('/bin/sh did not finish within 300 ms and was killed', msg)
      assert.are.equal('timeout', info.kind)
      assert.is_true(info.retryable)
      assert.are.equal('started\n', info.stdout)
      assert.is_true(took < 10000, 'took ' .. took .. ' ms')
      local bg = tonumber(T.read_file(pidfile):match('%d+'))
      assert.is_true(proc.wait_pid(bg, 10000), 'the background sleep survived')
    end)
  end)

  describe('reaping', function()
    it('leaves no zombie when a handle is dropped before its child ends', function()
      local p = assert(proc.spawn { 'sleep', '0.1' })
      local pid = p.pid
      p = nil
      collectgarbage()
      collectgarbage()
      proc.sleep(300)
      assert.is_false(proc.pid_alive(pid))  -- reaps released children on the way
      assert.is_nil(state_of(pid))
    end)

    it('does not kill the child when its handle is collected', function()
      local p = assert(proc.spawn { 'sleep', '30' })
      local pid = p.pid
      p = nil
      collectgarbage()
      collectgarbage()
      assert.is_true(proc.pid_alive(pid))
      assert.is_true(proc.signal(pid, 'KILL'))
      assert.is_true(proc.wait_pid(pid, 10000))
      assert.is_nil(state_of(pid))
    end)

    it('ends a child held in a to-be-closed variable, and what it started, when the scope ends by an error',
       function()
      local file = os.tmpname()
      local pid, grandchild
      local ok, err = pcall(function()
        local h <close> = assert(proc.spawn { 'sh', '-c', 'sleep 60 & echo $! > "$0"; wait', file })
        pid = h.pid
        local t0 = proc.now_ms()
        while not (T.read_file(file) or ''):match('%d+') and proc.now_ms() - t0 < 5000 do proc.sleep(20) end
        grandchild = math.tointeger(tonumber(assert((T.read_file(file) or ''):match('%d+'))))
        error('the scenario failed here')
      end)
      os.remove(file)
      assert.is_false(ok)
      assert.matches('the scenario failed here', tostring(err))
      assert.is_false(proc.pid_alive(pid))
      assert.is_nil(state_of(pid))
      assert.is_true(proc.wait_pid(grandchild, 5000), 'the sleep the child started is still running')
      -- one that ignores TERM is killed after 2 s; a normal end of the scope ends it too
      local t0 = proc.now_ms()
      do
        local h <close> = assert(proc.spawn { 'sh', '-c', 'trap "" TERM; sleep 60 & wait; sleep 60' })
        pid = h.pid
        proc.sleep(100)
      end
      assert.is_false(proc.pid_alive(pid))
      assert.is_true(proc.now_ms() - t0 >= 2000)
    end)

    it('leaves no zombie after wait or run', function()
      local p = assert(proc.spawn { 'true' })
      assert.is_true(p:wait(10000))
      assert.is_nil(state_of(p.pid))
      assert(proc.run { 'true' })
      local zombies = io.popen('ps -o stat=,pid= --ppid ' .. proc.getpid()):read('a')
      assert.is_nil(zombies:match('Z'), zombies)
    end)
  end)

  describe('pids, signals and ports', function()
    it('tells live pids from gone ones and reads a command line', function()
      assert.is_true(proc.pid_alive(proc.getpid()))
      local p = assert(proc.spawn { '/bin/sh', '-c', 'sleep 30; true', 'marker-arg' })
      finally(function() p:kill_tree('KILL'); p:wait(10000) end)
      -- spawn returns while the kernel may still be setting up the new image
      require('fmhost.stack').wait_until(5000, 5, function() return #(proc.cmdline(p.pid) or {}) > 0 end)
      assert.are.same({ '/bin/sh', '-c', 'sleep 30; true', 'marker-arg' }, proc.cmdline(p.pid))
      assert.are.equal('sh', proc.comm(p.pid))
      p:kill_tree('KILL') -- the shell and its sleep
      p:wait(10000)
      assert.is_false(proc.pid_alive(p.pid))
      assert.is_nil(proc.cmdline(p.pid))
    end)

    it('maps signal names and numbers both ways', function()
      assert.are.same({ 15, 15, 9, 9 }, { proc.signum('TERM'), proc.signum('SIGTERM'), proc.signum('kill'),
                                          proc.signum(9) })
      assert.is_nil(proc.signum('NOPE'))
      assert.are.equal('HUP', proc.signame(1))
    end)

    it('sees a listening port as open and taken, and names who holds it', function()
      local l = assert(proc.listen(0))
      local port = l.port
      assert.is_true(port > 0)
      assert.is_true(proc.port_open('127.0.0.1', port, 1000))
      assert.is_false(proc.port_free(port))
      local pid, name = proc.port_owner(port)
      assert.are.equal(proc.getpid(), pid)
      assert.is_string(name)
      assert.is_true(l:close())
      assert.are.same({ false, 'already closed' }, { l:close() })
      assert.is_false(proc.port_open('127.0.0.1', port, 1000))
      assert.is_true(proc.port_free(port))
      assert.is_nil(proc.port_owner(port))
    end)

    it('refuses a second listener on a taken port with a message naming it', function()
      local l = assert(proc.listen(0))
      local l2, msg, info = proc.listen(l.port)
      assert.is_nil(l2)
      assert.matches('cannot listen on 127.0.0.1:' .. l.port .. ': Address already in use', msg, 1, true)
      assert.are.equal('os', info.kind)
      l:close()
    end)

    it('serialises processes with a lock file', function()
      local path = dir .. '/lock'
      local l = assert(proc.lock(path, 1000))
      -- a second process cannot take it while we hold it
      local r = assert(proc.run { 'flock', '-n', path, 'true' })
      assert.are.equal(1, r.code)
      local again, msg, info = proc.lock(path, 100)
      assert.is_nil(again)
      assert.matches('stayed locked', msg)
      assert.are.equal('timeout', info.kind)
      l:unlock()
      r = assert(proc.run { 'flock', '-n', path, 'true' })
      assert.are.equal(0, r.code)
    end)
  end)

  describe('a pseudo-terminal', function()
    -- All the terminal shows until it closes (the child and all it started
    -- ended), with the time limit a guard against a hang.
    local function read_all(p)
      local out, deadline = '', proc.now_ms() + 20000
      while proc.now_ms() < deadline do
        local s, msg, info = p:read(1000)
        if not s then
          assert.are.equal('closed', info.kind, msg)
          return out
        end
        out = out .. s
      end
      error('the terminal stayed open; it showed: ' .. out)
    end

    it("is the child's stdin, stdout and controlling terminal, with the size asked for", function()
      local p = assert(proc.spawn { '/bin/sh', '-c',
        'test -t 0 && test -t 1 && test -t 2 && echo all-ttys; stty size; ' ..
        'test "$(ps -o tty= -p $$)" != "?" && echo has-ctty; read line; echo "got:$line"; exit 3',
        pty = { rows = 30, cols = 100 } })
      assert.is_true(p:write('typed words\n'))
      local out = read_all(p)
      assert.are.same({ true, 3, nil }, { p:wait(10000) })
      -- output newlines come as \r\n, and the terminal echoes what was typed
      assert.matches('all-ttys\r\n', out, 1, true)
      assert.matches('30 100\r\n', out, 1, true)
      assert.matches('has-ctty\r\n', out, 1, true)
      assert.matches('typed words\r\n', out, 1, true)
      assert.matches('got:typed words\r\n', out, 1, true)
    end)

    it('turns Ctrl-C into SIGINT for the child, as a terminal does', function()
      local p = assert(proc.spawn { '/bin/sh', '-c', 'echo ready; exec sleep 30', pty = true })
      local out = ''
      while not out:find('ready', 1, true) do out = out .. assert(p:read(20000)) end
      proc.sleep(100)                -- let the exec happen
      assert.is_true(p:write('\3'))
      assert.are.same({ true, nil, 'INT' }, { p:wait(10000) })
    end)

    it('says so when read or written without a terminal, or after it closed', function()
      local p = assert(proc.spawn { 'true' })
      local ok, msg, info = p:write('x')
      assert.is_nil(ok)
      assert.matches('not spawned with a pseudo%-terminal', msg)
      assert.are.equal('usage', info.kind)
      assert.is_nil((p:read(10)))
      p:wait(10000)
      local q = assert(proc.spawn { 'true', pty = true })
      assert.are.same({ true, 0, nil }, { q:wait(10000) })
      local s
      s, msg, info = q:read(5000)
      assert.is_nil(s)
      assert.are.equal('closed', info.kind)
      assert.matches('it is closed', msg)
      assert.has_error(function() proc.spawn { 'true', pty = 'yes' } end)
    end)
  end)
end)
