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
    -- temporary files in the stack's own folder, never the machine's shared /tmp
    assert.are.equal(dir .. '/mariadb/tmp\n', assert(stack.mariadb.client(cfg, 'SELECT @@tmpdir')))
  end)

  -- `mariadb` over TCP as user with no password at all: its result.
  local function tcp_login_without_password(user)
    return assert(proc.run { 'mariadb', '--no-defaults', '--protocol=tcp', '--host=127.0.0.1', '--port=' .. port,
                             '--user=' .. user, '--batch', '--skip-column-names', '-e', 'SELECT CURRENT_USER()',
                             env = { MYSQL_PWD = false, MYSQL_HOST = false, MYSQL_TCP_PORT = false },
                             timeout_ms = 30000 })
  end

  local function assert_refused(user)
    local r = tcp_login_without_password(user)
    assert.is_false(r.ok, user .. ' logged in over TCP without a password: ' .. r.stdout)
    assert.truthy(r.stderr:find('ERROR 1045', 1, true) or r.stderr:find('ERROR 1698', 1, true),
      user .. ': not refused by the server: ' .. r.stderr)
  end

  it('lets no account log in over TCP without a password: root reaches the server through the socket only, '
    .. "fmhost's own account works, and the files holding secrets are the owner's alone", function()
    local m = stack.mariadb
    local s = m.settings(cfg)
    -- every account of the server, and root whatever accounts exist
    local users = { root = true }
    local list = assert(m.client(cfg, 'SELECT DISTINCT User FROM mysql.global_priv', { root = true }))
    for u in list:gmatch('[^\n]+') do users[u] = true end
    assert.truthy(users.fmhost and users['mariadb.sys'], list)
    for u in pairs(users) do assert_refused(u) end
    assert.are.same({}, assert(m.passwordless_accounts(cfg)))
    -- root on the socket (unix_socket: this process's user is root, or the
    -- password of root.cnf), and the stack's own account over TCP
    assert.are.equal(s.root_user .. '@localhost\n', assert(m.client(cfg, 'SELECT CURRENT_USER()', { root = true })))
    assert.are.equal(s.user .. '@127.0.0.1\n', assert(m.client(cfg, 'SELECT CURRENT_USER()')))
    assert.are.equal('1\n', assert(m.client(cfg, 'SELECT COUNT(*) FROM mysql.global_priv WHERE User = '
      .. "'" .. s.root_user .. "' AND Host = 'localhost'", { root = true })))
    -- the files that hold secrets
    local tls = m.tls_files(cfg)
    local secrets = { s.root_cnf, s.init_file }
    if s.tls then
      for _, k in ipairs { 'ca_key', 'server_key', 'client_key' } do secrets[#secrets + 1] = tls[k] end
    end
    for _, f in ipairs(secrets) do
      assert.are.equal('rw-------', require('lfs').attributes(f, 'permissions'), f)
    end
    assert.truthy(T.read_file(s.root_cnf):find('\npassword = %x+\n'), 'root.cnf holds no password')
    -- another user of the machine on the socket: unix_socket does not let
    -- it in as root; root's password does (when root runs this spec)
    if proc.getuid() == 0 and os.execute('command -v runuser >/dev/null 2>&1') then
      assert(os.execute('chmod 711 ' .. T.shell_quote(dir))) -- mktemp made it 0700
      local pw = T.read_file(s.root_cnf):match('\npassword = (%x+)\n')
      local function as_nobody(with_pw)
        return assert(proc.run { 'runuser', '-u', 'nobody', '--', 'mariadb', '--no-defaults', '--protocol=socket',
          '--socket=' .. s.socket, '--user=' .. s.root_user, '--batch', '--skip-column-names',
          '-e', 'SELECT CURRENT_USER()', env = { MYSQL_PWD = with_pw and pw or false }, timeout_ms = 30000 })
      end
      local r = as_nobody(false)
      assert.is_false(r.ok, 'another OS user is root on the socket without a password')
      assert.truthy(r.stderr:find('ERROR 1698', 1, true) or r.stderr:find('ERROR 1045', 1, true), r.stderr)
      r = as_nobody(true)
      assert.is_true(r.ok, r.stderr)
      assert.are.equal(s.root_user .. '@localhost\n', r.stdout)
    end
  end)

  it('secures a running server whose accounts take no password at the next up, naming them', function()
    local m = stack.mariadb
    -- what a server started before the fix had: root over TCP, no password
    assert(m.client(cfg, "CREATE USER 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1';"
      .. "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING '';", { root = true }))
    local r = tcp_login_without_password('root')
    assert.is_true(r.ok, 'the old accounts were not recreated: ' .. r.stderr) -- the check sees the hole
    local ok, info = m.up(cfg)
    assert.is_true(ok, info)
    assert.is_true(info.already)
    assert.are.equal(first_pid, info.pid)
    assert.are.same({ "'root'@'127.0.0.1'", "'root'@'localhost'" }, info.secured)
    assert_refused('root')
    assert.are.same({}, assert(m.passwordless_accounts(cfg)))
    assert.are.equal('root@localhost\n', assert(m.client(cfg, 'SELECT CURRENT_USER()', { root = true })))
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

  it('secures a datadir made before the fix (mariadb-install-db with password-less root accounts) at its next '
    .. 'start, before any client gets in', function()
    local dir2 = T.tmpdir('fmhost-stack-old')
    local old = T.isolated_mariadb_cfg(dir2, { tls = false })
    finally(function() T.remove_isolated_mariadb(old, dir2) end)
    local s = stack.mariadb.settings(old)
    assert(stack.mkdir_p(s.base))
    local argv = { 'mariadb-install-db', '--no-defaults', '--datadir=' .. s.datadir,
                   '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve',
                   timeout_ms = 180000 }
    if proc.getuid() == 0 then argv[#argv + 1] = '--user=root' end
    local r = assert(proc.run(argv))
    assert(r.ok, r.stderr)
    assert.is_false(stack.exists(s.root_cnf))
    local ok, info = stack.mariadb.up(old)
    assert.is_true(ok, info)
    assert.are.same({}, info.secured) -- init-file did it all before the first client
    local refused = assert(proc.run { 'mariadb', '--no-defaults', '--protocol=tcp', '--host=127.0.0.1',
      '--port=' .. old.mysql.port, '--user=root', '-e', 'SELECT 1', env = { MYSQL_PWD = false }, timeout_ms = 30000 })
    assert.is_false(refused.ok)
    assert.truthy(refused.stderr:find('ERROR 1045', 1, true), refused.stderr)
    assert.are.same({}, assert(stack.mariadb.passwordless_accounts(old)))
    local accounts = assert(stack.mariadb.client(old, "SELECT CONCAT(User, '@', Host) FROM mysql.global_priv "
      .. "WHERE User IN ('root', '') ORDER BY 1", { root = true }))
    assert.are.equal('root@localhost\n', accounts)
    assert.are.equal('1\n', assert(stack.mariadb.client(old, 'SELECT 1')))
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
