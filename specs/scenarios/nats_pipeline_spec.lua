-- fmhost.pipeline with data delivered through NATS JetStream
-- (data.NAME.deliver = 'jetstream'): fmhost publishes the generated rows into
-- a stream it creates, the user's Flink SQL reads it with fmhost's JetStream
-- connector (${source.NAME.nats}) and writes MariaDB, the verdict compares
-- value by value. Real nats-server, Flink and MariaDB of the stack.
--
--   the orders_jetstream example: bounded, 2 subjects, SQL oracle; the stream
--     is gone afterwards; a stream of the same name fmhost did not create is
--     refused and left as it was
--   nats-server SIGKILLed and restarted while the rows are paced in: the
--     job reconnects (or restarts) and the target ends complete
--   an append (at-least-once) sink after a TaskManager kill: the replayed
--     rows are reported as duplicated keys, identical replays, nothing lost
--   backpressure: the sink path slowed by fmhost.proxy: the source's fetch
--     rate drops (connector metric fetches), the TaskManager's memory stays
--     bounded, nothing is lost
--   bad input: no nats-server reachable, a stream that does not exist, a
--     subject that matches no stream, a misspelled connector option: one
--     clear error naming it, no job left running
local P = require 'fmhost.pipeline'
local PN = require 'fmhost.pipeline_nats'
local stack = require 'fmhost.stack'
local nats = require 'fmhost.nats'
local proc = require 'fmhost.proc'

local fl = stack.flink
local DIR = _FMHOST_ROOT .. '/examples/pipelines'

local COLUMNS = {
  { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
  { name = 'customer_id', type = 'INT', min = 1, max = 500 },
  { name = 'amount', type = 'DECIMAL(12,2)' },
  { name = 'note', type = 'VARCHAR(40)', nullable = true, null_ratio = 0.1 },
}
local FLINK_COLS = 'id BIGINT, customer_id INT, amount DECIMAL(12,2), note STRING'

-- A copy-through pipeline over JetStream: src -> sink (upsert with a key,
-- append without); extra_src: more WITH options after ${source.src.nats}.
local function copy_pipeline(name, o)
  o = o or {}
  local key = o.append and '' or ', PRIMARY KEY (id) NOT ENFORCED'
  return {
    name = name, seed = o.seed or 7, rows = o.rows or 2000,
    data = { src = { deliver = 'jetstream', columns = COLUMNS, rate = o.rate, subjects = o.subjects } },
    flink = {
      session = o.session,
      sql = ([[
        CREATE TEMPORARY TABLE src (%s) WITH (%s%s);
        CREATE TEMPORARY TABLE snk (%s%s) WITH (${sink.jdbc});
        INSERT INTO snk SELECT * FROM src;
      ]]):format(FLINK_COLS, o.source_with or '${source.src.nats}', o.extra_src or '', FLINK_COLS, key),
    },
    sink = o.append and {
      ddl = [[CREATE TABLE ${sink.table} (id BIGINT NOT NULL, customer_id INT, amount DECIMAL(12,2),
        note VARCHAR(40), KEY (id))]],
      options = o.sink_options,
    } or { from = 'src', options = o.sink_options },
    expect = { key = 'id', guarantee = o.guarantee },
    faults = o.faults,
    finish = o.finish,
  }
end

local function no_running_job(r)
  local c <close> = fl.client(cfg, { timeout_ms = 30000 })
  for _, id in ipairs(r.job.ids or {}) do
    local st = c:job_handle(id):state()
    assert(st == 'FAILED' or st == 'CANCELED' or st == 'FINISHED', 'job ' .. id .. ' is ' .. tostring(st))
  end
end

local function stream_exists(name)
  local c <close> = assert(nats.connect(cfg.nats))
  return c:stream_info(name) ~= nil
end

describe('pipelines delivered through NATS JetStream #nats #flink #mysql', function()
  lazy_setup(function()
    assert(stack.ensure(cfg, { 'mariadb', 'nats', 'flink' }))
    assert(fl.settings(cfg).nats_connector, 'the spec needs flink.nats_connector = true')
  end)

  it('orders_jetstream: published to a stream fmhost creates, read by the connector on 2 subjects, every value '
    .. 'exact; the stream is deleted afterwards', function()
    local d = assert(P.load(DIR .. '/orders_jetstream.pipeline.lua'))
    local r = P.run(d)
    assert.pipeline(r)
    assert.is_true(r.verdict.counts.matched > 1000 and r.verdict.counts.matched < 2000)
    assert.are.same({ 'PL_ORDERS_JETSTREAM_ORDERS' }, r.streams)
    -- the statement Flink ran names the connector, the stream and both subjects
    local create = r.statements[#r.statements - 2].sql
    for _, s in ipairs { "'connector' = 'nats-jetstream'", "'stream' = 'PL_ORDERS_JETSTREAM_ORDERS'",
                         "'subjects' = 'pl_orders_jetstream_orders.orders.1;pl_orders_jetstream_orders.orders.2'",
                         "'scan.bounded.mode' = 'latest'" } do
      assert.matches(s, create, 1, true)
    end
    assert.is_false(stream_exists('PL_ORDERS_JETSTREAM_ORDERS'))
  end)

  it('a stream of the same name that fmhost did not create is refused, named, and left as it was', function()
    local c = assert(nats.connect(cfg.nats))
    finally(function()
      c:stream_delete('PL_FOREIGN_SRC')
      c:close()
    end)
    c:stream_delete('PL_FOREIGN_SRC')
    assert(c:stream_add { name = 'PL_FOREIGN_SRC', subjects = { 'foreign.x' }, storage = 'memory' })
    assert(c:publish('foreign.x', 'keep me'))
    local r = P.run(copy_pipeline('foreign', { rows = 10 }))
    assert.is_false(r.ok)
    assert.matches('the JetStream stream PL_FOREIGN_SRC exists and was not created by fmhost.pipeline', r.error, 1, true)
    assert.are.equal(0, #(r.job.ids or {}))
    local info = assert(c:stream_info('PL_FOREIGN_SRC'))
    assert.are.equal(1, info.state.messages)
    assert.are.same({ 'foreign.x' }, info.config.subjects)
  end)

  it('nats-server SIGKILLed and restarted while rows are paced in: the job reconnects and the target ends complete',
    function()
    local d = copy_pipeline('nats_restart', { rows = 6000, rate = 400,
      faults = { { 'restart_nats', at = { rows = 1200 }, duration_s = 3 } } })
    local r = P.run(d, { say = print })
    assert.pipeline(r)
    assert.are.equal(6000, r.verdict.counts.matched)
    assert.are.equal(1, #r.faults)
    assert.is_true(r.faults[1].ok, tostring(r.faults[1].detail))
    assert.is_true(r.faults[1].rows_at < 6000, 'the restart came after every row had arrived')
    assert.is_number(r.faults[1].healed_s, 'the server was not started again')
    -- publishes due while the server was down failed and were sent again (message ids: stored once)
    assert.is_true((r.publish_retries or 0) >= 1, 'no publish met the outage')
    print(('\n  restart at %.1f s with %d rows in the target; %s publish retries; job %d restart(s), %d failure(s)')
      :format(r.faults[1].t_s, r.faults[1].rows_at, tostring(r.publish_retries or 0), r.job.restarts or 0,
        r.job.failures or 0))
  end)

  it('an append sink (at-least-once) after a TaskManager kill: the replayed rows are reported as duplicated keys, '
    .. 'identical, none lost', function()
    local d = copy_pipeline('nats_append_kill', { rows = 8000, rate = 400, append = true, guarantee = 'at_least_once',
      session = { ['execution.checkpointing.interval'] = '4 s' },
      sink_options = { ['sink.buffer-flush.interval'] = '200 ms', ['sink.buffer-flush.max-rows'] = '50' },
      faults = { { 'kill_taskmanager', at = { rows = 2500, checkpoint = 1, after_checkpoint_s = 1.5 } } } })
    local r = P.run(d, { say = print })
    assert.pipeline(r)
    local c = r.verdict.counts
    assert.are.equal(0, c.missing)
    assert.are.equal(0, c.mismatched_rows)
    assert.is_true(r.job.restarts >= 1, 'the job did not restart')
    -- the kill was timed by Flink's record of the latest checkpoint, not by when fmhost saw it
    local ck = r.faults[1].checkpoint
    assert.is_table(ck, 'the kill was not timed by a checkpoint')
    assert.is_true(ck.id >= 1 and ck.age_s >= 1.5, ('killed %.2f s after checkpoint %s'):format(ck.age_s, ck.id))
    -- rows written after the last checkpoint before the kill are written again
    assert.is_true(c.duplicated > 0, 'no key written twice: the kill landed on a checkpoint')
    assert.are.equal(c.duplicated, r.duplicates.keys)
    assert.are.equal(0, r.duplicates.differing)
    assert.matches('duplicated keys: %d', P.format(r))
    print(('\n  %d keys written more than once (%d extra copies, all identical); first: %s'):format(c.duplicated,
      r.duplicates.copies, tostring(r.verdict.duplicated[1])))
  end)

  it('backpressure: the sink path slowed by fmhost.proxy, the source fetches less, the TaskManager memory stays '
    .. 'bounded, nothing is lost', function()
    -- the source's pace as JetStream sees it: the highest stream sequence the
    -- server has delivered to the stream's consumers (the stream has one
    -- subject, so that is the count of messages the source pulled; the reader
    -- may recreate its consumer at its position, so its own consumer sequence
    -- restarts, the stream sequence does not). Flink's counter of the reader's
    -- pulls is printed beside it when its REST metric store has it; that store
    -- is refreshed only every metrics.fetcher.update-interval and only when
    -- asked, so it is a witness, not the measure.
    local stream = 'PL_NATS_BACKPRESSURE_SRC'
    local nc <close> = assert(nats.connect(cfg.nats))
    local high
    local names, nnames = {}, 0
    local function delivered()
      for _, c in ipairs(nc:consumers(stream) or {}) do
        high = math.max(high or 0, c.delivered.stream_seq)
        if not names[c.name] then names[c.name], nnames = true, nnames + 1 end
      end
      return high
    end
    local samples = {}
    local last, fetch_id = 0, nil
    local function on_poll(run, handles, states)
      local t = proc.now_ms() / 1000
      if states[1] ~= 'RUNNING' or t - last < 0.5 then return end
      last = t
      local h = handles[1]
      local fetches
      local v = h:vertices()
      if v and v[1] then
        -- the source reader's counter of pulls (its id carries the operator's name), summed over subtasks
        local base = '/jobs/' .. h:id() .. '/vertices/' .. v[1].id .. '/subtasks/metrics'
        if not fetch_id then
          for _, m in ipairs(run.client:rest('GET', base) or {}) do
            if m.id:match('%.fetches$') then fetch_id = m.id end
          end
        end
        if fetch_id then
          local m = run.client:rest('GET', base .. '?agg=sum&get=' .. fetch_id)
          fetches = m and m[1] and tonumber(m[1].sum)
        end
      end
      local rss = 0
      for _, tm in ipairs(fl.taskmanagers(cfg)) do rss = math.max(rss, fl.rss_kb(tm.pid) or 0) end
      local f = run.result.faults[1]
      samples[#samples + 1] = { t = t - run.t_running, delivered = delivered(), fetches = fetches, rss_kb = rss,
                                phase = (not f and 'before') or (f.healed_s and 'after') or 'slow' }
    end
    local d = copy_pipeline('nats_backpressure', { rows = 18000, rate = 500, extra_src = ", 'scan.batch-size' = '20'",
      faults = { { 'slow', at = { after_s = 12 }, ms = 400, duration_s = 18 } } })
    local r = P.run(d, { say = print, on_poll = on_poll })
    assert.pipeline(r)
    assert.are.equal(18000, r.verdict.counts.matched)
    -- rates per phase (per second between the first and last sample of each)
    local function rate(field, phase, skip, span)
      local a, b
      for _, s in ipairs(samples) do
        if s.phase == phase and s[field] and s.t >= (skip or 0) then
          a = a or s
          b = s
        end
      end
      if not a or b.t - a.t < span then return nil end
      return (b[field] - a[field]) / (b.t - a.t)
    end
    local f = r.faults[1]
    -- the first seconds of the slowed phase still drain what was fetched before
    local before, slow = rate('delivered', 'before', 2, 5), rate('delivered', 'slow', f.t_s + 5, 5)
    -- Flink's REST serves metrics refreshed every 10 s: its slowed window starts 11 s in
    local fbefore, fslow = rate('fetches', 'before', 0, 5), rate('fetches', 'slow', f.t_s + 11, 5)
    local rss0, rss_max = nil, 0
    for _, s in ipairs(samples) do
      rss0 = rss0 or s.rss_kb
      rss_max = math.max(rss_max, s.rss_kb)
    end
    print(('\n  messages delivered by JetStream per second: before %.1f, while slowed %.1f; Flink fetches/s before %s, '
      .. 'while slowed %s; TaskManager RSS %d MB at the start, at most %d MB')
      :format(before or -1, slow or -1, fbefore and ('%.1f'):format(fbefore) or 'n/a',
        fslow and ('%.1f'):format(fslow) or 'n/a', (rss0 or 0) // 1024, rss_max // 1024))
    if not (before and slow) then
      local seen = {}
      for _, x in ipairs(samples) do seen[#seen + 1] = ('%.1f:%s:%s'):format(x.t, x.phase, tostring(x.delivered)) end
      error('too few samples of the stream\'s consumers (t:phase:delivered) ' .. table.concat(seen, ' '))
    end
    assert.is_true(before > 100, ('JetStream delivered only %.1f messages/s before the slowing'):format(before))
    -- one split, one consumer for the whole run: the reader reads what a pull lost from the
    -- stream instead of recreating its consumer (it once did, every few seconds)
    assert.are.equal(1, nnames, 'the source recreated its consumer')
    assert.is_true(slow < before / 2, 'the source did not fetch less under backpressure')
    -- the witness counts only when Flink's store refreshed within the window
    -- before the slowing (a counter that did not move there was read stale)
    if fbefore and fbefore > 0 and fslow then
      assert.is_true(fslow < fbefore / 2, "Flink's fetch counter did not drop under backpressure")
    end
    -- the TaskManager's process size bounds its memory (flink.tm_memory), with 10% for the JVM's own
    local limit_mb = tonumber((fl.settings(cfg).tm_memory:match('^(%d+)m$'))) or 1728
    -- (the backlog stays in the stream: the reader's fetch queue is bounded, so the JVM stays within its size)
    assert.is_true(rss_max // 1024 < limit_mb * 1.1, 'TaskManager RSS ' .. rss_max // 1024 .. ' MB')
  end)

  describe('bad input', function()
    it('no nats-server reachable: one error naming the URL before anything is created, no job', function()
      local bad = {}
      for k, v in pairs(cfg) do bad[k] = v end
      bad.nats = {}
      for k, v in pairs(cfg.nats) do bad.nats[k] = v end
      local port = require('fmhost.testing').free_port()
      bad.nats.managed = false
      bad.nats.url = 'nats://127.0.0.1:' .. port
      bad.nats.connect_attempts = 1
      local r = P.run(copy_pipeline('nats_down', { rows = 10 }), { cfg = bad })
      assert.is_false(r.ok)
      assert.matches('nats://127.0.0.1:' .. port, r.error, 1, true)
      assert.is_nil(r.error:find('\n'), 'one line')
      assert.are.equal(0, #(r.job.ids or {}))
      assert.are.same({}, r.created_tables)
    end)

    it('a stream that does not exist: the job fails naming it, nothing left running', function()
      local with = ("'connector' = 'nats-jetstream', 'servers' = '%s', 'stream' = 'PL_NO_SUCH_STREAM', "
        .. "'subjects' = 'nowhere.x', 'format' = 'json', 'scan.bounded.mode' = 'latest'"):format(PN.url(cfg))
      local r = P.run(copy_pipeline('nats_nostream', { rows = 10, source_with = with }))
      assert.is_false(r.ok)
      assert.are.equal('FAILED', r.job.state)
      assert.matches("stream 'PL_NO_SUCH_STREAM' does not exist", P.cause_line(r), 1, true)
      no_running_job(r)
    end)

    it('a subject that matches no stream: the job fails naming the subject and the stream\'s subjects', function()
      local with = ("'connector' = 'nats-jetstream', 'servers' = '${source.src.servers}', 'stream' = '${source.src.stream}', "
        .. "'subjects' = 'wrong.subject', 'format' = 'json', 'scan.bounded.mode' = 'latest'")
      local r = P.run(copy_pipeline('nats_badsubject', { rows = 10, source_with = with }))
      assert.is_false(r.ok)
      assert.are.equal('FAILED', r.job.state)
      assert.matches("subject 'wrong.subject' is not in stream 'PL_NATS_BADSUBJECT_SRC'", P.cause_line(r), 1, true)
      no_running_job(r)
      assert.is_false(stream_exists('PL_NATS_BADSUBJECT_SRC'))
    end)

    it('a misspelled connector option: the gateway refuses the statement naming it, no job', function()
      local r = P.run(copy_pipeline('nats_typo', { rows = 10, extra_src = ", 'scan.batch-sise' = '10'" }))
      assert.is_false(r.ok)
      assert.matches('rejected statement', r.error, 1, true)
      assert.matches("Unsupported options found for 'nats-jetstream'", r.error, 1, true)
      assert.matches('(unsupported: scan.batch-sise; did you mean scan.batch-size?)', r.error, 1, true)
      assert.are.equal(0, #(r.job.ids or {}))
      assert.is_false(stream_exists('PL_NATS_TYPO_SRC'))
    end)
  end)
end)
