-- The cause a failed Flink job is reported with: the deepest cause of its
-- Java exception chain that says what went wrong, never one of Flink's
-- wrappers ("Recovery is suppressed by NoRestartBackoffTimeStrategy"), a
-- "[CIRCULAR REFERENCE: ...]" line, or a cause inside a "Suppressed:" block
-- (cleanup that failed after the failure). Checked on fmhost.flink.summarize
-- (the C summary behind job:wait's message), on job:wait itself against a
-- local HTTP STUB, and on fmhost.conformance's cause and verdict text.
-- The traces follow the shape of real Flink 1.20 exception histories (a
-- JDBC sink refusing a row); no Flink runs here.
local flink = require 'fmhost.flink'
local C = require 'fmhost.conformance'

local JOB = '0123456789abcdef0123456789abcdef'
local LONG = 30000

local REAL = "com.mysql.cj.jdbc.exceptions.MysqlDataTruncation: Data truncation: Out of range value for column 'f' at row 1"

local function trace(lines) return table.concat(lines, '\n') end

local at = '\tat org.apache.flink.runtime.scheduler.DefaultScheduler.recordTaskFailure(DefaultScheduler.java:281)'

-- A job failure whose chain ends in a reference back to its first exception.
local CIRCULAR = trace {
  'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy', at,
  'Caused by: java.lang.RuntimeException: Writing records to JDBC failed.', at,
  "Caused by: java.io.IOException: java.sql.BatchUpdateException: Data truncation: Out of range value for column 'f' at row 1",
  at, "Caused by: java.sql.BatchUpdateException: Data truncation: Out of range value for column 'f' at row 1", at,
  'Caused by: ' .. REAL, at, '\t... 24 more',
  'Caused by: [CIRCULAR REFERENCE: org.apache.flink.runtime.JobException: Recovery is suppressed by '
    .. 'NoRestartBackoffTimeStrategy]',
}

-- The deepest cause of the chain carries a Suppressed block with causes of
-- its own, printed after it (deeper indentation).
local SUPPRESSED = trace {
  'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy', at,
  'Caused by: java.lang.Exception: Could not perform checkpoint 1 for operator Sink: snk (1/1)#0.', at,
  'Caused by: ' .. REAL, at,
  '\tSuppressed: java.lang.RuntimeException: Writing records to JDBC failed.', '\t\tat a.b(C.java:1)',
  '\tCaused by: java.lang.InterruptedException: sleep interrupted', '\t\tat d.e(F.java:2)',
  '\t\tSuppressed: java.io.IOException: closing', '\t\tCaused by: java.net.SocketException: Socket closed',
}

-- Nothing but wrappers below the first line: the deepest of them still
-- says more than "Recovery is suppressed".
local WRAPPERS = trace {
  'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy', at,
  'Caused by: java.util.concurrent.CompletionException: java.io.IOException: No space left on device', at,
  'Caused by: [CIRCULAR REFERENCE: java.util.concurrent.CompletionException: java.io.IOException: No space left]',
}

describe('the cause of a failed Flink job', function()
  it('skips a "[CIRCULAR REFERENCE: ...]" at the end of the chain', function()
    assert.are.equal(REAL, flink.summarize(CIRCULAR))
    assert.are.equal(REAL, C.cause(CIRCULAR))
  end)

  it('takes the deepest cause of the chain, not a cause inside a Suppressed: block', function()
    assert.are.equal(REAL, flink.summarize(SUPPRESSED))
    assert.are.equal(REAL, C.cause(SUPPRESSED))
  end)

  it('never leads with a wrapper while a cause below it is known', function()
    local want = 'java.util.concurrent.CompletionException: java.io.IOException: No space left on device'
    assert.are.equal(want, flink.summarize(WRAPPERS))
    assert.are.equal(want, C.cause(WRAPPERS))
    -- alone, the wrapper is all there is to say
    local alone = 'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy\n' .. at
    assert.are.equal('org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy',
                     flink.summarize(alone))
  end)

  it('makes job:wait name the real cause when the job reaches FAILED', function()
    local ex = require('cjson').encode {
      ['root-exception'] = CIRCULAR, timestamp = 1,
      exceptionHistory = { truncated = false, entries = {
        { exceptionName = 'org.apache.flink.runtime.JobException', stacktrace = CIRCULAR, timestamp = 20,
          concurrentExceptions = {}, failureLabels = {} } } } }
    local s = assert(flink._stub_server { replies = {
      { status = 200, body = '{"jid":"' .. JOB .. '","state":"FAILED"}' },
      { status = 200, body = ex },
    } })
    local c = flink.client { rest = s:url(), gateway = s:url(), timeout_ms = 5000, poll_ms = 20 }
    local ok, msg, info = c:job_handle(JOB):wait('FINISHED', LONG)
    s:close()
    assert.is_nil(ok)
    assert.are.equal('FAILED', info.state)
    assert.are.equal(CIRCULAR, info.root_exception)
    assert.are.equal('job ' .. JOB .. ' is FAILED (waiting for FINISHED): ' .. REAL, msg)
  end)

  it('makes a conformance verdict lead with the real cause', function()
    local r = { seed = 7, rows = 10, table = 'cf_1', case = { columns = {} }, columns = {},
                facts = { job_id = JOB, state = 'FAILED', cause = C.cause(SUPPRESSED) } }
    assert.are.equal('seed 7, 10 rows, table cf_1, job ' .. JOB .. ' FAILED: ' .. REAL, C.describe(r))
  end)
end)
