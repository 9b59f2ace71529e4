-- TLS between fmhost.pool and the local stack's MariaDB, on ISOLATED
-- instances (own stack.dir under /tmp, own ports), so this spec may stop,
-- restart and reconfigure them without touching the shared server on
-- mysql.port. Everything is real: the CA and certificates come from the
-- stack's `openssl` runs, mariadbd serves them, libmariadb checks them; the
-- wrong CA is a second CA this spec generates with openssl.
-- #mysql
local lfs = require 'lfs'
local pool = require 'fmhost.pool'
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'
local T = require 'fmhost.testing'

local mariadb = stack.mariadb

-- An isolated stack configuration: its own dir and port, mysql.tls as given.
local function isolated(dir, preferred_port, tls)
  return T.isolated_mariadb_cfg(dir, { port = preferred_port, tls = tls })
end

local servers_of = T.mariadb_servers
local stop_all = T.remove_isolated_mariadb

-- openssl in dir; asserts success, returns stdout
local function openssl(dir, ...)
  local r = assert(proc.run { 'openssl', cwd = dir, timeout_ms = 60000, ... })
  assert(r.ok, 'openssl ' .. table.concat({ ... }, ' ') .. ': ' .. r.stderr)
  return r.stdout
end

local function read(path) return T.read_file(path) end

-- A CA of this spec's own, unrelated to the stack's: <dir>/ca.pem, ca-key.pem.
local function other_ca(dir)
  if not stack.exists(dir .. '/ca.pem') then
    assert(stack.mkdir_p(dir))
    openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca-key.pem')
    openssl(dir, 'req', '-x509', '-new', '-key', 'ca-key.pem', '-sha256', '-days', '30',
            '-subj', '/CN=an unrelated CA', '-out', 'ca.pem')
  end
  return dir .. '/ca.pem', dir .. '/ca-key.pem'
end

-- Pool options for the isolated server (as mysql.user unless over says so).
local function pool_opts(cfg, over)
  local s = mariadb.settings(cfg)
  local o = { host = '127.0.0.1', port = s.port, user = s.user, password = s.password, database = s.database,
              size = 2, connect_timeout_ms = 10000, name = 'tls-spec' }
  for k, v in pairs(over or {}) do o[k] = v end
  return o
end

-- The TLS state of one pooled session, read from the server.
local function session(p)
  local c <close> = assert(p:acquire())
  local st = {}
  for _, row in ipairs(assert(c:query(
      "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_cipher', 'Ssl_version')"))) do
    st[row.Variable_name] = row.Value
  end
  return { cipher = st.Ssl_cipher, version = st.Ssl_version, user = c:scalar('SELECT CURRENT_USER()'),
           client_cipher = c:info().cipher }
end

-- Open a pool; on success report its session and close it.
local function connect(cfg, over)
  local p, msg, info = pool.open(pool_opts(cfg, over))
  if not p then return nil, msg, info end
  local ok, st = pcall(session, p)
  local s = p:stats()
  p:close()
  assert(ok, st)
  assert.are.equal(s.total, s.created - s.destroyed)
  return st
end

local function assert_encrypted(st)
  assert.is_string(st.cipher)
  assert.are_not.equal('', st.cipher)
  assert.are.equal(st.cipher, st.client_cipher) -- what libmariadb negotiated is what the server reports
  assert.truthy(st.version == 'TLSv1.2' or st.version == 'TLSv1.3', 'Ssl_version ' .. tostring(st.version))
end

local function file_mode(path) return lfs.attributes(path, 'permissions') end

describe('TLS on the private MariaDB #mysql', function()
  local dir, cfg, f

  lazy_setup(function()
    dir = T.tmpdir('fmhost-tls')
    cfg = isolated(dir, 13308, true)
    local t0 = proc.now_ms()
    local ok, info = mariadb.up(cfg)
    assert(ok, info)
    print(string.format('\n  TLS instance up in %.2f s (datadir, certificates, start)', (proc.now_ms() - t0) / 1000))
    f = mariadb.tls_files(cfg)
  end)

  lazy_teardown(function() stop_all(cfg, dir) end)

  it('generates a CA, a server certificate for 127.0.0.1 and localhost, and a client certificate', function()
    assert.are.equal(dir .. '/mariadb/tls', f.dir)
    for _, k in ipairs { 'ca_key', 'server_key', 'client_key' } do
      assert.are.equal('rw-------', file_mode(f[k]), k)
    end
    local ca = openssl(dir, 'x509', '-in', f.ca, '-noout', '-text')
    assert.matches('Issuer: CN = fmhost local CA', ca, 1, true)
    assert.matches('Subject: CN = fmhost local CA', ca, 1, true)
    assert.matches('CA:TRUE', ca, 1, true)
    assert.matches('NIST CURVE: P-256', ca, 1, true)
    local server = openssl(dir, 'x509', '-in', f.server_cert, '-noout', '-text')
    assert.matches('Signature Algorithm: ecdsa-with-SHA256', server, 1, true)
    assert.matches('Issuer: CN = fmhost local CA', server, 1, true)
    assert.matches('Subject: CN = localhost', server, 1, true)
    assert.matches('IP Address:127.0.0.1, DNS:localhost', server, 1, true)
    assert.matches('TLS Web Server Authentication', server, 1, true)
    assert.matches('CA:FALSE', server, 1, true)
    local client = openssl(dir, 'x509', '-in', f.client_cert, '-noout', '-text')
    assert.matches('Subject: CN = fmhost-client', client, 1, true)
    assert.matches('TLS Web Client Authentication', client, 1, true)
    -- both signed by the CA; valid for two years and more (the CA for four)
    assert.are.equal(f.server_cert .. ': OK\n' .. f.client_cert .. ': OK\n',
                     openssl(dir, 'verify', '-CAfile', f.ca, f.server_cert, f.client_cert))
    openssl(dir, 'x509', '-in', f.server_cert, '-noout', '-checkend', tostring(2 * 365 * 86400))
    openssl(dir, 'x509', '-in', f.ca, '-noout', '-checkend', tostring(4 * 365 * 86400))
    -- each key belongs to its certificate
    for _, pair in ipairs { { 'ca', 'ca_key' }, { 'server_cert', 'server_key' }, { 'client_cert', 'client_key' } } do
      assert.are.equal(openssl(dir, 'x509', '-in', f[pair[1]], '-noout', '-pubkey'),
                       openssl(dir, 'pkey', '-in', f[pair[2]], '-pubout'), pair[2])
    end
    -- nothing else is left in the folder (no temporary files, no serial file)
    local names = {}
    for n in lfs.dir(f.dir) do
      if n ~= '.' and n ~= '..' then names[#names + 1] = n end
    end
    table.sort(names)
    assert.are.same({ 'ca-key.pem', 'ca.pem', 'client-cert.pem', 'client-key.pem', 'server-cert.pem',
                      'server-key.pem' }, names)
  end)

  it('starts mariadbd with the certificate: TLS offered, not required', function()
    local out = assert(mariadb.client(cfg, 'SELECT @@have_ssl, @@ssl_ca, @@ssl_cert, @@ssl_key, '
      .. '@@require_secure_transport, @@tls_version', { root = true }))
    assert.are.equal(table.concat({ 'YES', f.ca, f.server_cert, f.server_key, '0', 'TLSv1.2,TLSv1.3' }, '\t') .. '\n',
                     out)
  end)

  it('connects a pool with mode=verify-ca and the stack CA; the session reports the cipher', function()
    local st = assert(connect(cfg, { tls = { mode = 'verify-ca', ca = f.ca } }))
    assert_encrypted(st)
    print(string.format('\n  verify-ca session: %s, %s', st.version, st.cipher))
  end)

  it('still serves clients without TLS: mode=disabled and the stock client with --skip-ssl', function()
    local st = assert(connect(cfg, { tls = { mode = 'disabled' } }))
    assert.are.equal('', st.cipher)
    assert.is_nil(st.client_cipher)
    assert.are.equal('fmhost@127.0.0.1\t\n',
      assert(mariadb.client(cfg, "SELECT CURRENT_USER(), VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
        .. "WHERE VARIABLE_NAME = 'Ssl_cipher'", { tls = false })))
  end)

  it('refuses a pool whose CA did not sign the server certificate, with a clear error', function()
    local wrong = other_ca(dir .. '/other-ca')
    local p, msg, info = pool.open(pool_opts(cfg, { tls = { mode = 'verify-ca', ca = wrong } }))
    assert.is_nil(p)
    assert.is_string(msg)
    assert.matches('certificate', msg, 1, true)
    assert.matches('TLS', msg, 1, true)
    assert.is_table(info)
    assert.are.equal(2026, info.code) -- CR_SSL_CONNECTION_ERROR
    assert.are.equal('tls', info.class)
    assert.is_false(info.retryable)
    print('\n  wrong CA: ' .. msg)
    -- and the stack's CA, from the same place, is accepted (the refusal is about the CA only)
    assert_encrypted(assert(connect(cfg, { tls = { mode = 'verify-ca', ca = f.ca } })))
  end)

  it('verify-identity accepts 127.0.0.1 (subjectAltName IP) and refuses an address the certificate does not name',
    function()
      assert_encrypted(assert(connect(cfg, { tls = { mode = 'verify-identity', ca = f.ca } })))
      -- 127.1 reaches the same server but is not a name in the certificate:
      -- verify-ca accepts it, verify-identity does not
      assert_encrypted(assert(connect(cfg, { host = '127.1', tls = { mode = 'verify-ca', ca = f.ca } })))
      local p, msg, info = pool.open(pool_opts(cfg, { host = '127.1', tls = { mode = 'verify-identity', ca = f.ca } }))
      assert.is_nil(p)
      assert.matches('certificate', msg, 1, true)
      assert.are.equal(2026, info.code)
      assert.is_false(info.retryable)
    end)

  it('verifies DNS:localhost for a TCP client that names the host localhost (stock client)', function()
    local s = mariadb.settings(cfg)
    local r = assert(proc.run { 'mariadb', '--no-defaults', '--batch', '--skip-column-names', '--protocol=tcp',
      '--host=localhost', '--port=' .. s.port, '--user=' .. s.user, '--ssl-ca=' .. f.ca, '--ssl-verify-server-cert',
      env = { MYSQL_PWD = s.password }, input = "SHOW SESSION STATUS LIKE 'Ssl_version'", timeout_ms = 30000 })
    assert.is_true(r.ok, r.stderr)
    assert.matches('^Ssl_version\tTLSv1%.[23]\n$', r.stdout)
  end)

  it('refuses the account that REQUIRES SSL without TLS and accepts it with TLS', function()
    assert.are.equal('fmhost_tls', f.user)
    local p, msg, info = pool.open(pool_opts(cfg, { user = f.user, tls = { mode = 'disabled' } }))
    assert.is_nil(p)
    assert.matches("Access denied for user 'fmhost_tls'@'127.0.0.1'", msg, 1, true)
    assert.are.equal(1045, info.code)
    assert.is_false(info.retryable)
    local st = assert(connect(cfg, { user = f.user, tls = { mode = 'verify-ca', ca = f.ca } }))
    assert.are.equal('fmhost_tls@127.0.0.1', st.user)
    assert_encrypted(st)
    -- the server itself records the requirement
    assert.are.equal('ANY\n', assert(mariadb.client(cfg,
      "SELECT ssl_type FROM mysql.user WHERE User = 'fmhost_tls' AND Host = '127.0.0.1'", { root = true })))
  end)

  it('accepts the account that REQUIRES X509 only with the client certificate signed by the CA', function()
    local p, msg, info = pool.open(pool_opts(cfg, { user = f.x509_user, tls = { mode = 'verify-ca', ca = f.ca } }))
    assert.is_nil(p)
    assert.matches('Access denied', msg, 1, true)
    assert.are.equal(1045, info.code)
    local st = assert(connect(cfg, { user = f.x509_user,
      tls = { mode = 'verify-ca', ca = f.ca, cert = f.client_cert, key = f.client_key } }))
    assert.are.equal('fmhost_x509@127.0.0.1', st.user)
    assert_encrypted(st)
  end)

  it('shows the TLS files in `fmhost stack status`', function()
    local s = mariadb.settings(cfg)
    local r = T.run_fmhost { '--set', 'stack.dir=' .. dir, '--set', 'mysql.port=' .. s.port, '--set', 'mysql.socket=',
                             'stack', 'status', 'mariadb' }
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches('tls%s+on %(mysql%.tls%); the server offers TLS', r.stdout)
    assert.matches('tls ca%s+' .. f.ca:gsub('%p', '%%%0') .. '\n', r.stdout)
    assert.matches('tls cert%s+' .. f.server_cert:gsub('%p', '%%%0') .. ' %(key server%-key%.pem%)\n', r.stdout)
    assert.matches('tls client%s+' .. f.client_cert:gsub('%p', '%%%0') .. ' %(key client%-key%.pem%)\n', r.stdout)
    assert.matches('fmhost_tls@127.0.0.1 requires TLS', r.stdout, 1, true)
  end)

  it('keeps the files across a restart and generates only a missing pair, signed by the same CA', function()
    local before = {}
    for _, k in ipairs { 'ca', 'ca_key', 'server_cert', 'server_key', 'client_cert', 'client_key' } do
      before[k] = assert(read(f[k]))
    end
    assert(mariadb.stop(cfg))
    local ok, info = mariadb.start(cfg)
    assert.is_true(ok, info)
    for k, text in pairs(before) do assert.are.equal(text, read(f[k]), k .. ' changed across a restart') end

    assert(mariadb.stop(cfg))
    os.remove(f.client_cert) -- half a pair counts as missing
    ok, info = mariadb.start(cfg)
    assert.is_true(ok, info)
    for _, k in ipairs { 'ca', 'ca_key', 'server_cert', 'server_key' } do
      assert.are.equal(before[k], read(f[k]), k .. ' changed')
    end
    assert.are_not.equal(before.client_key, read(f.client_key))
    assert.are.equal(f.client_cert .. ': OK\n', openssl(dir, 'verify', '-CAfile', f.ca, f.client_cert))
    local st = assert(connect(cfg, { user = f.x509_user,
      tls = { mode = 'verify-ca', ca = f.ca, cert = f.client_cert, key = f.client_key } }))
    assert.are.equal('fmhost_x509@127.0.0.1', st.user)
  end)

  it('names the failing openssl command and its stderr, and leaves nothing half-done', function()
    assert(mariadb.stop(cfg))
    local good_key = read(f.ca_key)
    T.write_file(f.ca_key, 'not a key\n') -- the CA is "there", but cannot sign
    os.remove(f.server_key)
    os.remove(f.server_cert)
    local ok, msg = mariadb.start(cfg)
    assert.is_nil(ok)
    assert.matches('generating the TLS files failed', msg, 1, true)
    assert.matches('`openssl x509 -req -in server.csr -CA ' .. f.ca .. ' -CAkey ' .. f.ca_key, msg, 1, true)
    assert.matches('exited with status 1', msg, 1, true)
    assert.matches('CA private key', msg, 1, true) -- openssl's own words, from its stderr
    assert.matches('remove ' .. f.dir, msg, 1, true)
    print('\n  ' .. msg:gsub('\n', '\n  '))
    -- no half pair, no temporary folder, no server
    assert.is_false(stack.exists(f.server_key))
    assert.is_false(stack.exists(f.server_cert))
    for n in lfs.dir(f.dir) do assert.is_nil(n:match('^%.new'), n) end
    assert.are.same({}, servers_of(cfg))
    assert.is_false(mariadb.status(cfg).running)
    assert.is_true(proc.port_free(mariadb.settings(cfg).port))
    -- with the key back, the next start completes the set
    T.write_file(f.ca_key, good_key)
    local sok, info = mariadb.start(cfg)
    assert.is_true(sok, info)
    assert.are.equal(f.server_cert .. ': OK\n', openssl(dir, 'verify', '-CAfile', f.ca, f.server_cert))
    assert_encrypted(assert(connect(cfg, { tls = { mode = 'verify-identity', ca = f.ca } })))
  end)

  it('generates a new set when the files no longer verify against the CA', function()
    assert(mariadb.stop(cfg))
    local old_ca = assert(read(f.ca))
    -- a server certificate signed by another CA, as if the CA had been replaced
    local other = dir .. '/other-ca'
    local ca, ca_key = other_ca(other)
    openssl(other, 'req', '-new', '-key', f.server_key, '-subj', '/CN=localhost', '-out', 'server.csr')
    openssl(other, 'x509', '-req', '-in', 'server.csr', '-CA', ca, '-CAkey', ca_key, '-days', '30',
            '-out', f.server_cert)
    local ok, info = mariadb.start(cfg)
    assert.is_true(ok, info)
    assert.are_not.equal(old_ca, read(f.ca))
    assert.are.equal(f.server_cert .. ': OK\n' .. f.client_cert .. ': OK\n',
                     openssl(dir, 'verify', '-CAfile', f.ca, f.server_cert, f.client_cert))
    assert_encrypted(assert(connect(cfg, { tls = { mode = 'verify-ca', ca = f.ca } })))
  end)
end)

describe('TLS modes against a private MariaDB started with mysql.tls = false #mysql', function()
  local dir, cfg

  lazy_setup(function()
    dir = T.tmpdir('fmhost-notls')
    cfg = isolated(dir, 13309, false)
    local ok, info = mariadb.up(cfg)
    assert(ok, info)
  end)

  lazy_teardown(function() stop_all(cfg, dir) end)

  it('starts without TLS: no certificate files, no ssl_* in my.cnf, have_ssl DISABLED', function()
    assert.is_false(stack.exists(mariadb.tls_files(cfg).dir))
    assert.is_nil(read(mariadb.settings(cfg).cnf):find('ssl', 1, true))
    assert.are.equal('DISABLED\n', assert(mariadb.client(cfg, 'SELECT @@have_ssl', { root = true })))
  end)

  it('fails mode=required with a clear message, and connects mode=preferred without TLS', function()
    local p, msg, info = pool.open(pool_opts(cfg, { tls = { mode = 'required' } }))
    assert.is_nil(p)
    assert.matches('TLS required', msg, 1, true)
    assert.matches('not encrypted', msg, 1, true)
    assert.are.equal('tls', info.class)
    assert.is_false(info.retryable)
    print('\n  required, server without TLS: ' .. msg)
    local st = assert(connect(cfg, { tls = { mode = 'preferred' } }))
    assert.are.equal('', st.cipher)
  end)

  it('fails verify-ca and verify-identity too', function()
    for _, mode in ipairs { 'verify-ca', 'verify-identity' } do
      -- any CA: the server offers no certificate to check
      local p, msg, info = pool.open(pool_opts(cfg, { tls = { mode = mode, ca = other_ca(dir .. '/ca') } }))
      assert.is_nil(p, mode)
      assert.matches('TLS', msg, 1, true)
      assert.are.equal('tls', info.class, mode)
      assert.is_false(info.retryable)
    end
  end)
end)
