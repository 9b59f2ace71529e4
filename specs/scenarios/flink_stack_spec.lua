-- The local stack's Flink service with real JVMs. Start-up, failures and
-- shutdown run on an ISOLATED cluster: its own stack.dir under /tmp (the
-- jars folder links to the shared one, so nothing is fetched) and its own
-- free ports, so the shared cluster other specs use is never touched. The
-- TaskManager kill/start spec works on the shared cluster, as the failure
-- scenarios do, and leaves it with a running TaskManager.
-- #flink
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'
local T = require 'fmhost.testing'
local fl = stack.flink

local copy, free_port = T.deepcopy, T.free_port

local function append_all(t, ...)
  for _, list in ipairs { ... } do
    for _, v in ipairs(list) do t[#t + 1] = v end
  end
  return t
end

-- The session id of pid (field 6 of /proc/PID/stat).
local function session_of(pid)
  local stat = T.read_file('/proc/' .. pid .. '/stat')
  local rest = stat:match('%) (.*)$')
  local f = {}
  for w in rest:gmatch('%S+') do f[#f + 1] = w end
  return tonumber(f[4]) -- state ppid pgrp session
end

describe('local stack: Flink on an isolated cluster #flink', function()
  local dir, icfg

  local function jvms() return fl.find(fl.settings(icfg)).all end

  local function args_for(c)
    return { '--set', 'stack.dir=' .. c.stack.dir, '--set', 'flink.rest_port=' .. c.flink.rest_port,
             '--set', 'flink.rpc_port=' .. c.flink.rpc_port, '--set', 'flink.gateway_port=' .. c.flink.gateway_port,
             '--set', 'flink.slots=' .. c.flink.slots, '--set', 'flink.tm_memory=' .. c.flink.tm_memory }
  end

  lazy_setup(function()
    -- the shared jars must be there (the shared stack fetches them)
    assert(fl.fetch(cfg))
    dir = T.tmpdir('fmhost-flink-stack')
    icfg = T.isolated_flink_cfg(dir, { slots = 2, tm_memory = '1280m' })
  end)

  lazy_teardown(function()
    if icfg then
      fl.stop(icfg)
      for _, p in ipairs(jvms()) do proc.kill_tree(p.pid, 'KILL', true) end
    end
    if dir then T.rmtree(dir) end
  end)

  it('refuses to start when a port is taken, naming the port and its owner, and starts nothing', function()
    local l = assert(proc.listen(icfg.flink.gateway_port))
    local ok, msg = fl.start(icfg)
    l:close()
    assert.is_nil(ok)
    assert.truthy(msg:find('port ' .. icfg.flink.gateway_port .. ' (flink.gateway_port) is already in use', 1, true), msg)
    assert.truthy(msg:find('pid ' .. proc.getpid(), 1, true), msg)
    assert.truthy(msg:find('nothing was started', 1, true), msg)
    assert.are.same({}, jvms())
    assert.is_nil(stack.read_state(icfg, 'flink'))
  end)

  it('reports memory settings Flink rejects with the file to read, and leaves no JVM behind', function()
    local bad = copy(icfg)
    bad.flink.tm_memory = '64m'
    local ok, msg = fl.start(bad)
    assert.is_nil(ok)
    assert.truthy(msg:find('computing the taskmanager memory parameters failed', 1, true), msg)
    assert.truthy(msg:find(dir .. '/flink/log/bju-taskmanager.out', 1, true), msg)
    assert.are.same({}, jvms()) -- the gateway started first and was stopped
  end)

  it('gives up after flink.start_timeout_ms, naming the log to read, and stops what it started', function()
    local quick = copy(icfg)
    quick.flink.start_timeout_ms = 1000
    local ok, msg = fl.start(quick)
    assert.is_nil(ok)
    assert.truthy(msg:find('stopped what was started', 1, true), msg)
    assert.truthy(msg:find(dir .. '/flink/log/', 1, true), msg)
    assert.are.same({}, jvms())
    assert.is_nil(stack.read_state(icfg, 'flink'))
  end)

  it('starts JobManager, TaskManager and SQL Gateway in their own sessions; status shows them; down leaves nothing', function()
    local r = T.run_fmhost(append_all({}, args_for(icfg), { 'stack', 'up', 'flink' }))
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find('flink: started Flink 1.20.3', 1, true), r.stdout)
    local secs = tonumber(r.stdout:match('in ([%d.]+) s'))
    assert.truthy(secs and secs > 0, r.stdout)

    local found = fl.find(fl.settings(icfg))
    assert.truthy(found.jobmanager and found.gateway and #found.taskmanagers == 1)
    for _, p in ipairs(found.all) do
      assert.are.equal(p.pid, session_of(p.pid), p.name .. ' runs in its own session')
      assert.truthy(stack.exists(fl.log_file(fl.settings(icfg), p.name)), p.name .. ' log')
    end
    local client = fl.client(icfg)
    local ov = assert(client:overview())
    assert.are.equal(1, ov.taskmanagers)
    assert.are.equal(2, ov['slots-total'])
    assert.are.equal('1.20.3', (assert(client:gateway_info())).version)
    client:close()

    local st = T.run_fmhost(append_all({}, args_for(icfg), { 'stack', 'status', 'flink' }))
    assert.are.equal(0, st.code, st.stderr)
    for _, want in ipairs { 'flink: running', 'pid ' .. found.jobmanager.pid, 'pid ' .. found.gateway.pid,
                            'http://127.0.0.1:' .. icfg.flink.rest_port .. ' (answering)',
                            'Flink 1.20.3, JDBC connector 3.3.0-1.20 + mysql-connector-j 8.4.0',
                            dir .. '/flink/log/jobmanager.log' } do
      assert.truthy(st.stdout:find(want, 1, true), 'status lacks ' .. want .. ':\n' .. st.stdout)
    end

    -- up again: nothing new is started
    local again = T.run_fmhost(append_all({}, args_for(icfg), { 'stack', 'up', 'flink' }))
    assert.are.equal(0, again.code)
    assert.truthy(again.stdout:find('already running', 1, true), again.stdout)

    -- each JVM unpacks its jars (~21 MB and more) into its own tmp folder,
    -- none into /tmp
    local tmp = dir .. '/flink/tmp'
    local function unpacked(name, pattern)
      local d = tmp .. '/' .. name
      if not stack.exists(d) then return nil end
      for e in require('lfs').dir(d) do if e:match(pattern) then return e end end
      return nil
    end
    local RPC, PLANNER = '^flink%-rpc%-akka.*%.jar$', '^flink%-table%-planner_.*%.jar$'
    assert.truthy(unpacked('jobmanager', RPC), 'no flink-rpc-akka jar in ' .. tmp .. '/jobmanager')
    assert.truthy(unpacked('taskmanager', RPC), 'no flink-rpc-akka jar in ' .. tmp .. '/taskmanager')
    assert.truthy(unpacked('sql-gateway', PLANNER), 'no flink-table-planner jar in ' .. tmp .. '/sql-gateway')

    -- the only TaskManager dies: ensure adds a new one and keeps the rest,
    -- and the dead one's tmp folder (its unpacked jars) goes
    assert(fl.kill_taskmanager(icfg, 1, 'KILL'))
    assert.truthy(unpacked('taskmanager', RPC), 'SIGKILL left nothing behind: this check would see nothing')
    assert(fl.ensure(icfg))
    local now = fl.find(fl.settings(icfg))
    assert.are.equal(found.jobmanager.pid, now.jobmanager.pid)
    assert.are.equal(found.gateway.pid, now.gateway.pid)
    assert.are.equal(1, #now.taskmanagers)
    assert.are.equal('taskmanager-2', now.taskmanagers[1].name)
    assert.is_false(stack.exists(tmp .. '/taskmanager'), 'the killed TaskManager\'s tmp folder is still there')
    assert.truthy(unpacked('taskmanager-2', RPC))

    local d = T.run_fmhost(append_all({}, args_for(icfg), { 'stack', 'down', 'flink' }))
    assert.are.equal(0, d.code, d.stderr)
    assert.truthy(d.stdout:find('flink: stopped', 1, true), d.stdout)
    for _, p in ipairs(append_all({}, found.all, now.all)) do
      assert.is_false(proc.pid_alive(p.pid), p.name .. ' still runs')
    end
    assert.are.same({}, jvms())
    local left = {}
    for e in require('lfs').dir(tmp) do if e ~= '.' and e ~= '..' then left[#left + 1] = e end end
    assert.are.same({}, left, 'down left tmp folders behind')
    local after = T.run_fmhost(append_all({}, args_for(icfg), { 'stack', 'status', 'flink' }))
    assert.are.equal(3, after.code)
  end)

  it('names java when it is not on PATH, and starts nothing', function()
    -- PATH holds sha1sum only (the check of the jars needs it)
    local bin = dir .. '/bin-no-java'
    assert(stack.mkdir_p(bin))
    local where = assert(proc.run { 'sh', '-c', 'command -v sha1sum' }).stdout:match('%S+')
    assert(os.execute('ln -sf ' .. T.shell_quote(where) .. ' ' .. T.shell_quote(bin .. '/sha1sum')))
    local r = T.run_fmhost(append_all({}, args_for(icfg), { 'stack', 'up', 'flink' }),
                           { env = { PATH = bin } })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find('java', 1, true) and r.stderr:find('openjdk-17-jdk-headless', 1, true), r.stderr)
    assert.are.same({}, jvms())
  end)
end)

describe('local stack: fetching Flink jars fails cleanly #flink', function()
  local dir, fcfg

  lazy_setup(function()
    dir = T.tmpdir('fmhost-flink-fetch')
    fcfg = copy(cfg)
    fcfg.stack.dir = dir
  end)

  lazy_teardown(function() if dir then T.rmtree(dir) end end)

  it('names maven when mvn is not on PATH, and creates no jar folder', function()
    local r = T.run_fmhost({ '--set', 'stack.dir=' .. dir, 'stack', 'fetch', 'flink' },
                           { env = { PATH = '/nonexistent' } })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find('mvn', 1, true) and r.stderr:find('maven', 1, true), r.stderr)
    assert.is_false(stack.exists(dir .. '/flink/jars/flink-1.20.3'))
  end)

  it('says Maven Central is unreachable, names the Maven log, and leaves no folder half-filled', function()
    -- every repository mirrored to a closed local port, an empty local repository
    local settings = dir .. '/unreachable-settings.xml'
    T.write_file(settings, '<settings><mirrors><mirror><id>nowhere</id><mirrorOf>*</mirrorOf>'
      .. '<url>http://127.0.0.1:' .. free_port() .. '/maven2</url></mirror></mirrors></settings>')
    local ok, msg = fl.fetch(fcfg, { maven_args = { '-s', settings, '-Dmaven.repo.local=' .. dir .. '/m2' } })
    assert.is_nil(ok)
    assert.truthy(msg:find('Maven Central is unreachable', 1, true), msg)
    assert.truthy(msg:find(dir .. '/flink/maven.log', 1, true), msg)
    assert.truthy(stack.exists(dir .. '/flink/maven.log'))
    local s = fl.settings(fcfg)
    assert.are.equal(3, #fl.missing_jars(s))
    for _, d in ipairs { s.lib, s.opt, s.conn } do assert.is_false(stack.exists(d), d) end
    local leftovers = {}
    for e in require('lfs').dir(s.jars) do
      if e ~= '.' and e ~= '..' and e ~= '.fetch.lock' then leftovers[#leftovers + 1] = e end
    end
    assert.are.same({}, leftovers)
  end)
end)

describe('local stack: damaged Flink jars are fetched again, or named #flink', function()
  -- a COPY of the shared jar folders in a stack.dir of its own: the shared
  -- folders and Maven's repository are never touched
  local dir, dcfg, shared, s, conn, rt

  local function sha1(path) return assert(fl.sha1_files { path })[path] end

  local function args(...)
    return append_all({ '--set', 'stack.dir=' .. dir, '--set', 'flink.rest_port=' .. dcfg.flink.rest_port,
                        '--set', 'flink.rpc_port=' .. dcfg.flink.rpc_port,
                        '--set', 'flink.gateway_port=' .. dcfg.flink.gateway_port }, { ... })
  end

  lazy_setup(function()
    assert(fl.fetch(cfg))
    shared = fl.settings(cfg)
    dir = T.tmpdir('fmhost-flink-damaged')
    dcfg = copy(cfg)
    dcfg.stack.dir = dir
    dcfg.flink.rest_port, dcfg.flink.rpc_port, dcfg.flink.gateway_port = free_port(), free_port(), free_port()
    assert(stack.mkdir_p(dir .. '/flink'))
    local r = assert(proc.run { 'cp', '-a', shared.jars, dir .. '/flink/jars', timeout_ms = 600000 })
    assert(r.ok, r.stderr)
    s = fl.settings(dcfg)
    conn = s.conn .. '/flink-connector-jdbc-' .. s.jdbc_version .. '.jar'
    rt = s.lib .. '/flink-table-runtime-' .. s.version .. '.jar'
  end)

  lazy_teardown(function() if dir then T.rmtree(dir) end end)

  it('fetch finds a 0-byte JDBC connector jar and a runtime jar overwritten with junk of its own size, fetches '
    .. 'both again and says so; the next fetch has nothing to do', function()
    local want = { [conn] = sha1(shared.conn .. '/' .. conn:match('[^/]+$')),
                   [rt] = sha1(shared.lib .. '/' .. rt:match('[^/]+$')) }
    T.write_file(conn, '')
    local size = stack.file_size(rt)
    local r = assert(proc.run { 'sh', '-c', 'head -c ' .. size .. ' /dev/urandom > ' .. T.shell_quote(rt) })
    assert(r.ok and stack.file_size(rt) == size)
    local st = T.run_fmhost(args('stack', 'status', 'flink'))
    assert.truthy(st.stdout:find('damaged: flink-connector-jdbc-', 1, true), st.stdout)

    local f = T.run_fmhost(args('stack', 'fetch', 'flink'))
    assert.are.equal(0, f.code, f.stderr)
    assert.truthy(f.stdout:find(conn .. ' is damaged (0 bytes, fetched as ', 1, true), f.stdout)
    assert.truthy(f.stdout:find(rt .. ' is damaged (SHA-1 ', 1, true), f.stdout)
    assert.is_nil(f.stdout:find('nothing to fetch', 1, true), f.stdout)
    assert.are.equal(want[conn], sha1(conn))
    assert.are.equal(want[rt], sha1(rt))
    local again = T.run_fmhost(args('stack', 'fetch', 'flink'))
    assert.are.equal(0, again.code, again.stderr)
    assert.truthy(again.stdout:find('nothing to fetch', 1, true), again.stdout)
  end)

  it('up names a damaged jar it cannot fetch again in one line, and starts nothing', function()
    T.write_file(conn, '')
    -- no Maven: PATH holds sha1sum only
    local bin = dir .. '/bin'
    assert(stack.mkdir_p(bin))
    local where = assert(proc.run { 'sh', '-c', 'command -v sha1sum' }).stdout:match('%S+')
    assert(os.execute('ln -s ' .. T.shell_quote(where) .. ' ' .. T.shell_quote(bin .. '/sha1sum')))
    local r = T.run_fmhost(args('stack', 'up', 'flink'), { env = { PATH = bin } })
    assert.are.equal(1, r.code)
    local lines = {}
    for l in r.stderr:gmatch('[^\n]+') do lines[#lines + 1] = l end
    assert.are.equal(1, #lines, r.stderr)
    assert.truthy(lines[1]:find('fmhost: flink: damaged jar ' .. conn .. ' (0 bytes, fetched as ', 1, true), r.stderr)
    assert.truthy(lines[1]:find('could not be fetched again: mvn ', 1, true), r.stderr)
    assert.are.same({}, fl.find(s).all)
    assert.is_true(stack.exists(conn), 'the damaged jar went though nothing could fetch it again')
    -- Maven offline with an empty repository: named the same way
    T.write_file(conn, '')
    local ok, msg = fl.start(dcfg, { maven_args = { '-o', '-Dmaven.repo.local=' .. dir .. '/empty-m2' } })
    assert.is_nil(ok)
    assert.truthy(msg:match('^[^\n]*'):find('damaged jar ' .. conn .. ' (0 bytes', 1, true), msg)
    assert.are.same({}, fl.find(s).all)
    -- with Maven and its repository, fetch repairs it
    assert(fl.fetch(dcfg))
    assert.are.equal(sha1(shared.conn .. '/' .. conn:match('[^/]+$')), sha1(conn))
  end)
end)

describe('local stack: TaskManagers of the shared cluster #flink', function()
  lazy_setup(function()
    assert(stack.ensure(cfg, { 'flink' }))
  end)

  lazy_teardown(function()
    assert(stack.ensure(cfg, { 'flink' }))
  end)

  it('kill_taskmanager SIGKILLs one: it leaves /taskmanagers; start_taskmanager registers a new one with its own log', function()
    local client = fl.client(cfg)
    local before = fl.taskmanagers(cfg)
    assert.truthy(#before >= 1)
    local ok, killed = fl.kill_taskmanager(cfg, nil, 'KILL')
    assert(ok, killed)
    assert.is_false(proc.pid_alive(killed.pid))
    assert.truthy(killed.resource_id, 'the resource id of the killed TaskManager')
    -- gone from the JobManager's view after the heartbeat timeout
    local gone = stack.wait_until(fl.settings(cfg).heartbeat_timeout_ms + 60000, 250, function()
      local tms = client:taskmanagers()
      if not tms then return nil end
      for _, t in ipairs(tms) do if t.id == killed.resource_id then return nil end end
      return true
    end)
    assert.is_true(gone, 'the killed TaskManager is still listed')

    local sok, new = fl.start_taskmanager(cfg)
    assert(sok, new)
    assert.are_not.equal(killed.name, new.name)
    assert.truthy(proc.pid_alive(new.pid))
    assert.truthy(stack.exists(new.log))
    assert.are.equal(fl.resource_id(cfg, new.name), new.resource_id)
    local listed = false
    for _, t in ipairs(assert(client:taskmanagers())) do
      if t.id == new.resource_id then listed = true end
    end
    assert.is_true(listed)
    local names = {}
    for _, t in ipairs(fl.taskmanagers(cfg)) do names[#names + 1] = t.name end
    assert.truthy(table.concat(names, ' '):find(new.name, 1, true))
    client:close()
  end)
end)
