-- The local stack's MariaDB, on an ISOLATED instance: its own stack.dir under
-- /tmp and its own port (13307, or a free one when that is taken), so the
-- shared private server on mysql.port (13306) that other specs use is never
-- touched. Real mariadbd, real client connections, real ports and pids.
-- #mysql
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'
local T = require 'fmhost.testing'

local servers_of = T.mariadb_servers

describe('local stack: MariaDB #mysql', function()
  local dir, cfg, port, first_pid

  lazy_setup(function()
    dir = T.tmpdir('fmhost-stack')
    cfg = T.isolated_mariadb_cfg(dir, { port = 13307 })
    port = cfg.mysql.port
  end)

  lazy_teardown(function() T.remove_isolated_mariadb(cfg, dir) end)

  -- the same command line a user types, as a new process
  local function fmhost_stack(...)
    local args = { '--set', 'stack.dir=' .. dir, '--set', 'mysql.port=' .. port, '--set', 'mysql.socket=',
                   'stack', ... }
    return T.run_fmhost(args)
  end

  it('starts a private server that accepts connections on its socket and over TCP', function()
    local t0 = proc.now_ms()
    local ok, info = stack.mariadb.up(cfg)
    assert.is_true(ok, info)
    print(string.format('\n  mariadbd start-up %.2f s (initialise + start + users %.2f s)',
                        info.ms / 1000, (proc.now_ms() - t0) / 1000))
    first_pid = info.pid
    assert.is_true(proc.pid_alive(first_pid))
    assert.is_true(proc.port_open('127.0.0.1', port, 2000))
    local s = stack.mariadb.settings(cfg)
    assert.are.equal(dir .. '/mariadb/mysqld.sock', s.socket)
    assert.are.equal('1\n', assert(stack.mariadb.client(cfg, 'SELECT 1', { root = true })))
    assert.are.equal('1\n', assert(stack.mariadb.client(cfg, 'SELECT 1')))
    assert.are.equal('1\n', assert(stack.mariadb.client(cfg, 'SELECT 1', { socket = true })))
    local who = assert(stack.mariadb.client(cfg, 'SELECT CURRENT_USER(), DATABASE()'))
    assert.are.equal(s.user .. '@127.0.0.1\t' .. s.database .. '\n', who)
  end)

  it('gives mysql.user all privileges and the configured server settings', function()
    local out = assert(stack.mariadb.client(cfg, table.concat({
      'CREATE DATABASE IF NOT EXISTS fmhost_stack_probe;',
      'CREATE TABLE fmhost_stack_probe.t (k VARCHAR(10) PRIMARY KEY);',
      "INSERT INTO fmhost_stack_probe.t VALUES ('a'), ('A'), ('a ');",
      'SELECT COUNT(*) FROM fmhost_stack_probe.t;',
      'SELECT @@character_set_server, @@collation_server, @@max_allowed_packet, @@local_infile,',
      '       @@time_zone, @@innodb_flush_log_at_trx_commit, @@log_bin, @@bind_address;',
      "SELECT @@sql_mode LIKE '%STRICT_TRANS_TABLES%';",
    }, '\n')))
    -- an exact-byte collation keeps 'a', 'A' and 'a ' three distinct keys
    assert.are.equal('3\nutf8mb4\tutf8mb4_nopad_bin\t67108864\t1\t+00:00\t2\t0\t127.0.0.1\n1\n', out)
  end)

  it('is harmless to bring up again: same server, exit 0', function()
    local ok, info = stack.mariadb.up(cfg)
    assert.is_true(ok)
    assert.is_true(info.already)
    assert.are.equal(first_pid, info.pid)
    local r = fmhost_stack('up', 'mariadb')
    assert.are.equal(0, r.code, r.stderr)
    assert.matches('already running %(pid ' .. first_pid .. ', port ' .. port .. '%)', r.stdout)
    assert.are.same({ first_pid }, servers_of(cfg))
  end)

  it('reports status from a new process, exit 0 while it runs', function()
    -- name the service: this isolated stack runs MariaDB only, and a bare
    -- `status` also reports Flink (not running here, so exit 3)
    local r = fmhost_stack('status', 'mariadb')
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches('mariadb: running', r.stdout, 1, true)
    assert.matches('pid%s+' .. first_pid, r.stdout)
    assert.matches('127.0.0.1:' .. port .. ' (accepting)', r.stdout, 1, true)
    assert.matches('10.11', r.stdout, 1, true)
  end)

  it('keeps committed rows across a kill -9 and a restart on the same datadir', function()
    assert(stack.mariadb.client(cfg, table.concat({
      'CREATE TABLE fmhost_stack_probe.k (id INT PRIMARY KEY, v VARCHAR(20));',
      "INSERT INTO fmhost_stack_probe.k VALUES (1, 'one'), (2, 'two');",
      "INSERT INTO fmhost_stack_probe.k VALUES (3, 'three');",
    }, '\n')))
    local ok, killed = stack.mariadb.kill(cfg, 'KILL')
    assert.is_true(ok, killed)
    assert.are.equal(first_pid, killed)
    assert.is_false(proc.pid_alive(first_pid))
    assert.is_false(proc.port_open('127.0.0.1', port, 500))
    assert.is_false(stack.mariadb.status(cfg).running)
    local sok, info = stack.mariadb.start(cfg)
    assert.is_true(sok, info)
    assert.are_not.equal(first_pid, info.pid)
    first_pid = info.pid
    assert.are.equal('1\tone\n2\ttwo\n3\tthree\n',
                     assert(stack.mariadb.client(cfg, 'SELECT id, v FROM fmhost_stack_probe.k ORDER BY id')))
  end)

  it('stops: the process is gone, the port closed, status exits 3; down again is harmless', function()
    local r = fmhost_stack('down')
    assert.are.equal(0, r.code, r.stderr)
    assert.matches('mariadb: stopped %(pid ' .. first_pid .. '%)', r.stdout)
    assert.is_false(proc.pid_alive(first_pid))
    assert.is_false(proc.port_open('127.0.0.1', port, 1000))
    assert.is_true(proc.port_free(port))
    assert.are.same({}, servers_of(cfg))
    r = fmhost_stack('status', 'mariadb')
    assert.are.equal(3, r.code)
    assert.matches('mariadb: not running', r.stdout, 1, true)
    r = fmhost_stack('down', 'mariadb')
    assert.are.equal(0, r.code, r.stderr)
    assert.matches('mariadb: not running', r.stdout, 1, true)
  end)

  it('refuses a port already in use with one line naming it, and starts nothing', function()
    local l = assert(proc.listen(0))
    finally(function() l:close() end)
    local r = T.run_fmhost({ '--set', 'stack.dir=' .. dir, '--set', 'mysql.port=' .. l.port,
                             '--set', 'mysql.socket=', 'stack', 'up', 'mariadb' })
    assert.are.equal(1, r.code)
    assert.are.equal('', r.stdout)
    assert.are.equal(string.format('fmhost: mariadb: port %d is already in use by fmhost (pid %d); '
      .. 'set mysql.port to a free port\n', l.port, proc.getpid()), r.stderr)
    local other = T.deepcopy(cfg)
    other.mysql.port = l.port
    assert.are.same({}, servers_of(other))
    assert.is_nil(stack.read_state(other, 'mariadb'))
    assert.is_false(stack.mariadb.status(other).running)
  end)

  it('names an unknown service and a bad command', function()
    local r = fmhost_stack('up', 'nosuchservice')
    assert.are.equal(2, r.code)
    assert.matches('unknown service nosuchservice', r.stderr, 1, true)
    r = fmhost_stack('frobnicate', 'mariadb')
    assert.are.equal(2, r.code)
    assert.matches('unknown stack command frobnicate', r.stderr, 1, true)
  end)
end)
