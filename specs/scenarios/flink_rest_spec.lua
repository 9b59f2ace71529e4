-- fmhost.flink against the real Flink 1.20 cluster of the local stack
-- (JobManager REST on cfg.flink.rest_port, SQL Gateway on
-- cfg.flink.gateway_port): every JobManager and gateway call the module
-- offers, with the outcome checked in Flink itself (job states, row values,
-- savepoint files, exceptions).
--
-- The specs bring the local stack up when it is not (stack.ensure); a cluster
-- that cannot be reached fails them, with the reason. Jobs are bounded or
-- cancelled/stopped by the spec that starts them; restart-strategy none makes
-- a failing job FAILED at once.
local flink = require 'fmhost.flink'
local T = require 'fmhost.testing'
local lfs = require 'lfs'

local WAIT = 120000 -- ms: generous; only a hang reaches it

local client, why_not

-- Connect once; decide whether the specs can run.
local function cluster()
  if client or why_not then return client end
  local up, why = require('fmhost.stack').ensure(cfg, { 'mariadb', 'flink' })
  if not up then
    why_not = 'the local stack did not start: ' .. tostring(why)
    return nil
  end
  client = flink.client { timeout_ms = 30000, poll_ms = 200 }
  local ov, msg = client:overview()
  if not ov then
    why_not = 'the Flink cluster is not reachable (' .. msg .. ')'
    client = nil
    return nil
  end
  local info, gmsg = client:gateway_info()
  if not info then
    why_not = 'the SQL gateway is not reachable (' .. gmsg .. ')'
    client = nil
  end
  return client
end

-- it() on the cluster: fails with the reason when there is none.
local function fit(name, fn)
  it(name, function()
    if not cluster() then error(why_not, 0) end
    fn(client)
  end)
end

-- A streaming session with checkpoints and no restarts.
local function streaming_session(c, extra)
  local props = {
    ['execution.runtime-mode'] = 'streaming',
    ['execution.checkpointing.interval'] = '1s',
    ['restart-strategy.type'] = 'none',
    ['table.dml-sync'] = 'false',
  }
  for k, v in pairs(extra or {}) do props[k] = v end
  return assert(c:session { properties = props })
end

-- Submit an INSERT and return its Job handle.
local function submit(c, s, sql)
  local op = assert(s:execute(sql))
  assert(op:wait { timeout_ms = WAIT })
  local id = assert(op:job_id())
  op:close()
  return c:job_handle(id)
end

-- Poll fn until it returns a true value or the timeout; the value, or nil.
local function eventually(timeout_ms, fn)
  local deadline = os.time() + timeout_ms / 1000
  repeat
    local v = fn()
    if v then return v end
    os.execute('sleep 0.5')
  until os.time() > deadline
  return nil
end

-- Wait until every task of the job runs: a job is RUNNING as soon as it is
-- scheduled, while its tasks may still be DEPLOYING or INITIALIZING, and a
-- savepoint (or anything else that needs the tasks) fails until they run.
local function wait_tasks_running(job)
  local last = ''
  local ok = eventually(WAIT, function()
    local vs = job:vertices()
    if not vs or #vs == 0 then return false end
    local states = {}
    for _, v in ipairs(vs) do states[#states + 1] = v.name .. ' ' .. tostring(v.status) end
    last = table.concat(states, ', ')
    for _, v in ipairs(vs) do if v.status ~= 'RUNNING' then return false end end
    return true
  end)
  assert(ok, 'the job\'s tasks never all ran: ' .. last)
end

describe('fmhost.flink against the local Flink cluster #flink', function()
  fit('reads the cluster overview with a registered TaskManager and free slots', function(c)
    local ov = assert(c:overview())
    assert.is_true(ov.taskmanagers >= 1)
    assert.is_true(ov['slots-total'] >= 1)
    assert.matches('^1%.20%.', ov['flink-version'])
  end)

  fit('reads the dashboard config with the same Flink version', function(c)
    local conf = assert(c:config())
    local ov = assert(c:overview())
    assert.are.equal(ov['flink-version'], conf['flink-version'])
    assert.is_number(conf['refresh-interval'])
  end)

  fit('lists the TaskManagers with their slots and hardware', function(c)
    local tms = assert(c:taskmanagers())
    assert.is_true(#tms >= 1)
    assert.matches('^%x+', tms[1].id)
    assert.is_true(tms[1].slotsNumber >= 1)
    assert.is_true(tms[1].hardware.cpuCores >= 1)
  end)

  fit('reads the SQL gateway version', function(c)
    local info = assert(c:gateway_info())
    assert.are.equal('Apache Flink', info.productName)
    assert.matches('^1%.20%.', info.version)
  end)

  fit('runs a batch SELECT and returns its rows in column order with NULL as flink.NULL', function(c)
    local s <close> = assert(c:session { properties = { ['execution.runtime-mode'] = 'batch' } })
    assert.is_true(s:heartbeat())
    local rows, res = s:run([[SELECT * FROM (VALUES
                               (1, CAST('a' AS STRING), CAST(NULL AS INT), CAST(2.5 AS DOUBLE), TRUE),
                               (2, CAST('ü€' AS STRING), 7, CAST(-1 AS DOUBLE), FALSE)) AS t(i, s, n, d, b)]],
                            { timeout_ms = WAIT })
    assert(rows, res)
    assert.are.same({ 'i', 's', 'n', 'd', 'b' }, res.columns)
    assert.are.same({ 'INTEGER', 'VARCHAR', 'INTEGER', 'DOUBLE', 'BOOLEAN' }, res.types)
    table.sort(rows, function(x, y) return x[1] < y[1] end)
    assert.are.equal(2, #rows)
    assert.are.same({ 1, 'a', flink.NULL, 2.5, true }, rows[1])
    assert.are.same({ 2, 'ü€', 7, -1.0, false }, rows[2])
    assert.is_true(res.eos)
  end)

  fit('returns DECIMAL values exactly, as strings with the column\'s scale, also beyond 64 bits', function(c)
    local s <close> = assert(c:session { properties = { ['execution.runtime-mode'] = 'batch' } })
    local rows, res = s:run([[SELECT CAST(1000 AS DECIMAL(20,0)), CAST(0.0000001 AS DECIMAL(20,8)),
                                     CAST(1.5 AS DECIMAL(10,4)), CAST('12345678901234567.89' AS DECIMAL(30,2)),
                                     CAST('18446744073709551615' AS DECIMAL(20,0)), CAST(-0.5 AS DECIMAL(5,3)),
                                     CAST(NULL AS DECIMAL(5,2)), CAST(1.25 AS DOUBLE), 9223372036854775807]],
                            { timeout_ms = WAIT })
    assert(rows, res)
    assert.are.same({ '1000', '0.00000010', '1.5000', '12345678901234567.89', '18446744073709551615',
                      '-0.500', flink.NULL, 1.25, math.maxinteger }, rows[1])
    assert.are.equal('DECIMAL', res.types[1])
    local text = assert(s:run('SELECT CAST(1.5 AS DECIMAL(10,4)), CAST(NULL AS STRING), 7',
                              { row_format = 'PLAIN_TEXT' }))
    assert.are.same({ '1.5000', flink.NULL, '7' }, text[1])
  end)

  fit('reads the first rows of an unbounded streaming query, and closing it cancels its job', function(c)
    local s <close> = streaming_session(c)
    assert(s:run([[CREATE TEMPORARY TABLE src (id BIGINT, name STRING) WITH ('connector' = 'datagen',
                   'rows-per-second' = '50', 'fields.name.length' = '4')]]))
    local op = assert(s:execute('SELECT id, name FROM src'))
    assert.are.equal('FINISHED', assert(op:wait()))
    local rows, res = op:fetch_all { max_rows = 20, timeout_ms = WAIT }
    assert(rows, res)
    assert.is_true(#rows >= 20)
    assert.is_false(res.eos)
    for _, r in ipairs(rows) do
      assert.are.equal('number', type(r[1]))
      assert.are.equal(4, #r[2])
    end
    assert.matches('^%x+$', res.job_id)
    local job = c:job_handle(res.job_id)
    assert.are.equal('RUNNING', assert(job:wait('RUNNING', WAIT)))
    assert.is_true(op:close())
    assert.are.equal('CANCELED', assert(job:wait('CANCELED', WAIT)))
    assert.has_error(function() op:status() end)
  end)

  fit('fetches a result of many pages, following nextResultUri to the end', function(c)
    local s <close> = assert(c:session { properties = { ['execution.runtime-mode'] = 'batch' } })
    assert(s:run([[CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen',
                   'number-of-rows' = '5000', 'fields.id.kind' = 'sequence',
                   'fields.id.start' = '1', 'fields.id.end' = '5000')]]))
    local rows, res = s:run('SELECT id FROM gen', { timeout_ms = WAIT })
    assert(rows, res)
    assert.are.equal(5000, #rows)
    local sum = 0
    for _, r in ipairs(rows) do sum = sum + r[1] end
    assert.are.equal(5000 * 5001 // 2, sum)
  end)

  fit('returns the gateway\'s SQL error for a syntax error, with the body in info.detail', function(c)
    local s <close> = assert(c:session {})
    local rows, msg, info = s:run('SELEC 1 FORM nowhere')
    assert.is_nil(rows)
    assert.are.equal('flink', info.kind)
    assert.matches('SQL statement failed: org.apache.flink.table.api.SqlParserException: SQL parse failed.',
                   msg, 1, true)
    assert.matches('org.apache.calcite.sql.parser.SqlParseException', info.detail, 1, true)
  end)

  fit('names a missing table in the SQL error', function(c)
    local s <close> = assert(c:session {})
    local rows, msg = s:run('SELECT * FROM no_such_table_fmhost')
    assert.is_nil(rows)
    assert.matches("ValidationException: SQL validation failed. From line 1, column 15 to line 1, "
                   .. "column 34: Object 'no_such_table_fmhost' not found", msg, 1, true)
  end)

  fit('submits an INSERT, gets its job id, and sees the bounded job FINISHED', function(c)
    local s <close> = streaming_session(c)
    assert(s:run([[CREATE TEMPORARY TABLE src (id BIGINT) WITH ('connector' = 'datagen',
                   'number-of-rows' = '1000', 'fields.id.kind' = 'sequence',
                   'fields.id.start' = '1', 'fields.id.end' = '1000')]]))
    assert(s:run([[CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')]]))
    local job = submit(c, s, 'INSERT INTO sink SELECT id FROM src')
    assert.matches('^%x+$', job:id())
    assert.are.equal('FINISHED', assert(job:wait('FINISHED', WAIT)))
    local d = assert(job:detail())
    assert.are.equal(job:id(), d.jid)
    assert.are.equal('FINISHED', d.state)
    assert.is_true(#d.vertices >= 1)
    local listed
    for _, j in ipairs(assert(c:jobs())) do
      if j.jid == job:id() then listed = j end
    end
    assert.is_not_nil(listed, 'the job is not in /jobs/overview')
    assert.are.equal('FINISHED', listed.state)
    assert.are.equal(job:id(), assert(c:job(job:id())).jid)
  end)

  fit('reads metrics, backpressure and checkpoints of a running job, then cancels it', function(c)
    local s <close> = streaming_session(c)
    assert(s:run([[CREATE TEMPORARY TABLE src (id BIGINT) WITH ('connector' = 'datagen',
                   'rows-per-second' = '200')]]))
    assert(s:run([[CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')]]))
    local job = submit(c, s, 'INSERT INTO sink SELECT id FROM src')
    finally(function() job:cancel() end)
    assert.are.equal('RUNNING', assert(job:wait('RUNNING', WAIT)))
    wait_tasks_running(job)
    local vertices = assert(job:vertices())
    assert.is_true(#vertices >= 1)
    -- the JobManager fetches metrics every few seconds: poll
    local m = eventually(WAIT, function()
      local got = job:metrics(1, { 'numRecordsOut', 'numRecordsOutPerSecond' })
      return got and (got.numRecordsOut or 0) > 0 and got
    end)
    assert.is_not_nil(m, 'numRecordsOut never rose above 0')
    assert.is_number(m.numRecordsOutPerSecond)
    local per = assert(job:vertex_metrics(vertices[1].id, { '0.numRecordsOut' }))
    assert.is_number(per['0.numRecordsOut'])
    local bp = assert(job:backpressure(1))
    assert.is_truthy(bp.status == 'ok' or bp.status == 'deprecated')
    local cp = eventually(WAIT, function()
      local got = job:checkpoints()
      return got and got.counts and got.counts.completed >= 1 and got
    end)
    assert.is_not_nil(cp, 'no checkpoint completed')
    assert.are.equal('COMPLETED', cp.latest.completed.status)
    assert.is_true(job:cancel())
    assert.are.equal('CANCELED', assert(job:wait('CANCELED', WAIT)))
  end)

  fit('stops a streaming job with a savepoint and returns its path', function(c)
    local dir = T.tmpdir('fmhost-sp')
    finally(function() T.rmtree(dir) end)
    local s <close> = streaming_session(c)
    assert(s:run([[CREATE TEMPORARY TABLE src (id BIGINT) WITH ('connector' = 'datagen',
                   'rows-per-second' = '100')]]))
    assert(s:run([[CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')]]))
    local job = submit(c, s, 'INSERT INTO sink SELECT id FROM src')
    assert(job:wait('RUNNING', WAIT))
    wait_tasks_running(job)
    local path, msg = job:stop { savepoint_dir = 'file://' .. dir, drain = false, timeout_ms = WAIT }
    if not path then job:cancel() end
    assert(path, msg)
    local local_path = path:gsub('^file:', '')
    assert.matches('^' .. dir:gsub('%p', '%%%0'), local_path)
    assert.are.equal('file', lfs.attributes(local_path .. '/_metadata', 'mode'))
    assert.are.equal('FINISHED', assert(job:wait({ 'FINISHED' }, WAIT)))
  end)

  fit('makes job:wait return the root exception of a job that fails at run time', function(c)
    local s <close> = streaming_session(c)
    assert(s:run([[CREATE TEMPORARY TABLE src (id BIGINT) WITH ('connector' = 'datagen',
                   'number-of-rows' = '10', 'fields.id.kind' = 'sequence',
                   'fields.id.start' = '1', 'fields.id.end' = '10')]]))
    assert(s:run([[CREATE TEMPORARY TABLE sink (n INT) WITH ('connector' = 'blackhole')]]))
    -- 'x1' is no INT: the cast fails in the running task, not in the planner
    local job = submit(c, s, [[INSERT INTO sink SELECT CAST(CONCAT('x', CAST(id AS STRING)) AS INT) FROM src]])
    local ok, msg, info = job:wait('FINISHED', WAIT)
    assert.is_nil(ok, 'the job did not fail')
    assert.are.equal('flink', info.kind)
    assert.are.equal('FAILED', info.state)
    assert.are.equal(job:id(), info.job_id)
    assert.matches('is FAILED', msg, 1, true)
    assert.is_string(info.root_exception)
    assert.matches("x%d+", info.root_exception)
    assert.are.equal(info.root_exception, (job:root_exception()))
    local ex = assert(job:exceptions())
    assert.is_true(#ex.exceptionHistory.entries >= 1)
  end)

  fit('reports the missing MariaDB table a JDBC sink job failed on #mysql', function(c)
    local my = (cfg or {}).mysql or {}
    local url = ('jdbc:mysql://%s:%d/%s'):format(my.host or '127.0.0.1', my.port or 13306,
                                                 my.database or 'fmhost')
    local s <close> = streaming_session(c)
    assert(s:run([[CREATE TEMPORARY TABLE src (id BIGINT) WITH ('connector' = 'datagen',
                   'number-of-rows' = '10', 'fields.id.kind' = 'sequence',
                   'fields.id.start' = '1', 'fields.id.end' = '10')]]))
    local ok, msg = s:run(([[CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'jdbc',
                   'url' = '%s', 'table-name' = 'fmhost_no_such_table', 'driver' = 'com.mysql.cj.jdbc.Driver',
                   'username' = '%s', 'password' = '%s', 'sink.max-retries' = '0')]]):format(
                   url, my.user or 'fmhost', my.password or 'fmhost'))
    assert(ok, msg)
    local op = assert(s:execute('INSERT INTO sink SELECT id FROM src'))
    assert(op:wait { timeout_ms = WAIT })
    local job = c:job_handle(assert(op:job_id()))
    local done, fmsg, info = job:wait('FINISHED', WAIT)
    assert.is_nil(done, 'the job writing to a missing table finished')
    assert.are.equal('FAILED', info.state)
    assert.matches('fmhost_no_such_table', fmsg, 1, true)
    assert.matches("Table '[%w_]+%.fmhost_no_such_table' doesn't exist", info.root_exception)
  end)

  fit('uploads a job jar and runs it with arguments and parallelism', function(c)
    local lib = (function()
      local base = require('fmhost.stack').dir(cfg or {}) .. '/flink/jars'
      if lfs.attributes(base, 'mode') ~= 'directory' then return nil end
      for d in lfs.dir(base) do
        if d:match('^flink%-1%.20') and lfs.attributes(base .. '/' .. d .. '/lib', 'mode') then
          return base .. '/' .. d .. '/lib'
        end
      end
    end)()
    assert(lib, 'no Flink lib dir under the stack dir to compile a job jar against')
    assert(os.execute('command -v javac >/dev/null 2>&1'), 'no javac on PATH (tools/setup.sh installs openjdk-17-jdk-headless)')
    local dir = T.tmpdir('fmhost-jar')
    finally(function() T.rmtree(dir) end)
    T.write_file(dir .. '/SeqJob.java', [[
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.DiscardingSink;
public class SeqJob {
  public static void main(String[] args) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.fromSequence(1, Long.parseLong(args[1])).filter(x -> x > 0).addSink(new DiscardingSink<>());
    env.execute(args[0]);
  }
}
]])
    local q = T.shell_quote
    local cmd = ('cd %s && javac -nowarn -cp %s SeqJob.java >javac.log 2>&1 && jar cf seqjob.jar SeqJob*.class'):format(
      q(dir), q(lib .. '/*'))
    assert(os.execute(cmd), 'javac failed: ' .. T.read_file(dir .. '/javac.log'))
    local jarid = assert(c:upload_jar(dir .. '/seqjob.jar'))
    assert.matches('seqjob%.jar$', jarid)
    local job = assert(c:run_jar(jarid, { entry_class = 'SeqJob', args = { 'fmhost-seq-job', '500' },
                                          parallelism = 1, timeout_ms = WAIT }))
    assert.are.equal('FINISHED', assert(job:wait('FINISHED', WAIT)))
    local d = assert(job:detail())
    assert.are.equal('fmhost-seq-job', d.name)
    for _, v in ipairs(d.vertices) do assert.are.equal(1, v.parallelism) end
    c:rest('DELETE', '/jars/' .. jarid)
  end)
end)
