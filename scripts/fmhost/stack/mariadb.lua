-- The local stack's MariaDB: a private mariadbd with its own datadir, port,
-- socket and my.cnf under <stack.dir>/mariadb/, so that scenarios may kill,
-- restart and reconfigure it without touching any other server.
--
--   <stack.dir>/mariadb/my.cnf          written on every start (config changes apply)
--   <stack.dir>/mariadb/data/           the datadir (initialised once)
--   <stack.dir>/mariadb/tmp/            the server's temporary files (not the shared /tmp)
--   <stack.dir>/mariadb/mysqld.sock     the socket (mysql.socket overrides)
--   <stack.dir>/mariadb/mariadbd.pid    mariadbd's pid file
--   <stack.dir>/mariadb/mariadbd.log    error log and the process's output
--   <stack.dir>/mariadb/state.json      what fmhost started (pid, port, ...)
--   <stack.dir>/mariadb/tls/            with mysql.tls: the CA, server and client
--                                       keys and certificates (generated once)
--   <stack.dir>/mariadb/root.cnf        mysql.root_user's generated password, as a
--                                       client option file (mode 0600)
--   <stack.dir>/mariadb/init.sql        the accounts' fix-up mariadbd runs at each
--                                       start (mode 0600: it holds that password)
--
-- With mysql.managed = false nothing is started: up/ensure/status only
-- check that the server at mysql.host:mysql.port answers.
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'
local service = require 'fmhost.stack.service'

local M = { name = 'mariadb' }

-- With mysql.tls, accounts for TLS scenarios (password mysql.password, all
-- privileges on mysql.database, from 127.0.0.1 only): TLS_USER must connect
-- with TLS (REQUIRE SSL), X509_USER with a client certificate signed by the
-- stack's CA (REQUIRE X509).
M.TLS_USER = 'fmhost_tls'
M.X509_USER = 'fmhost_x509'

-- The files in <stack.dir>/mariadb/tls/ (see M.ensure_tls).
local TLS_FILES = {
  ca = 'ca.pem', ca_key = 'ca-key.pem',
  server_cert = 'server-cert.pem', server_key = 'server-key.pem',
  client_cert = 'client-cert.pem', client_key = 'client-key.pem',
}

local get = stack.get
local function silent() end

-- Every path and setting the service uses, from cfg with the defaults of
-- config/default.yaml.
function M.settings(cfg)
  local base = stack.service_dir(cfg, 'mariadb')
  local s = {
    managed = get(cfg, 'mysql.managed'),
    host = get(cfg, 'mysql.host'),
    port = math.tointeger(get(cfg, 'mysql.port')),
    user = get(cfg, 'mysql.user'),
    password = get(cfg, 'mysql.password'),
    database = get(cfg, 'mysql.database'),
    root_user = get(cfg, 'mysql.root_user'),
    collation = get(cfg, 'mysql.collation'),
    tls = get(cfg, 'mysql.tls'),
    server_version = get(cfg, 'mysql.server_version'),
    start_timeout_ms = get(cfg, 'mysql.start_timeout_ms'),
    stop_timeout_ms = get(cfg, 'mysql.stop_timeout_ms'),
    base = base,
    datadir = base .. '/data',
    tmpdir = base .. '/tmp',
    cnf = base .. '/my.cnf',
    pidfile = base .. '/mariadbd.pid',
    log = base .. '/mariadbd.log',
    install_log = base .. '/install-db.log',
    root_cnf = base .. '/root.cnf',
    init_file = base .. '/init.sql',
    plugin_dir = base .. '/plugin',
    tls_dir = base .. '/tls',
    tls_user = M.TLS_USER,
    x509_user = M.X509_USER,
  }
  s.socket = stack.abspath(get(cfg, 'mysql.socket', base .. '/mysqld.sock'))
  s.managed = service.bool(s.managed, true)
  s.tls = service.bool(s.tls, true)
  return s
end

-- The words that identify our server in /proc/PID/cmdline.
local function marks(s)
  return { '--defaults-file=' .. s.cnf }
end

-- --- the announced version ---------------------------------------------------

-- MariaDB 10.x announces itself in the handshake as "5.5.5-10.11.x-MariaDB"
-- (the prefix kept old replicas working). mysql-connector-j, the driver of
-- Flink's JDBC connector, parses that as server 5.5.5 and, since 5.5.5 is
-- below 5.6.4 (fractional seconds), truncates every TIMESTAMP/TIME it sends
-- to whole seconds, silently; no connection property turns it back on
-- (sendFractionalSeconds can only turn it off). MariaDB's `version` option
-- replaces the announced string (and drops the prefix), so the stack's
-- server announces "5.7.19-<real version>" by default (mysql.server_version
-- "auto"). Why 5.7.19 exactly: at least 5.6.4 (fractions kept) and below
-- 5.7.20, from which the driver reads @@transaction_isolation, a variable
-- MariaDB has only from 11.1 (10.11 knows @@tx_isolation): an alias of 5.7.20
-- or more, or the bare real version, makes every Flink JDBC connection fail.
-- The side effect: SELECT VERSION(), @@version and every client's server
-- version show the alias (the real version follows the dash).
M.VERSION_ALIAS_PREFIX = '5.7.19-'
M.VERSION_MAX = 59 -- mariadbd keeps the first 59 bytes of `version`

local binary_version
-- The version of the mariadbd on PATH ("10.11.19-MariaDB-0+deb12u1"), the
-- string VERSION() returns without an alias; nil when it does not run.
function M.binary_version()
  if binary_version == nil then
    local r = proc.run { 'mariadbd', '--version', timeout_ms = 10000 }
    binary_version = r and r.ok and r.stdout:match('Ver%s+(%S+)') or false
  end
  return binary_version or nil
end

-- The version string the server is told to announce (my.cnf `version`) from
-- mysql.server_version: "auto" -> VERSION_ALIAS_PREFIX .. binary_version();
-- "native" or "" -> false (MariaDB's own, with the 5.5.5- prefix in the
-- handshake); anything else verbatim. Returns the string | false | nil, msg.
function M.server_version(s)
  local v = s.server_version
  if v == nil or v == '' or v == 'native' then return false end
  if v == 'auto' then
    local real = M.binary_version()
    if not real then
      return nil, 'mariadb: mysql.server_version is auto, but `mariadbd --version` did not run; '
        .. 'is mariadb-server installed? (or set mysql.server_version to a version string or native)'
    end
    return M.VERSION_ALIAS_PREFIX .. real
  end
  if type(v) ~= 'string' or #v > M.VERSION_MAX or not v:match('^[%w%.%-+_~:]+$') then
    return nil, string.format('mariadb: mysql.server_version %q is not usable: give auto, native, or up to %d '
      .. 'characters of letters, digits and . - + _ ~ : (like 5.7.19-10.11.6-MariaDB)', tostring(v), M.VERSION_MAX)
  end
  return v
end

-- What SELECT VERSION() returns on a server started with settings s.
local function expected_version(s)
  local v = M.server_version(s)
  if v then return v end
  return M.binary_version()
end

-- --- my.cnf ------------------------------------------------------------------

-- Why these settings:
--  * utf8mb4 with utf8mb4_nopad_bin: comparisons and keys are exact bytes,
--    so 'a', 'A' and 'a ' are three keys, ORDER BY follows code points (the
--    order fmhost.validate streams in) and a value read back equals the
--    value written; a case-insensitive or PAD SPACE collation would merge
--    keys that Flink treats as distinct and hide real mismatches.
--  * innodb_flush_log_at_trx_commit=2: each commit reaches the OS at once,
--    so a kill -9 of mariadbd (the fault scenarios) loses no committed row,
--    while nothing waits for fsync; only a machine crash could lose the last
--    second, which tests do not simulate. doublewrite off for the same
--    reason (it guards against torn pages on power loss, not process kill).
--  * UTC server time zone: TIMESTAMP values do not depend on the machine.
--  * start-up and restart speed (the fault scenarios restart the server some
--    hundred times a run): key_buffer_size 8M, as MyISAM is not used (the
--    default 128 MB cache is zeroed at every start: a quarter of the
--    server's start-up CPU); no buffer pool dump at shutdown nor load at
--    start (a test server's pool is warmed by the test itself).
--  * skip-name-resolve: no DNS on connect; users are @'127.0.0.1' (TCP)
--    and @'localhost' (socket).
--  * version: the string announced to clients (mysql.server_version; see
--    M.server_version): by default 5.7.19-<real version>, so Flink's MySQL
--    driver keeps the milliseconds of the timestamps it writes.
--  * with mysql.tls: ssl_ca/ssl_cert/ssl_key from <stack.dir>/mariadb/tls/,
--    TLS 1.2 and 1.3 only. TLS is offered, not required
--    (require_secure_transport stays off): accounts ask for it one by one.
--  * plugin_dir: a folder of the stack's own (M.prepare_plugins): the
--    packaged server's plugins and fmhost_rowsum.so, the validator's
--    server-side row checksum.
--  * init-file: the accounts' fix-up (M.init_sql), run before the server
--    accepts any connection, so that no start of an old datadir ever lets
--    the password-less root accounts of mariadb-install-db in.
function M.my_cnf(s)
  local lines = {
    '# written by fmhost stack up; rewritten on every start',
    '[mysqld]',
  }
  if proc.getuid() == 0 then lines[#lines + 1] = 'user = root' end
  for _, l in ipairs {
    'datadir = ' .. s.datadir,
    -- the server's temporary files in a folder of its own: /tmp is shared with every other
    -- process on the machine (a cleaner there once removed a bootstrap's temporary table)
    'tmpdir = ' .. s.tmpdir,
    'port = ' .. s.port,
    'bind-address = 127.0.0.1',
    'socket = ' .. s.socket,
    'pid-file = ' .. s.pidfile,
    'log-error = ' .. s.log,
    'init-file = ' .. s.init_file,
    'plugin_dir = ' .. s.plugin_dir,
    'skip-name-resolve',
    'skip-log-bin',
    'character-set-server = utf8mb4',
    'collation-server = ' .. s.collation,
    'sql_mode = STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION',
    "default-time-zone = '+00:00'",
    'max_allowed_packet = 64M',
    'local_infile = 1',
    'max_connections = 300',
    'performance_schema = OFF',
    'innodb_buffer_pool_size = 512M',
    'innodb_log_file_size = 256M',
    'innodb_flush_log_at_trx_commit = 2',
    'innodb_doublewrite = 0',
    'key_buffer_size = 8M',
    'innodb_buffer_pool_dump_at_shutdown = OFF',
    'innodb_buffer_pool_load_at_startup = OFF',
  } do lines[#lines + 1] = l end
  local version = M.server_version(s)
  if version then lines[#lines + 1] = 'version = ' .. version end
  if s.tls then
    lines[#lines + 1] = 'ssl_ca = ' .. s.tls_dir .. '/' .. TLS_FILES.ca
    lines[#lines + 1] = 'ssl_cert = ' .. s.tls_dir .. '/' .. TLS_FILES.server_cert
    lines[#lines + 1] = 'ssl_key = ' .. s.tls_dir .. '/' .. TLS_FILES.server_key
    lines[#lines + 1] = 'tls_version = TLSv1.2,TLSv1.3'
  end
  for _, l in ipairs {
    '',
    '[client]',
    'socket = ' .. s.socket,
    'port = ' .. s.port,
    'user = ' .. s.root_user,
    '',
  } do lines[#lines + 1] = l end
  return table.concat(lines, '\n')
end

-- --- the client ----------------------------------------------------------------

local function sql_string(v)
  return "'" .. tostring(v):gsub('\\', '\\\\'):gsub("'", "\\'") .. "'"
end

local function sql_ident(v)
  return '`' .. tostring(v):gsub('`', '``') .. '`'
end

-- mysql.root_user's generated password (root.cnf), or nil before the first
-- start that made one.
local function root_password(s)
  local text = stack.read_file(s.root_cnf)
  return text and text:match('\npassword = (%x+)\n') or nil
end

-- Run sql through the stock `mariadb` client. o.root: as mysql.root_user over
-- the socket (managed server only: unix_socket authentication when the OS
-- user has that name, else the password in root.cnf; a server whose root
-- still has no password, started before fmhost secured it, is asked
-- without); otherwise as mysql.user over TCP to
-- mysql.host:mysql.port (o.socket: over the socket) with mysql.database.
-- o.columns: keep the header line. o.database: another database ('' for
-- none). o.timeout_ms (30 s). o.user, o.password: log in as another account
-- over TCP. o.tls: false (--skip-ssl, no TLS at all) or {ca=, cert=, key=,
-- verify=} (TLS; verify: --ssl-verify-server-cert, the CA and the host name).
-- Returns the client's output (tab-separated, one line a row) | nil, msg, info.
function M.client(cfg, sql, o)
  o = o or {}
  local s = M.settings(cfg)
  local argv = { 'mariadb', '--no-defaults', '--batch' }
  if not o.columns then argv[#argv + 1] = '--skip-column-names' end
  local env = { MYSQL_PWD = false, MYSQL_HOST = false, MYSQL_TCP_PORT = false, MYSQL_UNIX_PORT = false }
  if o.root then
    argv[#argv + 1] = '--protocol=socket'
    argv[#argv + 1] = '--socket=' .. s.socket
    argv[#argv + 1] = '--user=' .. s.root_user
  elseif o.socket then
    argv[#argv + 1] = '--protocol=socket'
    argv[#argv + 1] = '--socket=' .. s.socket
    argv[#argv + 1] = '--user=' .. s.user
    env.MYSQL_PWD = s.password
  else
    argv[#argv + 1] = '--protocol=tcp'
    argv[#argv + 1] = '--host=' .. s.host
    argv[#argv + 1] = '--port=' .. s.port
    argv[#argv + 1] = '--user=' .. (o.user or s.user)
    env.MYSQL_PWD = o.password or s.password -- not on the command line, where ps shows it
  end
  if o.tls == false then
    argv[#argv + 1] = '--skip-ssl'
  elseif type(o.tls) == 'table' then
    argv[#argv + 1] = '--ssl'
    if o.tls.ca then argv[#argv + 1] = '--ssl-ca=' .. o.tls.ca end
    if o.tls.cert then argv[#argv + 1] = '--ssl-cert=' .. o.tls.cert end
    if o.tls.key then argv[#argv + 1] = '--ssl-key=' .. o.tls.key end
    if o.tls.verify then argv[#argv + 1] = '--ssl-verify-server-cert' end
  end
  local db = o.database
  if db == nil and not o.root then db = s.database end
  if db and db ~= '' then argv[#argv + 1] = '--database=' .. db end
  argv.env = env
  argv.input = sql
  argv.timeout_ms = o.timeout_ms or 30000
  if o.root then env.MYSQL_PWD = root_password(s) or false end
  local r, err, info = proc.run(argv)
  if r and not r.ok and o.root and env.MYSQL_PWD and r.stderr:find('ERROR 1045', 1, true) then
    env.MYSQL_PWD = false -- an account from before root had a password: fixed at the next start or up
    r, err, info = proc.run(argv)
  end
  if not r then return nil, 'mariadb client: ' .. err, info end
  if not r.ok then
    -- in batch mode the client echoes the failing statement; keep the ERROR line
    local msg = r.stderr:match('(ERROR[^\n]*)') or (r.stderr ~= '' and r.stderr or r.stdout):gsub('%s+$', '')
    return nil, msg ~= '' and msg or ('mariadb client exited with ' .. tostring(r.code or r.signal)),
      { kind = 'mysql', code = r.code, stderr = r.stderr, stdout = r.stdout, retryable = false }
  end
  return r.stdout
end

-- mysql.root_user over the socket in this process, through fmhost.pool: a
-- pool of one connection, for the statements of start-up and ensure (a
-- `mariadb` client costs a process, ~0.1 s on a busy machine). The same
-- logins as M.client's o.root: the password in root.cnf, and without one
-- for a root that has none yet. Returns the pool | nil, msg, code (the
-- client error number: 2002 and the like while the server is not up).
local function root_pool(s, timeout_ms)
  local o = { name = 'mariadb root', host = 'localhost', socket = s.socket, user = s.root_user,
              password = root_password(s), size = 1, connect_timeout_ms = timeout_ms,
              read_timeout_ms = timeout_ms, write_timeout_ms = timeout_ms }
  local p, err = require('fmhost.pool').open(o)
  if not p and o.password and tostring(err):find('error 1045', 1, true) then
    o.password = nil -- an account from before root had a password: fixed at the next start or up
    p, err = require('fmhost.pool').open(o)
  end
  if not p then return nil, tostring(err), math.tointeger(tonumber(tostring(err):match('%(error (%d+)'))) end
  return p
end

-- Run the statements of list as root (see root_pool), the last one a
-- query: its rows | nil, msg, code.
local function root_run(s, list, timeout_ms)
  local p, err, code = root_pool(s, timeout_ms or 10000)
  if not p then return nil, err, code end
  local root <close> = p
  for i = 1, #list - 1 do
    local n, eerr = root:exec(list[i])
    if not n then return nil, tostring(eerr) end
  end
  local rows, qerr = root:query(list[#list])
  if not rows then return nil, tostring(qerr) end
  return rows
end

-- --- TLS files -------------------------------------------------------------------

-- With mysql.tls the server offers TLS (it does not require it: clients
-- without TLS keep working) with a certificate from a private CA that
-- fmhost generates once, with the openssl command line tool:
--
--   ca-key.pem, ca.pem            the CA: EC P-256 key, self-signed, 5 years
--   server-key.pem, server-cert.pem   CN=localhost, subjectAltName
--                                 IP:127.0.0.1 and DNS:localhost (so a client
--                                 verifying the host name accepts both), 825 days
--   client-key.pem, client-cert.pem   CN=fmhost-client, for REQUIRE X509 accounts
--
-- EC P-256 with SHA-256 signatures: TLS 1.2/1.3 clients everywhere accept
-- it, and a key takes milliseconds where RSA takes a noticeable pause.
-- Private keys are created mode 0600. Serial numbers are random (openssl
-- x509 -req picks one when no serial file exists).
M.TLS_CA_DAYS = 1825
M.TLS_CERT_DAYS = 825

-- The TLS files of the stack's server and the accounts that need TLS:
-- {dir=, ca=, ca_key=, server_cert=, server_key=, client_cert=, client_key=,
--  user=TLS_USER, x509_user=X509_USER, enabled=mysql.tls}. Paths are absolute;
-- the files exist once the server has been started with mysql.tls.
function M.tls_files(cfg)
  local s = M.settings(cfg)
  local t = { dir = s.tls_dir, user = s.tls_user, x509_user = s.x509_user, enabled = s.tls }
  for k, name in pairs(TLS_FILES) do t[k] = s.tls_dir .. '/' .. name end
  return t
end

local REQ_CNF = table.concat({
  '# written by fmhost: what openssl req needs, nothing from the system openssl.cnf',
  '[req]',
  'distinguished_name = dn',
  'prompt = no',
  '[dn]',
  'CN = fmhost',
  '[ca_ext]',
  'basicConstraints = critical, CA:TRUE, pathlen:0',
  'keyUsage = critical, keyCertSign, cRLSign',
  'subjectKeyIdentifier = hash',
  '',
}, '\n')

local function leaf_ext(usage, san)
  local lines = {
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = ' .. usage,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
  }
  if san then lines[#lines + 1] = 'subjectAltName = ' .. san end
  return table.concat(lines, '\n') .. '\n'
end

local function command_line(argv)
  local words = {}
  for i, a in ipairs(argv) do words[i] = stack.shell_quote(a) end
  return table.concat(words, ' ')
end

-- Run openssl in dir; true | nil, msg naming the command and its stderr.
local function openssl(dir, ...)
  local argv = { 'openssl', ... }
  argv.cwd = dir
  argv.timeout_ms = 60000
  local r, err = proc.run(argv)
  if r and r.ok then return true end
  local why
  if not r then
    why = err
  else
    local out = (r.stderr ~= '' and r.stderr or r.stdout):gsub('%s+$', '')
    why = string.format('exited with %s%s', r.signal and ('signal ' .. r.signal) or ('status ' .. tostring(r.code)),
                        out ~= '' and (':\n' .. out) or ' and printed nothing')
  end
  return nil, string.format('`%s` (in %s) %s', command_line(argv), dir, why)
end

local function genkey(dir, out)
  return openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out)
end

-- A key and a certificate signed by the CA, into dir (the temporary folder).
local function gen_leaf(dir, ca, ca_key, name, cn, usage, san)
  local ok, err = genkey(dir, name .. '-key.pem')
  if not ok then return nil, err end
  ok, err = openssl(dir, 'req', '-new', '-config', 'req.cnf', '-key', name .. '-key.pem',
                    '-subj', '/CN=' .. cn, '-out', name .. '.csr')
  if not ok then return nil, err end
  ok, err = stack.write_file(dir .. '/' .. name .. '.ext', leaf_ext(usage, san))
  if not ok then return nil, err end
  return openssl(dir, 'x509', '-req', '-in', name .. '.csr', '-CA', ca, '-CAkey', ca_key, '-sha256',
                 '-days', tostring(M.TLS_CERT_DAYS), '-extfile', name .. '.ext', '-out', name .. '-cert.pem')
end

local function remove_tmp_dirs(dir)
  local lfs = require 'lfs'
  for name in lfs.dir(dir) do
    if name:match('^%.new%.') then proc.run { 'rm', '-rf', dir .. '/' .. name, timeout_ms = 60000 } end
  end
end

-- Make sure the TLS files exist and hold together: generate what is
-- missing (a missing CA means everything is generated anew; a missing
-- server or client pair is signed by the existing CA); when all are there,
-- `openssl verify` must accept both certificates against the CA (not
-- expired, same CA), else everything is generated anew. Everything is
-- written into a temporary folder first and renamed into place, a
-- certificate only after its key, so an interrupted run leaves a pair
-- incomplete (generated again next time), never half a file.
-- Returns true, {generated = {'ca', 'server', 'client'}} | nil, msg.
function M.ensure_tls(s, say)
  say = say or silent
  local f = {}
  for k, name in pairs(TLS_FILES) do f[k] = s.tls_dir .. '/' .. name end
  local ok, err = stack.mkdir_p(s.tls_dir)
  if not ok then return nil, err end
  remove_tmp_dirs(s.tls_dir)
  local have = function(a, b) return stack.exists(f[a]) and stack.exists(f[b]) end
  local need = { ca = not have('ca', 'ca_key') }
  need.server = need.ca or not have('server_cert', 'server_key')
  need.client = need.ca or not have('client_cert', 'client_key')
  if not (need.ca or need.server or need.client) then
    local vok, verr = openssl(s.tls_dir, 'verify', '-CAfile', f.ca, f.server_cert, f.client_cert)
    if vok then return true, { generated = {} } end
    say('mariadb: the TLS files in %s do not verify; generating new ones (%s)', s.tls_dir, verr)
    need = { ca = true, server = true, client = true }
  end

  local r, merr = proc.run { 'mktemp', '-d', s.tls_dir .. '/.new.XXXXXX', timeout_ms = 10000 }
  if not r or not r.ok then
    return nil, 'mariadb: cannot create a temporary folder in ' .. s.tls_dir .. ': '
      .. (merr or r.stderr:gsub('%s+$', ''))
  end
  local tmp = r.stdout:gsub('%s+$', '')
  local function fail(e)
    proc.run { 'rm', '-rf', tmp, timeout_ms = 60000 }
    return nil, 'mariadb: generating the TLS files failed: ' .. e
      .. (need.ca and '' or ('\n(to start over with a new CA, remove ' .. s.tls_dir .. ')'))
  end
  local t0 = proc.now_ms()
  ok, err = stack.write_file(tmp .. '/req.cnf', REQ_CNF)
  if not ok then return fail(err) end
  local ca, ca_key = f.ca, f.ca_key
  if need.ca then
    ca, ca_key = tmp .. '/ca.pem', tmp .. '/ca-key.pem'
    ok, err = genkey(tmp, 'ca-key.pem')
    if ok then
      ok, err = openssl(tmp, 'req', '-x509', '-new', '-config', 'req.cnf', '-extensions', 'ca_ext',
                        '-key', 'ca-key.pem', '-sha256', '-days', tostring(M.TLS_CA_DAYS),
                        '-subj', '/CN=fmhost local CA', '-out', 'ca.pem')
    end
    if not ok then return fail(err) end
  end
  if need.server then
    ok, err = gen_leaf(tmp, ca, ca_key, 'server', 'localhost', 'serverAuth', 'IP:127.0.0.1, DNS:localhost')
    if not ok then return fail(err) end
  end
  if need.client then
    ok, err = gen_leaf(tmp, ca, ca_key, 'client', 'fmhost-client', 'clientAuth', nil)
    if not ok then return fail(err) end
  end

  -- into place: first drop what the new files replace (certificates before
  -- keys), then keys before certificates
  local order = {}
  if need.ca then order[#order + 1] = { 'ca_key', 'ca' } end
  if need.server then order[#order + 1] = { 'server_key', 'server_cert' } end
  if need.client then order[#order + 1] = { 'client_key', 'client_cert' } end
  for _, pair in ipairs(order) do os.remove(f[pair[2]]) end
  for _, pair in ipairs(order) do os.remove(f[pair[1]]) end
  local generated = {}
  for _, pair in ipairs(order) do
    for _, k in ipairs(pair) do
      local rok, rerr = os.rename(tmp .. '/' .. TLS_FILES[k], f[k])
      if not rok then return fail('cannot move ' .. TLS_FILES[k] .. ' into place: ' .. tostring(rerr)) end
    end
    generated[#generated + 1] = pair[1]:match('^(%a+)_')
  end
  proc.run { 'rm', '-rf', tmp, timeout_ms = 60000 }
  say('mariadb: generated TLS %s in %s (%.2f s)', table.concat(generated, ', '), s.tls_dir,
      (proc.now_ms() - t0) / 1000)
  return true, { generated = generated }
end

-- --- finding the running server ---------------------------------------------

-- The pid of our running mariadbd (and state.json's record), or nil.
local function find_pid(cfg, s)
  return service.find_pid(cfg, 'mariadb', s, marks(s))
end

-- --- accounts: no login without a password over TCP ---------------------------

-- mariadb-install-db makes root@localhost, root@127.0.0.1, root@::1 and
-- root@<host name>, none with a password: anyone on the machine could log in
-- as root over TCP. fmhost keeps one administrative account,
-- mysql.root_user@'localhost', which only the socket reaches (with
-- skip-name-resolve a TCP client is '127.0.0.1', never 'localhost'):
-- IDENTIFIED VIA unix_socket (the OS user of that name, no password) OR
-- mysql_native_password with a password generated once into root.cnf (mode
-- 0600), for an fmhost run by an OS user of another name. The TCP root
-- accounts and anonymous accounts are dropped. mariadbd does this itself from
-- init-file at every start, before it accepts a connection, so a datadir
-- made before is fixed by its next start; M.secure_accounts does the same on
-- a running server and drops any other account that takes no password.

local function random_hex(bytes)
  local f = assert(io.open('/dev/urandom', 'rb'))
  local b = f:read(bytes)
  f:close()
  return (b:gsub('.', function(c) return string.format('%02x', c:byte()) end))
end

local function host_name()
  local text = stack.read_file('/proc/sys/kernel/hostname') or ''
  local h = text:match('^%s*(%S+)')
  return h
end

-- root.cnf: mysql.root_user, its password and the socket, as a client option
-- file (`mariadb --defaults-file=root.cnf` opens a root shell).
local function root_cnf_text(s, pw)
  return table.concat({
    '# written by fmhost stack up: the private server\'s administrative account (socket only)',
    '[client]',
    'user = ' .. s.root_user,
    'password = ' .. pw,
    'socket = ' .. s.socket,
    '',
  }, '\n')
end

-- The password of mysql.root_user: the one in root.cnf, else a new one;
-- root.cnf is (re)written private. Returns pw | nil, msg.
local function ensure_root_secret(s)
  local pw = root_password(s) or random_hex(16)
  local ok, err = stack.write_private_file(s.root_cnf, root_cnf_text(s, pw))
  if not ok then return nil, 'mariadb: ' .. err end
  return pw
end

-- The SQL that makes the accounts safe, one statement a line, for
-- init-file; each statement succeeds whatever accounts the datadir has.
function M.init_sql(s, pw, host)
  local hosts = { '127.0.0.1', '::1', '%' }
  if host and host ~= '' and host ~= 'localhost' and host ~= '%' then hosts[#hosts + 1] = host end
  local drop = {}
  local users = { 'root' }
  if s.root_user ~= 'root' then users[#users + 1] = s.root_user end
  for _, u in ipairs(users) do
    for _, h in ipairs(hosts) do drop[#drop + 1] = sql_string(u) .. '@' .. sql_string(h) end
  end
  local anon = { 'localhost', '%' }
  if hosts[4] then anon[3] = hosts[4] end
  for _, h in ipairs(anon) do drop[#drop + 1] = "''@" .. sql_string(h) end
  local root = sql_string(s.root_user) .. "@'localhost'"
  local auth = 'IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(' .. sql_string(pw) .. ')'
  return table.concat({
    'DROP USER IF EXISTS ' .. table.concat(drop, ', ') .. ';',
    'CREATE USER IF NOT EXISTS ' .. root .. ' ' .. auth .. ';',
    'ALTER USER ' .. root .. ' ' .. auth .. ';',
    'GRANT ALL PRIVILEGES ON *.* TO ' .. root .. ' WITH GRANT OPTION;',
    '',
  }, '\n')
end

-- Accounts that log in without any password: neither locked (mariadb.sys,
-- the definer of the mysql.user view, is a locked one) nor a role,
-- mysql_native_password (the default) with an empty hash. (JSON_VALUE reads
-- true as 1, JSON_EXTRACT as true.)
local PASSWORDLESS = [[SELECT User, Host FROM mysql.global_priv
  WHERE IFNULL(JSON_VALUE(Priv, '$.plugin'), 'mysql_native_password') IN ('mysql_native_password', 'mysql_old_password')
    AND IFNULL(JSON_VALUE(Priv, '$.authentication_string'), '') = ''
    AND IFNULL(JSON_EXTRACT(Priv, '$.account_locked'), 'false') NOT IN ('true', '1')
    AND IFNULL(JSON_EXTRACT(Priv, '$.is_role'), 'false') NOT IN ('true', '1')
    AND User <> 'mariadb.sys'
  ORDER BY User, Host;]]

-- The {user, host} pairs of PASSWORDLESS's rows.
local function account_list(rows)
  local list = {}
  for _, r in ipairs(rows) do list[#list + 1] = { user = r.User, host = r.Host } end
  return list
end

-- The {user, host} pairs of the running server's accounts that take no
-- password | nil, msg.
function M.passwordless_accounts(cfg)
  local rows, err = root_run(M.settings(cfg), { PASSWORDLESS })
  if not rows then return nil, err end
  return account_list(rows)
end

-- On the running server: the fix-up of init-file, and every other account
-- that takes no password dropped. bad: the passwordless accounts when the
-- caller has just asked (else they are asked for). Returns the list of
-- accounts changed ("'root'@'127.0.0.1'", ...) | nil, msg.
function M.secure_accounts(cfg, s, pw, bad)
  local err
  if not bad then bad, err = M.passwordless_accounts(cfg) end
  if not bad then return nil, err end
  if #bad == 0 then return {} end
  pw = pw or root_password(s)
  if not pw then return nil, 'mysql.root_user has no password in ' .. s.root_cnf .. ' yet' end
  local sql, names = { M.init_sql(s, pw, host_name()) }, {}
  for _, a in ipairs(bad) do
    local who = sql_string(a.user) .. '@' .. sql_string(a.host)
    names[#names + 1] = who
    if not (a.user == s.root_user and a.host == 'localhost') then
      sql[#sql + 1] = 'DROP USER IF EXISTS ' .. who .. ';'
    end
  end
  local ok, cerr = M.client(cfg, table.concat(sql, '\n'), { root = true })
  if not ok then return nil, cerr end
  return names
end

-- --- up ----------------------------------------------------------------------

-- Initialise the datadir once: into a temporary folder renamed into place
-- when complete, so an interrupted run never leaves half a datadir.
local function init_datadir(s, say)
  if stack.exists(s.datadir .. '/mysql') then return true end
  local tmp = s.datadir .. '.init'
  proc.run { 'rm', '-rf', tmp, timeout_ms = 60000 }
  say('mariadb: initialising %s', s.datadir)
  local t0 = proc.now_ms()
  local argv = { 'mariadb-install-db', '--no-defaults', '--datadir=' .. tmp, '--tmpdir=' .. s.tmpdir,
                 '--auth-root-authentication-method=normal', '--skip-test-db',
                 '--skip-name-resolve', timeout_ms = 180000 }
  if proc.getuid() == 0 then argv[#argv + 1] = '--user=root' end
  local r, err = proc.run(argv)
  local log = r and (r.stdout .. r.stderr) or ''
  stack.write_file(s.install_log, log)
  if not r or not r.ok then
    proc.run { 'rm', '-rf', tmp, timeout_ms = 60000 }
    local why = err or ('exit ' .. tostring(r.code or r.signal))
    return nil, string.format('mariadb-install-db failed (%s); see %s:\n%s', why, s.install_log,
                              stack.tail(s.install_log, 8))
  end
  if s.datadir and stack.exists(s.datadir) then proc.run { 'rm', '-rf', s.datadir, timeout_ms = 60000 } end
  local ok, rerr = os.rename(tmp, s.datadir)
  if not ok then return nil, 'cannot move the new datadir into place: ' .. tostring(rerr) end
  say('mariadb: datadir initialised in %.1f s', (proc.now_ms() - t0) / 1000)
  return true
end

-- The statements that make mysql.database and the accounts of mysql.user
-- (and, with mysql.tls, the TLS accounts), whatever the datadir holds.
local function setup_sql(s)
  local u, p = sql_string(s.user), sql_string(s.password)
  local lines = { 'CREATE DATABASE IF NOT EXISTS ' .. sql_ident(s.database) .. ';' }
  for _, h in ipairs { "'127.0.0.1'", "'localhost'" } do
    local who = u .. '@' .. h
    lines[#lines + 1] = 'CREATE USER IF NOT EXISTS ' .. who .. ' IDENTIFIED BY ' .. p .. ';'
    lines[#lines + 1] = 'ALTER USER ' .. who .. ' IDENTIFIED BY ' .. p .. ';'
    lines[#lines + 1] = 'GRANT ALL PRIVILEGES ON *.* TO ' .. who .. ';'
  end
  if s.tls then
    for _, t in ipairs { { s.tls_user, 'SSL' }, { s.x509_user, 'X509' } } do
      local who = sql_string(t[1]) .. "@'127.0.0.1'"
      lines[#lines + 1] = 'CREATE USER IF NOT EXISTS ' .. who .. ' IDENTIFIED BY ' .. p .. ' REQUIRE ' .. t[2] .. ';'
      lines[#lines + 1] = 'ALTER USER ' .. who .. ' IDENTIFIED BY ' .. p .. ' REQUIRE ' .. t[2] .. ';'
      lines[#lines + 1] = 'GRANT ALL PRIVILEGES ON ' .. sql_ident(s.database) .. '.* TO ' .. who .. ';'
    end
  end
  return lines
end

-- --- the plugin folder ------------------------------------------------------------

M.ROWSUM_FUNCTION = 'fmhost_rowsum'
M.ROWSUM_LIBRARY = 'fmhost_rowsum.so'

local system_plugin_dir
-- The plugin folder the packaged mariadbd uses by default
-- ("/usr/lib/mysql/plugin/" on Debian), or nil.
local function packaged_plugin_dir()
  if system_plugin_dir == nil then
    local r = proc.run { 'mariadbd', '--no-defaults', '--verbose', '--help', timeout_ms = 10000 }
    system_plugin_dir = r and r.stdout:match('\nplugin%-dir%s+(%S+)') or false
  end
  return system_plugin_dir or nil
end

-- fmhost_rowsum.so built beside the running fmhost, or nil.
function M.rowsum_library()
  local dir = _FMHOST_EXE and _FMHOST_EXE:match('^(.*)/[^/]*$')
  local p = dir and dir .. '/' .. M.ROWSUM_LIBRARY
  return p and stack.exists(p) and p or nil
end

-- The server's own plugin_dir: a link to each plugin of the packaged
-- server's folder (so that INSTALL SONAME works as on any server) and a
-- copy of fmhost_rowsum.so (a copy, written aside and renamed: rebuilding
-- fmhost never rewrites a library a running server has mapped). Returns
-- true, and whether the checksum library is there | nil, msg.
function M.prepare_plugins(s)
  local lfs = require 'lfs'
  local ok, err = stack.mkdir_p(s.plugin_dir)
  if not ok then return nil, err end
  -- linked once per stack folder (asking mariadbd for its folder costs a process)
  local linked = false
  for name in lfs.dir(s.plugin_dir) do
    if lfs.symlinkattributes(s.plugin_dir .. '/' .. name, 'mode') == 'link' then linked = true; break end
  end
  local sys = not linked and packaged_plugin_dir()
  if sys and lfs.attributes(sys, 'mode') == 'directory' then
    for name in lfs.dir(sys) do
      local to = s.plugin_dir .. '/' .. name
      if name:sub(1, 1) ~= '.' and name ~= M.ROWSUM_LIBRARY and not lfs.symlinkattributes(to, 'mode') then
        lfs.link(sys:gsub('/$', '') .. '/' .. name, to, true)
      end
    end
  end
  local lib = M.rowsum_library()
  if not lib then return true, false end
  local files = require 'fmhost.files'
  local want, dest = files.read(lib), s.plugin_dir .. '/' .. M.ROWSUM_LIBRARY
  if not want then return true, false end
  if files.read(dest) ~= want then
    local wok, werr = files.write(dest, want)
    if not wok then return nil, 'mariadb: ' .. tostring(werr) end
  end
  return true, true
end

-- SELECT VERSION() as mysql.user over TCP (through fmhost.pool, in this
-- process), and with rowsum the checksum function created if missing:
-- the version string, nil, and why the function could not be created |
-- nil, msg.
local function tcp_version(s, rowsum)
  local p, err = require('fmhost.pool').open { host = s.host, port = s.port, user = s.user, password = s.password,
                                               database = s.database, size = 1, connect_timeout_ms = 10000,
                                               read_timeout_ms = 10000 }
  if not p then return nil, err end
  local db <close> = p
  local v, qerr = db:scalar('SELECT VERSION()')
  if v == nil then return nil, qerr or 'no answer' end
  local ferr
  if rowsum then
    local n, e = db:exec('CREATE AGGREGATE FUNCTION IF NOT EXISTS ' .. M.ROWSUM_FUNCTION
                         .. " RETURNS INTEGER SONAME '" .. M.ROWSUM_LIBRARY .. "'")
    if not n then ferr = tostring(e) end
  end
  return tostring(v), nil, ferr
end

-- Stop a server we are starting and could not finish: nothing half-started.
local function abort_start(cfg, s, p)
  service.abort_start(cfg, 'mariadb', s, p)
end

-- The version a running server announces: from the start record when it
-- is that server's, else asked (root, socket). nil when it cannot be asked.
local function running_version(cfg, s, pid, st)
  if st and st.pid == pid and st.version then return st.version end
  local out = M.client(cfg, 'SELECT VERSION();', { root = true, timeout_ms = 5000 })
  return out and out:match('[^\n]+') or nil
end

local stop_locked

local function start_locked(cfg, s, o)
  local say = o.say or silent
  local _, verr = M.server_version(s)
  if verr then return nil, verr end
  local pid, st = find_pid(cfg, s)
  if pid then
    local port = st and st.port or s.port
    if port ~= s.port then
      return true, { already = true, pid = pid, port = port,
        warning = string.format('mariadb: running on port %d, but mysql.port is %d; '
          .. "run 'fmhost stack restart mariadb' to move it", port, s.port) }
    end
    -- a server started before mysql.server_version changed (or before it
    -- existed) announces another version: Flink's driver may then drop
    -- fractional seconds, so ensure (o.restart_on_change) restarts it
    local announced, wanted = running_version(cfg, s, pid, st), expected_version(s)
    if not (announced and wanted and announced ~= wanted) then
      -- a server started before fmhost secured its accounts: secure them now
      local info = { already = true, pid = pid, port = port, version = announced }
      local bad = M.passwordless_accounts(cfg)
      if bad and #bad > 0 then
        local pw, perr = ensure_root_secret(s)
        local fixed, ferr
        if pw then fixed, ferr = M.secure_accounts(cfg, s, pw) else ferr = perr end
        if fixed then
          info.secured = fixed
        else
          info.warning = 'mariadb: accounts without a password remain (' .. tostring(ferr)
            .. "); run 'fmhost stack restart mariadb'"
        end
      end
      return true, info
    end
    local why = string.format('announces version %s, but mysql.server_version (%s) asks for %s',
                              announced, tostring(s.server_version), wanted)
    if not o.restart_on_change then
      return true, { already = true, pid = pid, port = port, version = announced,
        warning = 'mariadb: the running server ' .. why .. "; run 'fmhost stack restart mariadb' to apply it" }
    end
    say('mariadb: the running server %s; restarting it', why)
    local ok, err = stop_locked(cfg, s, o)
    if not ok then return nil, err end
  end
  if #s.socket > 107 then
    return nil, string.format('mariadb: the socket path %s is longer than a Unix socket may be (107 bytes); '
      .. 'set stack.dir or mysql.socket to a shorter path', s.socket)
  end
  -- the port: check before anything is created or started
  local ok, err = service.check_ports('mariadb', { { key = 'mysql.port', port = s.port } })
  if not ok then return nil, err end
  ok, err = stack.mkdir_p(s.base)
  if ok then ok, err = stack.mkdir_p(s.tmpdir) end
  if not ok then return nil, err end
  -- leftovers of a killed server: its socket lock names a pid that may be
  -- recycled by now, and mariadbd would refuse the socket then
  os.remove(s.pidfile)
  os.remove(s.socket .. '.lock')
  ok, err = init_datadir(s, say)
  if not ok then return nil, err end
  if s.tls then
    ok, err = M.ensure_tls(s, say)
    if not ok then return nil, err end
  end
  -- the accounts' fix-up, run by mariadbd before it accepts connections
  local pw, perr = ensure_root_secret(s)
  if not pw then return nil, perr end
  ok, err = stack.write_private_file(s.init_file, M.init_sql(s, pw, host_name()))
  if not ok then return nil, 'mariadb: ' .. err end
  local tls = M.tls_files(cfg)
  ok, err = stack.make_private { s.root_cnf, s.init_file, tls.ca_key, tls.server_key, tls.client_key }
  if not ok then return nil, 'mariadb: ' .. err end
  local rowsum
  ok, rowsum = M.prepare_plugins(s)
  if not ok then return nil, rowsum end
  ok, err = stack.write_file(s.cnf, M.my_cnf(s))
  if not ok then return nil, err end

  local t0 = proc.now_ms()
  local p, log_from = service.spawn('mariadb', s, { 'mariadbd', '--defaults-file=' .. s.cnf })
  if not p then return nil, log_from end
  stack.write_state(cfg, 'mariadb', { pid = p.pid, port = s.port, socket = s.socket, datadir = s.datadir,
    cnf = s.cnf, log = s.log, state = 'starting', started_at = os.time() })

  -- ready: root can run SQL on the socket: the database, the users and the
  -- listing of passwordless accounts, in this process (root_run). mariadbd
  -- opens the socket and the TCP port together, just before it logs "ready
  -- for connections": root logs in once the log says so (read every 10 ms),
  -- and every 250 ms anyway once the socket exists (a killed server leaves
  -- its socket file); a refused login (client error 2xxx) is tried again,
  -- any other error fails the start. The TCP side is proven below by
  -- connecting as mysql.user. No TCP probe here: each would leave an
  -- "Aborted connection" warning in the log.
  local setup, bad = setup_sql(s), nil
  setup[#setup + 1] = PASSWORDLESS
  local last_try, announced = nil, false
  local ready, rerr = service.wait_ready(cfg, 'mariadb', s, p, log_from, {
    program = 'mariadbd', not_ready = 'did not accept connections', interval_ms = 10,
    ready = function()
      if not stack.exists(s.socket) then return nil end
      announced = announced or service.log_since(s, log_from):find('ready for connections', 1, true) ~= nil
      local now = proc.now_ms()
      if not announced and last_try and now - last_try < 250 then return nil end
      last_try = now
      local rows, cerr, code = root_run(s, setup)
      if rows then bad = account_list(rows); return true end
      if not announced or (code and code >= 2000 and code < 3000) then return nil end
      return nil, 'mariadb: creating database and user failed: ' .. cerr
    end })
  if not ready then return nil, rerr end
  local ms = proc.now_ms() - t0
  -- init-file dropped the accounts mariadb-install-db makes; any other
  -- without a password goes too
  local secured, serr = M.secure_accounts(cfg, s, pw, bad)
  if not secured then
    abort_start(cfg, s, p)
    return nil, 'mariadb: securing the accounts failed: ' .. serr
  end
  local version, terr, ferr = tcp_version(s, rowsum)
  if not version then
    abort_start(cfg, s, p)
    return nil, string.format('mariadb: %s cannot connect over TCP to 127.0.0.1:%d: %s', s.user, s.port, terr)
  end
  stack.write_state(cfg, 'mariadb', { pid = p.pid, port = s.port, socket = s.socket, datadir = s.datadir,
    cnf = s.cnf, log = s.log, state = 'running', started_at = os.time(), start_ms = ms, version = version })
  return true, { pid = p.pid, port = s.port, ms = ms, version = version, secured = secured,
    warning = ferr and ('mariadb: the checksum function ' .. M.ROWSUM_FUNCTION .. ' could not be created ('
      .. ferr .. "): fmhost.validate hashes this server's rows in fmhost instead") or nil }
end

-- --- lifecycle -----------------------------------------------------------------

function stop_locked(cfg, s, o)
  return service.stop_process_locked({ name = 'mariadb', program = 'mariadbd', find_pid = find_pid }, cfg, s, o)
end

-- start, up, ensure, stop, down, restart, kill, pid: see fmhost.stack.service.
-- start(cfg, o) -> true, info | nil, msg; info: {already=bool, pid=, port=,
-- ms= (start-up time), version=}. ensure also restarts a running server that
-- announces another version than mysql.server_version asks for (the only
-- setting it applies to a running server). kill(cfg, sig): 'KILL' is a
-- crash, 'STOP'/'CONT' a hang.
service.lifecycle(M, {
  name = 'mariadb', key = 'mysql', program = 'mariadbd', settings = M.settings, find_pid = find_pid,
  start_locked = start_locked, stop_locked = stop_locked, stop_needs_base = true,
  start_lock_ms = function(s) return s.start_timeout_ms + 120000 end,
  stop_lock_ms = function(s) return s.stop_timeout_ms + 30000 end,
  external = function(s)
    if proc.port_open(s.host, s.port, 2000) then return true, { already = true, external = true } end
    return nil, string.format('mariadb: no server answers at %s:%d (mysql.managed is false, so fmhost '
      .. 'does not start one)', s.host, s.port)
  end,
  external_where = function(s) return string.format('a server answers at %s:%d', s.host, s.port) end,
  say_already = function(say, s, info)
    say('mariadb: already running (pid %d, port %d)', info.pid, info.port)
    if info.secured and #info.secured > 0 then
      say('mariadb: secured accounts that took no password: %s', table.concat(info.secured, ', '))
    end
  end,
  say_started = function(say, s, info)
    say('mariadb: started mariadbd %s (pid %d) on 127.0.0.1:%d, socket %s in %.2f s',
        info.version or '', info.pid, info.port, s.socket, info.ms / 1000)
    if s.tls then
      say('mariadb: TLS offered (CA %s/%s); %s@127.0.0.1 must use it, %s@127.0.0.1 a client certificate',
          s.tls_dir, TLS_FILES.ca, s.tls_user, s.x509_user)
    end
  end,
  say_stopped = function(say, s, info)
    say('mariadb: stopped (pid %d) in %.2f s%s', info.pid, info.ms / 1000, info.killed and ' (killed)' or '')
  end,
})

-- --- status ------------------------------------------------------------------

function M.status(cfg)
  local s = M.settings(cfg)
  if not s.managed then
    return service.external_status('mysql', proc.port_open(s.host, s.port, 2000),
                                   { { 'address', s.host .. ':' .. s.port } })
  end
  local pid, st = find_pid(cfg, s)
  local fields = {}
  local function add(k, v) fields[#fields + 1] = { k, v } end
  local version, tcp, have_ssl
  local port = (st and st.port) or s.port
  if pid then
    -- as mysql.user over TCP: proves the port and the account in one go
    local q = 'SELECT VERSION(), @@have_ssl;'
    local out = M.client(cfg, q, { timeout_ms = 5000 })
    tcp = out ~= nil
    if not out then out = M.client(cfg, q, { root = true, timeout_ms = 5000 }) end
    if out then version, have_ssl = out:match('^([^\t\n]*)\t([^\t\n]*)') end
  end
  add('pid', pid)
  add('port', string.format('127.0.0.1:%d%s', port,
    pid and (tcp and ' (accepting)' or proc.port_open('127.0.0.1', port, 1000) and ' (accepting; '
      .. s.user .. ' cannot log in)' or ' (not accepting)') or ''))
  add('socket', s.socket)
  add('datadir', s.datadir .. (stack.exists(s.datadir .. '/mysql') and '' or ' (not initialised)'))
  add('user', string.format('%s@127.0.0.1 and @localhost, database %s', s.user, s.database))
  add('log', s.log)
  add('config', s.cnf)
  local vnote = ''
  if version then
    local real, wanted = M.binary_version(), expected_version(s)
    if real and version ~= real and version:find(real, 1, true) then
      vnote = ' (an alias of ' .. real .. ' announced to clients: mysql.server_version)'
    end
    if wanted and version ~= wanted then
      vnote = vnote .. '; mysql.server_version asks for ' .. wanted .. ": run 'fmhost stack restart mariadb'"
    end
  end
  add('version', version and (version .. vnote) or (pid and '?') or nil)
  local tls = M.tls_files(cfg)
  local server_tls = have_ssl == 'YES' and 'the server offers TLS'
    or have_ssl and ('the running server has no TLS (have_ssl ' .. have_ssl .. ')') or nil
  if s.tls then
    local lacking = {}
    for _, k in ipairs { 'ca', 'ca_key', 'server_cert', 'server_key', 'client_cert', 'client_key' } do
      if not stack.exists(tls[k]) then lacking[#lacking + 1] = TLS_FILES[k] end
    end
    add('tls', 'on (mysql.tls)' .. (server_tls and ('; ' .. server_tls) or '')
      .. (have_ssl and have_ssl ~= 'YES' and "; run 'fmhost stack restart mariadb' to offer it" or '')
      .. (have_ssl == 'YES' and string.format('; %s@127.0.0.1 requires TLS, %s@127.0.0.1 a client certificate',
                                                s.tls_user, s.x509_user) or ''))
    add('tls dir', tls.dir .. (#lacking > 0 and (' (missing: ' .. table.concat(lacking, ', ')
      .. '; generated at the next start)') or ''))
    add('tls ca', tls.ca)
    add('tls cert', tls.server_cert .. ' (key ' .. TLS_FILES.server_key .. ')')
    add('tls client', tls.client_cert .. ' (key ' .. TLS_FILES.client_key .. ')')
  else
    add('tls', 'off (mysql.tls is false)' .. (server_tls and ('; ' .. server_tls) or ''))
  end
  if pid and st then add('up since', service.up_since(st.started_at)) end
  add('root', string.format("%s@localhost through the socket only: unix_socket, or the password in %s",
    s.root_user, s.root_cnf))
  if pid then add('shell', 'mariadb --defaults-file=' .. s.root_cnf) end
  return { running = pid ~= nil, managed = true, pid = pid, port = port, version = version,
           tls = have_ssl == 'YES', tls_files = s.tls and tls or nil,
           socket = s.socket, datadir = s.datadir, log = s.log,
           summary = pid and 'running' or 'not running', fields = fields }
end

return M
