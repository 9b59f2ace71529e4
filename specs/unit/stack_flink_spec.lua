-- The local stack's Flink service without a cluster: settings from the
-- configuration, config.yaml, the classpath and the JVM command lines, the
-- completeness check of the jar folders and the reading of Maven's log.
-- Fake jar files in a temporary stack.dir stand in for the real ones.
local stack = require 'fmhost.stack'
local T = require 'fmhost.testing'
local fl = stack.flink

local function touch(path)
  T.write_file(path, '')
end

local function mkdir(path)
  assert(stack.mkdir_p(path))
end

local function index_of(list, v)
  for i, x in ipairs(list) do if x == v then return i end end
  return nil
end

describe('local stack: Flink service (no cluster)', function()
  local dir, cfg

  before_each(function()
    dir = T.tmpdir('fmhost-flink-unit')
    cfg = { stack = { dir = dir }, flink = {}, mysql = {} }
  end)

  after_each(function()
    T.rmtree(dir)
  end)

  describe('settings', function()
    it('takes the defaults of config/default.yaml when cfg leaves flink.* out', function()
      local s = fl.settings({ stack = { dir = dir } })
      assert.are.equal('1.20.3', s.version)
      assert.are.equal('3.3.0-1.20', s.jdbc_version)
      assert.are.equal('8.4.0', s.mysql_version)
      assert.is_true(s.connector)
      assert.is_true(s.managed)
      assert.are.equal(18081, s.rest_port)
      assert.are.equal(16123, s.rpc_port)
      assert.are.equal(18083, s.gateway_port)
      assert.are.equal(4, s.slots)
      assert.are.equal('http://127.0.0.1:18081', s.rest_url)
      assert.are.equal('http://127.0.0.1:18083', s.gateway_url)
      assert.are.equal(dir .. '/flink/jars/flink-1.20.3/lib', s.lib)
      assert.are.equal(dir .. '/flink/jars/flink-1.20.3/opt', s.opt)
      assert.are.equal(dir .. '/flink/jars/jdbc-3.3.0-1.20_mysql-8.4.0', s.conn)
    end)

    it('names the connector folder after both versions, so a version change never reuses a stale jar', function()
      cfg.flink.jdbc_connector_version = '3.2.0-1.19'
      cfg.flink.mysql_driver_version = '8.0.33'
      assert.are.equal(dir .. '/flink/jars/jdbc-3.2.0-1.19_mysql-8.0.33', fl.settings(cfg).conn)
    end)

    it('uses flink.rest_url and flink.gateway_url for an external cluster, without trailing slashes', function()
      cfg.flink.managed = false
      cfg.flink.rest_url = 'http://flink.example:8081/'
      cfg.flink.gateway_url = 'http://flink.example:8083'
      local s = fl.settings(cfg)
      assert.is_false(s.managed)
      assert.are.equal('http://flink.example:8081', s.rest_url)
      assert.are.equal('http://flink.example:8083', s.gateway_url)
    end)
  end)

  describe('config.yaml', function()
    it('carries ports, slots, memory, heartbeats, restart strategy and folders from the configuration', function()
      cfg.flink = { rest_port = 28081, rpc_port = 26123, gateway_port = 28083, slots = 3, jm_memory = '900m',
                    tm_memory = '2g', heartbeat_interval_ms = 1500, heartbeat_timeout_ms = 9000,
                    restart_attempts = 5, restart_delay_ms = 750, checkpoint_interval_ms = 4000 }
      local y = fl.config_yaml(fl.settings(cfg))
      for _, line in ipairs {
        'rest.port: 28081', 'jobmanager.rpc.port: 26123', 'sql-gateway.endpoint.rest.port: 28083',
        'taskmanager.numberOfTaskSlots: 3', 'jobmanager.memory.process.size: 900m',
        'taskmanager.memory.process.size: 2g', 'heartbeat.interval: 1500', 'heartbeat.timeout: 9000',
        'restart-strategy.type: fixed-delay', 'restart-strategy.fixed-delay.attempts: 5',
        'restart-strategy.fixed-delay.delay: 750 ms', 'execution.checkpointing.interval: 4000 ms',
        'resourcemanager.standalone.start-up-time: 0 ms',
        'execution.checkpointing.dir: file://' .. dir .. '/flink/checkpoints',
        'rest.bind-address: 127.0.0.1', 'jobmanager.bind-host: 127.0.0.1', 'taskmanager.bind-host: 127.0.0.1',
      } do
        assert.truthy(y:find('\n' .. line .. '\n', 1, true), 'missing line: ' .. line .. '\n' .. y)
      end
    end)

    it('leaves checkpointing off when flink.checkpoint_interval_ms is 0', function()
      cfg.flink.checkpoint_interval_ms = 0
      assert.is_nil(fl.config_yaml(fl.settings(cfg)):find('execution.checkpointing.interval', 1, true))
    end)

    it('is written with log4j.properties into <stack.dir>/flink/conf, with the folders it names', function()
      local s = fl.settings(cfg)
      assert(fl.write_conf(s))
      assert.are.equal(fl.config_yaml(s), T.read_file(s.conf .. '/config.yaml'))
      assert.truthy(T.read_file(s.conf .. '/log4j.properties'):find('${sys:log.file}', 1, true))
      for _, d in ipairs { 'checkpoints', 'savepoints', 'tmp', 'web-upload', 'log' } do
        assert.truthy(stack.exists(dir .. '/flink/' .. d), d)
      end
    end)
  end)

  describe('jars and classpath', function()
    local s

    local function fake_jars()
      local v = s.version
      for _, j in ipairs { 'flink-runtime-' .. v .. '.jar', 'flink-clients-' .. v .. '.jar',
                           'flink-table-runtime-' .. v .. '.jar', 'flink-table-planner-loader-' .. v .. '.jar',
                           'flink-connector-datagen-' .. v .. '.jar', 'log4j-core-2.24.3.jar',
                           'Zeta-upper.jar', 'a-lower.jar' } do
        touch(s.lib .. '/' .. j)
      end
      touch(s.lib .. '/README.txt')
      touch(s.opt .. '/flink-sql-gateway-' .. v .. '.jar')
      touch(s.conn .. '/flink-connector-jdbc-' .. s.jdbc_version .. '.jar')
      touch(s.conn .. '/mysql-connector-j-' .. s.mysql_version .. '.jar')
    end

    before_each(function()
      s = fl.settings(cfg)
      mkdir(s.lib); mkdir(s.opt); mkdir(s.conn)
    end)

    it('counts a folder as fetched only when its jars are there, not when the folder is', function()
      assert.are.equal(3, #fl.missing_jars(s))
      fake_jars()
      assert.are.same({}, fl.missing_jars(s))
      os.remove(s.conn .. '/mysql-connector-j-' .. s.mysql_version .. '.jar')
      local missing = fl.missing_jars(s)
      assert.are.equal(1, #missing)
      assert.are.equal(s.conn, missing[1].dir)
    end)

    it('orders lib/*.jar by bytes, then the connector jars, the JetStream connector, and gives the gateway its jar '
      .. 'last', function()
      fake_jars()
      local cp = fl.classpath(s)
      local parts = {}
      for p in cp:gmatch('[^:]+') do parts[#parts + 1] = p:match('[^/]+$') end
      assert.are.equal('Zeta-upper.jar', parts[1]) -- 'Z' < 'a' in byte order
      assert.are.equal('a-lower.jar', parts[2])
      assert.is_nil(index_of(parts, 'README.txt'))
      local jdbc = assert(index_of(parts, 'flink-connector-jdbc-' .. s.jdbc_version .. '.jar'))
      assert.are.equal(#parts - 2, jdbc)
      assert.are.equal('fmhost-nats-connector.jar', parts[#parts])
      assert.are.equal(s.nats_jar, cp:match('[^:]+$'))
      assert.is_nil(index_of(parts, 'flink-sql-gateway-' .. s.version .. '.jar'))
      local gw = fl.classpath(s, 'gateway')
      assert.are.equal(cp .. ':' .. s.opt .. '/flink-sql-gateway-' .. s.version .. '.jar', gw)
    end)

    it('leaves the connector folder off the classpath when flink.jdbc_connector is false', function()
      fake_jars()
      cfg.flink.jdbc_connector = false
      local off = fl.settings(cfg)
      assert.is_false(off.connector)
      assert.is_nil(fl.classpath(off):find('jdbc', 1, true))
      assert.is_nil(fl.classpath(off, 'gateway'):find('mysql-connector-j', 1, true))
    end)

    it('leaves the JetStream connector off the classpath when flink.nats_connector is false', function()
      fake_jars()
      cfg.flink.nats_connector = false
      local off = fl.settings(cfg)
      cfg.flink.nats_connector = true
      assert.is_false(off.nats_connector)
      assert.is_nil(fl.classpath(off):find('fmhost-nats-connector', 1, true))
      assert.truthy(fl.classpath(fl.settings(cfg)):find('fmhost-nats-connector', 1, true))
    end)
  end)

  describe('checking jars against the manifest and Maven\'s .sha1', function()
    local jars, repo, sha

    -- a jar folder with a.jar and b.jar, and a Maven repository holding
    -- both with their .sha1 files (the layout Maven keeps in ~/.m2)
    before_each(function()
      jars, repo = dir .. '/jars', dir .. '/m2'
      mkdir(jars); mkdir(repo .. '/org/x/a/1'); mkdir(repo .. '/org/y/b/2')
      local a, b = 'PK\3\4 the a jar', 'PK\3\4 the b jar, longer'
      T.write_file(jars .. '/a.jar', a); T.write_file(repo .. '/org/x/a/1/a.jar', a)
      T.write_file(jars .. '/b.jar', b); T.write_file(repo .. '/org/y/b/2/b.jar', b)
      sha = assert(fl.sha1_files { jars .. '/a.jar', jars .. '/b.jar' })
      T.write_file(repo .. '/org/x/a/1/a.jar.sha1', sha[jars .. '/a.jar'] .. '\n')
      T.write_file(repo .. '/org/y/b/2/b.jar.sha1', sha[jars .. '/b.jar'] .. '  b.jar\n')
    end)

    it('accepts jars equal to Maven\'s record and writes the manifest, which later checks use', function()
      assert.are.same({}, assert(fl.check_jars(jars, { repo = repo })))
      local m = assert(fl.read_manifest(jars))
      assert.are.same({ sha1 = sha[jars .. '/a.jar'], size = 14 }, m['a.jar'])
      assert.are.equal(sha[jars .. '/b.jar'], m['b.jar'].sha1)
      -- the manifest alone decides now: the repository may go
      os.execute('rm -rf ' .. T.shell_quote(repo))
      assert.are.same({}, assert(fl.check_jars(jars, {})))
    end)

    it('names a 0-byte jar, a jar overwritten with junk of the same size, and a missing one', function()
      assert(fl.check_jars(jars, { repo = repo }))
      T.write_file(jars .. '/a.jar', '')
      T.write_file(jars .. '/b.jar', ('x'):rep(#'PK\3\4 the b jar, longer'))
      local p = assert(fl.check_jars(jars, {}))
      assert.are.equal(2, #p)
      assert.are.same({ 'a.jar', jars .. '/a.jar', '0 bytes, fetched as 14 bytes' }, { p[1].name, p[1].path, p[1].why })
      assert.are.equal('b.jar', p[2].name)
      assert.truthy(p[2].why:find('^SHA%-1 %x+, fetched as ' .. sha[jars .. '/b.jar']), p[2].why)
      -- sizes only (status) sees the first, not the second
      local quick = assert(fl.check_jars(jars, { quick = true }))
      assert.are.equal(1, #quick)
      assert.are.equal('a.jar', quick[1].name)
      os.remove(jars .. '/a.jar')
      assert.are.equal('missing', assert(fl.check_jars(jars, {}))[1].why)
    end)

    it('without a manifest, names a jar that differs from Maven\'s record, and one whose copy in the Maven '
      .. 'repository is itself damaged', function()
      T.write_file(jars .. '/a.jar', 'PK\3\4 the A jar')
      local p = assert(fl.check_jars(jars, { repo = repo }))
      assert.are.equal(1, #p)
      assert.truthy(p[1].why:find("Maven's .sha1 says " .. sha[jars .. '/a.jar'], 1, true), p[1].why)
      assert.is_nil(p[1].cache)
      assert.is_nil(fl.read_manifest(jars), 'a manifest written for a damaged folder')
      -- the repository's copy is damaged the same way: fetching again cannot help
      T.write_file(repo .. '/org/x/a/1/a.jar', 'PK\3\4 the A jar')
      p = assert(fl.check_jars(jars, { repo = repo }))
      assert.are.equal(repo .. '/org/x/a/1/a.jar', p[1].cache)
      assert.truthy(p[1].why:find('in the Maven repository, which is damaged', 1, true), p[1].why)
    end)

    it('without any record in the repository, still names an empty file or one that is no zip file', function()
      os.execute('rm -rf ' .. T.shell_quote(repo))
      T.write_file(jars .. '/a.jar', '')
      T.write_file(jars .. '/b.jar', 'not a zip')
      local p = assert(fl.check_jars(jars, { repo = repo }))
      assert.are.same({ '0 bytes', 'not a jar (zip) file' }, { p[1].why, p[2].why })
    end)
  end)

  describe('leftovers', function()
    local s

    local function names(d)
      local out = {}
      for e in require('lfs').dir(d) do if e ~= '.' and e ~= '..' then out[#out + 1] = e end end
      table.sort(out)
      return out
    end

    -- what JVMs killed with SIGKILL and ended jobs leave
    before_each(function()
      s = fl.settings(cfg)
      for _, n in ipairs { 'jobmanager', 'taskmanager', 'taskmanager-2', 'sql-gateway' } do
        mkdir(fl.tmp_dir(s, n) .. '/blobStorage')
        T.write_file(fl.tmp_dir(s, n) .. '/flink-rpc-akka0123.jar', 'PK\3\4')
      end
      T.write_file(s.base .. '/tmp/flink-rpc-akka4567.jar', 'PK\3\4') -- put there by an older fmhost
      mkdir(s.base .. '/checkpoints/0123456789abcdef0123456789abcdef/shared')
      mkdir(s.base .. '/checkpoints/0123456789abcdef0123456789abcdef/taskowned')
      mkdir(s.base .. '/checkpoints/fedcba9876543210fedcba9876543210/chk-3')
      T.write_file(s.base .. '/checkpoints/fedcba9876543210fedcba9876543210/chk-3/_metadata', 'x')
    end)

    it('gives every JVM its own java.io.tmpdir under tmp/', function()
      local argv = fl.command(s, 'taskmanager', 'taskmanager-2', { jvm = {}, dyn = {} }, 'CP')
      assert.truthy(index_of(argv, '-Djava.io.tmpdir=' .. s.base .. '/tmp/taskmanager-2'))
      local y = fl.config_yaml(s)
      assert.is_nil(y:find('io.tmp.dirs', 1, true), 'io.tmp.dirs would put every JVM in one folder')
      assert.is_nil(y:find('web.tmpdir', 1, true))
    end)

    it('with no JVM running, removes everything under tmp/ and the checkpoint folders that hold no file', function()
      local removed = fl.tidy(s, { all = {}, taskmanagers = {} })
      assert.are.same({}, names(s.base .. '/tmp'))
      assert.are.same({ 'flink-rpc-akka4567.jar', 'jobmanager', 'sql-gateway', 'taskmanager', 'taskmanager-2' },
                      removed.tmp)
      assert.are.same({ 'fedcba9876543210fedcba9876543210' }, names(s.base .. '/checkpoints'))
      assert.are.same({ '0123456789abcdef0123456789abcdef' }, removed.checkpoints)
    end)

    it('while JVMs run, removes only the folders of JVMs that do not, and keeps checkpoint folders it cannot '
      .. 'ask the JobManager about', function()
      local running = { all = { { name = 'jobmanager' }, { name = 'taskmanager-2' }, { name = 'sql-gateway' } },
                        taskmanagers = {} }
      local removed = fl.tidy(s, running)
      assert.are.same({ 'taskmanager' }, removed.tmp)
      assert.are.same({ 'flink-rpc-akka4567.jar', 'jobmanager', 'sql-gateway', 'taskmanager-2' },
                      names(s.base .. '/tmp'))
      assert.are.same({}, removed.checkpoints)
      assert.are.equal(2, #names(s.base .. '/checkpoints'))
    end)
  end)

  describe('command lines', function()
    local s, res

    before_each(function()
      s = fl.settings(cfg)
      res = { jvm = { '-Xmx100', '-Xms100' }, dyn = { '-D', 'a=1', '-D', 'b=2' } }
    end)

    it('starts the JobManager with the memory flags, Java 17 flags, its own log and the dynamic config', function()
      local argv = fl.command(s, 'jobmanager', 'jobmanager', res, 'CP')
      assert.are.equal('java', argv[1])
      assert.are.equal('-Xmx100', argv[2])
      assert.truthy(index_of(argv, '--add-opens=java.base/java.util=ALL-UNNAMED'))
      assert.truthy(index_of(argv, '-Dlog.file=' .. s.logdir .. '/jobmanager.log'))
      local main = assert(index_of(argv, fl.MAIN.jobmanager))
      assert.are.equal('CP', argv[main - 1])
      assert.are.same({ '-D', 'a=1', '-D', 'b=2', '--configDir', s.conf, '--executionMode', 'cluster' },
                      { table.unpack(argv, main + 1) })
    end)

    it('gives a second TaskManager its own log file', function()
      local argv = fl.command(s, 'taskmanager', 'taskmanager-2', res, 'CP')
      assert.truthy(index_of(argv, '-Dlog.file=' .. s.logdir .. '/taskmanager-2.log'))
      local main = assert(index_of(argv, fl.MAIN.taskmanager))
      assert.are.same({ '--configDir', s.conf, '-D', 'a=1', '-D', 'b=2' }, { table.unpack(argv, main + 1) })
    end)

    it('sizes the SQL Gateway heap from flink.gateway_heap', function()
      cfg.flink.gateway_heap = '1g'
      local argv = fl.command(fl.settings(cfg), 'gateway', 'sql-gateway', nil, 'CP')
      assert.truthy(index_of(argv, '-Xmx1g'))
      assert.are.equal(fl.MAIN.gateway, argv[#argv])
    end)
  end)

  describe('an external cluster (flink.managed = false)', function()
    local function closed_port()
      local l = assert(require('fmhost.proc').listen(0))
      local p = l.port
      l:close()
      return p
    end

    it('starts nothing and says which URL does not answer', function()
      cfg.flink = { managed = false, rest_url = 'http://127.0.0.1:' .. closed_port(),
                    gateway_url = 'http://127.0.0.1:' .. closed_port() }
      local ok, msg = fl.start(cfg)
      assert.is_nil(ok)
      assert.truthy(msg:find('no JobManager answers at ' .. cfg.flink.rest_url, 1, true), msg)
      assert.truthy(msg:find('flink.managed is false', 1, true), msg)
      assert.is_false(stack.exists(dir .. '/flink'))
      local st = fl.status(cfg)
      assert.is_false(st.running)
      assert.is_false(st.managed)
    end)

    it('refuses to kill or start TaskManagers it does not own', function()
      cfg.flink = { managed = false }
      local ok, msg = fl.kill_taskmanager(cfg, 1, 'KILL')
      assert.is_nil(ok)
      assert.truthy(msg:find('does not own', 1, true))
      ok, msg = fl.start_taskmanager(cfg)
      assert.is_nil(ok)
      assert.truthy(msg:find('does not own', 1, true))
    end)
  end)

  describe('JDBC options', function()
    it('builds the WITH clause for cfg.mysql with SQL quoting', function()
      cfg.mysql = { host = '127.0.0.1', port = 13306, database = 'fmhost', user = 'u', password = "p'w" }
      local w = fl.jdbc_options(cfg, 't1', { ['sink.buffer-flush.max-rows'] = '10' })
      assert.are.equal("'connector' = 'jdbc', 'url' = 'jdbc:mysql://127.0.0.1:13306/fmhost', "
        .. "'driver' = 'com.mysql.cj.jdbc.Driver', 'table-name' = 't1', 'username' = 'u', "
        .. "'password' = 'p''w', 'sink.buffer-flush.max-rows' = '10'", w)
    end)
  end)

  describe("reading Maven's log", function()
    it('names a version that does not exist', function()
      local why = fl.maven_failure('[ERROR] Failed to execute goal ... Could not find artifact '
        .. 'org.apache.flink:flink-connector-jdbc:jar:9.9.9-1.20 in central (https://repo.maven.apache.org/maven2)')
      assert.truthy(why:find('does not exist on Maven Central: org.apache.flink:flink-connector-jdbc:jar:9.9.9-1.20',
                             1, true), why)
    end)

    it('says Maven Central is unreachable when the connection fails', function()
      local why, line = fl.maven_failure('[ERROR] Could not transfer artifact x:y:pom:1 from/to central: '
        .. 'transfer failed for https://repo.maven.apache.org/...: Connect to repo.maven.apache.org:443 '
        .. 'failed: Network is unreachable')
      assert.truthy(why:find('Maven Central is unreachable', 1, true), why)
      assert.truthy(line:find('Network is unreachable', 1, true))
    end)

    it('says when Maven ran offline without the artifacts', function()
      local why = fl.maven_failure('[ERROR] ... Cannot access central (https://repo.maven.apache.org/maven2) '
        .. 'in offline mode and the artifact x:y:jar:1 has not been downloaded from it before.')
      assert.truthy(why:find('offline', 1, true), why)
    end)
  end)
end)
