-- The seed's performance and error-handling properties, end to end: the
-- standard dataset (7 columns, fmhost.pipeline_load.standard) generated,
-- delivered as JSON lines into a monitored folder, read by a Flink SQL job
-- and written by the real JDBC connector into MariaDB, judged row by row
-- (fmhost.pipeline) with the load figures of the run (result.load).
-- Runs are small (a few thousand rows) because the machine is shared; each
-- spec asserts only what holds on a loaded machine, and prints its figures.
-- Property 26 is a 1-minute steady run instead of a long soak.
local P = require 'fmhost.pipeline'
local PL = require 'fmhost.pipeline_load'
local stack = require 'fmhost.stack'
local check = require 'fmhost.check'

local FEATURE = 'Feature: flink-mysql-connector-test, Property '

local function say(fmt, ...) io.stdout:write(('  [%s] '):format(os.date('!%H:%M:%S')) .. fmt:format(...) .. '\n') end

local function run(desc)
  local r = P.run(desc)
  say('%s', P.format(r):gsub('\n', '\n    '))
  return r
end

local function loaded(r)
  assert.is_table(r.load, 'no load figures: ' .. tostring(r.error))
  return r.load
end

local function sum(xs)
  local n = 0
  for _, x in ipairs(xs) do n = n + x end
  return n
end

describe('seed properties through Flink into MariaDB #flink #mysql', function()
  lazy_setup(function() assert(stack.ensure(cfg, { 'mariadb', 'flink' })) end)
  lazy_teardown(function()
    -- a TaskManager and MariaDB for whoever comes next
    assert(stack.ensure(cfg, { 'mariadb', 'flink' }))
  end)

  it(FEATURE .. '18: the throughput and row counts fmhost reports equal MariaDB\'s and Flink\'s own counts', function()
    local r = run(PL.standard { name = 'p18', rows = 3000, rate = 600 })
    assert.pipeline(r)
    local L = loaded(r)
    -- MariaDB: COUNT(*) and the per-second rows (by its written-at column) agree with the verdict
    assert.are.equal(3000, L.rows)
    assert.are.equal(L.rows, sum(L.per_s))
    assert.are.equal(r.verdict.counts.target, L.rows)
    assert.near(L.rows / L.span_s, L.write_rows_per_s, 1e-6)
    assert.near(L.rows / L.e2e_span_s, L.rows_per_s, 1e-6)
    assert.is_true(L.e2e_span_s >= L.span_s, 'first delivery to last write is shorter than the writing itself')
    -- Flink: the sink operator's numRecordsIn (REST) equals MariaDB's count once its metrics caught up
    assert.is_table(L.flink, 'no Flink sink counter was read')
    assert.are.equal(L.rows, L.flink.sink_records_in)
    -- the once-a-second COUNT of the sampler never decreased, never exceeded the end count, and ended at it
    local prev = 0
    for _, s in ipairs(L.samples) do
      assert.is_true(s.db_rows >= prev and s.db_rows <= L.rows, 'sampled counts: ' .. s.db_rows .. ' after ' .. prev)
      prev = s.db_rows
    end
    assert.are.equal(L.rows, prev)
    assert.is_true(L.latency.n == L.rows and L.latency.p50_ms > 0 and L.latency.p99_ms >= L.latency.p50_ms,
      'latency figures are not consistent')
  end)

  it(FEATURE .. '30: the standard dataset is written at >= 1000 rows/s (first to last write, not JVM start-up)', function()
    local r = run(PL.standard { name = 'p30', rows = 20000, url_params = { rewriteBatchedStatements = 'true' },
      options = { ['sink.buffer-flush.max-rows'] = '1000' } })
    assert.pipeline(r)
    local L = loaded(r)
    say('property 30: %d rows in %.2f s of writing = %.0f rows/s (peak %d rows in one second)', L.rows, L.span_s,
      L.write_rows_per_s or 0, L.peak_per_s)
    assert.is_number(L.write_rows_per_s, 'no write span: ' .. P.format(r))
    assert.is_true(L.write_rows_per_s >= 1000, ('%.0f rows/s is below the floor of 1000'):format(L.write_rows_per_s))
  end)

  it(FEATURE .. '28: parallel sink subtasks (2 and 4) into one table: no connection conflict, no lost or doubled row',
    function()
      for _, par in ipairs { 2, 4 } do
        local r = run(PL.standard { name = 'p28_' .. par, rows = 4000, parallelism = par,
          load = { chunk_rows = 250 } })
        assert.pipeline(r)
        assert.are.equal(0, r.verdict.counts.duplicated)
        assert.are.equal(0, r.job.restarts or 0)
        assert.is_nil(r.job.failures)
        local L = loaded(r)
        assert.are.equal(4000, L.rows)
        local sinkv
        for _, s in ipairs(L.samples) do for name in pairs(s.by_vertex or {}) do if name:find('Sink') then sinkv = name end end end
        assert.is_truthy(sinkv, 'no sink vertex sampled')
        -- the job ran its sink at that parallelism (the vertex list of the run)
        local ok, vs = pcall(function()
          local c <close> = stack.flink.client(cfg)
          return c:job_handle(r.job.id):vertices()
        end)
        if ok and vs then
          local pmax = 0
          for _, v in ipairs(vs) do pmax = math.max(pmax, v.parallelism or 0) end
          assert.are.equal(par, pmax)
        end
      end
    end)

  -- What batching buys is round trips: a sink writing row by row waits for
  -- the database once per row, a batch (one multi-row INSERT with
  -- rewriteBatchedStatements; without it the driver still sends a batch row by
  -- row) once per batch. So the run puts the database 1 ms away each way
  -- (fmhost.proxy's latency toxic on the sink's path, sink.latency_ms), as a
  -- database on another machine is; on the same machine a round trip costs
  -- next to nothing and row-by-row writing is fast enough for the difference to
  -- drown in the second of delivery and start-up. A 200 ms flush interval keeps
  -- a half-full last batch from adding a second to the larger sizes.
  it(FEATURE .. '27: sink.buffer-flush.max-rows 1, 10, 100, 1000, 5000 with the database 1 ms away: 1000 is several '
    .. 'times faster than 1 #slow', function()
      local rate = {}
      for _, n in ipairs { 1, 10, 100, 1000, 5000 } do
        -- (fewer rows for the small sizes, whose round trips cost seconds a thousand rows)
        local r = run(PL.standard { name = 'p27_' .. n, rows = n <= 10 and 1500 or 6000, latency_ms = 1,
          url_params = { rewriteBatchedStatements = 'true' },
          options = { ['sink.buffer-flush.max-rows'] = tostring(n), ['sink.buffer-flush.interval'] = '200 ms' } })
        assert.pipeline(r)
        rate[n] = loaded(r).rows_per_s
        assert.is_number(rate[n], ('max-rows %d: no throughput figure (%s)'):format(n, P.format(r)))
      end
      say('property 27: rows/s by sink.buffer-flush.max-rows: 1 -> %.0f, 10 -> %.0f, 100 -> %.0f, 1000 -> %.0f, '
        .. '5000 -> %.0f', rate[1], rate[10], rate[100], rate[1000], rate[5000])
      assert.is_true(rate[1000] >= 2 * rate[1], ('max-rows 1000 (%.0f rows/s) is not several times faster than 1 '
        .. '(%.0f rows/s)'):format(rate[1000], rate[1]))
    end)

  it(FEATURE .. '26: a steady 60 s run at 300 rows/s: throughput per 10 s within a band, TaskManager and fmhost RSS flat '
    .. '#slow', function()
    local r = run(PL.standard { name = 'p26', rows = 18000, rate = 300 })
    assert.pipeline(r)
    local L = loaded(r)
    local bands = {}
    for k, x in ipairs(L.per_10s) do bands[k] = ('%.0f'):format(x) end
    say('property 26: rows/s per 10 s: %s; TaskManager RSS %.0f -> %.0f MB (max %.0f), fmhost RSS %.1f -> %.1f MB',
      table.concat(bands, ', '), L.memory.taskmanager_mb.first, L.memory.taskmanager_mb.last,
      L.memory.taskmanager_mb.max, L.memory.fmhost_mb.first, L.memory.fmhost_mb.last)
    assert.is_true(#L.per_10s >= 4, 'fewer than four whole 10 s windows of writing')
    -- the windows between the first and the last (start-up and the tail left out)
    for k = 2, #L.per_10s - 1 do
      local x = L.per_10s[k]
      assert.is_true(x >= 300 * 0.4 and x <= 300 * 2.5,
        ('window %d wrote %.0f rows/s, outside [120, 750] around the 300 rows/s delivered'):format(k, x))
    end
    -- bounded memory: the TaskManager's RSS may grow while its heap fills, not without bound
    local tm = L.memory.taskmanager_mb
    assert.is_true(tm.max <= tm.first + 400, ('TaskManager RSS grew from %.0f to %.0f MB'):format(tm.first, tm.max))
    local fm = L.memory.fmhost_mb
    assert.is_true(fm.max <= fm.first + 32, ('fmhost RSS grew from %.1f to %.1f MB'):format(fm.first, fm.max))
  end)

  it(FEATURE .. '29: a slowed sink path: Flink reports backpressure, memory stays bounded, nothing is lost, '
    .. 'throughput recovers when the fault is removed', function()
    local r = run(PL.standard { name = 'p29', rows = 6000, load = { chunk_rows = 500 },
      session = { ['pipeline.operator-chaining.enabled'] = 'false' },
      faults = { { 'slow', ms = 300, at = { rows = 200 }, duration_s = 10 } } })
    assert.pipeline(r)
    local L = loaded(r)
    local f = r.faults[1]
    assert.is_truthy(f.healed_s, 'the slow link was never healed')
    local t0 = r.load_started_s or 0
    local a, b = f.t_s - t0, f.healed_s - t0
    -- Flink's view during the fault: a vertex back-pressured or the sink busy
    local bp_max, busy_max = 0, 0
    for _, s in ipairs(L.samples) do
      if s.t >= a and s.t <= b + 1 then
        for name, x in pairs(s.by_vertex or {}) do
          if not name:find('Sink') then bp_max = math.max(bp_max, x.bp) end
          busy_max = math.max(busy_max, x.busy)
        end
      end
    end
    -- rows/s while slowed (MariaDB's count at the fault and at the heal) against the best second of the
    -- second half of the writing (after the heal)
    local slow = (f.rows_healed - f.rows_at) / (f.healed_s - f.t_s)
    local best_after = 0
    for k = #L.per_s // 2 + 1, #L.per_s do best_after = math.max(best_after, L.per_s[k]) end
    say('property 29: during the slow link (%.1f-%.1f s): max backpressure %.0f%% of a non-sink vertex, max busy %.0f%%; '
      .. 'rows/s while slowed %.0f, best after the heal %.0f; rows per second: %s', a, b, bp_max * 100, busy_max * 100,
      slow, best_after, table.concat(L.per_s, ' '))
    assert.is_true(bp_max > 0 or busy_max >= 0.5, 'Flink reported neither backpressure nor a busy sink under the slow link')
    local tm = L.memory.taskmanager_mb
    assert.is_true(tm.max <= tm.first + 400, ('TaskManager RSS grew from %.0f to %.0f MB'):format(tm.first, tm.max))
    assert.is_true(best_after > slow, 'throughput did not recover after the fault was removed')
  end)

  it(FEATURE .. '4: MariaDB down for 12 s under a running job: the job recovers, the data ends complete, the retry '
    .. 'timing is reported against the restart policy', function()
    local r = run(PL.standard { name = 'p4', rows = 3000, rate = 300,
      faults = { { 'restart_mariadb', at = { rows = 600 }, duration_s = 12 } } })
    assert.pipeline(r)
    assert.is_true(r.faults[1].rows_at < 3000, 'MariaDB went down after every row had arrived')
    -- Whether the outage reaches Flink's restart strategy depends on timing: the JDBC sink retries a
    -- failed flush itself (sink.max-retries), so an outage between flushes, or one its retries
    -- outlast, costs no restart. What must hold either way: the fault landed while rows were
    -- still arriving (above) and the data ended complete (assert.pipeline); the retry timing is
    -- checked whenever the job did fail.
    if (r.job.restarts or 0) == 0 then
      say('property 4: the JDBC sink\'s own retries rode out the %d s outage; no restart was needed', 12)
    end
    local t = r.job.failure_times_s or {}
    local gaps = {}
    for k = 2, #t do gaps[#gaps + 1] = t[k] - t[k - 1] end
    local g = {}
    for k, x in ipairs(gaps) do g[k] = ('%.1f'):format(x) end
    say('property 4: %d failure(s), %d restart(s); seconds between failures: %s; configured: fixed-delay %s x %s '
      .. '(JDBC sink: sink.max-retries 3, 1 s x attempt between retries)', #t, r.job.restarts or 0, table.concat(g, ', '),
      r.session['restart-strategy.fixed-delay.delay'], r.session['restart-strategy.fixed-delay.attempts'])
    -- a restart never comes before the configured delay
    for _, x in ipairs(gaps) do assert.is_true(x >= 2.9, ('two failures %.1f s apart, under the 3 s delay'):format(x)) end
    assert.is_true((r.job.restarts or 0) <= 20)
  end)

  it(FEATURE .. '11: constraint violation graceful handling: the JDBC connector lacks it: a duplicate key into an append '
    .. 'sink on a keyed table fails the job after its retries, naming the key, the rows before it kept', function()
    local r = run(PL.standard { name = 'p11', rows = 3000, append = true,
      select = 'CASE WHEN id = 1500 THEN 1499 ELSE id END, i, d, f, s, ts, b, fmhost_delivered_at' })
    -- the seed asks to log the record and go on; the connector stops the whole job instead
    assert.is_false(r.ok)
    assert.are.equal('FAILED', r.job.state)
    local cause = P.cause_line(r)
    assert.matches("Duplicate entry '1499'", cause, 1, true)
    assert.is_true(r.verdict.counts.target > 0 and r.verdict.counts.target < 3000,
      'rows written before the failure: ' .. r.verdict.counts.target)
    say('property 11 (lacking): %s; %d rows written before the job failed, %d missing', cause,
      r.verdict.counts.target, r.verdict.counts.missing)
  end)

  it(FEATURE .. '12: SQL error recovery: the JDBC connector lacks it: a value strict mode rejects fails the job after '
    .. 'its retries, the row and the rows after its batch never arrive', function()
    local r = run(PL.standard { name = 'p12', rows = 3000,
      select = "id, i, d, f, CASE WHEN id = 1500 THEN REPEAT('x', 100) ELSE s END, ts, b, fmhost_delivered_at" })
    assert.is_false(r.ok)
    assert.are.equal('FAILED', r.job.state)
    local cause = P.cause_line(r)
    assert.matches("Data too long for column 's'", cause, 1, true)
    local db <close> = assert(require('fmhost.pool').open(cfg.mysql))
    assert.are.equal(0, db:scalar('SELECT COUNT(*) FROM pl_p12_out WHERE id = 1500'))
    local maxid = db:scalar('SELECT MAX(id) FROM pl_p12_out')
    say('property 12 (lacking): %s; %d rows written before the job failed (highest id %s), %d missing', cause,
      r.verdict.counts.target, tostring(maxid), r.verdict.counts.missing)
    assert.is_true(r.verdict.counts.missing > 0)
  end)

  it(FEATURE .. '13: network interruption recovery: the Flink-MariaDB link cut or blackholed at a random moment for a '
    .. 'random time, the data ends complete (2 seeded cases)', function()
    local seed = check.resolve_seed()
    say('property 13: seed %d (replay: fmhost --seed %d %s)', seed, seed, 'specs/scenarios/flink_properties_spec.lua')
    local x = seed
    local function rnd(lo, hi)
      x = (x * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
      return lo + (x >> 20) % (hi - lo + 1)
    end
    for case = 1, 2 do
      local action = rnd(0, 1) == 0 and 'cut' or 'blackhole'
      local at, dur = rnd(200, 1500), rnd(2, 8)
      say('property 13 case %d: %s at %d rows for %d s', case, action, at, dur)
      local r = run(PL.standard { name = 'p13_' .. case, rows = 2400, rate = 300,
        url_params = { socketTimeout = '10000', connectTimeout = '5000' },
        faults = { { action, at = { rows = at }, duration_s = dur } } })
      assert.pipeline(r)
      assert.is_truthy(r.faults[1].healed_s, 'the link was never restored')
    end
  end)

  it(FEATURE .. '15: transaction boundaries: sink.buffer-flush.max-rows = 500 with rewriteBatchedStatements and a '
    .. 'TaskManager killed mid-run: MariaDB shows whole batches of the file order only', function()
    local N = 500
    local r = run(PL.standard { name = 'p15', rows = 3000, rate = 300, append = true,
      url_params = { rewriteBatchedStatements = 'true' },
      options = { ['sink.buffer-flush.max-rows'] = tostring(N), ['sink.buffer-flush.interval'] = '0' },
      session = { ['restart-strategy.type'] = 'none', ['execution.checkpointing.interval'] = '10 min' },
      faults = { { 'kill_taskmanager', at = { rows = 1000 }, restart = false } } })
    assert(stack.ensure(cfg, { 'mariadb', 'flink' }))
    assert.is_false(r.ok)
    local db <close> = assert(require('fmhost.pool').open(cfg.mysql))
    local n = db:scalar('SELECT COUNT(*) FROM pl_p15_out')
    local lo, hi = db:scalar('SELECT MIN(id) FROM pl_p15_out'), db:scalar('SELECT MAX(id) FROM pl_p15_out')
    say('property 15: %d rows visible after the kill (ids %s..%s), %d whole batches of %d', n, tostring(lo),
      tostring(hi), n // N, N)
    assert.is_true(n >= 1000 and n < 3000, n .. ' rows visible')
    assert.are.equal(0, n % N, 'a partial batch is visible: ' .. n .. ' rows')
    assert.are.equal(1, lo)
    assert.are.equal(n, hi)
  end)
end)
