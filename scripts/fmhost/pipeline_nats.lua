-- fmhost.pipeline_nats: a pipeline source delivered through NATS JetStream
-- (data.NAME.deliver = 'jetstream'), used by fmhost.pipeline.
--
-- The generated rows are published by fmhost.nats's publish_rows (each row
-- one message made in C, its message id the row's key, so a re-publish
-- after a failure stores nothing twice) into a stream fmhost creates:
--   bounded (no rate=): every row before the job; the job reads up to the
--     last message as of its start ('scan.bounded.mode' = 'latest')
--   paced (rate= msgs/s): the first second's rows before the job, then one
--     batch a second while it runs (one publish_rows call per batch); the
--     job is unbounded and stopped by the pipeline's quiet end
-- Source keys: stream= (default PL_<PIPELINE>_<SOURCE>, upper case),
-- subjects= (a list, or a number n: <stream lower>.<source>.1 .. n; default
-- one subject <stream lower>.<source>), spread='hash'|'round_robin',
-- bounded=true|false (default: true unless rate=), format='json'|'csv'.
-- Placeholders: ${source.NAME.nats} (the connector's WITH options: servers,
-- stream, subjects, format, bounded mode; ${source.NAME.options} is the
-- same), ${source.NAME.stream}, ${source.NAME.subjects} ('a;b'),
-- ${source.NAME.servers}.
-- Ownership: the stream carries the description M.OWNER_MARK; an existing
-- stream without it is never deleted nor written (the run fails naming it);
-- the run deletes the streams it created when it ends.
local sql = require 'fmhost.pipeline.sql'
local pace = require 'fmhost.pipeline.pace'

local M = {}

M.OWNER_MARK = 'created by fmhost.pipeline'
M.KEYS = { 'stream', 'subjects', 'spread', 'bounded' }
M.DUPLICATE_WINDOW_MS = 600000
M.PUBLISH_TIMEOUT_MS = 2000

local function fail(where, msg) error({ pipeline_error = where .. ': ' .. msg }, 0) end

-- Shape checks of a jetstream source (d: the description's table).
function M.check(d, where)
  if d.changelog or d.document then
    fail(where, "deliver = 'jetstream' publishes plain rows: changelog= and document= need deliver = 'files'")
  end
  if d.format and d.format ~= 'json' and d.format ~= 'csv' then
    fail(where, ("deliver = 'jetstream' publishes 'json' or 'csv' messages, not '%s'"):format(tostring(d.format)))
  end
  if d.stream ~= nil and (type(d.stream) ~= 'string' or not d.stream:match('^[%w_%-]+$')) then
    fail(where, 'stream must be a JetStream stream name (letters, digits, _ and -), got ' .. tostring(d.stream))
  end
  local sj = d.subjects
  if sj ~= nil and not (math.type(sj) == 'integer' and sj >= 1) then
    if type(sj) ~= 'table' or #sj == 0 then fail(where, 'subjects must be a list of subjects or a count') end
    for _, s in ipairs(sj) do
      if type(s) ~= 'string' or s == '' or s:find('[%s%*>]') then
        fail(where, 'subjects: a literal subject (no spaces, * or >), got ' .. tostring(s))
      end
    end
  end
  if d.spread ~= nil and d.spread ~= 'hash' and d.spread ~= 'round_robin' then
    fail(where, ("spread must be 'hash' or 'round_robin', not '%s'"):format(tostring(d.spread)))
  end
  if d.rate ~= nil and (type(d.rate) ~= 'number' or d.rate <= 0) then fail(where, 'rate must be msgs/s > 0') end
end

-- Does a description deliver anything through JetStream?
function M.wanted(desc)
  for _, d in pairs(desc.data or {}) do
    if type(d) == 'table' and d.deliver == 'jetstream' then return true end
  end
  return false
end

-- Fill the source's JetStream fields (s: the run's source, d: its description).
function M.prepare(run, s, d)
  s.stream = d.stream or ('PL_' .. run.name .. '_' .. s.name):upper():gsub('[^%w_%-]', '_')
  local base = s.stream:lower() .. '.' .. s.name
  if type(d.subjects) == 'table' then
    s.subjects = d.subjects
  elseif d.subjects then
    s.subjects = {}
    for i = 1, d.subjects do s.subjects[i] = base .. '.' .. i end
  else
    s.subjects = { base }
  end
  s.spread = d.spread or 'hash'
  if d.bounded == nil then s.bounded = not d.rate else s.bounded = d.bounded and true or false end
  if not s.bounded and not s.rate then s.unbounded_source = true end
  s.dir = nil
end

function M.url(cfg) return require('fmhost.stack').nats.url(cfg) end

-- The connector's WITH options for source s.
function M.options(cfg, s)
  local o = { { 'connector', 'nats-jetstream' }, { 'servers', M.url(cfg) }, { 'stream', s.stream },
              { 'subjects', table.concat(s.subjects, ';') } }
  if s.format == 'csv' then
    o[#o + 1] = { 'format', 'csv' }
    o[#o + 1] = { 'csv.null-literal', '\\N' }
    o[#o + 1] = { 'csv.escape-character', '\\' }
    o[#o + 1] = { 'csv.allow-comments', 'false' }
  else
    o[#o + 1] = { 'format', 'json' }
    o[#o + 1] = { 'json.timestamp-format.standard', 'SQL' }
    o[#o + 1] = { 'json.fail-on-missing-field', 'true' }
  end
  o[#o + 1] = { 'scan.bounded.mode', s.bounded and 'latest' or 'unbounded' }
  return sql.with(o)
end

function M.vars(run, s, v)
  local p = 'source.' .. s.name .. '.'
  v[p .. 'nats'] = M.options(run.cfg, s)
  v[p .. 'options'] = v[p .. 'nats']
  v[p .. 'stream'] = s.stream
  v[p .. 'subjects'] = table.concat(s.subjects, ';')
  v[p .. 'servers'] = M.url(run.cfg)
  v[p .. 'path'], v[p .. 'dir'] = nil, nil
end

-- The run's connection (opened on first use).
local function conn(run)
  if run.nats_conn then return run.nats_conn end
  local nats = require 'fmhost.nats'
  local c, err = nats.connect(run.cfg.nats or {})
  if not c then
    error(('no NATS server reachable at %s: %s'):format(M.url(run.cfg), tostring(err)), 0)
  end
  run.nats_conn = c
  return c
end

-- Create the source's stream (after the ownership check).
function M.create_stream(run, s)
  local c = conn(run)
  local info = c:stream_info(s.stream)
  if info then
    if (info.config or {}).description ~= M.OWNER_MARK then
      error(('the JetStream stream %s exists and was not created by fmhost.pipeline: fmhost deletes and writes only '
        .. 'streams it created; delete it yourself or set data.%s.stream to another name'):format(s.stream, s.name), 0)
    end
    local ok, err = c:stream_delete(s.stream)
    if not ok then error(('deleting the stream %s: %s'):format(s.stream, tostring(err)), 0) end
  end
  local ok, err = c:stream_add { name = s.stream, subjects = s.subjects, storage = 'file',
                                 duplicate_window_ms = M.DUPLICATE_WINDOW_MS, description = M.OWNER_MARK }
  if not ok then
    error(('creating the JetStream stream %s over %s: %s'):format(s.stream, table.concat(s.subjects, ', '),
      tostring(err)), 0)
  end
  run.nats_streams = run.nats_streams or {}
  run.nats_streams[#run.nats_streams + 1] = s.stream
  run.result.streams = run.result.streams or {}
  run.result.streams[#run.result.streams + 1] = s.stream
end

-- Publish row ranges {{first, count}...} of source s; every row acked (or a
-- duplicate of one stored before). Returns the number of rows published |
-- nil, msg (nothing counted: the same ranges may be published again).
function M.publish(run, s, ranges)
  local c = conn(run)
  local n = 0
  for _, r in ipairs(ranges) do
    local res, err = c:publish_rows { generator = s.g, subjects = s.subjects, first = r[1], rows = r[2],
      format = s.format == 'csv' and 'csv' or 'json', spread = s.spread, msg_id = true,
      json_as_value = s.json_as_value, decimal_as_string = s.decimal == 'string',
      timeout_ms = M.PUBLISH_TIMEOUT_MS }
    if not res then return nil, tostring(err) end
    if res.acked + res.duplicates < r[2] then
      return nil, ('%d of %d messages acked'):format(res.acked + res.duplicates, r[2])
    end
    n = n + r[2]
    s.published = (s.published or 0) + r[2]
  end
  return n
end

-- Deliver source s before the job: all its rows, or the first second's when paced.
function M.deliver(run, s, ranges_of)
  M.create_stream(run, s)
  if s.rate then
    s.pace = { ranges = ranges_of(s), next_t = 0 }
    M.pace(run, s, true)
    if s.pace.take then
      error(('publishing the first rows to the stream %s: %s'):format(s.stream, tostring(s.pace.last_error)), 0)
    end
  else
    local ok, err = M.publish(run, s, ranges_of(s))
    if not ok then error(('publishing %d rows to the stream %s: %s'):format(s.count, s.stream, err), 0) end
  end
end

-- One batch of a paced source when it is due: rate rows a second. A failed
-- publish (the server restarting, say) keeps the batch for the next tick;
-- message ids make the retry store each row once.
function M.pace(run, s, first)
  local p = s.pace
  if not p or p.done then return end
  local t = require('fmhost.proc').now_ms() / 1000
  if not first and t < p.next_t then return end
  if not p.take then p.take = pace.take(p.ranges, math.max(1, math.floor(s.rate))) end
  local ok, err = M.publish(run, s, p.take)
  if ok then
    p.take = nil
    p.next_t = t + 1
    if #p.ranges == 0 then p.done = true end
  else
    p.failures = (p.failures or 0) + 1
    p.last_error = err
    run.result.publish_retries = (run.result.publish_retries or 0) + 1
    p.next_t = t + 0.5
  end
end

-- Delete the streams the run created, close the connection.
function M.cleanup(run, keep)
  if run.nats_down then -- a run that ended while its restart_nats fault had the server down
    require('fmhost.stack').nats.start(run.cfg)
    run.nats_down = false
  end
  local c = run.nats_conn
  if not c then return end
  if not keep then
    for _, name in ipairs(run.nats_streams or {}) do pcall(c.stream_delete, c, name) end
  end
  pcall(c.close, c)
  run.nats_conn = nil
end

-- The fault restart_nats: SIGKILL the stack's nats-server now, start it
-- again duration_s (default 3) later from the watch loop, so that the paced
-- publishing and the job both live through the outage.
function M.restart(run, f, rec)
  local stack = require 'fmhost.stack'
  local proc = require 'fmhost.proc'
  local ok, pid = stack.nats.kill(run.cfg, 'KILL')
  if not ok then
    rec.ok, rec.detail = false, tostring(pid)
    return
  end
  rec.ok = true
  run.nats_down = true
  rec.detail = ('SIGKILL nats-server (pid %s) for %s s'):format(tostring(pid), tostring(f.duration_s or 3))
  run.heal[#run.heal + 1] = { t = proc.now_ms() / 1000 + (f.duration_s or 3), fn = function()
    local ok2, info = stack.nats.start(run.cfg)
    run.nats_down = false
    rec.healed_s = proc.now_ms() / 1000 - run.t_running
    if ok2 then
      rec.detail = rec.detail .. ('; started again (pid %s) at %.1f s'):format(tostring(info and info.pid), rec.healed_s)
    else
      rec.ok = false
      rec.detail = rec.detail .. '; could not start it again: ' .. tostring(info)
    end
  end }
end

return M
