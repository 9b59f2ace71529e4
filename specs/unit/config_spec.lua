-- fmhost.config: the layers (default.yaml, the environment's overlay,
-- FMHOST_* variables, --set), the origin of every value, masking of
-- secrets, and the one-line errors, in-process and through the fmhost
-- command line as a user meets them.
local config = require 'fmhost.config'
local T = require 'fmhost.testing'

-- children see no FMHOST_* configuration variables of the environment the
-- spec runs in: these specs check defaults and origins
local function run_hermetic(args, opts)
  opts = opts or {}
  opts.hermetic = true
  return T.run_fmhost(args, opts)
end

local root = _FMHOST_ROOT
local schema_file = root .. '/config/schema.yaml'
local default_file = root .. '/config/default.yaml'

-- The line of default.yaml holding `  name:` under `section:`.
local function default_line(section, name)
  local n, inside = 0, false
  for line in io.lines(default_file) do
    n = n + 1
    if line:match('^%S') then inside = line:match('^' .. section .. ':%s*$') ~= nil
    elseif inside and line:match('^%s+' .. name .. ':') then return n end
  end
  error('no ' .. section .. '.' .. name .. ' in ' .. default_file)
end

local function section_line(section)
  local n = 0
  for line in io.lines(default_file) do
    n = n + 1
    if line:match('^' .. section .. ':%s*$') then return n end
  end
  error('no section ' .. section .. ' in ' .. default_file)
end

-- A scratch config dir holding a copy of default.yaml and the given
-- overlays; the real schema is passed to load().
local function scratch(overlays)
  local dir = T.tmpdir('fmhost-config')
  T.write_file(dir .. '/default.yaml', T.read_file(default_file))
  for name, text in pairs(overlays or {}) do T.write_file(dir .. '/' .. name .. '.yaml', text) end
  return dir
end

local function load_in(dir, opts)
  opts = opts or {}
  opts.dir, opts.schema, opts.root = dir, schema_file, opts.root or root
  return config.load(opts)
end

local function lines(s)
  local t = {}
  for l in s:gmatch('[^\n]+') do t[#t + 1] = l end
  return t
end

describe('fmhost.config', function()
  local dirs = {}
  local function tmp(overlays)
    local d = scratch(overlays)
    dirs[#dirs + 1] = d
    return d
  end
  teardown(function()
    for _, d in ipairs(dirs) do T.rmtree(d) end
  end)

  describe('loading the defaults', function()
    it('gives a plain nested table with typed values', function()
      local cfg, err = config.load {}
      assert.is_nil(err)
      assert.are.equal(13306, cfg.mysql.port)
      assert.are.equal('integer', math.type(cfg.mysql.port))
      assert.are.equal('127.0.0.1', cfg.mysql.host)
      assert.are.equal(true, cfg.mysql.managed)
      assert.are.equal(5000, cfg.mysql.connect_timeout_ms)
      assert.are.equal('integer', math.type(cfg.mysql.connect_timeout_ms))
      assert.are.equal('warn', cfg.log.level)
      assert.are.equal('', cfg.log.file)
      assert.are.equal(18081, cfg.flink.rest_port)
      assert.are.equal(14222, cfg.nats.port)
      assert.are.equal(100, cfg.check.runs)
      assert.is_nil(getmetatable(cfg))
    end)

    it('resolves relative paths against the project root', function()
      local cfg = assert(config.load {})
      assert.are.equal(root .. '/.fmhost', cfg.stack.dir)
    end)

    it('derives an empty mysql.socket from stack.dir', function()
      local cfg = assert(config.load {})
      assert.are.equal(root .. '/.fmhost/mariadb/mysqld.sock', cfg.mysql.socket)
      cfg = assert(config.load { set = { 'stack.dir=/tmp/elsewhere' } })
      assert.are.equal('/tmp/elsewhere/mariadb/mysqld.sock', cfg.mysql.socket)
    end)

    it('reports the file and line each default came from', function()
      local cfg = assert(config.load {})
      local origin = config.origin(cfg, 'mysql.port')
      local file, line = origin:match('^(.*):(%d+)$')
      assert.truthy(file:match('config/default%.yaml$'), origin)
      assert.are.equal(default_line('mysql', 'port'), tonumber(line))
      assert.is_nil(config.origin(cfg, 'mysql.nonesuch'))
      assert.is_nil(config.origin({ mysql = { port = 1 } }, 'mysql.port'))
    end)

    it('reads a value by dotted path with get', function()
      local cfg = assert(config.load {})
      assert.are.equal(13306, config.get(cfg, 'mysql.port'))
      assert.is_nil(config.get(cfg, 'mysql.nonesuch'))
      assert.is_nil(config.get(cfg, 'nonesuch.port'))
    end)
  end)

  describe('layers', function()
    it('lets an overlay win over the defaults, key by key', function()
      local dir = tmp { staging = 'mysql:\n  port: 3307\n  managed: false\n' }
      local cfg = assert(load_in(dir, { env = 'staging' }))
      assert.are.equal(3307, cfg.mysql.port)
      assert.are.equal(false, cfg.mysql.managed)
      assert.are.equal('127.0.0.1', cfg.mysql.host)
      assert.are.equal(dir .. '/staging.yaml:2', config.origin(cfg, 'mysql.port'))
      assert.are.equal(dir .. '/staging.yaml:3', config.origin(cfg, 'mysql.managed'))
      assert.truthy(config.origin(cfg, 'mysql.host'):match('default%.yaml:%d+$'))
    end)

    it('ships a ci overlay with a longer connect timeout', function()
      local cfg = assert(config.load { env = 'ci' })
      assert.is_true(cfg.mysql.connect_timeout_ms > 5000)
      assert.truthy(config.origin(cfg, 'mysql.connect_timeout_ms'):match('config/ci%.yaml:%d+$'))
    end)

    it('accepts dotted keys in a file', function()
      local dir = tmp { dotted = 'mysql.port: 3310\nflink.rest_port: 8081\n' }
      local cfg = assert(load_in(dir, { env = 'dotted' }))
      assert.are.equal(3310, cfg.mysql.port)
      assert.are.equal(8081, cfg.flink.rest_port)
    end)

    it('lets FMHOST_* variables win over the overlay', function()
      local dir = tmp { staging = 'mysql:\n  port: 3307\n' }
      local cfg = assert(load_in(dir, { env = 'staging', environ = { FMHOST_MYSQL_PORT = '3308' } }))
      assert.are.equal(3308, cfg.mysql.port)
      assert.are.equal('environment FMHOST_MYSQL_PORT', config.origin(cfg, 'mysql.port'))
    end)

    it('ignores FMHOST_ variables that are not configuration keys', function()
      local cfg, err = config.load { environ = {
        FMHOST_LOG_LEVEL = 'not-a-level', FMHOST_ENV = 'nonesuch', FMHOST_SEED = 'x',
        FMHOST_PATH = 'x', FMHOST_SCRIPTS = 'x', FMHOST_ROOT = 'x', FMHOST_BIN = 'x',
        FMHOST_NOT_A_KEY = 'x', FMHOST_MYSQL_PROT = '1' } }
      assert.is_nil(err)
      assert.are.equal('warn', cfg.log.level)
      assert.are.equal(13306, cfg.mysql.port)
      -- but a name one typo away from a key's is worth a warning; one close
      -- to none (a user's own variable) is not
      assert.are.same({ 'environment variable FMHOST_MYSQL_PROT sets nothing and is ignored; '
                        .. 'did you mean FMHOST_MYSQL_PORT (mysql.port)?' }, config.warnings(cfg))
    end)

    it('warns of a mistyped reserved FMHOST_* name too, and of nothing when every name is right', function()
      local cfg = assert(config.load { environ = { FMHOST_LOG_LEVL = 'debug', FMHOST_FLINK_SLOTS = '2' } })
      assert.are.same({ 'environment variable FMHOST_LOG_LEVL sets nothing and is ignored; '
                        .. 'did you mean FMHOST_LOG_LEVEL?' }, config.warnings(cfg))
      cfg = assert(config.load { environ = { FMHOST_FLINK_SLOTS = '2', FMHOST_SEED = '1' } })
      assert.are.same({}, config.warnings(cfg))
      assert.are.same({}, config.warnings({}))
    end)

    it('lets --set win over everything', function()
      local dir = tmp { staging = 'mysql:\n  port: 3307\n' }
      local cfg = assert(load_in(dir, { env = 'staging', environ = { FMHOST_MYSQL_PORT = '3308' },
                                        set = { 'mysql.port=3309', 'log.level=debug' } }))
      assert.are.equal(3309, cfg.mysql.port)
      assert.are.equal('debug', cfg.log.level)
      assert.are.equal('--set', config.origin(cfg, 'mysql.port'))
    end)

    it('takes the last of several --set of one key', function()
      local cfg = assert(config.load { set = { 'mysql.port=3309', 'mysql.port=3310' } })
      assert.are.equal(3310, cfg.mysql.port)
    end)

    it('parses durations with units and booleans as words', function()
      local cfg = assert(config.load { set = { 'mysql.connect_timeout_ms=2m', 'mysql.managed=no' } })
      assert.are.equal(120000, cfg.mysql.connect_timeout_ms)
      assert.are.equal(false, cfg.mysql.managed)
    end)

    it('reads FMHOST_* variables from the real environment of a child fmhost', function()
      local r = run_hermetic({ '-e', 'print(cfg.mysql.port, require("fmhost.config").origin(cfg, "mysql.port"))' },
                             { env = { FMHOST_MYSQL_PORT = '3399' } })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal('3399\tenvironment FMHOST_MYSQL_PORT\n', r.stdout)
    end)

    it('takes the overlay from FMHOST_ENV or --env, and --set over the environment, in a child fmhost', function()
      local chunk = 'print(cfg.mysql.connect_timeout_ms, cfg.mysql.port)'
      local r = run_hermetic({ '-e', chunk }, { env = { FMHOST_ENV = 'ci' } })
      assert.are.equal(0, r.code, r.stderr)
      local ci = assert(config.load { env = 'ci' })
      assert.are.equal(ci.mysql.connect_timeout_ms .. '\t13306\n', r.stdout)
      r = run_hermetic({ '--env', 'ci', '--set', 'mysql.port=3400', '-e', chunk },
                       { env = { FMHOST_MYSQL_PORT = '3399' } })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(ci.mysql.connect_timeout_ms .. '\t3400\n', r.stdout)
    end)
  end)

  describe('show', function()
    it('prints one line per key with its value and origin', function()
      local cfg = assert(config.load { set = { 'mysql.port=3309' } })
      local text = config.show(cfg)
      local ls = lines(text)
      assert.are.equal(#config.schema(), #ls)
      local port_line
      for _, l in ipairs(ls) do
        if l:match('^mysql%.port ') then port_line = l end
      end
      assert.truthy(port_line:match('^mysql%.port = 3309 +%(%-%-set%)$'), port_line)
      assert.truthy(text:match('\nmysql%.host = 127%.0%.0%.1 +%([^)]*config/default%.yaml:%d+%)\n'), text)
      assert.truthy(text:match('\nlog%.file = "" +%('), text)
    end)

    it('masks secret keys as ***', function()
      local cfg = assert(config.load { set = { 'mysql.password=Sup3r-S3cret' } })
      local text = config.show(cfg)
      assert.falsy(text:find('Sup3r-S3cret', 1, true))
      assert.truthy(text:match('\nmysql%.password = %*%*%* +%(%-%-set%)\n'), text)
    end)

    it('marks values changed after loading', function()
      local cfg = assert(config.load {})
      cfg.mysql.port = 1234
      local text = config.show(cfg)
      assert.truthy(text:match('\nmysql%.port = 1234 +%(changed after loading; loaded from [^)]*default%.yaml:%d+%)\n'), text)
    end)

    it('shows a table it did not load, masking secret-looking names', function()
      local text = config.show { db = { port = 1, password = 'hunter2' } }
      assert.falsy(text:find('hunter2', 1, true))
      assert.truthy(text:match('db%.password = %*%*%*'))
      assert.truthy(text:match('db%.port = 1 '))
    end)
  end)

  describe('schema', function()
    it('lists every key in declaration order with its type, doc and environment name', function()
      local s = assert(config.schema())
      assert.is_true(#s >= 17)
      assert.are.equal('stack.dir', s[1].key)
      assert.are.equal(s['mysql.port'], s[3])
      local port = s['mysql.port']
      assert.are.equal('port', port.type)
      assert.are.equal(1, port.min)
      assert.are.equal(65535, port.max)
      assert.are.equal('FMHOST_MYSQL_PORT', port.env)
      assert.is_true(s['mysql.password'].secret)
      assert.are.same({ 'trace', 'debug', 'info', 'warn', 'error', 'off' }, s['log.level'].values)
      assert.is_nil(s['log.level'].env)   -- FMHOST_LOG_LEVEL belongs to the command line
      for _, k in ipairs(s) do
        assert.truthy(k.doc and #k.doc > 0, k.key .. ' has no doc')
      end
    end)

    it('has a default for every required key', function()
      local cfg = assert(config.load {})
      for _, k in ipairs(config.schema()) do
        if k.required then assert.is_not_nil(config.get(cfg, k.key), k.key) end
      end
    end)

    it('rejects a schema with an unknown type, naming the line', function()
      local dir = tmp()
      T.write_file(dir .. '/schema.yaml', 'a.b:\n  type: prot\n  doc: x\n')
      local s, err, info = config.schema(dir .. '/schema.yaml')
      assert.is_nil(s)
      assert.are.equal(dir .. "/schema.yaml:2: a.b: unknown type 'prot', did you mean 'port'?", err)
      assert.are.equal('config', info.kind)
    end)

    it('rejects a schema with an unknown field, naming the line and the closest field', function()
      local dir = tmp()
      T.write_file(dir .. '/schema.yaml', 'a.b:\n  type: port\n  defualt: 3\n')
      local s, err, info = config.schema(dir .. '/schema.yaml')
      assert.is_nil(s)
      assert.matches("schema.yaml:3: a.b: unknown field 'defualt'", err, 1, true)
      assert.are.equal('config', info.kind)
    end)
  end)

  describe('errors', function()
    local function fails(dir, opts, msg, fields)
      local cfg, err, info = load_in(dir, opts)
      assert.is_nil(cfg)
      assert.are.equal(msg, err)
      assert.are.equal('config', info.kind)
      assert.are.equal(msg, info.message)
      for k, v in pairs(fields or {}) do assert.are.equal(v, info[k], k) end
    end

    it('names an unknown key with the closest valid name', function()
      local dir = tmp { bad = 'mysql:\n  host: x\n  prot: 3307\n' }
      fails(dir, { env = 'bad' }, dir .. "/bad.yaml:3: mysql.prot: unknown key, did you mean 'port'?",
            { file = dir .. '/bad.yaml', line = 3, key = 'mysql.prot', suggestion = 'mysql.port' })
    end)

    it('lists the valid names when none is close', function()
      local dir = tmp { bad = 'mysql:\n  zzzzzzzz: 1\n' }
      local _, err = load_in(dir, { env = 'bad' })
      local names = {}
      for _, k in ipairs(config.schema()) do
        if k.key:match('^mysql%.') then names[#names + 1] = k.key:match('^mysql%.(.*)$') end
      end
      assert.are.equal(dir .. '/bad.yaml:2: mysql.zzzzzzzz: unknown key; expected a key of mysql: ' ..
                       table.concat(names, ', '), err)
    end)

    it('says what type was expected and what it got', function()
      local dir = tmp { bad = 'mysql:\n  port: abc\n' }
      fails(dir, { env = 'bad' }, dir .. "/bad.yaml:2: mysql.port: expected an integer, got 'abc'",
            { line = 2, key = 'mysql.port', expected = 'an integer', got = "'abc'" })
    end)

    it('rejects a port out of 1..65535', function()
      local dir = tmp { bad = 'nats:\n  port: 70000\n' }
      fails(dir, { env = 'bad' }, dir .. "/bad.yaml:2: nats.port: expected a port 1..65535, got '70000'",
            { expected = 'a port 1..65535' })
    end)

    it('rejects a word that is not in an enum, suggesting the closest', function()
      local _, err, info = config.load { set = { 'log.level=warning' } }
      assert.are.equal("--set: log.level: expected one of trace, debug, info, warn, error, off, got 'warning'; did you mean 'warn'?", err)
      assert.are.equal('warn', info.suggestion)
    end)

    it('reports a missing required key at its section in default.yaml', function()
      local dir = tmp()
      local text = T.read_file(dir .. '/default.yaml'):gsub('\n  port: 13306\n', '\n')
      T.write_file(dir .. '/default.yaml', text)
      fails(dir, {}, dir .. '/default.yaml:' .. section_line('mysql') ..
            ': mysql.port: missing required key, expected a port 1..65535 (give it in ' .. dir ..
            '/default.yaml, an overlay, FMHOST_MYSQL_PORT or --set)', { key = 'mysql.port' })
    end)

    it('passes on libyaml\'s problem with line and column for malformed YAML', function()
      local dir = tmp { bad = 'mysql: {port: 1\nlog:\n  level: info\n' }
      local _, err, info = load_in(dir, { env = 'bad' })
      assert.truthy(err:match('^' .. dir:gsub('%p', '%%%0') .. '/bad%.yaml:%d+:%d+: malformed YAML: .+'), err)
      assert.is_number(info.line)
      assert.is_number(info.column)
    end)

    it('names an overlay that cannot be read, with the system\'s reason', function()
      local dir = tmp()
      fails(dir, { env = 'nonesuch' },
            dir .. "/nonesuch.yaml: cannot read the overlay of environment 'nonesuch': No such file or directory",
            { file = dir .. '/nonesuch.yaml', code = 2 })
      os.execute('mkdir ' .. T.shell_quote(dir .. '/adir.yaml'))
      fails(dir, { env = 'adir' },
            dir .. "/adir.yaml: cannot read the overlay of environment 'adir': Is a directory")
    end)

    it('rejects an environment name that is not a plain word', function()
      local _, err = config.load { env = '../etc/passwd' }
      assert.are.equal("--env: expected an environment name (letters, digits, '-', '_'), got '../etc/passwd'", err)
    end)

    it('names the environment variable that holds a bad value', function()
      local _, err = config.load { environ = { FMHOST_MYSQL_PORT = 'abc' } }
      assert.are.equal("environment FMHOST_MYSQL_PORT: mysql.port: expected an integer, got 'abc'", err)
    end)

    it('names --set for a bad override, an unknown key and a missing =', function()
      local _, err = config.load { set = { 'mysql.port=abc' } }
      assert.are.equal("--set: mysql.port: expected an integer, got 'abc'", err)
      _, err = config.load { set = { 'mysql.prot=1' } }
      assert.are.equal("--set: mysql.prot: unknown key, did you mean 'mysql.port'?", err)
      _, err = config.load { set = { 'mysql.port' } }
      assert.are.equal("--set: expected key=value, got 'mysql.port'", err)
      _, err = config.load { set = { 'mysql=1' } }
      assert.truthy(err:match('^%-%-set: mysql: is a section, not a key; set one of its keys: host, port'), err)
    end)

    it('rejects a duplicate key, naming both lines', function()
      local dir = tmp { bad = 'mysql:\n  port: 1\n  port: 2\n' }
      fails(dir, { env = 'bad' }, dir .. '/bad.yaml:3: mysql.port: duplicate key (first at line 2)')
    end)

    it('rejects a mapping where a section is a scalar', function()
      local dir = tmp { bad = 'mysql: 3307\n' }
      local _, err = load_in(dir, { env = 'bad' })
      assert.truthy(err:match("/bad%.yaml:1: mysql: is a section; expected a mapping of its keys %(host, port.*%), got '3307'$"), err)
    end)

    it('never shows a secret value in an error', function()
      local dir = tmp()
      T.write_file(dir .. '/schema.yaml', 'api.token:\n  type: int\n  secret: true\n  doc: a secret number\n')
      T.write_file(dir .. '/default.yaml', 'api:\n  token: hunter2\n')
      local cfg, err, info = config.load { dir = dir }
      assert.is_nil(cfg)
      assert.falsy(err:find('hunter2', 1, true))
      assert.are.equal(dir .. "/default.yaml:2: api.token: expected an integer, got '***'", err)
      assert.are.equal("'***'", info.got)
    end)
  end)

  describe('the command line', function()
    it('fmhost config show exits 0 and prints every key with its origin', function()
      local r = run_hermetic({ '--set', 'mysql.password=Sup3r-S3cret', 'config', 'show' })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(#config.schema(), #lines(r.stdout))
      assert.falsy(r.stdout:find('Sup3r-S3cret', 1, true))
      assert.truthy(r.stdout:match('mysql%.port = 13306 +%([^)]*default%.yaml:%d+%)'), r.stdout)
    end)

    it('fmhost --set mysql.port=abc config show exits 2 with the one-line message', function()
      local r = run_hermetic({ '--set', 'mysql.port=abc', 'config', 'show' })
      assert.are.equal(2, r.code)
      assert.are.equal('', r.stdout)
      assert.are.equal("fmhost: --set: mysql.port: expected an integer, got 'abc'\n", r.stderr)
    end)

    it('exits 2 naming the overlay file when FMHOST_ENV names a missing one', function()
      local r = run_hermetic({ 'config', 'show' }, { env = { FMHOST_ENV = 'nonesuch' } })
      assert.are.equal(2, r.code)
      assert.truthy(r.stderr:match("^fmhost: [^\n]*config/nonesuch%.yaml: cannot read the overlay of environment 'nonesuch': No such file or directory\n$"), r.stderr)
    end)

    it('warns on stderr, in one line, of a mistyped FMHOST_* variable, naming the closest key', function()
      local r = run_hermetic({ '-e', 'print(cfg.mysql.port)' }, { env = { FMHOST_MYSQL_PROT = '3399' } })
      assert.are.same({ code = 0, stdout = '13306\n',
                        stderr = 'fmhost: warning: environment variable FMHOST_MYSQL_PROT sets nothing and is '
                                 .. 'ignored; did you mean FMHOST_MYSQL_PORT (mysql.port)?\n' }, r)
    end)

    it('refuses two Flink services on one port at load, naming both keys, with exit 2', function()
      local r = run_hermetic({ 'config', 'show' }, { env = { FMHOST_FLINK_GATEWAY_PORT = '18081' } })
      assert.are.equal(2, r.code)
      assert.are.equal('', r.stdout)
      assert.truthy(r.stderr:match('^fmhost: flink%.rest_port %([^)]*default%.yaml:%d+%) and flink%.gateway_port '
                                   .. '%(environment FMHOST_FLINK_GATEWAY_PORT%) are both 18081: each local server '
                                   .. 'needs a port of its own\n$'), r.stderr)
      r = run_hermetic({ '--set', 'flink.rpc_port=18083', '-e', 'print(1)' })
      assert.are.equal(2, r.code)
      assert.are.equal('', r.stdout)
      assert.truthy(r.stderr:match('^fmhost: flink%.rpc_port %(%-%-set%) and flink%.gateway_port %([^)]*%) are both 18083'),
                    r.stderr)
    end)

    it("refuses mysql.port or nats.port on a local server's port, but not a remote server's", function()
      local r = run_hermetic({ '--set', 'mysql.port=16123', 'config', 'show' })
      assert.are.equal(2, r.code)
      assert.truthy(r.stderr:match('^fmhost: mysql%.port %(%-%-set%) and flink%.rpc_port %([^)]*%) are both 16123'), r.stderr)
      r = run_hermetic({ 'config', 'show' }, { env = { FMHOST_NATS_PORT = '13306' } })
      assert.are.equal(2, r.code)
      assert.truthy(r.stderr:match('^fmhost: mysql%.port %([^)]*%) and nats%.port %(environment FMHOST_NATS_PORT%) are both 13306'),
                    r.stderr)
      -- a server fmhost does not run may sit on any port of another host
      r = run_hermetic({ '--set', 'mysql.port=16123', '--set', 'mysql.managed=false', '-e', 'print(cfg.mysql.port)' })
      assert.are.same({ code = 0, stdout = '16123\n', stderr = '' }, r)
      r = run_hermetic({ '--set', 'flink.managed=false', '--set', 'flink.rest_port=18083', '-e', 'print(1)' })
      assert.are.same({ code = 0, stdout = '1\n', stderr = '' }, r)
    end)

    it('exits 2 naming the variable for a bad FMHOST_* value', function()
      local r = run_hermetic({ 'config', 'show' }, { env = { FMHOST_NATS_PORT = '0' } })
      assert.are.equal(2, r.code)
      assert.are.equal("fmhost: environment FMHOST_NATS_PORT: nats.port: expected a port 1..65535, got '0'\n", r.stderr)
    end)
  end)
end)
