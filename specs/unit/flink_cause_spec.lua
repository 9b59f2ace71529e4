-- The cause a failed Flink job is reported with: the deepest cause of its
-- Java exception chain that says what went wrong, never one of Flink's
-- wrappers ("Recovery is suppressed by NoRestartBackoffTimeStrategy"), a
-- "[CIRCULAR REFERENCE: ...]" line, or a cause inside a "Suppressed:" block
-- (cleanup that failed after the failure). The database driver's cause
-- leads where there is one, with the connector's context ("JDBC write
-- failed: ...") and a deeper network cause. Checked on fmhost.flink.summarize
-- (the C summary behind job:wait's message, the one implementation), on
-- job:wait itself against a local HTTP STUB, and on fmhost.conformance's and
-- fmhost.pipeline's cause and verdict text. The traces follow the shape of
-- real Flink 1.20 exception histories, and two ARE real ones
-- (specs/fixtures/flink_traces: root exceptions of jobs of
-- examples/pipelines/orders that failed on a network cut and on a TINYINT
-- column in strict mode); no Flink runs here.
local flink = require 'fmhost.flink'
local C = require 'fmhost.conformance'

local JOB = '0123456789abcdef0123456789abcdef'
local LONG = 30000

local REAL = "com.mysql.cj.jdbc.exceptions.MysqlDataTruncation: Data truncation: Out of range value for column 'f' at row 1"
-- REAL under the JDBC sink's "Writing records to JDBC failed."
local JDBC_REAL = "JDBC write failed: Data truncation: Out of range value for column 'f' at row 1"
local P = require 'fmhost.pipeline'

local function fixture(name)
  local f = assert(io.open(_FMHOST_ROOT .. '/specs/fixtures/flink_traces/' .. name .. '.txt'))
  local t = f:read('a')
  f:close()
  return t
end

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
    assert.are.equal(JDBC_REAL, flink.summarize(CIRCULAR))
    assert.are.equal(JDBC_REAL, C.cause(CIRCULAR))
    assert.are.equal(JDBC_REAL, P.cause(CIRCULAR))
  end)

  it('gives a cut met by the JDBC sink\'s flush at a checkpoint (a bare IOException) the same context', function()
    -- the flush of a checkpoint throws the driver's exception in an IOException of its own,
    -- without the "Writing records to JDBC failed." of a flush by the batch or the timer
    local t = trace {
      'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy', at,
      'Caused by: java.lang.Exception: Could not perform checkpoint 3 for operator Sink: snk (1/1)#0.', at,
      'Caused by: java.io.IOException: java.sql.BatchUpdateException: Communications link failure',
      '\tat org.apache.flink.connector.jdbc.internal.JdbcOutputFormat.flush(JdbcOutputFormat.java:178)',
      '\tat org.apache.flink.connector.jdbc.internal.GenericJdbcSinkFunction.snapshotState(GenericJdbcSinkFunction.java:65)',
      'Caused by: java.sql.BatchUpdateException: Communications link failure', at,
      'Caused by: com.mysql.cj.exceptions.CJCommunicationsException: Communications link failure', at,
      'Caused by: java.net.SocketException: Connection reset by peer', at,
    }
    local want = 'JDBC write failed: Communications link failure (Connection reset by peer)'
    assert.are.equal(want, flink.summarize(t))
    assert.are.equal(want, P.cause(t))
    -- the frame of the driver's own exception counts too
    local own = trace {
      'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy', at,
      'Caused by: java.sql.BatchUpdateException: Communications link failure',
      '\tat org.apache.flink.connector.jdbc.internal.JdbcOutputFormat.attemptFlush(JdbcOutputFormat.java:198)',
    }
    assert.are.equal('JDBC write failed: Communications link failure', flink.summarize(own))
    -- a flush frame under a cause below the driver's says nothing of the driver's exception
    local below = trace {
      'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy', at,
      'Caused by: java.sql.SQLException: Access denied for user', at,
      'Caused by: java.lang.IllegalStateException: odd',
      '\tat org.apache.flink.connector.jdbc.internal.JdbcOutputFormat.flush(JdbcOutputFormat.java:178)',
    }
    assert.are.equal('java.sql.SQLException: Access denied for user', (flink.summarize(below):gsub(' %(.*', '')))
  end)

  it('names a real network cut under the JDBC sink by the connector, the driver and the socket', function()
    local t = fixture('jdbc_network_cut')
    -- the real trace: JobException > Writing records to JDBC failed > IOException >
    -- CommunicationsException (twice) > CJCommunicationsException > SocketException
    assert.matches('Recovery is suppressed by NoRestartBackoffTimeStrategy', t, 1, true)
    local want = 'JDBC write failed: Communications link failure (Connection reset by peer)'
    assert.are.equal(want, flink.summarize(t))
    assert.are.equal(want, P.cause(t))
    assert.are.equal(want, C.cause(t))
  end)

  it('names a real out-of-range value in strict mode by the connector and the column', function()
    local t = fixture('jdbc_out_of_range')
    local want = "JDBC write failed: Data truncation: Out of range value for column 'customer_id' at row 1"
    assert.are.equal(want, flink.summarize(t))
    assert.are.equal(want, P.cause(t))
  end)

  it('takes the driver\'s cause from a Suppressed: block when the chain has none, never a wrapper', function()
    local t = trace {
      'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy', at,
      'Caused by: java.io.IOException: unable to flush; interrupted while doing another attempt', at,
      'Caused by: java.lang.InterruptedException: sleep interrupted', at,
      '\tSuppressed: java.sql.SQLException: Connection is closed', '\t\tat a.b(C.java:1)',
    }
    assert.are.equal('JDBC write interrupted: Connection is closed', flink.summarize(t))
  end)

  it('keeps a class alone as its simple name and cuts a long cause with "..."', function()
    assert.are.equal('JDBC write failed: NullPointerException', flink.summarize(trace {
      'java.io.IOException: Writing records to JDBC failed.', at, 'Caused by: java.lang.NullPointerException', at }))
    -- a connector's exception with nothing below it is the cause as it is
    assert.are.equal('java.io.IOException: Writing records to JDBC failed.', flink.summarize(trace {
      'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy', at,
      'Caused by: java.io.IOException: Writing records to JDBC failed.', at }))
    local long = flink.summarize('java.io.IOException: Writing records to JDBC failed.\nCaused by: java.sql.SQLException: '
      .. string.rep('x', 3000))
    assert.are.equal(1023, #long)
    assert.are.equal('JDBC write failed: xxx', long:sub(1, 22))
    assert.are.equal('...', long:sub(-3))
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
    assert.are.equal('job ' .. JOB .. ' is FAILED (waiting for FINISHED): ' .. JDBC_REAL, msg)
  end)

  it('makes a conformance verdict lead with the real cause', function()
    local r = { seed = 7, rows = 10, table = 'cf_1', case = { columns = {} }, columns = {},
                facts = { job_id = JOB, state = 'FAILED', cause = C.cause(SUPPRESSED) } }
    assert.are.equal('seed 7, 10 rows, table cf_1, job ' .. JOB .. ' FAILED: ' .. REAL, C.describe(r))
  end)
end)
