-- A TaskManager dies under a running job: a streaming INSERT through the SQL
-- Gateway from a throttled datagen sequence (keys 1..N) into a JDBC upsert
-- sink (PRIMARY KEY) on the private MariaDB, checkpointing every 3 s. The
-- spec SIGKILLs the only TaskManager of the shared cluster 1.5 s after a
-- checkpoint completed, checks that the JobManager drops it and that the job
-- neither finishes nor writes while no TaskManager exists, starts a new
-- TaskManager, checks that the job restarts on it from that checkpoint, and
-- at the end compares MariaDB with keys 1..N value by value: no key lost,
-- none doubled (rows written after the restored checkpoint are written again;
-- the upsert key makes that harmless, and a trigger counts how many were).
--
-- The steps share one job and run in order; a step whose predecessor failed
-- says so.
--
-- The restart strategy is set for this job: fixed-delay, ONE attempt after
-- RESTART_DELAY_S. The stack's ResourceManager keeps a slot request it
-- cannot serve pending (resourcemanager.standalone.start-up-time: 0 ms; by
-- default a standalone one answers "not enough resources" at once, and each
-- such failure spends an attempt, so whether the job survived depended on
-- how fast the machine started the new TaskManager). So the kill spends
-- exactly that attempt, the restarted job waits for slots while no
-- TaskManager exists, and runs once the new one has registered; any second
-- failure (a JDBC error after the restart, say) fails the job instead of
-- hiding in a retry, and the job's restart count must end at exactly 1.
--
-- Afterwards the shared cluster has a TaskManager (the new one) and no job of
-- this spec running; teardown cancels the job and adds a TaskManager when a
-- step failed half-way.
local stack = require 'fmhost.stack'
local pool = require 'fmhost.pool'
local proc = require 'fmhost.proc'

local fl = stack.flink
local WAIT = 180000 -- ms: generous; only a hang reaches it
local N = 5000      -- keys 1..N (the sequence generator keeps its range in state: stay far below ~100k)
local RATE = 250    -- rows per second: the job runs ~20 s, so the kill lands mid-stream
local TABLE = 'ff_failover'
local RESTART_DELAY_S = 2 -- the restarted job then waits for slots (see above), however long a TaskManager takes
-- The kill lands KILL_AFTER_CP_MS after a checkpoint completed and well before
-- the next (CHECKPOINT_MS apart): datagen emits each second's rows in one
-- burst, so a window over 1 s after the barrier holds a burst, and the sink
-- flushes every 100 rows, so some rows newer than the checkpoint are in
-- MariaDB at the kill and are written again after the restore.
local CHECKPOINT_MS = 3000
local KILL_AFTER_CP_MS = 1500

local lfs = require 'lfs'

local client, db
local run = {} -- what the steps share: session, job, resource ids, counts, times

local function need(...)
  for _, k in ipairs { ... } do
    if run[k] == nil then error('an earlier step failed (no ' .. k .. '); see its failure', 0) end
  end
end

local function scalar(sql)
  local rows = assert(db:query(sql))
  local _, v = next(rows[1])
  return v
end

local function row_count() return scalar('SELECT COUNT(*) AS n FROM ' .. TABLE) end

-- The job's vertices and, for each subtask, its status and TaskManager:
-- {{name=, status=, subtasks={{status=, tm=}, ...}}, ...}
local function placement(job)
  local out = {}
  for _, v in ipairs(assert(job:vertices())) do
    local d = assert(client:rest('GET', '/jobs/' .. job:id() .. '/vertices/' .. v.id))
    local subs = {}
    for _, st in ipairs(d.subtasks or {}) do subs[#subs + 1] = { status = st.status, tm = st['taskmanager-id'] } end
    out[#out + 1] = { name = v.name, status = v.status, subtasks = subs }
  end
  return out
end

-- true when every subtask of every vertex is RUNNING on TaskManager tm_id.
local function all_running_on(job, tm_id)
  for _, v in ipairs(placement(job)) do
    if v.status ~= 'RUNNING' or #v.subtasks == 0 then return false end
    for _, st in ipairs(v.subtasks) do
      if st.status ~= 'RUNNING' or st.tm ~= tm_id then return false end
    end
  end
  return true
end

local function describe_placement(job)
  local parts = {}
  for _, v in ipairs(placement(job)) do
    local subs = {}
    for _, st in ipairs(v.subtasks) do subs[#subs + 1] = st.status .. '@' .. tostring(st.tm) end
    parts[#parts + 1] = string.format('%s %s [%s]', v.name, v.status, table.concat(subs, ', '))
  end
  return table.concat(parts, '; ')
end

local function registered_ids()
  local ids = {}
  for _, t in ipairs(assert(client:taskmanagers())) do ids[#ids + 1] = t.id end
  return ids
end

-- The job's restart count once it shows at least one: job:restarts() counts
-- the highest subtask attempt (the execution graph), with the numRestarts
-- metric as a floor (the REST metric store refreshes only every few seconds).
-- Raises with the last value seen after WAIT.
local function restarts_after_one(job)
  local last
  local n = stack.wait_until(WAIT, 500, function()
    last = job:restarts()
    return last and last >= 1 and last
  end)
  assert(n, 'the job never counted a restart (last read ' .. tostring(last) .. ')')
  return n
end

-- The newest checkpoint of the job on disk: the JobManager writes
-- <checkpoints>/<job id>/chk-N/_metadata when checkpoint N completes (and
-- removes older ones). Its number, or 0. Unlike GET /checkpoints (cached for
-- seconds) this tells the moment of completion.
local function checkpoint_on_disk(job_id)
  local dir = fl.settings(cfg).base .. '/checkpoints/' .. job_id
  if lfs.attributes(dir, 'mode') ~= 'directory' then return 0 end
  local best = 0
  for e in lfs.dir(dir) do
    local n = math.tointeger(tonumber(e:match('^chk%-(%d+)$')))
    if n and n > best and lfs.attributes(dir .. '/' .. e .. '/_metadata', 'mode') == 'file' then best = n end
  end
  return best
end

-- The expected row of key id, as fmhost.pool returns it.
local function expected(id)
  return { id = id, v = id * 7, label = 'k' .. id }
end

describe('Flink failover: a TaskManager SIGKILLed under a running JDBC upsert job #flink #mysql #conformance', function()
  lazy_setup(function()
    assert(stack.ensure(cfg, { 'mariadb', 'flink' }))
    client = fl.client(cfg, { timeout_ms = 30000 })
    local m = cfg.mysql
    db = assert(pool.open { host = m.host, port = m.port, user = m.user, password = m.password,
                            database = m.database, charset = 'utf8mb4', size = 2 })
  end)

  lazy_teardown(function()
    if run.job then
      local st = run.job:state()
      if st and st ~= 'FINISHED' and st ~= 'FAILED' and st ~= 'CANCELED' then
        run.job:cancel()
        run.job:wait({ 'CANCELED', 'FAILED', 'FINISHED' }, WAIT)
      end
    end
    if run.session then run.session:close() end
    -- the job's checkpoint folder (what is left of it once the job ended)
    if run.job and run.job:id():match('^%x+$') then
      proc.run { 'rm', '-rf', fl.settings(cfg).base .. '/checkpoints/' .. run.job:id(), timeout_ms = 60000 }
    end
    -- a step that failed between kill and start leaves no TaskManager: add one
    assert(stack.ensure(cfg, { 'flink' }))
    if client then client:close() end
    if db then db:close() end
  end)

  it('streams datagen keys into MariaDB through the JDBC upsert sink on the only TaskManager, '
    .. 'and completes a checkpoint', function()
    local ids = registered_ids()
    assert(#ids == 1 and #fl.taskmanagers(cfg) == 1, string.format('the spec needs exactly one TaskManager in '
      .. 'the shared cluster; %d registered (%s), %d running here', #ids, table.concat(ids, ', '),
      #fl.taskmanagers(cfg)))
    local tm_id = ids[1]

    assert(db:exec('DROP TABLE IF EXISTS ' .. TABLE))
    assert(db:exec('DROP TABLE IF EXISTS ' .. TABLE .. '_replays'))
    assert(db:exec('CREATE TABLE ' .. TABLE .. ' (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, '
      .. 'label VARCHAR(32) NOT NULL) DEFAULT CHARSET = utf8mb4'))
    -- counts the upserts that hit an existing key (replays after the restore)
    assert(db:exec('CREATE TABLE ' .. TABLE .. '_replays (n BIGINT NOT NULL)'))
    assert(db:exec('INSERT INTO ' .. TABLE .. '_replays VALUES (0)'))
    assert(db:exec('CREATE TRIGGER ' .. TABLE .. '_upd BEFORE UPDATE ON ' .. TABLE
      .. ' FOR EACH ROW UPDATE ' .. TABLE .. '_replays SET n = n + 1'))

    run.session = assert(client:session {
      name = 'flink_failover_spec',
      properties = {
        ['execution.runtime-mode'] = 'streaming',
        ['table.dml-sync'] = 'false',
        ['parallelism.default'] = '1',
        ['execution.checkpointing.interval'] = CHECKPOINT_MS .. ' ms',
        ['restart-strategy.type'] = 'fixed-delay',
        ['restart-strategy.fixed-delay.attempts'] = '1',
        ['restart-strategy.fixed-delay.delay'] = RESTART_DELAY_S .. ' s',
      },
    })
    local s = run.session
    assert(s:run(string.format([[CREATE TEMPORARY TABLE ff_src (id BIGINT) WITH ('connector' = 'datagen',
      'rows-per-second' = '%d', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d')]],
      RATE, N)))
    assert(s:run(string.format([[CREATE TEMPORARY TABLE ff_sink (id BIGINT, v BIGINT, label STRING,
      PRIMARY KEY (id) NOT ENFORCED) WITH (%s)]], fl.jdbc_options(cfg, TABLE))))
    local op = assert(s:execute([[INSERT INTO ff_sink
      SELECT id, id * 7, 'k' || CAST(id AS STRING) FROM ff_src]]))
    assert(op:wait { timeout_ms = WAIT })
    local job = client:job_handle(assert(op:job_id()))
    run.job = job
    run.t_submit = proc.now_ms()

    assert.are.equal('RUNNING', (assert(job:wait('RUNNING', WAIT))))
    local placed = stack.wait_until(WAIT, 250, function() return all_running_on(job, tm_id) end)
    assert(placed, 'the job never ran on ' .. tm_id .. ': ' .. describe_placement(job))
    -- rows arrive, and a checkpoint completes after they did
    local rows = stack.wait_until(WAIT, 250, function()
      local n = row_count()
      return n > 0 and n
    end)
    assert(rows, 'no row reached MariaDB')
    local cp = stack.wait_until(WAIT, 250, function()
      local c = job:checkpoints()
      return c and c.counts and c.counts.completed >= 1 and c
    end)
    assert(cp, 'no checkpoint completed')
    assert.are.equal('COMPLETED', cp.latest.completed.status)
    assert.is_true(checkpoint_on_disk(job:id()) >= 1, 'no completed checkpoint in the checkpoint folder')
    assert.are.equal('RUNNING', (assert(job:wait('RUNNING', WAIT))))
    run.tm_id = tm_id
  end)

  it('drops the SIGKILLed TaskManager from /taskmanagers; the job neither finishes nor writes a row '
    .. 'while no TaskManager exists', function()
    need('job', 'tm_id')
    local job = run.job
    -- the moment: KILL_AFTER_CP_MS after a checkpoint completed, that one
    -- still the newest (else wait for the next)
    local cp, t_cp
    repeat
      local k0 = checkpoint_on_disk(job:id())
      cp = stack.wait_until(WAIT, 20, function()
        local k = checkpoint_on_disk(job:id())
        return k > k0 and k
      end)
      assert(cp, 'no further checkpoint completed')
      t_cp = proc.now_ms()
      proc.sleep(math.max(0, math.floor(t_cp + KILL_AFTER_CP_MS - proc.now_ms())))
    until checkpoint_on_disk(job:id()) == cp
    local ok, killed = fl.kill_taskmanager(cfg, nil, 'KILL')
    assert(ok, killed)
    run.t_kill = proc.now_ms()
    run.rows_at_kill = row_count()
    run.cp_before = cp
    assert.is_false(proc.pid_alive(killed.pid))
    assert.are.equal(run.tm_id, killed.resource_id, 'the killed TaskManager is the one the job ran on')
    assert.is_true(run.rows_at_kill < N, 'the source had finished before the kill: raise N or lower RATE')

    local gone = stack.wait_until(fl.settings(cfg).heartbeat_timeout_ms + 60000, 200, function()
      return #registered_ids() == 0
    end)
    assert(gone, 'the killed TaskManager is still registered: ' .. table.concat(registered_ids(), ', '))
    run.t_gone = proc.now_ms()
    -- a batch the TaskManager sent just before SIGKILL may still commit in
    -- MariaDB: count again once it is gone from the ResourceManager
    run.rows_at_kill = row_count()
    assert.is_true(run.rows_at_kill < N, 'the source had finished before the kill: raise N or lower RATE')

    -- The ResourceManager drops a dead TaskManager as soon as its connection
    -- breaks; the JobMaster learns of it only when its own heartbeat to the
    -- TaskManager times out (flink.heartbeat_timeout_ms). Until then the
    -- tasks still read RUNNING on the dead TaskManager. Meanwhile the job must
    -- not end and nothing can reach MariaDB.
    local seen = {}
    local function job_waits()
      assert.are.same({}, registered_ids())
      local st = assert(job:state())
      seen[st] = true
      assert(st == 'RUNNING' or st == 'RESTARTING',
        'with no TaskManager the job went ' .. st .. ': ' .. tostring((job:root_exception())))
      return st
    end
    local noticed = stack.wait_until(fl.settings(cfg).heartbeat_timeout_ms + 60000, 200, function()
      job_waits()
      return not all_running_on(job, run.tm_id)
    end)
    assert(noticed, 'the job still runs on the dead TaskManager: ' .. describe_placement(job))
    run.t_noticed = proc.now_ms()
    local rows0 = row_count()
    -- a few more seconds without any TaskManager: the job waits for slots
    local deadline = proc.now_ms() + 5000
    while proc.now_ms() < deadline do
      job_waits()
      for _, v in ipairs(placement(job)) do
        for _, st in ipairs(v.subtasks) do
          assert(st.status ~= 'RUNNING' and st.status ~= 'FINISHED',
            'a subtask is ' .. st.status .. ' with no TaskManager: ' .. describe_placement(job))
        end
      end
      proc.sleep(250)
    end
    assert.are.equal(rows0, row_count(), 'rows reached MariaDB with no TaskManager')
    assert.are.equal(run.rows_at_kill, rows0, 'rows reached MariaDB after the kill')
    local waiting = {}
    for _, v in ipairs(placement(job)) do waiting[#waiting + 1] = v.status end
    local states = {}
    for k in pairs(seen) do states[#states + 1] = k end
    table.sort(states)
    print(string.format('\n  killed %.1f s after checkpoint %d completed (%d of %d rows in MariaDB at the kill); '
      .. 'TaskManager gone from /taskmanagers %.1f s after SIGKILL, from the job\'s view %.1f s after; job states '
      .. 'seen without one: %s; vertices then %s', (run.t_kill - t_cp) / 1000, cp, run.rows_at_kill, N,
      (run.t_gone - run.t_kill) / 1000, (run.t_noticed - run.t_kill) / 1000, table.concat(states, ', '),
      table.concat(waiting, ', ')))
    run.killed = killed
  end)

  it('restarts the job on a NEW TaskManager, restored from the latest completed checkpoint', function()
    need('job', 'killed')
    local job = run.job
    local ok, new = fl.start_taskmanager(cfg)
    assert(ok, new)
    run.t_new = proc.now_ms()
    assert.are_not.equal(run.killed.resource_id, new.resource_id)
    assert.are.same({ new.resource_id }, registered_ids())
    local placed = stack.wait_until(WAIT, 250, function() return all_running_on(job, new.resource_id) end)
    assert(placed, 'the job is not running on the new TaskManager ' .. new.resource_id .. ': '
      .. describe_placement(job) .. '; state ' .. tostring(job:state()) .. '; ' .. tostring((job:root_exception())))
    run.t_running = proc.now_ms()
    assert.are.equal('RUNNING', (assert(job:wait('RUNNING', WAIT))))
    assert.are.equal(1, restarts_after_one(job))
    -- /checkpoints is cached for a few seconds: poll for the restore
    local cp = stack.wait_until(WAIT, 500, function()
      local c = job:checkpoints()
      return c and c.latest and c.latest.restored and c
    end)
    assert(cp, 'the job reports no restored checkpoint')
    local restored = cp.latest.restored
    assert.is_true(cp.counts.restored >= 1)
    assert.is_false(restored.is_savepoint == true)
    assert.are.equal(run.cp_before, restored.id, 'the restored checkpoint is not the newest one before the kill')
    -- rows flow again, written from the new TaskManager
    local more = stack.wait_until(WAIT, 250, function() return row_count() > run.rows_at_kill end)
    assert(more, 'no new row reached MariaDB after the restart')
    print(string.format('\n  new TaskManager registered in %.1f s; job RUNNING on it %.1f s after the job saw the loss '
      .. '(restart delay %d s); restored checkpoint %d (%d completed before the kill)', new.ms / 1000,
      (run.t_running - run.t_noticed) / 1000, RESTART_DELAY_S, restored.id, run.cp_before))
    run.new = new
  end)

  it('ends FINISHED with exactly keys 1..N in MariaDB, every value as computed: none lost, none doubled', function()
    need('job', 'new')
    local job = run.job
    local state, msg, info = job:wait('FINISHED', WAIT)
    assert(state == 'FINISHED', string.format('job ended %s: %s\n%s', tostring(info and info.state), tostring(msg),
      tostring(info and info.root_exception)))
    run.t_end = proc.now_ms()
    assert.are.equal(1, restarts_after_one(job), 'more than the one restart the kill caused')
    assert.are.equal(N, row_count())
    assert.are.equal(N, scalar('SELECT COUNT(DISTINCT id) AS n FROM ' .. TABLE))
    local rows = assert(db:query('SELECT id, v, label FROM ' .. TABLE .. ' ORDER BY id'))
    local bad = {}
    for i = 1, N do
      local want, got = expected(i), rows[i] or {}
      for _, col in ipairs { 'id', 'v', 'label' } do
        if got[col] ~= want[col] then
          bad[#bad + 1] = string.format('row %d %s: want %s, got %s', i, col, tostring(want[col]), tostring(got[col]))
          break
        end
      end
      if #bad >= 10 then break end
    end
    assert(#bad == 0, 'MariaDB differs from keys 1..' .. N .. ' (first differences):\n' .. table.concat(bad, '\n'))
    -- rows newer than the restored checkpoint were written before the kill
    -- and again after the restore: the upsert kept one row per key
    local replays = scalar('SELECT n FROM ' .. TABLE .. '_replays')
    assert.is_true(replays > 0, 'no key was written twice: the kill did not land after rows newer than the checkpoint')
    print(string.format('\n  %d rows exact; %d upserts hit an existing key (replayed after the restore); '
      .. 'job %.1f s from submit to FINISHED', N, replays, (run.t_end - run.t_submit) / 1000))
    run.finished = true
  end)

  it('leaves the shared cluster healthy: the new TaskManager registered with every slot free, '
    .. 'the job no longer running', function()
    need('finished')
    local tms = assert(client:taskmanagers())
    assert.are.equal(1, #tms)
    assert.are.equal(run.new.resource_id, tms[1].id)
    -- slots come back when the finished job releases them
    local free = stack.wait_until(WAIT, 250, function()
      local t = assert(client:taskmanagers())[1]
      return t and t.freeSlots == t.slotsNumber
    end)
    assert(free, 'the finished job still holds slots')
    for _, j in ipairs(assert(client:jobs())) do
      if j.id == run.job:id() then assert.are.equal('FINISHED', j.status) end
    end
    assert.are.equal(1, #fl.taskmanagers(cfg))
    -- the job's checkpoint folder: Flink discards the checkpoints (a moment
    -- after the job ended) and leaves the empty folder; the next up or
    -- ensure removes it
    local cpdir = fl.settings(cfg).base .. '/checkpoints/' .. run.job:id()
    assert.is_true(stack.exists(cpdir), 'the job made no checkpoint folder: this check would see nothing')
    local discarded = stack.wait_until(WAIT, 250, function()
      for e in lfs.dir(cpdir) do if e:match('^chk%-') then return false end end
      return true
    end)
    assert(discarded, 'the finished job\'s checkpoints stay in ' .. cpdir)
    assert(stack.ensure(cfg, { 'flink' }))
    assert.is_false(stack.exists(cpdir), 'the finished job\'s empty checkpoint folder is still there: ' .. cpdir)
  end)
end)
