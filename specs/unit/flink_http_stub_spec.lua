-- fmhost.flink's own error handling, against a local HTTP STUB.
--
-- The stub (flink._stub_server, test support in C) is a scripted HTTP server
-- on 127.0.0.1: it answers with what each spec tells it to, or never answers.
-- Nothing here claims to check Flink: these specs check how the client sorts
-- transport failures, HTTP statuses and bad bodies into nil, msg, info.
-- The real cluster is checked by specs/scenarios/flink_rest_spec.lua.
local flink = require 'fmhost.flink'
local system = require 'system'

local JOB = '0123456789abcdef0123456789abcdef'
local LONG = 30000 -- ms: an upper bound that only a hang reaches

-- A Flink-style error body: {"errors":[...a Java stack trace...]}.
local TRACE = table.concat({
  '<Exception on server side:',
  'org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute the request.',
  '\tat org.apache.flink.runtime.rest.handler.AbstractRestHandler.handle(AbstractRestHandler.java:83)',
  'Caused by: java.util.concurrent.CompletionException: java.lang.IllegalStateException: outer',
  '\tat java.base/java.util.concurrent.CompletableFuture.encodeThrowable(CompletableFuture.java:315)',
  'Caused by: java.lang.IllegalStateException: the deepest cause "quoted" here',
  '\tat org.example.Thing.run(Thing.java:1)',
  '',
  'End of exception on server side>' }, '\n')
local ERROR_BODY = '{"errors":["Internal server error.",' .. require('cjson').encode(TRACE) .. ']}'

local function stub(replies)
  local s = assert(flink._stub_server { replies = replies })
  return s, flink.client { rest = s:url(), gateway = s:url(), timeout_ms = 5000, poll_ms = 20 }
end

local function elapsed_ms(f)
  local t0 = system.monotime()
  local a, b, c = f()
  return (system.monotime() - t0) * 1000, a, b, c
end

describe('fmhost.flink HTTP error handling (stub server)', function()
  it('returns nil, msg, info with retryable = true when the connection is refused', function()
    local s = assert(flink._stub_server { replies = { { status = 200, body = '{}' } } })
    local url = s:url()
    s:close() -- nothing listens on the port any more
    local c = flink.client { rest = url, timeout_ms = 5000 }
    local ok, msg, info = c:overview()
    assert.is_nil(ok)
    assert.are.equal('curl', info.kind)
    assert.is_true(info.retryable)
    assert.matches('cannot connect', msg)
    assert.matches(url .. '/overview', msg, 1, true)
    assert.is_nil(info.status)
  end)

  it('fires the timeout on a server that accepts and never answers, and calls it retryable', function()
    local s = stub { { hang = true } }
    local c = flink.client { rest = s:url(), timeout_ms = 300 }
    local ms, ok, msg, info = elapsed_ms(function() return c:overview() end)
    s:close()
    assert.is_nil(ok)
    assert.are.equal('timeout', info.kind)
    assert.is_true(info.retryable)
    assert.matches('300 ms', msg)
    assert.is_true(ms >= 290, ('returned after %.0f ms, before the timeout'):format(ms))
    assert.is_true(ms < LONG, 'the timeout did not fire')
  end)

  it('keeps a 500 body whole in info.detail and names its deepest cause in msg', function()
    local s, c = stub { { status = 500, body = ERROR_BODY } }
    local ok, msg, info = c:jobs()
    s:close()
    assert.is_nil(ok)
    assert.are.equal('http', info.kind)
    assert.are.equal(500, info.status)
    assert.is_false(info.retryable)
    assert.are.equal(ERROR_BODY, info.detail)
    assert.matches('HTTP 500 from GET ', msg, 1, true)
    assert.matches('java.lang.IllegalStateException: the deepest cause "quoted" here', msg, 1, true)
  end)

  it('calls a 500 retryable only when the body says the service is still starting', function()
    local body = '{"errors":["Service temporarily unavailable due to an ongoing leader election. Please refresh."]}'
    local s, c = stub { { status = 500, body = body } }
    local ok, _, info = c:overview()
    s:close()
    assert.is_nil(ok)
    assert.is_true(info.retryable)
  end)

  it('calls 408, 429, 502, 503 and 504 retryable and other 4xx not', function()
    for status, retryable in pairs { [408] = true, [429] = true, [502] = true, [503] = true,
                                     [504] = true, [400] = false, [401] = false, [409] = false } do
      local s, c = stub { { status = status, body = '{"errors":["x"]}' } }
      local ok, _, info = c:overview()
      s:close()
      assert.is_nil(ok)
      assert.are.equal(status, info.status)
      assert.are.equal(retryable, info.retryable, 'HTTP ' .. status)
    end
  end)

  it('reports a 404 with Flink\'s own message and does not retry it', function()
    local body = '{"errors":["Job ' .. JOB .. ' not found"]}'
    local s, c = stub { { status = 404, body = body } }
    local ok, msg, info = c:job(JOB)
    s:close()
    assert.is_nil(ok)
    assert.are.equal(404, info.status)
    assert.is_false(info.retryable)
    assert.matches('HTTP 404 from GET .*/jobs/' .. JOB .. ': Job ' .. JOB .. ' not found', msg)
    assert.are.equal(body, info.detail)
  end)

  it('reports malformed JSON clearly, keeping the body', function()
    local body = '{"taskmanagers": 1, "slots-total": '
    local s, c = stub { { status = 200, body = body } }
    local ok, msg, info = c:overview()
    s:close()
    assert.is_nil(ok)
    assert.are.equal('json', info.kind)
    assert.is_false(info.retryable)
    assert.matches('malformed JSON in the response to GET .*/overview', msg)
    assert.matches('line 1', msg)
    assert.are.equal(body, info.detail)
  end)

  it('calls a connection closed without an answer retryable', function()
    local s, c = stub { { close = true } }
    local ok, msg, info = c:overview()
    s:close()
    assert.is_nil(ok)
    assert.are.equal('curl', info.kind)
    assert.is_true(info.retryable, msg)
  end)

  it('turns a statement the gateway rejects into the SQL error with the whole body', function()
    local body = '{"errors":["Internal server error.","<Exception on server side:\\n'
      .. 'org.apache.flink.table.gateway.api.utils.SqlGatewayException: Failed to fetchResults.\\n'
      .. '\\tat x.y(Z.java:1)\\nCaused by: org.apache.flink.table.api.ValidationException: '
      .. 'Could not find any factory for identifier \'jdbc\' that implements '
      .. '\'org.apache.flink.table.factories.DynamicTableFactory\' in the classpath.\\n\\n'
      .. 'Available factory identifiers are:\\n\\nblackhole\\ndatagen\\n\\tat a.b(C.java:2)\\n\\n'
      .. 'End of exception on server side>"]}'
    local s, c = stub {
      { status = 200, body = '{"sessionHandle":"s-1"}' },
      { status = 200, body = '{"operationHandle":"o-1"}' },
      { status = 200, body = '{"status":"RUNNING"}' },
      { status = 200, body = '{"status":"ERROR"}' },
      { status = 500, body = body },
      { status = 200, body = '{"status":"CLOSED"}' },
    }
    local sess = assert(c:session { properties = { ['execution.runtime-mode'] = 'batch' } })
    local rows, msg, info = sess:run("INSERT INTO t SELECT 1")
    sess:close()
    local seen = s:requests()
    s:close()
    assert.is_nil(rows)
    assert.are.equal('flink', info.kind)
    assert.are.equal(500, info.status)
    assert.are.equal(body, info.detail)
    assert.matches("SQL statement failed: org.apache.flink.table.api.ValidationException: "
                   .. "Could not find any factory for identifier 'jdbc'", msg, 1, true)
    assert.are.equal('POST', seen[1].method)
    assert.are.equal('/v2/sessions', seen[1].path)
    assert.are.same({ properties = { ['execution.runtime-mode'] = 'batch' } },
                    require('cjson').decode(seen[1].body))
    assert.are.equal('/v2/sessions/s-1/statements', seen[2].path)
    assert.are.equal('/v2/sessions/s-1/operations/o-1/result/0?rowFormat=JSON', seen[5].path)
    assert.are.equal('DELETE', seen[6].method)
  end)

  local EOS_WITH_A_JOB = '{"resultType":"EOS","jobID":"' .. JOB .. '","resultKind":"SUCCESS_WITH_CONTENT",'
    .. '"results":{"columns":[{"name":"n","logicalType":{"type":"INTEGER"}}],'
    .. '"data":[{"kind":"INSERT","fields":[1]},{"kind":"INSERT","fields":[null]}]}}'

  it('fetches a finished result from the gateway once: fetch_all and job_id again reuse it', function()
    local s, c = stub {
      { status = 200, body = '{"sessionHandle":"s-1"}' },
      { status = 200, body = '{"operationHandle":"o-1"}' },
      { status = 200, body = EOS_WITH_A_JOB },
      { status = 200, body = '{"status":"CLOSED"}' },
    }
    local sess = assert(c:session {})
    local op = assert(sess:execute('SELECT n FROM t'))
    local rows, res = assert(op:fetch_all())
    local again, res2 = assert(op:fetch_all())
    assert.are.equal(JOB, op:job_id())
    assert.is_true(op:close())
    local seen = s:requests()
    s:close()
    assert.are.same({ { 1 }, { flink.NULL } }, rows)
    assert.are.same(rows, again)
    assert.are.same(res, res2)
    assert.are.same({ 'n' }, res.columns)
    assert.are.same({ 'INTEGER' }, res.types)
    assert.are.equal(JOB, res.job_id)
    assert.is_true(res.eos)
    assert.are.equal(4, #seen)
    assert.are.equal('/v2/sessions/s-1/operations/o-1/result/0?rowFormat=JSON', seen[3].path)
    assert.are.equal('DELETE', seen[4].method)
  end)

  it('runs a statement: waits, fetches its rows and closes the operation', function()
    local s, c = stub {
      { status = 200, body = '{"sessionHandle":"s-1"}' },
      { status = 200, body = '{"operationHandle":"o-1"}' },
      { status = 200, body = '{"status":"FINISHED"}' },
      { status = 200, body = EOS_WITH_A_JOB },
      { status = 200, body = '{"status":"CLOSED"}' },
    }
    local sess = assert(c:session {})
    local rows, res = sess:run('SELECT n FROM t')
    local seen = s:requests()
    s:close()
    assert.are.same({ { 1 }, { flink.NULL } }, rows)
    assert.are.equal(2, res.count)
    assert.are.equal(5, #seen)
    assert.are.equal('/v2/sessions/s-1/operations/o-1/status', seen[3].path)
    assert.are.equal('DELETE', seen[5].method)
    assert.are.equal('/v2/sessions/s-1/operations/o-1/close', seen[5].path)
  end)

  it('makes job:wait return the root exception when the job reaches FAILED', function()
    local root = 'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy\n'
      .. '\tat a.b(C.java:1)\nCaused by: java.sql.SQLSyntaxErrorException: Table \'fmhost.nope\' doesn\'t exist\n'
      .. '\tat d.e(F.java:2)'
    local ex = require('cjson').encode {
      ['root-exception'] = 'older text', timestamp = 1,
      exceptionHistory = { truncated = false, entries = {
        { exceptionName = 'org.apache.flink.runtime.JobException', stacktrace = root, timestamp = 20,
          concurrentExceptions = {}, failureLabels = {} },
        { exceptionName = 'java.lang.Exception', stacktrace = 'an earlier failure', timestamp = 10,
          concurrentExceptions = {}, failureLabels = {} } } } }
    local s, c = stub {
      { status = 200, body = '{"jid":"' .. JOB .. '","state":"RUNNING"}' },
      { status = 200, body = '{"jid":"' .. JOB .. '","state":"FAILED"}' },
      { status = 200, body = ex },
    }
    local job = c:job_handle(JOB)
    local ok, msg, info = job:wait('FINISHED', LONG)
    s:close()
    assert.is_nil(ok)
    assert.are.equal('flink', info.kind)
    assert.are.equal('FAILED', info.state)
    assert.are.equal(JOB, info.job_id)
    assert.are.equal(root, info.root_exception)
    assert.are.equal(root, info.detail)
    assert.matches("job " .. JOB .. " is FAILED (waiting for FINISHED): java.sql.SQLSyntaxErrorException: "
                   .. "Table 'fmhost.nope' doesn't exist", msg, 1, true)
  end)

  it('makes job:wait give up at its timeout with the last state', function()
    local s, c = stub {
      { status = 200, body = '{"jid":"' .. JOB .. '","state":"RESTARTING"}' },
    }
    local job = c:job_handle(JOB)
    local ms, ok, msg, info = elapsed_ms(function() return job:wait({ 'RUNNING' }, 300) end)
    s:close()
    assert.is_nil(ok)
    assert.are.equal('timeout', info.kind)
    assert.are.equal('RESTARTING', info.state)
    assert.matches('did not reach RUNNING within 300 ms', msg)
    assert.is_true(ms >= 290 and ms < LONG)
  end)

  it('surfaces a failed stop-with-savepoint with its stack trace', function()
    local trace = 'java.util.concurrent.CompletionException: x\nCaused by: '
      .. 'org.apache.flink.runtime.checkpoint.CheckpointException: No savepoint directory configured\n\tat a.b(C.java:1)'
    local s, c = stub {
      { status = 202, body = '{"request-id":"abc"}' },
      { status = 200, body = '{"status":{"id":"IN_PROGRESS"}}' },
      { status = 200, body = require('cjson').encode {
          status = { id = 'COMPLETED' },
          operation = { ['failure-cause'] = { class = 'x', ['stack-trace'] = trace } } } },
    }
    local job = c:job_handle(JOB)
    local ok, msg, info = job:stop { drain = true, savepoint_dir = '/tmp/sp' }
    local seen = s:requests()
    s:close()
    assert.is_nil(ok)
    assert.are.equal('flink', info.kind)
    assert.are.equal(trace, info.detail)
    assert.matches('No savepoint directory configured', msg, 1, true)
    assert.are.equal('POST', seen[1].method)
    assert.are.equal('/jobs/' .. JOB .. '/stop', seen[1].path)
    assert.are.same({ drain = true, targetDirectory = '/tmp/sp' }, require('cjson').decode(seen[1].body))
    assert.are.equal('/jobs/' .. JOB .. '/savepoints/abc', seen[2].path)
  end)

  it('counts restarts by the highest subtask attempt, with the numRestarts metric as a floor only', function()
    local V1, V2 = string.rep('a', 32), string.rep('b', 32)
    local detail = '{"jid":"' .. JOB .. '","state":"FINISHED","vertices":[{"id":"' .. V1 .. '"},{"id":"' .. V2 .. '"}]}'
    local function subtasks(...)
      local t = {}
      for i, a in ipairs { ... } do t[i] = ('{"subtask":%d,"attempt":%d}'):format(i - 1, a) end
      return { status = 200, body = '{"id":"x","subtasks":[' .. table.concat(t, ',') .. ']}' }
    end
    -- the metric store still says 1 (or nothing): the attempts say 2
    local s, c = stub { { status = 200, body = detail }, subtasks(0, 2), subtasks(1),
                        { status = 200, body = '[{"id":"numRestarts","value":"1"}]' } }
    assert.are.equal(2, c:job_handle(JOB):restarts())
    local seen = s:requests()
    s:close()
    assert.are.same({ '/jobs/' .. JOB, '/jobs/' .. JOB .. '/vertices/' .. V1, '/jobs/' .. JOB .. '/vertices/' .. V2,
                      '/jobs/' .. JOB .. '/metrics?get=numRestarts' },
                    { seen[1].path, seen[2].path, seen[3].path, seen[4].path })
    -- a metric above the attempts (subtasks not restarted by a later failover) counts
    s, c = stub { { status = 200, body = detail }, subtasks(0), subtasks(0),
                  { status = 200, body = '[{"id":"numRestarts","value":"3"}]' } }
    assert.are.equal(3, c:job_handle(JOB):restarts())
    s:close()
    -- no metric yet: the attempts alone
    s, c = stub { { status = 200, body = detail }, subtasks(0), subtasks(1), { status = 200, body = '[]' } }
    assert.are.equal(1, c:job_handle(JOB):restarts())
    s:close()
    -- a vertex that cannot be read: nil and Flink's message, not a count
    s, c = stub { { status = 200, body = detail },
                  { status = 404, body = '{"errors":["Job ' .. JOB .. ' not found"]}' } }
    local n, msg = c:job_handle(JOB):restarts()
    s:close()
    assert.is_nil(n)
    assert.matches('not found', msg)
  end)

  it('cancels with PATCH ?mode=cancel and uploads a jar as multipart field "jarfile"', function()
    local jar = os.tmpname()
    local f = assert(io.open(jar, 'wb')); f:write('PK\3\4 not really a jar'); f:close()
    local s, c = stub {
      { status = 202, body = '' },
      { status = 200, body = '{"filename":"/tmp/flink-web/flink-web-upload/1234_job.jar","status":"success"}' },
    }
    assert.is_true(c:job_handle(JOB):cancel())
    local jarid = c:upload_jar(jar)
    local seen = s:requests()
    s:close()
    os.remove(jar)
    assert.are.equal('1234_job.jar', jarid)
    assert.are.equal('PATCH', seen[1].method)
    assert.are.equal('/jobs/' .. JOB .. '?mode=cancel', seen[1].path)
    assert.are.equal('/jars/upload', seen[2].path)
    assert.matches('^multipart/form%-data', seen[2].content_type)
    assert.matches('name="jarfile"', seen[2].body, 1, true)
    assert.matches('Content-Type: application/x-java-archive', seen[2].body, 1, true)
    assert.matches('PK\3\4 not really a jar', seen[2].body, 1, true)
  end)

  it('reports a jar that cannot be read without sending anything', function()
    local s, c = stub { { status = 200, body = '{}' } }
    local ok, msg, info = c:upload_jar('/nonexistent/job.jar')
    local seen = s:requests()
    s:close()
    assert.is_nil(ok)
    assert.are.equal('os', info.kind)
    assert.matches('/nonexistent/job.jar', msg, 1, true)
    assert.are.equal(0, #seen)
  end)
end)

describe('fmhost.flink misuse', function()
  it('raises on a URL that is not http', function()
    assert.has_error(function() flink.client { rest = 'ftp://x' } end)
  end)

  it('raises on a job id that is not 32 hex digits', function()
    local c = flink.client { rest = 'http://127.0.0.1:1' }
    assert.has_error(function() c:job_handle('nope') end)
  end)

  it('raises on a state Flink does not have', function()
    local c = flink.client { rest = 'http://127.0.0.1:1' }
    assert.has_error(function() c:job_handle(JOB):wait('DONE', 10) end)
  end)

  it('raises on a closed client', function()
    local c = flink.client { rest = 'http://127.0.0.1:1' }
    c:close()
    assert.has_error(function() c:overview() end)
  end)

  -- open a session, execute one statement, close the operation, close the session
  local SESSION_WITH_ONE_OPERATION = {
    { status = 200, body = '{"sessionHandle":"s-1"}' },
    { status = 200, body = '{"operationHandle":"o-1"}' },
    { status = 200, body = '{"status":"CLOSED"}' },
    { status = 200, body = '{}' },
  }

  it('closes an Operation on the gateway when its <close> variable goes out of scope', function()
    local s, c = stub(SESSION_WITH_ONE_OPERATION)
    local sess = assert(c:session {})
    local held
    do
      local op <close> = assert(sess:execute('SELECT 1'))
      held = op
    end
    assert.are.same({ false, 'already closed' }, { held:close() })
    assert.has_error(function() held:status() end, "calling 'status' on bad self (the operation is closed)")
    assert.is_true(sess:close())
    local seen = s:requests()
    s:close()
    assert.are.equal('DELETE', seen[3].method)
    assert.are.equal('/v2/sessions/s-1/operations/o-1/close', seen[3].path)
    assert.are.equal(4, #seen)
  end)

  it('lets a Job handle go with <close>, after which its methods raise', function()
    local c = flink.client { rest = 'http://127.0.0.1:1' }
    local held
    do
      local job <close> = c:job_handle(JOB)
      held = job
    end
    assert.matches('closed', tostring(held))
    assert.has_error(function() held:state() end, "calling 'state' on bad self (the job handle is closed)")
    assert.are.same({ false, 'already closed' }, { held:close() })
    local job = c:job_handle(JOB)
    assert.is_true(job:close())
    assert.are.equal(JOB, tostring(job):match('%((%x+),'))
    c:close()
  end)

  it('answers a second close() of a Client, Session, Operation, Job and stub server with false, "already closed"', function()
    local s, c = stub(SESSION_WITH_ONE_OPERATION)
    local sess = assert(c:session {})
    local op = assert(sess:execute('SELECT 1'))
    local job = c:job_handle(JOB)
    for _, h in ipairs { op, sess, job, c, s } do
      assert.is_true(h:close())
      assert.are.same({ false, 'already closed' }, { h:close() })
    end
  end)

  it('raises on a body it cannot send as JSON, naming why', function()
    local c = flink.client { rest = 'http://127.0.0.1:1' }
    assert.has_error(function() c:rest('POST', '/x', { a = { 1, { b = print } } }) end,
                     'cannot send a function as JSON')
    assert.has_error(function() c:rest('POST', '/x', { [true] = 1 }) end, 'a JSON object needs string keys')
    local deep = {}
    local t = deep
    for _ = 1, 101 do t[1] = {}; t = t[1] end
    assert.has_error(function() c:rest('POST', '/x', deep) end, 'body nested too deeply')
  end)
end)

describe('fmhost.flink deeply nested JSON (stub server)', function()
  -- in a child fmhost: a Lua stack overrun corrupts memory, and a fresh
  -- process shows it reliably (it crashes at the latest when it closes)
  local CHILD = [[
local flink = require 'fmhost.flink'
local depth = 200
local s = assert(flink._stub_server { replies = { { body = string.rep('[', depth) .. string.rep(']', depth) } } })
local c = flink.client { rest = s:url(), gateway = s:url(), timeout_ms = 5000 }
local body, t = {}, nil
t = body
for _ = 1, 99 do t[1] = {}; t = t[1] end
local got = assert(c:rest('POST', '/deep', body))
local n = 1
while got[1] do got, n = got[1], n + 1 end
print(n, s:requests()[1].body)
s:close(); c:close(); collectgarbage()
]]

  it('sends a body nested 100 deep and decodes an answer nested 200 deep', function()
    local r = require('fmhost.testing').run_fmhost({ '-e', CHILD }, { timeout_ms = 60000 })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal('200\t' .. string.rep('[', 99) .. '{}' .. string.rep(']', 99) .. '\n', r.stdout)
  end)
end)

describe('fmhost.flink stack trace summaries', function()
  it('takes the first line of the deepest "Caused by:"', function()
    assert.are.equal('java.lang.IllegalStateException: the deepest cause "quoted" here',
                     flink._summarize(TRACE))
  end)

  it('prefers the deepest Flink table API exception of a SQL error to Calcite\'s fragments', function()
    local trace = 'org.apache.flink.table.gateway.api.utils.SqlGatewayException: Failed to fetchResults.\n'
      .. 'Caused by: org.apache.flink.table.api.SqlParserException: SQL parse failed. Encountered "FORM"\n'
      .. '\t... 7 more\nCaused by: org.apache.calcite.sql.parser.SqlParseException: Encountered "FORM"\n'
    assert.are.equal('org.apache.flink.table.api.SqlParserException: SQL parse failed. Encountered "FORM"',
                     flink._summarize(trace))
  end)

  it('takes the first line that is not a wrapper when nothing is "Caused by:"', function()
    assert.are.equal('Job abc not found', flink._summarize('<Exception on server side:\nJob abc not found\n\tat x'))
  end)

  it('uses the pool\'s NULL sentinel for SQL NULL', function()
    assert.are.equal(require('fmhost.pool').NULL, flink.NULL)
  end)
end)
