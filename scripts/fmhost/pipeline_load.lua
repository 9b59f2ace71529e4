-- fmhost.pipeline_load: the load side of fmhost.pipeline (a description's
-- `load = {...}`): delivery paced at a rate or as fast as the source takes
-- it, started once the job's tasks run; each delivered row stamped with its
-- delivery time (on MariaDB's clock) and the sink table fmhost owns given a
-- column MariaDB fills with the time each row was written; a sampler, once a
-- second from the watch loop (never per row), of MariaDB's row counters,
-- Flink's sink counter, busy and backpressured time per vertex and the
-- resident memory of the stack's JVMs and of fmhost; at the end the figures
-- computed by SQL on the server: throughput overall and per second, the
-- end-to-end latency percentiles, checkpoints, errors, memory.
--
--   load = { rate = N | 'max',          rows/s of every source (default: data.NAME.rate, else 'max')
--            latency = true,            stamp rows and compute latency (JSON sources)
--            delivered_column = 'fmhost_delivered_at', written_column = 'fmhost_written_at',
--            sample_ms = 1000, chunk_rows = 20000 ('max': rows per file),
--            flink_counts = true,       before the unbounded end: wait (<= settle_s) until Flink's
--            settle_s = 15,             sink counter reaches MariaDB's count (REST metrics lag ~10 s)
--            warmup_s = 0 }             latency leaves out rows delivered in the first warmup_s seconds
--
-- result.load = { rows, rows_per_s (first delivery to last write), write_rows_per_s, span_s, e2e_span_s, running_s, running_rows_per_s, per_s = {n...},
--   per_10s = {rows/s...}, latency = {n, p50_ms, p90_ms, p99_ms, max_ms, mean_ms, min_ms} | {reason=},
--   flink = {sink_records_in, sink_records_out, operator, at_s, db_rows_then}, errors = {restarts,
--   failures, missing, failure_times_s}, checkpoints = {completed, failed, avg_ms, max_ms, last_size},
--   backpressure = {share, busy_share, by_vertex = {name = {backpressured, busy}}},
--   memory = {taskmanager_mb = {first, max, last}, jobmanager_mb = ..., fmhost_mb = ...},
--   samples = {{t, db_rows, flink_out, tm_mb, fm_mb, bp, busy}...} }
local proc = require 'fmhost.proc'

local M = {}

M.KEYS = { 'rate', 'latency', 'delivered_column', 'written_column', 'sample_ms', 'chunk_rows', 'flink_counts',
           'settle_s', 'warmup_s' }

local function now() return proc.now_ms() / 1000 end
local function q(name) return '`' .. tostring(name):gsub('`', '``') .. '`' end

local function rss_mb(pid)
  local kb = require('fmhost.files').status_kb(pid, 'VmRSS')
  return kb and kb / 1024
end
M.rss_mb = rss_mb

-- A new load state for run `run` (a pipeline Run) from desc.load.
function M.new(run, o)
  if o == true then o = {} end
  local L = setmetatable({ run = run, o = o, samples = {}, t_sample = 0, vertices = nil,
    latency = o.latency ~= false, dcol = o.delivered_column or 'fmhost_delivered_at',
    wcol = o.written_column or 'fmhost_written_at', sample_s = (o.sample_ms or 1000) / 1000,
    chunk = o.chunk_rows or 20000 }, { __index = M })
  -- MariaDB's clock: delivery stamps are in the server's time, so written - delivered is one clock
  local r = assert(run.db:query('SELECT UNIX_TIMESTAMP(NOW(6)) AS e, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW()) AS tz'))
  L.epoch0, L.mono0, L.tz = tonumber(r[1].e), now(), tonumber(r[1].tz) or 0
  return L
end

-- The server's local time now, 'YYYY-MM-DD HH:MM:SS.ffffff'.
function M:stamp()
  local e = self.epoch0 + (now() - self.mono0) + self.tz
  local s = math.floor(e)
  local us = math.floor((e - s) * 1e6)
  return os.date('!%Y-%m-%d %H:%M:%S', s) .. ('.%06d'):format(us)
end

-- Sources: the delivery rate (load.rate wins), stamping for JSON lines.
function M:prepare_source(s)
  local rate = self.o.rate or s.rate or 'max'
  s.rate = rate
  s.stamp = self.latency and (s.format == 'json') and not s.events or false
  s.load_chunk = self.chunk
end

-- The Flink column of the delivery stamp, added to ${source.NAME.columns}.
function M:flink_column(s)
  if s.stamp then return ', ' .. q(self.dcol) .. ' TIMESTAMP(6)' end
  return ''
end

-- Write rows of source s (ranges) into path with the delivery time in
-- each JSON line: one gsub over the text (C), not a Lua loop per row.
function M:write_stamped(s, path, ranges, rows_text)
  local f = assert(io.open(path, 'wb'))
  local bytes = 0
  local add = ',"' .. self.dcol .. '":"' .. self:stamp() .. '"}\n'
  for _, r in ipairs(ranges) do
    local t = rows_text(s, r[1], r[2]):gsub('}\n', add)
    bytes = bytes + #t
    f:write(t)
  end
  f:close()
  return bytes
end

-- The sink table: fmhost's written column on a table it owns (and the
-- delivered column when the table came from a generator).
function M:prepare_sink(from_generator)
  local run = self.run
  local cols = {}
  for _, r in ipairs(assert(run.db:query(('SELECT column_name AS c FROM information_schema.columns WHERE '
    .. "table_schema = DATABASE() AND table_name = '%s'"):format(run.sink)))) do cols[r.c] = true end
  if run:owned(run.sink) then
    if not cols[self.wcol] then
      run:db_exec(('ALTER TABLE %s ADD COLUMN %s DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6) '
        .. 'ON UPDATE CURRENT_TIMESTAMP(6)'):format(q(run.sink), q(self.wcol)))
      cols[self.wcol] = true
      self.added_w = true
    end
    if from_generator and self.latency and not cols[self.dcol] then
      run:db_exec(('ALTER TABLE %s ADD COLUMN %s DATETIME(6) NULL'):format(q(run.sink), q(self.dcol)))
      cols[self.dcol] = true
      self.added_d = true
    end
  end
  self.has_w, self.has_d = cols[self.wcol] or false, cols[self.dcol] or false
end

-- Columns the oracle leaves out.
function M:ignored()
  local out = {}
  if self.has_w then out[#out + 1] = self.wcol end
  if self.has_d then out[#out + 1] = self.dcol end
  return out
end

-- --- the sampler ---------------------------------------------------------------------

-- The rows in the sink table now (one COUNT a second; MariaDB 10.11 has no
-- InnoDB row counters, and SHOW STATUS counts its own temporary table).
local function db_rows(run)
  return tonumber(run:scalar('SELECT COUNT(*) FROM ' .. q(run.sink)))
end

-- The job's vertices and its sink operator's counter (found once).
function M:discover(h)
  local vs = h:vertices()
  if not vs or #vs == 0 then return false end
  for _, v in ipairs(vs) do if v.status ~= 'RUNNING' then return false end end
  self.vertices = {}
  for k, v in ipairs(vs) do self.vertices[k] = { id = v.id, name = v.name, parallelism = v.parallelism } end
  local sink
  for _, v in ipairs(self.vertices) do if tostring(v.name):find('Sink') then sink = v end end
  sink = sink or self.vertices[#self.vertices]
  self.sink_vertex = sink
  self:find_sink_op(h)
  return true
end

-- The sink operator's metric name (listed once Flink's metric fetcher has it).
function M:find_sink_op(h)
  local ids = h:vertex_metrics(self.sink_vertex.id) or {}
  for id in pairs(ids) do
    local op = id:match('^%d+%.(Sink.-)%.numRecordsIn$')
    if op then self.sink_op = op end
  end
end

function M:flink_sink_count(h)
  if not self.sink_op then return nil end
  local m = h:metrics(self.sink_vertex.id, { self.sink_op .. '.numRecordsIn', self.sink_op .. '.numRecordsOut' })
  if not m then return nil end
  return tonumber(m[self.sink_op .. '.numRecordsIn']), tonumber(m[self.sink_op .. '.numRecordsOut'])
end

-- Called from the watch loop (every poll): start paced delivery once the
-- tasks run, and sample once a second.
function M:tick(handles, states)
  local run, h = self.run, handles[1]
  local t = now()
  if t - self.t_sample < self.sample_s then return end
  self.t_sample = t
  if not self.vertices then
    if states[1] ~= 'RUNNING' or not self:discover(h) then return end
    self.t_tasks = t
    run.result.load_started_s = t - run.t_running
    for _, s in ipairs(run.order) do
      if s.pace and s.pace.waiting then
        s.pace.waiting = nil
        s.pace.next_t = t
        run:pace(s)
      end
    end
  end
  local smp = { t = t - self.t_tasks, db_rows = db_rows(run) }
  if states[1] == 'RUNNING' then
    if not self.sink_op then self:find_sink_op(h) end
    smp.flink_in, smp.flink_out = self:flink_sink_count(h)
    local bp, busy, byv = 0, 0, {}
    for _, v in ipairs(self.vertices) do
      local m = h:metrics(v.id, { 'backPressuredTimeMsPerSecond', 'busyTimeMsPerSecond' }, { agg = 'max' })
      if m then
        local b, u = tonumber(m.backPressuredTimeMsPerSecond) or 0, tonumber(m.busyTimeMsPerSecond) or 0
        if b ~= b then b = 0 end
        if u ~= u then u = 0 end
        byv[v.name] = { bp = b / 1000, busy = u / 1000 }
        bp, busy = math.max(bp, b / 1000), math.max(busy, u / 1000)
      end
    end
    smp.bp, smp.busy, smp.by_vertex = bp, busy, byv
  end
  -- the stack's JVMs, found in /proc once and again every 10 s (a TaskManager may be replaced)
  if run.cfg.flink.managed ~= false and (not self.pids or t - self.t_pids > 10) then
    local ok, found = pcall(function()
      local F = require('fmhost.stack').flink
      return F.find(F.settings(run.cfg))
    end)
    if ok and found then
      self.pids = { tm = {}, jm = found.jobmanager and found.jobmanager.pid }
      for _, p in ipairs(found.taskmanagers or {}) do self.pids.tm[#self.pids.tm + 1] = p.pid end
    end
    self.t_pids = t
  end
  if self.pids then
    local tm = 0
    for _, pid in ipairs(self.pids.tm) do tm = tm + (rss_mb(pid) or 0) end
    smp.tm_mb = tm > 0 and tm or nil
    smp.jm_mb = self.pids.jm and rss_mb(self.pids.jm) or nil
  end
  smp.fm_mb = rss_mb('self')
  smp.cost_s = now() - t
  self.samples[#self.samples + 1] = smp
end

-- Before the unbounded end: has Flink's sink counter caught up with the
-- target's count (or settle_s passed since it first could have)?
function M:settled(handles, n)
  if self.o.flink_counts == false or not self.sink_op then return true end
  local t = now()
  self.settle_from = self.settle_from or t
  if t - self.settle_from > (self.o.settle_s or 15) then return true end
  if t - (self.t_settle or 0) < 1 then return false end
  self.t_settle = t
  local fin, fout = self:flink_sink_count(handles[1])
  self.final_flink = { sink_records_in = fin, sink_records_out = fout, operator = self.sink_op,
                       at_s = t - (self.t_tasks or t), db_rows_then = n }
  return fin ~= nil and fin >= n
end

-- --- the figures -------------------------------------------------------------------

local function stats(xs)
  local lo, hi, first, last
  for _, x in ipairs(xs) do
    if x then
      first = first or x
      last = x
      lo = (lo == nil or x < lo) and x or lo
      hi = (hi == nil or x > hi) and x or hi
    end
  end
  if not first then return nil end
  return { first = first, min = lo, max = hi, last = last }
end

-- After the verdict: result.load from the server's columns, the samples and the job.
function M:finish(h)
  local run, r = self.run, self.run.result
  local L = { rate = self.o.rate or 'source', samples = self.samples }
  local db, T = run.db, q(run.sink)
  L.rows = tonumber(run:scalar('SELECT COUNT(*) FROM ' .. T)) or 0
  if self.has_w then
    local w = q(self.wcol)
    local row = (db:query(('SELECT TIMESTAMPDIFF(MICROSECOND, MIN(%s), MAX(%s)) AS us, UNIX_TIMESTAMP(MIN(%s)) AS t0 '
      .. 'FROM %s'):format(w, w, w, T)) or {})[1] or {}
    local span = (tonumber(row.us) or 0) / 1e6
    L.span_s = span
    L.write_rows_per_s = span > 0 and (L.rows / span) or nil
    -- throughput end to end: first delivery to last write when rows carry their delivery
    -- time (a sink that writes everything in one batch has a write span of 0 s), else the
    -- write span alone
    L.rows_per_s = L.write_rows_per_s
    if self.has_d then
      local d = q(self.dcol)
      local e2e = (db:query(('SELECT TIMESTAMPDIFF(MICROSECOND, MIN(%s), MAX(%s)) AS us FROM %s'):format(d, w, T)) or {})[1]
      local e2e_s = (tonumber(e2e and e2e.us) or 0) / 1e6
      if e2e_s > 0 then
        L.e2e_span_s = e2e_s
        L.rows_per_s = L.rows / e2e_s
      end
    end
    local per = db:query(('SELECT FLOOR(UNIX_TIMESTAMP(%s)) AS s, COUNT(*) AS n FROM %s WHERE %s IS NOT NULL '
      .. 'GROUP BY 1 ORDER BY 1'):format(w, T, w)) or {}
    local per_s, first = {}, per[1] and tonumber(per[1].s)
    for _, p in ipairs(per) do per_s[tonumber(p.s) - first + 1] = tonumber(p.n) end
    for i = 1, #per_s do per_s[i] = per_s[i] or 0 end
    for i = 1, (per[#per] and tonumber(per[#per].s) - first + 1 or 0) do per_s[i] = per_s[i] or 0 end
    L.per_s = per_s
    local per10 = {}
    for i = 1, #per_s, 10 do
      local n, k = 0, 0
      for j = i, math.min(i + 9, #per_s) do n, k = n + per_s[j], k + 1 end
      if k == 10 then per10[#per10 + 1] = n / 10 end
    end
    L.per_10s = per10
    local peak = 0
    for _, n in ipairs(per_s) do peak = math.max(peak, n) end
    L.peak_per_s = peak
  else
    L.written_column = 'none: the sink table is not fmhost\'s and has no ' .. self.wcol .. ' column'
  end
  if self.t_tasks and run.t_end_load then
    L.running_s = run.t_end_load - self.t_tasks
  end
  -- latency: written - delivered per row, percentiles by the server
  if self.has_w and self.has_d then
    local d = ('TIMESTAMPDIFF(MICROSECOND, %s, %s)'):format(q(self.dcol), q(self.wcol))
    local base = ('SELECT %s AS d FROM %s WHERE %s IS NOT NULL AND %s IS NOT NULL'):format(d, T, q(self.dcol), q(self.wcol))
    if (self.o.warmup_s or 0) > 0 then
      base = base .. (' AND %s >= (SELECT MIN(%s) FROM %s) + INTERVAL %d MICROSECOND'):format(q(self.dcol), q(self.dcol), T,
        math.floor(self.o.warmup_s * 1e6))
    end
    local agg = (db:query(('SELECT COUNT(*) AS n, MIN(d) AS lo, MAX(d) AS hi, AVG(d) AS mean FROM (%s) x'):format(base)) or {})[1]
    if agg and (tonumber(agg.n) or 0) > 0 then
      local pct = (db:query(('SELECT PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY d) OVER () AS p50, '
        .. 'PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY d) OVER () AS p90, '
        .. 'PERCENTILE_DISC(0.99) WITHIN GROUP (ORDER BY d) OVER () AS p99 FROM (%s) x LIMIT 1'):format(base)) or {})[1] or {}
      L.latency = { n = tonumber(agg.n), warmup_s = self.o.warmup_s, min_ms = tonumber(agg.lo) / 1000, max_ms = tonumber(agg.hi) / 1000,
        mean_ms = tonumber(agg.mean) / 1000, p50_ms = tonumber(pct.p50) and tonumber(pct.p50) / 1000,
        p90_ms = tonumber(pct.p90) and tonumber(pct.p90) / 1000, p99_ms = tonumber(pct.p99) and tonumber(pct.p99) / 1000 }
    else
      L.latency = { reason = 'no row carries both ' .. self.dcol .. ' and ' .. self.wcol }
    end
  else
    L.latency = { reason = (not self.has_d) and ('the sink has no ' .. self.dcol .. ' column (carry it through the '
      .. 'INSERT, or let fmhost create the sink with sink.from)') or ('the sink has no ' .. self.wcol .. ' column') }
  end
  -- Flink's own count of what the sink took, last sample while running
  if self.final_flink then
    L.flink = self.final_flink
  else
    for k = #self.samples, 1, -1 do
      local s = self.samples[k]
      if s.flink_in then
        L.flink = { sink_records_in = s.flink_in, sink_records_out = s.flink_out, operator = self.sink_op, at_s = s.t,
                    db_rows_then = nil }
        break
      end
    end
  end
  -- errors, checkpoints
  local j = r.job
  local v = r.verdict
  L.errors = { restarts = j.restarts or 0, failures = j.failures or 0, failure_times_s = j.failure_times_s,
    missing = v and v.counts.missing or nil,
    rate = v and v.counts.expected > 0 and (v.counts.missing / v.counts.expected) or nil }
  local c = h and h:checkpoints()
  if c and c.counts then
    local sm = c.summary or {}
    local e2e = sm.end_to_end_duration or {}
    local latest = c.latest and c.latest.completed or {}
    L.checkpoints = { completed = c.counts.completed, failed = c.counts.failed, avg_ms = e2e.avg, max_ms = e2e.max,
                      last_size = latest.checkpointed_size or latest.state_size }
  end
  -- backpressure and busy shares over the samples while running
  local nb, bp, busy, byv = 0, 0, 0, {}
  for _, s in ipairs(self.samples) do
    if s.bp then
      nb, bp, busy = nb + 1, bp + s.bp, busy + s.busy
      for name, x in pairs(s.by_vertex or {}) do
        local e = byv[name] or { backpressured = 0, busy = 0, n = 0 }
        e.backpressured, e.busy, e.n = e.backpressured + x.bp, e.busy + x.busy, e.n + 1
        byv[name] = e
      end
    end
  end
  for _, e in pairs(byv) do e.backpressured, e.busy, e.n = e.backpressured / e.n, e.busy / e.n, nil end
  L.backpressure = nb > 0 and { share = bp / nb, busy_share = busy / nb, by_vertex = byv, samples = nb } or nil
  local function col(name)
    local xs = {}
    for k, s in ipairs(self.samples) do xs[k] = s[name] or false end
    return stats(xs)
  end
  L.memory = { taskmanager_mb = col('tm_mb'), jobmanager_mb = col('jm_mb'), fmhost_mb = col('fm_mb') }
  r.load = L
  return L
end

-- The standard dataset as a load-run description: the 7-column table of the
-- benchmarks (config/schemas/seven.yaml: BIGINT key, INT, DECIMAL(22,9),
-- DOUBLE, VARCHAR(64) with NULLs, DATETIME(6), BOOLEAN), JSON lines into a
-- JDBC sink on a MariaDB table fmhost derives from the generator. o: name,
-- rows, rate, append (no key on the Flink sink: plain INSERTs),
-- options (JDBC sink options), url_params, parallelism, session, faults,
-- select (the SELECT list, default *), load (extra load keys), expect.
function M.standard(o)
  o = o or {}
  local cols = {
    { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
    { name = 'i', type = 'INT' },
    { name = 'd', type = 'DECIMAL(22,9)' },
    { name = 'f', type = 'DOUBLE' },
    { name = 's', type = 'VARCHAR(64)', nullable = true, null_ratio = 0.02 },
    { name = 'ts', type = 'DATETIME(6)' },
    { name = 'b', type = 'BOOLEAN' },
  }
  local key = o.append and '' or ', PRIMARY KEY (id) NOT ENFORCED'
  local session = {}
  if o.parallelism then session['parallelism.default'] = tostring(o.parallelism) end
  for k, v in pairs(o.session or {}) do session[k] = v end
  local load = { rate = o.rate or 'max' }
  for k, v in pairs(o.load or {}) do load[k] = v end
  return {
    name = o.name or 'standard', rows = o.rows or 3000, seed = o.seed or 42,
    data = { seven = { columns = cols } },
    flink = { session = session, sql = {
      'CREATE TEMPORARY TABLE seven (${source.columns}) WITH (${source.options})',
      'CREATE TEMPORARY TABLE sink7 (${source.columns}' .. key .. ') WITH (${sink.jdbc})',
      'INSERT INTO sink7 SELECT ' .. (o.select or '*') .. ' FROM seven',
    } },
    sink = { from = 'seven', options = o.options, url_params = o.url_params, table = o.table, latency_ms = o.latency_ms },
    expect = o.expect,
    faults = o.faults,
    finish = o.finish,
    load = load,
  }
end

-- The diagnosis line of a load run.
function M.format(L)
  if not L then return nil end
  local parts = {}
  if L.rows_per_s then
    parts[#parts + 1] = ('%d rows in %.1f s %s = %.0f rows/s (peak %d/s)'):format(L.rows, L.e2e_span_s or L.span_s,
      L.e2e_span_s and 'from first delivery to last write' or 'of writing', L.rows_per_s, L.peak_per_s or 0)
  else
    parts[#parts + 1] = ('%d rows'):format(L.rows)
  end
  local lt = L.latency or {}
  if lt.p50_ms then
    parts[#parts + 1] = ('latency p50 %.0f ms, p99 %.0f ms, max %.0f ms'):format(lt.p50_ms, lt.p99_ms or 0, lt.max_ms)
  elseif lt.reason then
    parts[#parts + 1] = 'no latency: ' .. lt.reason
  end
  local e = L.errors or {}
  parts[#parts + 1] = ('%d restart(s), %d missing'):format(e.restarts or 0, e.missing or 0)
  if L.flink and L.flink.sink_records_in then
    parts[#parts + 1] = ('Flink sink numRecordsIn %d'):format(L.flink.sink_records_in)
  end
  local c = L.checkpoints
  if c then parts[#parts + 1] = ('%d checkpoint(s)%s'):format(c.completed or 0,
    c.avg_ms and (' avg %d ms'):format(c.avg_ms) or '') end
  if L.backpressure then
    parts[#parts + 1] = ('backpressure %.0f%%, busy %.0f%%'):format(L.backpressure.share * 100,
      L.backpressure.busy_share * 100)
  end
  local m = L.memory or {}
  if m.taskmanager_mb then
    parts[#parts + 1] = ('TaskManager RSS %.0f->%.0f MB (max %.0f)'):format(m.taskmanager_mb.first,
      m.taskmanager_mb.last, m.taskmanager_mb.max)
  end
  if m.fmhost_mb then parts[#parts + 1] = ('fmhost RSS %.0f->%.0f MB'):format(m.fmhost_mb.first, m.fmhost_mb.last) end
  return 'load: ' .. table.concat(parts, ', ')
end

return M
