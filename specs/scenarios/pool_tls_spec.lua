-- fmhost.pool over TLS against the private MariaDB #mysql
--
-- The local stack starts the server with a CA, server and client
-- certificate it generated with openssl (mysql.tls); the session itself
-- reports whether it is encrypted. The refusals come from the real
-- handshake: a CA that did not sign the server's certificate, an account
-- that requires TLS or a client certificate, and (#slow) a second private
-- server started without TLS.
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'
local log = require 'fmhost.log'
local cjson = require 'cjson'

local function mysql_cfg()
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  return (_G.cfg or {}).mysql or {}
end

local function deep_copy(t)
  if type(t) ~= 'table' then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = deep_copy(v) end
  return c
end

-- The session's own view of its encryption.
local function session_tls(p)
  local c <close> = assert(p:acquire())
  local v = c:scalar("SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'")
  return c:info().cipher, v
end

describe('fmhost.pool TLS #mysql', function()
  local files
  lazy_setup(function()
    mysql_cfg()
    files = stack.service('mariadb').tls_files(_G.cfg or {})
    assert(files.enabled, 'the private MariaDB runs without mysql.tls')
  end)

  it('verify-ca connects with the stack CA and the session reports its cipher', function()
    local p = assert(pool.open(mysql_cfg(), { tls = { mode = 'verify-ca', ca = files.ca } }))
    local cipher, server_says = session_tls(p)
    p:close()
    assert.is_string(cipher)
    assert.are.equal(cipher, server_says)
  end)

  it('verify-identity accepts the certificate issued for 127.0.0.1', function()
    local p = assert(pool.open(mysql_cfg(), { host = '127.0.0.1', tls = { mode = 'verify-identity', ca = files.ca } }))
    assert.is_string((session_tls(p)))
    p:close()
  end)

  it('required and preferred encrypt without checking the certificate; disabled does not encrypt', function()
    for _, mode in ipairs { 'required', 'preferred' } do
      local p = assert(pool.open(mysql_cfg(), { tls = { mode = mode } }))
      local cipher, server_says = session_tls(p)
      assert.is_string(cipher, mode)
      assert.are.equal(cipher, server_says)
      p:close()
    end
    local p = assert(pool.open(mysql_cfg(), { tls = { mode = 'disabled' } }))
    local cipher, server_says = session_tls(p)
    assert.is_nil(cipher)
    assert.are.equal('', server_says)
    p:close()
  end)

  -- a CA of its own that signed nothing the server has; fn(path) runs with it
  local function with_wrong_ca(fn)
    local dir = os.tmpname()
    os.remove(dir)
    assert(proc.run { 'mkdir', '-p', dir }.ok)
    local r = assert(proc.run { 'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                                '-nodes', '-keyout', dir .. '/k.pem', '-out', dir .. '/ca.pem', '-days', '1',
                                '-subj', '/CN=fmhost wrong CA', timeout_ms = 30000 })
    assert(r.ok, r.stderr)
    local ok, err = pcall(fn, dir .. '/ca.pem')
    proc.run { 'rm', '-rf', dir }
    assert(ok, err)
  end

  it('refuses a server whose certificate another CA signed, saying the certificate check failed and with which CA',
    function()
      with_wrong_ca(function(ca)
        local p, msg, info = pool.open(mysql_cfg(), { tls = { mode = 'verify-ca', ca = ca } })
        assert.is_nil(p)
        assert.matches(': server certificate verification failed (tls mode verify-ca, ca ' .. ca
                       .. '): TLS/SSL error: self-signed certificate in certificate chain (error 2026', msg, 1, true)
        assert.are.same({ 2026, 'tls', false }, { info.code, info.class, info.retryable })
      end)
    end)

  it('verify-identity names the host the certificate does not name', function()
    local p, msg, info = pool.open(mysql_cfg(), { host = '127.1', tls = { mode = 'verify-identity', ca = files.ca } })
    assert.is_nil(p)
    assert.matches(': server certificate verification failed (tls mode verify-identity, host 127.1, ca ' .. files.ca
                   .. '): ', msg, 1, true)
    assert.are.same({ 2026, 'tls', false }, { info.code, info.class, info.retryable })
  end)

  it('required encrypts without checking the certificate even when a CA is given, and logs that the CA is unused',
    function()
      with_wrong_ca(function(ca)
        local path = os.tmpname()
        local old = log.level()
        assert(log.configure { level = 'warn', file = path, stderr = false })
        local p, msg = pool.open(mysql_cfg(), { name = 'tls-required-ca', tls = { mode = 'required', ca = ca } })
        assert(log.configure { level = old, stderr = true, file = '' })
        local warned
        for line in io.lines(path) do
          local e = cjson.decode(line)
          if e.event == 'pool.tls' and e.pool == 'tls-required-ca' then warned = e end
        end
        os.remove(path)
        assert.is_truthy(p, msg)
        local cipher, server_says = session_tls(p)
        p:close()
        assert.is_string(cipher)
        assert.are.equal(cipher, server_says)
        assert.is_table(warned, 'a pool.tls warning')
        assert.are.same({ 'warn', 'required', ca }, { warned.level, warned.mode, warned.ca })
        assert.matches('tls ca is not used', warned.msg, 1, true)
      end)
    end)

  it('names a CA, certificate or key file that cannot be read before connecting', function()
    local missing = os.tmpname() -- a fresh name; os.tmpname made that file: it goes at once
    os.remove(missing)
    missing = missing .. '.absent.pem'
    for _, over in ipairs {
      { tls = { mode = 'verify-ca', ca = missing }, what = 'ca' },
      { tls = { mode = 'required', cert = missing, key = files.client_key }, what = 'cert' },
      { tls = { mode = 'verify-ca', ca = files.ca, cert = files.client_cert, key = missing }, what = 'key' },
    } do
      local ok, err = pcall(pool.open, mysql_cfg(), { tls = over.tls })
      assert.is_false(ok)
      assert.matches("pool: tls " .. over.what .. " '" .. missing .. "' cannot be read: No such file or directory",
                     err, 1, true)
    end
  end)

  it('an account that requires TLS is refused without it and admitted with it', function()
    local p, msg, info = pool.open(mysql_cfg(), { user = files.user, tls = { mode = 'disabled' } })
    assert.is_nil(p)
    assert.matches('Access denied', msg)
    assert.are.equal(1045, info.code)
    p = assert(pool.open(mysql_cfg(), { user = files.user, tls = { mode = 'verify-ca', ca = files.ca } }))
    assert.is_string((session_tls(p)))
    p:close()
  end)

  it('an account that requires a client certificate is admitted only with cert and key', function()
    local p, _, info = pool.open(mysql_cfg(), { user = files.x509_user, tls = { mode = 'verify-ca', ca = files.ca } })
    assert.is_nil(p)
    assert.are.equal(1045, info.code)
    p = assert(pool.open(mysql_cfg(), { user = files.x509_user,
                                        tls = { mode = 'verify-ca', ca = files.ca, cert = files.client_cert,
                                                key = files.client_key } }))
    assert.is_string((session_tls(p)))
    p:close()
  end)

  describe('a server without TLS #slow', function()
    local cfg2, mariadb
    lazy_setup(function()
      mariadb = stack.service('mariadb')
      cfg2 = deep_copy(_G.cfg or {})
      local dir = os.tmpname()
      os.remove(dir)
      local port
      for candidate = 13390, 13398 do
        if proc.port_free(candidate) then port = candidate; break end
      end
      assert(port, 'no free port in 13390..13398 for a second server')
      cfg2.stack = cfg2.stack or {}
      cfg2.stack.dir = dir
      cfg2.mysql = cfg2.mysql or {}
      cfg2.mysql.port = port
      cfg2.mysql.socket = ''
      cfg2.mysql.tls = false
      cfg2.mysql.managed = true
      assert(mariadb.start(cfg2))
    end)
    lazy_teardown(function()
      if cfg2 then
        mariadb.stop(cfg2)
        proc.run { 'rm', '-rf', cfg2.stack.dir }
      end
    end)

    -- the server's own count of failed logins
    local function denied()
      local p = assert(pool.open(cfg2.mysql, { socket = '', size = 1, name = 'notls-admin' }))
      local c <close> = assert(p:acquire())
      local n = tonumber(c:scalar("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                  .. "WHERE VARIABLE_NAME = 'ACCESS_DENIED_ERRORS'"))
      c:release()
      p:close()
      return n
    end

    it('mode=required fails with a TLS error; preferred falls back to plain text', function()
      local p, msg, info = pool.open(cfg2.mysql, { socket = '', tls = { mode = 'required' } })
      assert.is_nil(p)
      assert.matches('TLS required %(mode required%) but the server does not offer TLS: refused before sending '
                     .. 'the user name or password', msg)
      assert.are.same({ 2026, 'tls', false, '08001' }, { info.code, info.class, info.retryable, info.sqlstate })
      p = assert(pool.open(cfg2.mysql, { socket = '', tls = { mode = 'preferred' } }))
      assert.is_nil((session_tls(p)))
      p:close()
    end)

    it('required and verify-ca refuse before authenticating: a wrong password never reaches the server', function()
      local before = denied()
      -- the check itself: a wrong password in plain text is refused by the server
      local p, _, info = pool.open(cfg2.mysql, { socket = '', password = 'not-the-password' })
      assert.is_nil(p)
      assert.are.equal(1045, info.code)
      assert.are.equal(before + 1, denied())
      for _, mode in ipairs { 'required', 'verify-ca', 'verify-identity' } do
        local msg
        p, msg, info = pool.open(cfg2.mysql, { socket = '', password = 'not-the-password',
                                               tls = { mode = mode, ca = mode ~= 'required' and files.ca or nil } })
        assert.is_nil(p, mode)
        assert.matches('TLS required (mode ' .. mode .. ') but the server does not offer TLS', msg, 1, true)
        assert.are.same({ 2026, 'tls' }, { info.code, info.class }, mode)
      end
      assert.are.equal(before + 1, denied()) -- the server saw no login attempt
    end)
  end)
end)
