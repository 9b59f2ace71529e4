-- nats_pipeline: rows per second from a JetStream stream through Flink into
-- MariaDB (fmhost's JetStream connector, 4 subjects, JSON, bounded at the
-- last message; the JDBC upsert sink into a table with a primary key,
-- parallelism 2), beside fmhost writing the same rows straight into MariaDB
-- with pool:load's batched multi-row INSERTs (insert_batch's path), in the
-- same run. With bench.nats_xa = true the connector jar's DataStream job
-- (JetStream -> JDBC exactly-once sink, XA) is timed as well. Flink's job
-- duration is the pipeline's time; every run's table is checked to hold
-- every row. ratio = pipeline rate / direct insert rate (the direct insert
-- is the ceiling: what MariaDB takes on this machine).
local NB = require 'fmhost.nats_bench'
local sql = require 'fmhost.pipeline.sql'
local stack = require 'fmhost.stack'
local pool = require 'fmhost.pool'

local M = { name = 'nats_pipeline', needs = { 'mariadb', 'nats', 'flink' },
            about = 'JetStream -> Flink -> MariaDB (upsert) rows/s beside fmhost insert_batch of the same rows' }

local TABLE = 'bench_nats_pipeline'

function M.run(cfg, B)
  local s = NB.settings(cfg)
  local g = NB.generator(s.seed)
  local fl = stack.flink
  local load0 = NB.load()
  local c, pub = NB.fill_stream(cfg, g, s.rows)
  local p = assert(pool.open(cfg.mysql or {}, { size = 2, read_timeout_ms = 600000 }))
  local client <close> = fl.client(cfg, { timeout_ms = 60000 })
  local function fresh()
    assert(p:exec('DROP TABLE IF EXISTS ' .. TABLE))
    assert(p:exec(g:create_table_sql(TABLE)))
  end
  local function check()
    local n = p:scalar('SELECT COUNT(*) FROM ' .. TABLE)
    assert(n == s.rows, ('%s holds %s of %d rows'):format(TABLE, tostring(n), s.rows))
  end
  local function flink_run()
    fresh()
    local secs = NB.run_job(client, {
      'CREATE TEMPORARY TABLE src (' .. NB.COLUMNS .. ') WITH (' .. NB.nats_with(cfg) .. ')',
      'CREATE TEMPORARY TABLE snk (' .. NB.COLUMNS .. ', PRIMARY KEY (id) NOT ENFORCED) WITH ('
        .. sql.jdbc_options(cfg.mysql, TABLE, { ['sink.buffer-flush.max-rows'] = '2000',
                                                ['sink.buffer-flush.interval'] = '1 s' }) .. ')',
      'INSERT INTO snk SELECT * FROM src' }, 2, { ['execution.checkpointing.interval'] = '5 s' })
    check()
    return secs
  end
  local function xa_run()
    fresh()
    local m = cfg.mysql
    local jarid = assert(client:upload_jar(fl.settings(cfg).nats_jar))
    local t0 = B.clock()
    local job = assert(client:run_jar(jarid, {
      entry_class = 'fmhost.flink.jetstream.job.JetStreamToJdbcJob', parallelism = 2, timeout_ms = NB.WAIT_MS,
      args = { '--servers', stack.nats.url(cfg), '--stream', NB.STREAM, '--subjects', table.concat(NB.SUBJECTS, ';'),
               '--bounded', 'latest', '--table', TABLE, '--columns', 'id,i,d,f,s,ts,b',
               '--jdbc-url', sql.jdbc_url(cfg.mysql), '--user', m.user, '--password', m.password,
               '--checkpoint-ms', '2000', '--job-name', 'fmhost bench nats_pipeline xa' } }))
    local state = job:wait('FINISHED', NB.WAIT_MS)
    client:rest('DELETE', '/jars/' .. jarid)
    assert(state == 'FINISHED', 'the XA job ended ' .. tostring(state))
    local d = job:detail()
    -- prepared empty transactions the XA sink leaves at the end (see README): rolled back
    for _, r in ipairs(p:query("XA RECOVER FORMAT='SQL'") or {}) do p:exec('XA ROLLBACK ' .. r.data) end
    check()
    return (tonumber(d and d.duration) or (B.clock() - t0) * 1000) / 1000
  end
  local function direct_run()
    fresh()
    local t = B.time(function()
      assert(p:load { table = TABLE, source = g, rows = s.rows, threads = 2, method = 'insert' })
    end)
    check()
    return t
  end
  local ft, bt, xt = {}, {}, {}
  local xa = stack.get(cfg, 'bench.nats_xa')
  xa = xa == true or xa == 'true'
  for i = 1, s.runs do
    bt[i] = direct_run()
    ft[i] = flink_run()
    if xa then xt[i] = xa_run() end
  end
  c:stream_delete(NB.STREAM)
  c:close()
  p:exec('DROP TABLE IF EXISTS ' .. TABLE)
  p:close()
  local f, b = B.median(ft), B.median(bt)
  local r = {
    name = M.name,
    rows = s.rows,
    fmhost = { rows_per_s = s.rows / f, wall_s = f, peak_rss_mb = B.peak_rss_mb(),
               what = 'JetStream (4 subjects) -> Flink SQL -> JDBC upsert sink, parallelism 2, Flink job duration',
               publish_msgs_per_s = pub.msgs_per_s },
    baseline = { what = "fmhost's pool:load batched multi-row INSERTs of the same rows (2 connections)",
                 rows_per_s = s.rows / b, wall_s = b },
    ratio = b / f,
    runs = { fmhost_s = ft, baseline_s = bt, xa_s = xa and xt or nil },
    xa = xa and { rows_per_s = s.rows / B.median(xt), wall_s = B.median(xt),
                  what = 'the connector jar\'s DataStream job, JDBC exactly-once (XA) sink, parallelism 2' } or nil,
    load_before = load0, load_after = NB.load(),
  }
  return r
end

return M
