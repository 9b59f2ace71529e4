-- fmhost.metrics' sampler against the real stack: a small datagen -> blackhole
-- job in the private Flink cluster, the JVMs' /proc figures, and MariaDB's
-- status counters; the REST endpoint cut mid-run (through fmhost.proxy)
-- records a gap and sampling resumes when it comes back. Also measures the
-- sampler's own CPU cost.
local metrics = require 'fmhost.metrics'
local pool = require 'fmhost.pool'
local proc = require 'fmhost.proc'
local proxy = require 'fmhost.proxy'

local function wait_for(timeout_s, fn)
  local deadline = os.time() + timeout_s
  repeat
    local v = fn()
    if v then return v end
    proc.sleep(200)
  until os.time() > deadline
  return nil
end

describe('the metrics sampler #mysql', function()
  local p
  lazy_setup(function()
    assert(require('fmhost.stack').ensure(cfg, { 'mariadb' }))
    p = assert(pool.open(cfg.mysql))
  end)
  lazy_teardown(function() if p then p:close() end end)

  it("sees MariaDB's rows-inserted and commit counters grow after inserts", function()
    local smp <close> = assert(metrics.sampler { pool = p, interval_ms = 200 })
    assert(wait_for(20, function() return #smp:samples() >= 1 end))
    local before = smp:samples()[#smp:samples()].mysql
    local c <close> = assert(p:acquire())
    assert(c:exec('CREATE OR REPLACE TABLE metrics_counters (id INT PRIMARY KEY, v INT) ENGINE=InnoDB'))
    for i = 1, 20 do
      assert(c:transaction(function(t) return t:exec('INSERT INTO metrics_counters VALUES (?, ?)', i, i) end))
    end
    local t_done = os.time()
    local after = wait_for(20, function()
      local xs = smp:samples()
      local x = xs[#xs]
      return x.t > t_done and x.mysql.rows_inserted and x.mysql.rows_inserted >= before.rows_inserted + 20 and x.mysql
    end)
    assert(after, 'rows_inserted did not grow by 20 (before ' .. tostring(before.rows_inserted) .. ')')
    assert(after.com_commit >= before.com_commit + 20, ('com_commit %d -> %d'):format(before.com_commit, after.com_commit))
    assert(after.handler_commit > before.handler_commit)
    assert(after.threads_connected >= 2)
    assert(after.connections >= before.connections)
    assert.equal(0, #smp:gaps())
    c:exec('DROP TABLE metrics_counters')
  end)
end)

describe('the metrics sampler #flink', function()
  local client, session, job_id, jvms, rest_url, db

  lazy_setup(function()
    local stack = require 'fmhost.stack'
    assert(stack.ensure(cfg, { 'mariadb', 'flink' }))
    local sf = require 'fmhost.stack.flink'
    local found = sf.find(sf.settings(cfg))
    jvms = {}
    for _, j in ipairs(found.all) do jvms[#jvms + 1] = j.pid end
    db = assert(pool.open(cfg.mysql))
    client = assert(sf.client(cfg, { timeout_ms = 30000 }))
    rest_url = sf.urls(cfg)
    -- chaining off: the source and the sink are two vertices, so the
    -- task-level records out (source) and in (sink) are both measured
    session = assert(client:session { properties = {
      ['execution.runtime-mode'] = 'streaming',
      ['pipeline.operator-chaining.enabled'] = 'false',
      ['execution.checkpointing.interval'] = '1s',
      ['restart-strategy.type'] = 'none',
      ['table.dml-sync'] = 'false',
    } })
    assert(session:run([[CREATE TEMPORARY TABLE metrics_src (id BIGINT, s STRING)
      WITH ('connector' = 'datagen', 'rows-per-second' = '2000', 'fields.s.length' = '16')]]))
    assert(session:run([[CREATE TEMPORARY TABLE metrics_sink (id BIGINT, s STRING) WITH ('connector' = 'blackhole')]]))
    local op = assert(session:execute('INSERT INTO metrics_sink SELECT * FROM metrics_src'))
    assert(op:wait { timeout_ms = 120000 })
    job_id = assert(op:job_id())
    op:close()
    assert(client:job_handle(job_id):wait({ 'RUNNING' }, 120000))
  end)

  lazy_teardown(function()
    if job_id then client:job_handle(job_id):cancel() end
    if session then session:close() end
    if db then db:close() end
  end)

  it('reads records per second > 0 for the running vertices, checkpoints, and the JVMs from /proc', function()
    local smp <close> = assert(metrics.sampler { rest = rest_url, job = job_id, pids = jvms,
                                                 pool = db, interval_ms = 500 })
    -- the rates are Flink's 60 s meters: wait until both vertices show traffic
    local x = wait_for(90, function()
      local xs = smp:samples()
      local last = xs[#xs]
      if not last or #last.vertices < 2 then return nil end
      local src, sink = last.vertices[1], last.vertices[2]
      if (src.out_per_s or 0) > 0 and (sink.in_per_s or 0) > 0 and (last.checkpoints.completed or 0) >= 1 then
        return last
      end
    end)
    assert(x, 'no sample with records flowing and a completed checkpoint')
    assert.is_true(x.flink_ok)
    assert.equal('RUNNING', x.job_state)
    assert.matches('metrics_src', x.vertices[1].name)
    assert.matches('metrics_sink', x.vertices[2].name)
    assert(x.vertices[1].out_per_s > 0 and x.vertices[1].out_per_s < 100000)
    assert(x.vertices[2].in_per_s > 0)
    assert(x.vertices[2].busy_ms_per_s >= 0 and x.vertices[2].busy_ms_per_s <= 1000)
    assert(x.vertices[1].backpressured_ms_per_s >= 0)
    assert(x.checkpoints.last_duration_ms >= 0)
    assert(x.checkpoints.last_size >= 0)
    assert.equal(#jvms, #x.procs)
    for i, pr in ipairs(x.procs) do
      assert.equal(jvms[i], pr.pid)
      assert.is_true(pr.alive)
      assert(pr.rss_bytes > 50 << 20, 'a JVM with ' .. pr.rss_bytes .. ' bytes resident')
      assert(pr.cpu >= 0)
    end
    assert.is_true(x.mysql_ok)
    assert(x.mysql.connections > 0)
    local st = smp:stats()
    print(('metrics sampler: %d ticks over %.1f s, %.3f s CPU = %.2f%% of one core (interval 500 ms, %d vertices, %d pids, MariaDB)')
      :format(st.ticks, st.wall_s, st.cpu_s, st.cpu_ratio * 100, #x.vertices, #x.procs))
    assert(st.cpu_ratio < 0.02, ('the sampler used %.2f%% of a core'):format(st.cpu_ratio * 100))
  end)

  it('records a gap when the REST endpoint disappears mid-run, and samples again when it returns', function()
    local px <close> = assert(proxy.new { upstream_host = '127.0.0.1', upstream_port = tonumber(rest_url:match(':(%d+)$')) })
    local smp <close> = assert(metrics.sampler { rest = 'http://127.0.0.1:' .. px:port(), job = job_id,
                                                 interval_ms = 300, timeout_ms = 1000 })
    assert(wait_for(30, function() local xs = smp:samples() return #xs >= 2 and xs[#xs].flink_ok end))
    px:toxic('down', { reset = true })
    local t_cut = os.time()
    assert(wait_for(30, function() local g = smp:gaps() return #g == 1 and g[1].to - g[1].from >= 1 end))
    px:clear()
    local back = wait_for(30, function()
      local xs = smp:samples()
      return xs[#xs].flink_ok and xs[#xs].t > smp:gaps()[1].to and xs[#xs]
    end)
    assert(back, 'sampling did not resume')
    smp:stop()
    local gaps = smp:gaps()
    assert.equal(1, #gaps)
    assert.equal('flink', gaps[1].what)
    assert(gaps[1].from >= t_cut - 1)
    local failed = 0
    for _, x in ipairs(smp:samples()) do
      if not x.flink_ok then
        failed = failed + 1
        assert(x.t >= gaps[1].from and x.t <= gaps[1].to)
        assert.same({}, x.vertices)
      end
    end
    assert(failed >= 2)
    assert.equal('RUNNING', back.job_state)
  end)
end)
