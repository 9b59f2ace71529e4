-- fmhost's JetStream connector for Flink (connector/, 'connector' = 'nats-jetstream')
-- through the real stack: rows of a generator published by fmhost.nats into
-- the private nats-server, read by Flink (SQL Gateway or the connector's own
-- DataStream job) and written into the private MariaDB, then compared with
-- the generator value by value (fmhost.validate).
--
--   bounded: a job reading 4 subjects up to their last message as of its
--     start ends FINISHED with every row exact
--   unbounded: half the rows published before the job, half while it runs
--   4 subjects at parallelism 4: each reader holds exactly one split (its
--     per-split metric) and read exactly that subject's messages
--   a TaskManager SIGKILLed mid-stream (JDBC upsert sink): the job restarts
--     from the checkpoint on a new TaskManager; no row lost, none doubled
--   the DataStream job JetStream -> JDBC exactly-once (XA over
--     mysql-connector-j's MysqlXADataSource): plain INSERTs into a table with
--     a primary key, so a row written twice would fail the job
--   a poison message (invalid JSON): by default the job fails naming the
--     stream, subject and sequence; with 'scan.deserialization-errors' =
--     'skip' it is skipped and every other row arrives
--   a misspelled option: Flink's validation names it
--
-- N rows (100k; FMHOST_NATS_FLINK_ROWS changes it) for the bounded and
-- unbounded reads; the other cases use fewer to stay cheap on a shared machine.
local stack = require 'fmhost.stack'
local pool = require 'fmhost.pool'
local nats = require 'fmhost.nats'
local gen = require 'fmhost.gen'
local validate = require 'fmhost.validate'
local proc = require 'fmhost.proc'
local lfs = require 'lfs'

local fl = stack.flink
local WAIT = 600000 -- ms: generous; only a hang reaches it
local N = math.tointeger(tonumber(os.getenv('FMHOST_NATS_FLINK_ROWS') or '')) or 100000
local SUBJECTS4 = { 'a', 'b', 'c', 'd' }

-- the generator's 'seven' table (id = row + 1) and the same columns in Flink SQL
local FLINK_COLUMNS = 'id BIGINT, i INT, d DECIMAL(22,9), f DOUBLE, s STRING, ts TIMESTAMP(6), b BOOLEAN'
local COLUMN_NAMES = 'id,i,d,f,s,ts,b'

local client, db, nc, g, url
local streams, jobs = {}, {}

local function sql_quote(v) return "'" .. tostring(v):gsub("'", "''") .. "'" end

local function scalar(sql)
  local rows = assert(db:query(sql))
  local _, v = next(rows[1])
  return v
end

local function row_count(t) return scalar('SELECT COUNT(*) AS n FROM ' .. t) end

-- A fresh file stream NAME over NAME.<subject> for each subject; returns the full subjects.
local function fresh_stream(name, subjects)
  nc:stream_delete(name)
  local full = {}
  for i, s in ipairs(subjects) do full[i] = name .. '.' .. s end
  assert(nc:stream_add { name = name, subjects = full, storage = 'file', duplicate_window_ms = 600000 })
  streams[#streams + 1] = name
  return full
end

-- Rows first .. first+rows-1 of the generator as JSON, spread over subjects by key.
local function publish(subjects, first, rows)
  local r = assert(nc:publish_rows { generator = g, subjects = subjects, first = first, rows = rows,
                                     format = 'json', spread = 'hash' })
  assert.are.equal(rows, r.acked, 'publish acks')
  assert.are.equal(0, r.duplicates)
  return r
end

local function fresh_table(name)
  assert(db:exec('DROP TABLE IF EXISTS ' .. name))
  assert(db:exec(g:create_table_sql(name)))
end

local function session(props)
  local p = {
    ['execution.runtime-mode'] = 'streaming',
    ['table.dml-sync'] = 'false',
    ['parallelism.default'] = '1',
    ['execution.checkpointing.interval'] = '2 s',
    ['restart-strategy.type'] = 'none',
  }
  for k, v in pairs(props or {}) do p[k] = v end
  return assert(client:session { name = 'nats_flink_spec', properties = p })
end

-- CREATE TEMPORARY TABLE name over the connector; extra: {option = value}.
local function source_ddl(name, stream, subjects, extra)
  local opts = { { 'connector', 'nats-jetstream' }, { 'servers', url }, { 'stream', stream },
                 { 'subjects', table.concat(subjects, ';') }, { 'format', 'json' } }
  local keys = {}
  for k in pairs(extra or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do opts[#opts + 1] = { k, extra[k] } end
  local parts = {}
  for _, kv in ipairs(opts) do parts[#parts + 1] = sql_quote(kv[1]) .. ' = ' .. sql_quote(kv[2]) end
  return string.format('CREATE TEMPORARY TABLE %s (%s) WITH (%s)', name, FLINK_COLUMNS, table.concat(parts, ', '))
end

local function sink_ddl(name, mariadb_table)
  return string.format('CREATE TEMPORARY TABLE %s (%s, PRIMARY KEY (id) NOT ENFORCED) WITH (%s)', name,
    FLINK_COLUMNS, fl.jdbc_options(cfg, mariadb_table, { ['sink.buffer-flush.max-rows'] = '1000',
                                                          ['sink.buffer-flush.interval'] = '200 ms' }))
end

-- INSERT INTO sink SELECT * FROM src in session s: the job handle.
local function insert(s, sink, src)
  local op = assert(s:execute(string.format('INSERT INTO %s SELECT * FROM %s', sink, src)))
  assert(op:wait { timeout_ms = WAIT })
  local job = client:job_handle(assert(op:job_id()))
  jobs[#jobs + 1] = job
  return job
end

local function exact(tname, count)
  local v = assert(validate.compare { target = { pool = db, table = tname }, key = 'id',
                                      expected = { generator = g, first = 0, count = count } })
  assert(v.ok, validate.format(v))
  assert.are.equal(count, row_count(tname))
end

local function wait_rows(tname, count, job)
  local t0 = proc.now_ms()
  local done = stack.wait_until(WAIT, 250, function()
    local st = job and job:state()
    if st == 'FAILED' then error('the job failed: ' .. tostring((job:root_exception())), 0) end
    return row_count(tname) >= count
  end)
  assert(done, string.format('%s holds %d of %d rows after %d s', tname, row_count(tname), count, WAIT // 1000))
  return (proc.now_ms() - t0) / 1000
end

local function cancel(job)
  local st = job:state()
  if st and st ~= 'FINISHED' and st ~= 'FAILED' and st ~= 'CANCELED' then
    job:cancel()
    job:wait({ 'CANCELED', 'FAILED', 'FINISHED' }, WAIT)
  end
end

describe('the JetStream connector reads NATS into MariaDB through Flink #nats #flink #mysql', function()
  lazy_setup(function()
    assert(stack.ensure(cfg, { 'mariadb', 'nats', 'flink' }))
    assert(fl.settings(cfg).nats_connector, 'the spec needs flink.nats_connector = true')
    client = fl.client(cfg, { timeout_ms = 30000 })
    local m = cfg.mysql
    db = assert(pool.open { host = m.host, port = m.port, user = m.user, password = m.password,
                            database = m.database, charset = 'utf8mb4', size = 2 })
    nc = assert(nats.connect(cfg.nats))
    url = stack.nats.settings(cfg).url
    g = assert(gen.load('seven'))
  end)

  lazy_teardown(function()
    for _, j in ipairs(jobs) do pcall(cancel, j) end
    if nc then
      for _, s in ipairs(streams) do nc:stream_delete(s) end
      nc:close()
    end
    -- the shared cluster as it was: one TaskManager (a failed kill step may leave two, or none)
    if client then
      while #fl.taskmanagers(cfg) > 1 do
        local tms = fl.taskmanagers(cfg)
        fl.kill_taskmanager(cfg, tms[#tms].n, 'KILL')
      end
      stack.wait_until(fl.settings(cfg).heartbeat_timeout_ms + 60000, 250, function()
        return #assert(client:taskmanagers()) <= 1
      end)
    end
    assert(stack.ensure(cfg, { 'flink' }))
    if client then client:close() end
    if db then db:close() end
  end)

  it('a bounded read of ' .. N .. ' messages on 4 subjects ends FINISHED with every row exact in MariaDB', function()
    local subjects = fresh_stream('NF_BOUNDED', SUBJECTS4)
    local pub = publish(subjects, 0, N)
    fresh_table('nf_bounded')
    local s <close> = session { ['parallelism.default'] = '2' }
    assert(s:run(source_ddl('src', 'NF_BOUNDED', subjects, { ['scan.bounded.mode'] = 'latest' })))
    assert(s:run(sink_ddl('snk', 'nf_bounded')))
    local job = insert(s, 'snk', 'src')
    local t0 = proc.now_ms()
    local state, msg, info = job:wait('FINISHED', WAIT)
    assert(state == 'FINISHED', string.format('the job ended %s: %s\n%s', tostring(info and info.state),
      tostring(msg), tostring(info and info.root_exception)))
    local secs = (proc.now_ms() - t0) / 1000
    exact('nf_bounded', N)
    print(string.format('\n  bounded: %d messages (%.1f MB published at %.0f msgs/s) read and written in %.1f s '
      .. '(%.0f rows/s end to end, parallelism 2)', N, pub.bytes / 1e6, pub.msgs_per_s, secs, N / secs))
  end)

  it('an unbounded read takes ' .. N .. ' messages published before and while the job runs, every row exact, '
    .. 'and keeps running', function()
    local subjects = fresh_stream('NF_UNBOUNDED', { 'x', 'y' })
    local half = N // 2
    publish(subjects, 0, half)
    fresh_table('nf_unbounded')
    local s <close> = session { ['parallelism.default'] = '2' }
    assert(s:run(source_ddl('src', 'NF_UNBOUNDED', subjects, {})))
    assert(s:run(sink_ddl('snk', 'nf_unbounded')))
    local job = insert(s, 'snk', 'src')
    assert.are.equal('RUNNING', (assert(job:wait('RUNNING', WAIT))))
    assert(stack.wait_until(WAIT, 250, function() return row_count('nf_unbounded') > 0 end), 'no row arrived')
    publish(subjects, half, N - half)
    local secs = wait_rows('nf_unbounded', N, job)
    proc.sleep(2000) -- nothing more may come
    exact('nf_unbounded', N)
    assert.are.equal('RUNNING', (assert(job:state())), 'an unbounded job does not end by itself')
    cancel(job)
    print(string.format('\n  unbounded: the last %d of %d rows arrived %.1f s after their publish started', N - half,
      N, secs))
  end)

  it('4 subjects at parallelism 4: each reader holds exactly one split and reads exactly its messages', function()
    local M = 20000
    local subjects = fresh_stream('NF_P4', SUBJECTS4)
    local pub = publish(subjects, 0, M)
    fresh_table('nf_p4')
    local s <close> = session { ['parallelism.default'] = '4' }
    assert(s:run(source_ddl('src', 'NF_P4', subjects, {})))
    assert(s:run(sink_ddl('snk', 'nf_p4')))
    local job = insert(s, 'snk', 'src')
    assert.are.equal('RUNNING', (assert(job:wait('RUNNING', WAIT))))
    wait_rows('nf_p4', M, job)
    exact('nf_p4', M)
    -- the source's vertex (the first): per subtask, the split gauges it has
    -- (subject.<subject with _ for .>.pendingMessages) and its records out
    local vertex = assert(job:vertices())[1]
    assert.are.equal(4, vertex.parallelism)
    local base = '/jobs/' .. job:id() .. '/vertices/' .. vertex.id .. '/subtasks/'
    local owner, got = {}, {}
    local ok = stack.wait_until(120000, 1000, function()
      owner, got = {}, {}
      for i = 0, 3 do
        local list = assert(client:rest('GET', base .. i .. '/metrics'))
        local splits, prefix = {}, nil
        for _, m in ipairs(list) do
          local p, subj = m.id:match('^(.-)%.subject%.([^.]+)%.pendingMessages$')
          if subj then splits[#splits + 1] = subj; prefix = p end
        end
        if #splits ~= 1 then return false end
        owner[splits[1]] = (owner[splits[1]] or 0) + 1
        local v = assert(client:rest('GET', base .. i .. '/metrics?get=' .. prefix .. '.numRecordsOut'))
        got[splits[1]] = v[1] and math.tointeger(tonumber(v[1].value))
      end
      for k, subj in ipairs(subjects) do
        local key = subj:gsub('%.', '_')
        if owner[key] ~= 1 or got[key] ~= pub.per_subject[subj] then return false end
        if k == 4 then return true end
      end
    end)
    local desc = {}
    for _, subj in ipairs(subjects) do
      local key = subj:gsub('%.', '_')
      desc[#desc + 1] = string.format('%s: %s reader(s), %s of %d', subj, tostring(owner[key]),
        tostring(got[key]), pub.per_subject[subj])
    end
    assert(ok, 'splits and records per reader: ' .. table.concat(desc, '; '))
    cancel(job)
    print('\n  per reader: ' .. table.concat(desc, '; '))
  end)

  it('a TaskManager SIGKILLed mid-stream: the job restarts from its checkpoint on the other TaskManager and the '
    .. 'upsert sink ends with every row once', function()
    local K = 30000
    local RATE = 1000 -- rows published per second from the job's submission on: about 30 s of stream
    local RESTART_DELAY_S = 5
    local ids = assert(client:taskmanagers())
    assert(#ids == 1 and #fl.taskmanagers(cfg) == 1, 'the step needs exactly one TaskManager')
    -- a second TaskManager before the job: the restart finds slots at once, however
    -- slowly a new TaskManager would start on this machine
    local spare_ok, spare = fl.start_taskmanager(cfg)
    assert(spare_ok, spare)
    local subjects = fresh_stream('NF_KILL', { 'k' })
    local published, t_pump = 0, nil
    -- the stream grows all along, at RATE: before, during and after the kill
    local function pump()
      t_pump = t_pump or proc.now_ms()
      local due = math.min(K, math.floor((proc.now_ms() - t_pump) * RATE / 1000))
      if due > published then
        publish(subjects, published, due - published)
        published = due
      end
    end
    local function pumping(ms, fn)
      return stack.wait_until(ms, 20, function() pump(); return fn() end)
    end
    fresh_table('nf_kill')
    assert(db:exec('DROP TABLE IF EXISTS nf_kill_replays'))
    assert(db:exec('CREATE TABLE nf_kill_replays (n BIGINT NOT NULL)'))
    assert(db:exec('INSERT INTO nf_kill_replays VALUES (0)'))
    assert(db:exec('CREATE TRIGGER nf_kill_upd BEFORE UPDATE ON nf_kill FOR EACH ROW '
      .. 'UPDATE nf_kill_replays SET n = n + 1'))
    local s <close> = session {
      ['execution.checkpointing.interval'] = '3 s',
      ['restart-strategy.type'] = 'fixed-delay',
      ['restart-strategy.fixed-delay.attempts'] = '1',
      ['restart-strategy.fixed-delay.delay'] = RESTART_DELAY_S .. ' s',
    }
    assert(s:run(source_ddl('src', 'NF_KILL', subjects, { ['scan.batch-size'] = '200' })))
    assert(s:run(sink_ddl('snk', 'nf_kill')))
    local job = insert(s, 'snk', 'src')
    pump()
    assert.are.equal('RUNNING', (assert(job:wait('RUNNING', WAIT))))
    -- the kill: 1.5 s after a checkpoint completed, while rows newer than it flow
    local dir = fl.settings(cfg).base .. '/checkpoints/' .. job:id()
    local function on_disk()
      if lfs.attributes(dir, 'mode') ~= 'directory' then return 0 end
      local best = 0
      for e in lfs.dir(dir) do
        local n = math.tointeger(tonumber(e:match('^chk%-(%d+)$')))
        if n and n > best and lfs.attributes(dir .. '/' .. e .. '/_metadata', 'mode') == 'file' then best = n end
      end
      return best
    end
    assert(pumping(WAIT, function() return on_disk() >= 1 and row_count('nf_kill') > 0 end),
      'no checkpoint completed, or no row arrived')
    local k0 = on_disk()
    local cp = assert(pumping(WAIT, function() local k = on_disk(); return k > k0 and k end))
    local t_cp = proc.now_ms()
    pumping(1500, function() return proc.now_ms() - t_cp >= 1500 end)
    -- the TaskManager the job runs on
    local vertex = assert(job:vertices())[1]
    local detail = assert(client:rest('GET', '/jobs/' .. job:id() .. '/vertices/' .. vertex.id))
    local tm_id = detail.subtasks[1]['taskmanager-id']
    local victim
    for _, t in ipairs(fl.taskmanagers(cfg)) do
      if fl.resource_id(cfg, t.name) == tm_id then victim = t end
    end
    assert(victim, 'no TaskManager of ours is ' .. tostring(tm_id))
    local ok, killed = fl.kill_taskmanager(cfg, victim.n, 'KILL')
    assert(ok, killed)
    local at_kill, published_at_kill = row_count('nf_kill'), published
    assert.is_true(published_at_kill < K, 'the whole stream was published before the kill: raise K')
    assert(pumping(fl.settings(cfg).heartbeat_timeout_ms + 60000, function()
      local tms = assert(client:taskmanagers())
      return #tms == 1 and tms[1].id ~= tm_id
    end), 'the killed TaskManager stays registered')
    assert(pumping(WAIT, function() return published >= K end))
    local secs = wait_rows('nf_kill', K, job)
    proc.sleep(3000) -- nothing more may come
    exact('nf_kill', K)
    -- one failure in the job's history: the lost TaskManager
    local ex = assert(client:rest('GET', '/jobs/' .. job:id() .. '/exceptions'))
    local entries = ex.exceptionHistory and ex.exceptionHistory.entries or {}
    assert.are.equal(1, #entries, 'exactly the one failure of the kill')
    assert.are.equal(tm_id, entries[1].taskManagerId, 'the failure is the killed TaskManager')
    local c = assert(job:checkpoints())
    local replays = scalar('SELECT n FROM nf_kill_replays')
    assert.is_true(replays > 0, 'no row was written twice: the kill did not land after rows newer than the checkpoint')
    assert.are.equal('RUNNING', (assert(job:state())))
    cancel(job)
    local again = assert(client:rest('GET', '/jobs/' .. job:id() .. '/vertices/' .. vertex.id))
    assert.are_not.equal(tm_id, again.subtasks[1]['taskmanager-id'], 'the job runs on the killed TaskManager')
    print(string.format('\n  killed %s 1.5 s after checkpoint %d: %d of %d rows published, %d in MariaDB; all %d rows '
      .. 'exact %.1f s after the last publish; %d upserts replayed rows newer than the checkpoint; restored from %s',
      killed.name, cp, published_at_kill, K, at_kill, K, secs, replays,
      tostring(c.latest and c.latest.restored and c.latest.restored.id)))
  end)

  it('the DataStream job JetStream -> JDBC exactly-once (XA) writes every row once with plain INSERTs', function()
    local M = 20000
    local subjects = fresh_stream('NF_XA', SUBJECTS4)
    publish(subjects, 0, M)
    fresh_table('nf_xa')
    local jar = fl.settings(cfg).nats_jar
    local jarid = assert(client:upload_jar(jar))
    local m = cfg.mysql
    local job = assert(client:run_jar(jarid, {
      entry_class = 'fmhost.flink.jetstream.job.JetStreamToJdbcJob', parallelism = 2, timeout_ms = WAIT,
      args = { '--servers', url, '--stream', 'NF_XA', '--subjects', table.concat(subjects, ';'),
               '--bounded', 'latest', '--table', 'nf_xa', '--columns', COLUMN_NAMES,
               '--jdbc-url', fl.jdbc_url(cfg), '--user', m.user, '--password', m.password,
               '--checkpoint-ms', '1000', '--job-name', 'nats_flink_spec xa' } }))
    jobs[#jobs + 1] = job
    local state, msg, info = job:wait('FINISHED', WAIT)
    client:rest('DELETE', '/jars/' .. jarid)
    assert(state == 'FINISHED', string.format('the XA job ended %s: %s\n%s', tostring(info and info.state),
      tostring(msg), tostring(info and info.root_exception)))
    exact('nf_xa', M)
    -- What the JDBC connector's XA sink (3.3.0, JdbcSink.exactlyOnceSink) leaves
    -- when a bounded job ends: per subtask, the transaction it opened after its
    -- last commit stays PREPARED in MariaDB (the TaskManager logs "unable to
    -- close XA connection: XAER_RMFAIL ... PREPARED state"). They hold no row:
    -- rolled back, the table is still exact.
    local left = {}
    for _, r in ipairs(assert(db:query("XA RECOVER FORMAT='SQL'"))) do
      if tostring(r.data):lower():find("x'" .. job:id():lower(), 1, true) == 1 then left[#left + 1] = r.data end
    end
    assert.is_true(#left <= 2, #left .. ' prepared XA transactions of the job left, more than one per subtask')
    for _, xid in ipairs(left) do
      -- MariaDB marked them rollback-only: XA ROLLBACK answers XA_RBROLLBACK (1402) and drops them
      local ok, err, info = db:exec('XA ROLLBACK ' .. xid)
      assert(ok or (info and info.code == 1402), err)
    end
    for _, r in ipairs(assert(db:query("XA RECOVER FORMAT='SQL'"))) do
      assert(tostring(r.data):lower():find("x'" .. job:id():lower(), 1, true) ~= 1, 'still prepared: ' .. r.data)
    end
    exact('nf_xa', M)
    print(string.format('\n  XA job: %d rows exact; %d empty prepared XA transaction(s) left by the sink, rolled back',
      M, #left))
  end)

  describe('a poison message (invalid JSON) in the stream', function()
    local subjects, poison_seq

    local function prepare()
      if subjects then return end
      subjects = fresh_stream('NF_POISON', { 'p' })
      publish(subjects, 0, 10)
      poison_seq = assert(nc:publish(subjects[1], '{"id": 11, "i": ')).seq
      publish(subjects, 10, 5)
    end

    it('fails the job by default, naming the stream, the subject and the sequence', function()
      prepare()
      fresh_table('nf_poison')
      local s <close> = session {}
      assert(s:run(source_ddl('src', 'NF_POISON', subjects, { ['scan.bounded.mode'] = 'latest' })))
      assert(s:run(sink_ddl('snk', 'nf_poison')))
      local job = insert(s, 'snk', 'src')
      local state, _, info = job:wait('FAILED', WAIT)
      assert.are.equal('FAILED', state, 'the job did not fail: ' .. tostring(info and info.state))
      local root = tostring((job:root_exception()))
      assert.matches(string.format("cannot decode the message at sequence %d of stream 'NF_POISON' (subject '%s')",
        poison_seq, subjects[1]), root, 1, true)
    end)

    it("is skipped with 'scan.deserialization-errors' = 'skip', every other row exact", function()
      prepare()
      fresh_table('nf_poison')
      local s <close> = session {}
      assert(s:run(source_ddl('src', 'NF_POISON', subjects, { ['scan.bounded.mode'] = 'latest',
                                                                ['scan.deserialization-errors'] = 'skip' })))
      assert(s:run(sink_ddl('snk', 'nf_poison')))
      local job = insert(s, 'snk', 'src')
      local state, msg, info = job:wait('FINISHED', WAIT)
      assert(state == 'FINISHED', string.format('the job ended %s: %s', tostring(info and info.state), tostring(msg)))
      exact('nf_poison', 15)
    end)
  end)

  it("a misspelled option is refused by Flink's validation, which names it", function()
    local s <close> = session {}
    assert(s:run(source_ddl('typo', 'ANY', { 'any.x' }, { ['scan.bounded.mod'] = 'latest' })))
    assert(s:run(sink_ddl('snk', 'nf_unused')))
    local op, msg, info = s:execute('INSERT INTO snk SELECT * FROM typo')
    if op then
      local done
      done, msg, info = op:wait { timeout_ms = WAIT }
      assert.is_nil(done, 'the INSERT over a misspelled option was accepted')
    end
    local text = tostring(msg) .. '\n' .. tostring(info and info.detail)
    assert.matches("Unsupported options found for 'nats-jetstream'", text, 1, true)
    assert.matches('Unsupported options:.-scan%.bounded%.mod[^e]', text) -- (the detail is JSON-escaped)
    assert.matches('scan%.bounded%.mode', text) -- listed among the supported ones
  end)
end)
