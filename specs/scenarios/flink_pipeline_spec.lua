-- The first end-to-end pipeline, through SQL only: a JDBC sink table on the
-- private MariaDB declared through the SQL Gateway, a bounded datagen
-- source, INSERT INTO through the gateway, the job FINISHED in the
-- JobManager, and every row read back through fmhost.pool and compared
-- value by value.
--
-- The stack (MariaDB + Flink) is brought up when it is not. The two
-- property specs start a second, short-lived cluster from an overridden
-- configuration (connector off; another connector version) beside the
-- shared one, which keeps running untouched. The millisecond specs write
-- TIMESTAMP(3) values into DATETIME(3): on the shared MariaDB (which
-- announces 5.7.19-<version>, mysql.server_version = auto) every millisecond
-- arrives; on an isolated MariaDB announcing its native "5.5.5-10.x" the same
-- pipeline loses them all, and that spec asserts the loss is seen.
--
-- The values are deterministic functions of the key, computed in Flink SQL,
-- so the expected value of every row is known here and compared exactly:
--   id      datagen 'sequence' 1..N (kept far below the ~100k where the
--           sequence generator's state becomes a problem)
--   tripled id * 3                                   BIGINT
--   label   id || '😀' (4-byte UTF-8), NULL when id % 10 = 0
--   amount  id * 1.25 - 1000                         DECIMAL(12,2), exact
--   ts      2024-01-01 00:00:00 + id * 61 s          TIMESTAMP(3) -> DATETIME(3)
local stack = require 'fmhost.stack'
local pool = require 'fmhost.pool'

local WAIT = 180000 -- ms: generous; only a hang reaches it
local fl = stack.flink

-- --- helpers -----------------------------------------------------------------

-- A second cluster for the property specs: cfg with some flink.* keys
-- replaced, its own stack.dir under /tmp (the jars folder links to the
-- shared one, a cache) and its own free ports. The shared cluster keeps
-- running untouched for whoever else uses it; this one is stopped and
-- removed by the returned function.
local function isolated_cluster(over)
  local T = require 'fmhost.testing'
  local dir = T.tmpdir('fmhost-flink-prop')
  local c = T.isolated_flink_cfg(dir, over)
  return c, function()
    fl.stop(c)
    T.rmtree(dir)
  end
end

-- The private MariaDB through fmhost.pool (opened in setup).
local db

local function mysql_exec(sql)
  local n, err = db:exec(sql)
  assert(n, err)
end

local function mysql_rows(sql)
  local rows, err = db:query(sql)
  assert(rows, err)
  return rows
end

local function mysql_scalar(sql)
  return (assert(db:query(sql)))[1]
end

local COLUMNS = { 'id', 'tripled', 'label', 'amount', 'ts' }

-- The row the pipeline writes for key id, as fmhost.pool returns it
-- (BIGINT integers, DECIMAL and DATETIME as exact text, NULL as pool.NULL).
local function expected(id)
  local cents = id * 125 - 100000
  local sign = cents < 0 and '-' or ''
  cents = math.abs(cents)
  return {
    id = id,
    tripled = id * 3,
    label = (id % 10 == 0) and pool.NULL or (tostring(id) .. '😀'),
    amount = string.format('%s%d.%02d', sign, cents // 100, cents % 100),
    ts = os.date('!%Y-%m-%d %H:%M:%S', 1704067200 + id * 61) .. '.000',
  }
end

local function create_mysql_table(name)
  mysql_exec('DROP TABLE IF EXISTS ' .. name)
  mysql_exec(string.format([[CREATE TABLE %s (id BIGINT PRIMARY KEY, tripled BIGINT NOT NULL,
    label VARCHAR(32) NULL, amount DECIMAL(12,2) NOT NULL, ts DATETIME(3) NOT NULL) DEFAULT CHARSET = utf8mb4]], name))
end

local function session(client)
  return assert(client:session {
    name = 'flink_pipeline_spec',
    properties = {
      ['execution.runtime-mode'] = 'streaming',
      ['table.local-time-zone'] = 'UTC',
      ['table.dml-sync'] = 'false',
      ['parallelism.default'] = '1',
    },
  })
end

-- Declare the datagen source and the JDBC sink (on MariaDB table `name`)
-- in session s, then submit the INSERT. Returns the INSERT's Operation.
local function submit_pipeline(c, s, name, n)
  assert(s:run(string.format([[CREATE TEMPORARY TABLE src_%s (id BIGINT) WITH (
      'connector' = 'datagen', 'number-of-rows' = '%d',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d')]], name, n, n)))
  assert(s:run(string.format([[CREATE TEMPORARY TABLE sink_%s (
      id BIGINT, tripled BIGINT, label STRING, amount DECIMAL(12,2), ts TIMESTAMP(3),
      PRIMARY KEY (id) NOT ENFORCED) WITH (%s)]], name, fl.jdbc_options(c, name))))
  return assert(s:execute(string.format([[INSERT INTO sink_%s SELECT
      id,
      id * 3,
      CASE WHEN MOD(id, 10) = 0 THEN CAST(NULL AS STRING) ELSE CAST(id AS STRING) || '😀' END,
      CAST(CAST(id AS DECIMAL(12,2)) * 1.25 - 1000 AS DECIMAL(12,2)),
      TIMESTAMPADD(SECOND, CAST(id * 61 AS INT), TIMESTAMP '2024-01-01 00:00:00.000')
    FROM src_%s]], name, name)))
end

-- Run the pipeline into MariaDB table `name` with n rows: returns the job id
-- and the job's final state (asserted FINISHED).
local function run_pipeline(client, c, name, n)
  create_mysql_table(name)
  local s = session(client)
  local op = submit_pipeline(c, s, name, n)
  assert(op:wait { timeout_ms = WAIT })
  local job_id = assert(op:job_id())
  local job = client:job_handle(job_id)
  local state, msg, info = job:wait('FINISHED', WAIT)
  s:close()
  assert(state == 'FINISHED', string.format('job %s ended %s: %s\n%s', job_id, tostring(info and info.state),
    tostring(msg), tostring(info and info.root_exception)))
  -- the JobManager agrees
  assert.are.equal('FINISHED', (assert(client:job(job_id))).state)
  return job_id
end

-- Every row of MariaDB table `name` equals expected(id), id = 1..n.
local function check_rows(name, n)
  local count = mysql_scalar('SELECT COUNT(*) AS n FROM ' .. name).n
  assert.are.equal(n, count, 'row count in MariaDB table ' .. name)
  local rows = mysql_rows('SELECT id, tripled, label, amount, ts FROM ' .. name .. ' ORDER BY id')
  local bad = {}
  for i = 1, n do
    local want, got = expected(i), rows[i] or {}
    for _, col in ipairs(COLUMNS) do
      if got[col] ~= want[col] then
        bad[#bad + 1] = string.format('id %d %s: want %s, got %s', i, col, tostring(want[col]), tostring(got[col]))
        break
      end
    end
    if #bad >= 10 then break end
  end
  assert(#bad == 0, #bad .. ' mismatching rows in ' .. name .. ' (first ones):\n' .. table.concat(bad, '\n'))
end

-- The version string a server sends in its handshake (what the JDBC driver
-- parses; libmariadb hides a "5.5.5-" prefix, so read the bytes): the
-- NUL-terminated string after the 4-byte header and the protocol byte.
local function handshake_version(port)
  local proc = require 'fmhost.proc'
  local r = assert(proc.run { 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/' .. math.tointeger(port)
    .. ' && head -c 96 <&3', timeout_ms = 10000 })
  assert(r.ok and #r.stdout > 6, 'no handshake from port ' .. port .. ': ' .. r.stderr)
  return (r.stdout:sub(6):match('^([^%z]*)%z'))
end

-- A pipeline writing TIMESTAMP(3) values with milliseconds 1..n (never 0)
-- into DATETIME(3) column ts of `name` on the server of c.mysql.*, through
-- the shared cluster; p is a pool on that server. Returns {rows=, bad= (lines
-- for the differing values), truncated= (how many of them equal the wanted
-- value cut to whole seconds)}.
local function millis_pipeline(client, c, p, name, n)
  assert(p:exec('DROP TABLE IF EXISTS ' .. name))
  assert(p:exec('CREATE TABLE ' .. name .. ' (id BIGINT PRIMARY KEY, ts DATETIME(3) NOT NULL)'))
  local s = session(client)
  assert(s:run(string.format([[CREATE TEMPORARY TABLE src_%s (id BIGINT) WITH ('connector' = 'datagen',
    'number-of-rows' = '%d', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d')]],
    name, n, n)))
  assert(s:run(string.format([[CREATE TEMPORARY TABLE sink_%s (id BIGINT, ts TIMESTAMP(3),
    PRIMARY KEY (id) NOT ENFORCED) WITH (%s)]], name, fl.jdbc_options(c, name))))
  local op = assert(s:execute(string.format([[INSERT INTO sink_%s
    SELECT id, CAST(TO_TIMESTAMP_LTZ(1704067200000 + id * 1001, 3) AS TIMESTAMP(3)) FROM src_%s]], name, name)))
  assert(op:wait { timeout_ms = WAIT })
  local job = client:job_handle(assert(op:job_id()))
  local state, msg, info = job:wait('FINISHED', WAIT)
  s:close()
  assert(state == 'FINISHED', string.format('job %s ended %s: %s\n%s', job:id(), tostring(info and info.state),
    tostring(msg), tostring(info and info.root_exception)))
  local rows = assert(p:query('SELECT id, ts FROM ' .. name .. ' ORDER BY id'))
  local out = { rows = rows, bad = {}, truncated = 0 }
  for i = 1, n do
    local ms = 1704067200000 + i * 1001
    local whole = os.date('!%Y-%m-%d %H:%M:%S', ms // 1000)
    local want = whole .. string.format('.%03d', ms % 1000)
    local got = rows[i] and rows[i].id == i and rows[i].ts or nil
    if got ~= want then
      out.bad[#out.bad + 1] = string.format('id %d: want %s, got %s', i, want, tostring(got))
      if got == whole .. '.000' then out.truncated = out.truncated + 1 end
    end
  end
  return out
end

-- The classpath the running JobManager was started with (REST).
local function jm_classpath(client)
  local env = assert(client:rest('GET', '/jobmanager/environment'))
  return table.concat(env.classpath or {}, ':')
end

-- The classpath argument of the running TaskManager's command line.
local function tm_classpath(c)
  local s = fl.settings(c)
  local tm = assert(fl.find(s).taskmanagers[1], 'no TaskManager runs')
  for i, a in ipairs(tm.argv) do
    if a == '-classpath' then return tm.argv[i + 1] end
  end
  return ''
end

-- --- specs -------------------------------------------------------------------

describe('Flink -> MariaDB pipeline through the SQL Gateway #flink #mysql #conformance', function()
  local client

  lazy_setup(function()
    assert(stack.ensure(cfg, { 'mariadb', 'flink' }))
    client = fl.client(cfg, { timeout_ms = 30000 })
    local m = cfg.mysql
    db = assert(pool.open { host = m.host, port = m.port, user = m.user, password = m.password,
                            database = m.database, charset = 'utf8mb4', size = 2 })
  end)

  lazy_teardown(function()
    if client then client:close() end
    if db then db:close() end
  end)

  it('writes 2000 datagen rows into MariaDB through the JDBC sink, every value exact', function()
    -- as an fmhost.pipeline: the datagen source in the user's SQL, the oracle
    -- the same values computed by MariaDB over its sequence table
    local n = 2000
    local r = require('fmhost.pipeline').run({
      name = 'fp_pipeline',
      flink = { sql = {
        ('CREATE TEMPORARY TABLE src (id BIGINT) WITH (%s)'):format(
          "'connector' = 'datagen', 'number-of-rows' = '" .. n .. "', 'fields.id.kind' = 'sequence', "
          .. "'fields.id.start' = '1', 'fields.id.end' = '" .. n .. "'"),
        [[CREATE TEMPORARY TABLE sink (id BIGINT, tripled BIGINT, label STRING, amount DECIMAL(12,2), ts TIMESTAMP(3),
            PRIMARY KEY (id) NOT ENFORCED) WITH (${sink.jdbc})]],
        [[INSERT INTO sink SELECT id, id * 3,
            CASE WHEN MOD(id, 10) = 0 THEN CAST(NULL AS STRING) ELSE CAST(id AS STRING) || '😀' END,
            CAST(CAST(id AS DECIMAL(12,2)) * 1.25 - 1000 AS DECIMAL(12,2)),
            TIMESTAMPADD(SECOND, CAST(id * 61 AS INT), TIMESTAMP '2024-01-01 00:00:00.000') FROM src]],
      } },
      sink = { table = 'fp_pipeline', ddl = [[CREATE TABLE ${sink.table} (id BIGINT PRIMARY KEY, tripled BIGINT NOT NULL,
        label VARCHAR(32) NULL, amount DECIMAL(12,2) NOT NULL, ts DATETIME(3) NOT NULL) DEFAULT CHARSET = utf8mb4]] },
      expect = { sql = ([[SELECT seq AS id, seq * 3 AS tripled, IF(seq %% 10 = 0, NULL, CONCAT(seq, '😀')) AS label,
        CAST(seq * 1.25 - 1000 AS DECIMAL(12,2)) AS amount,
        CAST(TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq * 61 SECOND AS DATETIME(3)) AS ts
        FROM seq_1_to_%d]]):format(n) },
    }, { cfg = cfg, pool = db, client = client })
    assert.pipeline(r)
    assert.are.equal(n, r.verdict.counts.matched)
    -- and the hand-written check agrees
    check_rows('fp_pipeline', n)
  end)

  it('keeps the milliseconds of TIMESTAMP(3) values written into DATETIME(3) (the stack\'s MariaDB announces '
    .. 'version 5.7.19-<real version>, mysql.server_version = auto)', function()
    -- the cause of the pitfall below is absent: the driver sees 5.7.19 (>= 5.6.4)
    local want = assert(stack.mariadb.server_version(stack.mariadb.settings(cfg)))
    assert.are.equal(want, mysql_scalar('SELECT VERSION() AS v').v)
    assert.are.equal(want, handshake_version(cfg.mysql.port))
    local r = millis_pipeline(client, cfg, db, 'fp_millis', 50)
    assert(#r.bad == 0, #r.bad .. ' of 50 values differ:\n' .. table.concat(r.bad, '\n', 1, math.min(#r.bad, 10)))
  end)

  it('catches the defect on a MariaDB announcing its native version (mysql.server_version = native): '
    .. 'mysql-connector-j reads the handshake "5.5.5-10.x" as 5.5.5 and truncates every TIMESTAMP(3) '
    .. 'value Flink writes to whole seconds', function()
    local T = require 'fmhost.testing'
    local mariadb = stack.mariadb
    -- an isolated server beside the shared one: own stack.dir, port, no TLS
    local dir = T.tmpdir('fmhost-native')
    local icfg = T.isolated_mariadb_cfg(dir, { tls = false, server_version = 'native' })
    local p
    finally(function() -- busted keeps one finally per it: everything here
      if p then p:close() end
      T.remove_isolated_mariadb(icfg, dir)
    end)
    assert(mariadb.ensure(icfg))
    local real = assert(mariadb.binary_version())
    p = assert(pool.open { host = '127.0.0.1', port = icfg.mysql.port, user = icfg.mysql.user,
                           password = icfg.mysql.password, database = icfg.mysql.database,
                           charset = 'utf8mb4', size = 1 })
    assert.are.equal(real, (assert(p:query('SELECT VERSION() AS v')))[1].v)
    assert.are.equal('5.5.5-' .. real, handshake_version(icfg.mysql.port))

    local n = 50
    local r = millis_pipeline(client, icfg, p, 'fp_millis_native', n)
    -- every value arrived, each one cut to its whole second: the milliseconds
    -- (1..50, never 0) are lost without an error anywhere
    assert.are.equal(n, #r.rows)
    assert.are.equal(n, #r.bad, 'values kept their milliseconds on a server announcing 5.5.5-' .. real
      .. ': has mysql-connector-j stopped reading the handshake version this way?')
    assert.are.equal(n, r.truncated, 'values differ otherwise than by truncation:\n'
      .. table.concat(r.bad, '\n', 1, math.min(#r.bad, 10)))
  end)

  it("Feature: flink-mysql-connector-test, Property 2: the connector's classes load from the classpath; "
    .. 'with the connector left off (flink.jdbc_connector = false) the same INSERT fails and info names '
    .. "the missing 'jdbc' factory", function()
    -- on: the JDBC connector's factory and the MySQL driver load, rows arrive
    assert.matches('flink%-connector%-jdbc%-', jm_classpath(client))
    run_pipeline(client, cfg, 'fp_prop2', 20)
    check_rows('fp_prop2', 20)

    -- off: a cluster without the connector folder on its classpath
    local off, remove = isolated_cluster { jdbc_connector = false }
    finally(remove)
    assert(fl.ensure(off))
    local c2 = fl.client(off, { timeout_ms = 30000 })
    assert.is_nil(jm_classpath(c2):find('flink-connector-jdbc', 1, true))
    assert.is_nil(tm_classpath(off):find('mysql-connector-j', 1, true))
    create_mysql_table('fp_prop2_off')
    local s = session(c2)
    local op = submit_pipeline(off, s, 'fp_prop2_off', 20)
    local ok, msg, info = op:wait { timeout_ms = WAIT }
    s:close()
    c2:close()
    assert.is_nil(ok, 'the INSERT succeeded without the connector')
    assert.are.equal('table', type(info))
    local text = tostring(msg) .. '\n' .. tostring(info.detail)
    assert.truthy(text:find("Could not find any factory for identifier 'jdbc'", 1, true),
      'the failure does not name the jdbc factory: ' .. text:sub(1, 2000))
    assert.truthy(tostring(info.detail):find("Could not find any factory for identifier 'jdbc'", 1, true),
      'info.detail lacks the factory error')
    assert.are.equal(0, mysql_scalar('SELECT COUNT(*) AS n FROM fp_prop2_off').n)
  end)

  it('Feature: flink-mysql-connector-test, Property 23: another flink.jdbc_connector_version in the '
    .. 'configuration is fetched, put on the classpath and runs a pipeline without a code change #slow', function()
    local other = '3.2.0-1.19' -- published on Maven Central for Flink 1.19, loads in 1.20
    assert.are_not.equal(other, fl.settings(cfg).jdbc_version)
    local alt, remove = isolated_cluster { jdbc_connector_version = other }
    finally(remove)
    local s_alt = fl.settings(alt)
    -- from nothing: the stack must fetch the jars itself
    os.execute("rm -rf '" .. s_alt.conn .. "'")
    assert.are.equal(1, #fl.missing_jars(s_alt))
    assert(fl.ensure(alt))
    assert.are.equal(0, #fl.missing_jars(s_alt))
    assert.truthy(stack.exists(s_alt.conn .. '/flink-connector-jdbc-' .. other .. '.jar'))
    local c2 = fl.client(alt, { timeout_ms = 30000 })
    local cp = jm_classpath(c2)
    assert.truthy(cp:find('flink-connector-jdbc-' .. other .. '.jar', 1, true), 'JobManager classpath: ' .. cp)
    assert.is_nil(cp:find('flink-connector-jdbc-' .. fl.settings(cfg).jdbc_version .. '.jar', 1, true))
    assert.truthy(tm_classpath(alt):find('flink-connector-jdbc-' .. other .. '.jar', 1, true))
    run_pipeline(c2, alt, 'fp_prop23', 500)
    c2:close()
    check_rows('fp_prop23', 500)
  end)
end)
