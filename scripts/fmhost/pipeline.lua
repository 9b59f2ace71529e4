-- fmhost.pipeline: a data engineer's own Flink pipeline under test.
--
-- A description (a Lua table; a file NAME.pipeline.lua returning one is a
-- runnable unit) names the data (generated sources and how they reach the
-- job), the user's Flink SQL verbatim with placeholders, the sink table, the
-- oracle, the faults to apply while the job runs and how the run ends.
-- pipeline.run(desc) stages the data, runs the job, applies the faults,
-- compares the target with the oracle (fmhost.validate: the per-row work is
-- C) and returns a result; pipeline.format(result) is the diagnosis a person
-- reads in ten seconds; pipeline.shrink(desc, result) re-runs the pipeline on
-- subsets of the input rows until a minimal failing set is left.
--
--   local pipeline = require 'fmhost.pipeline'
--   local r = pipeline.run(dofile('examples/pipelines/orders.pipeline.lua'))
--   assert.pipeline(r)              -- busted: fails with pipeline.format(r)
--   assert.verdict(v)               -- busted: a verdict of fmhost.validate fails with validate.format(v)
--
-- The description (every part has defaults; see README "Check your own pipeline"):
--   name=, seed=, rows=, description=,
--   data = { NAME = { columns={fmhost.gen columns; a column may say ref='other.col'},
--            rows=, seed=, deliver='files'|'table'|'jetstream', format='json'|'csv',
--            stream=, subjects={...}|n, spread=, bounded= (jetstream: see fmhost.pipeline_nats),
--            rate= (rows/s: paced into new files, an unbounded monitored folder),
--            document={['path.in.doc']='column' | {column=, as='string'|'number'}},
--            changelog={...} (see changelog_rows), decimal='number'|'string' } },
--   flink = { sql = 'statements' | {statements} , file = 'x.sql', session = {k=v},
--             jar = {path=, entry=, args={}, parallelism=} },
--   sink = { table=, ddl= | from='SOURCE', key=, reset='truncate'|'drop', options={jdbc sink options},
--            url_params={name=value}, keep=true },
--   expect = { generator='SOURCE' | sql='SELECT ...' | fn=function(row) end (+ source=),
--              key='id'|{'a','b'}|false, columns={col={ulp=, fsp=, time_zone=, as=, ignore=}},
--              ignore={cols}, guarantee='exactly_once'|'upsert'|'at_least_once', job='FINISHED' },
--   faults = { {'kill_taskmanager'|'cut'|'blackhole'|'slow'|'restart_mariadb'|'restart_nats'|'cancel'|'savepoint',
--               at={rows=|fraction=|checkpoint=|after_s=|after_checkpoint_s=}, duration_s=, ms=} },
--   finish = { mode='bounded'|'unbounded', quiet_s=3, deadline_s=180 }
local stack = require 'fmhost.stack'
local pool = require 'fmhost.pool'
local gen = require 'fmhost.gen'
local validate = require 'fmhost.validate'
local proc = require 'fmhost.proc'
local PN = require 'fmhost.pipeline_nats'
local sql = require 'fmhost.pipeline.sql'
local pace = require 'fmhost.pipeline.pace'

local M = {}

M.ROWS = 3000
M.WAIT_S = 180 -- a job's whole run: generous, only a hang reaches it
M.POLL_MS = 200

-- The session a pipeline starts from (the description's flink.session wins).
M.SESSION = {
  ['execution.runtime-mode'] = 'streaming',
  ['table.local-time-zone'] = 'UTC',
  ['table.dml-sync'] = 'false',
  ['parallelism.default'] = '1',
  ['restart-strategy.type'] = 'none',
}
-- What a run with faults adds (a job must survive them to be judged).
M.FAULT_SESSION = {
  ['execution.checkpointing.interval'] = '1 s',
  ['restart-strategy.type'] = 'fixed-delay',
  ['restart-strategy.fixed-delay.attempts'] = '20',
  ['restart-strategy.fixed-delay.delay'] = '3 s',
}

local function now() return proc.now_ms() / 1000 end
local q, sql_quote = sql.ident, sql.quote

-- --- the description's keys ---------------------------------------------------

local KEYS = {
  top = { 'name', 'description', 'seed', 'rows', 'data', 'flink', 'sink', 'expect', 'faults', 'finish', 'tags',
          'managed_ok', 'file', 'load' },
  source = { 'columns', 'rows', 'seed', 'deliver', 'format', 'rate', 'document', 'changelog', 'decimal', 'name',
             'time_zone', 'indices', 'json_as_value', 'stream', 'subjects', 'spread', 'bounded' },
  flink = { 'sql', 'file', 'session', 'jar' },
  jar = { 'path', 'entry', 'args', 'parallelism', 'build' },
  sink = { 'table', 'ddl', 'from', 'key', 'reset', 'options', 'url_params', 'keep', 'latency_ms' },
  expect = { 'generator', 'sql', 'fn', 'source', 'key', 'columns', 'ignore', 'guarantee', 'job', 'allow_extra_columns' },
  column = { 'ulp', 'fsp', 'time_zone', 'as', 'ignore' },
  fault = { 'action', 'at', 'duration_s', 'ms', 'restart', 'rate' },
  at = { 'rows', 'fraction', 'checkpoint', 'after_s', 'after_checkpoint_s' },
  finish = { 'mode', 'quiet_s', 'deadline_s' },
}
M.KEYS = KEYS

local function distance(a, b)
  local la, lb = #a, #b
  local prev = {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    local cur = { [0] = i }
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[lb]
end

-- The closest of `names` to `word`.
function M.closest(word, names)
  local best, bd
  for _, n in ipairs(names) do
    local d = distance(word:lower(), n:lower())
    if not bd or d < bd then best, bd = n, d end
  end
  return best
end

local function desc_error(where, msg) error({ pipeline_error = where .. ': ' .. msg }, 0) end

local function check_keys(t, names, where)
  if type(t) ~= 'table' then desc_error(where, 'must be a table') end
  local set = {}
  for _, n in ipairs(names) do set[n] = true end
  for k in pairs(t) do
    if type(k) == 'string' and not set[k] then
      desc_error(where, ("unknown key '%s', did you mean '%s'?"):format(k, M.closest(k, names)))
    end
  end
end

local GUARANTEES = { exactly_once = true, upsert = true, at_least_once = true }
local ACTIONS = { kill_taskmanager = true, cut = true, blackhole = true, slow = true, restart_mariadb = true,
                  cancel = true, savepoint = true, restart_nats = true }

-- Check a description's keys and shapes; raises {pipeline_error=} naming the
-- place and the closest valid key.
function M.check(desc)
  local where = 'pipeline' .. (type(desc) == 'table' and desc.name and (' ' .. tostring(desc.name)) or '')
  check_keys(desc, KEYS.top, where)
  if desc.data ~= nil then
    if type(desc.data) ~= 'table' then desc_error(where, 'data must be a table of named sources') end
    for name, src in pairs(desc.data) do
      if type(name) ~= 'string' or not name:match('^[%a_][%w_]*$') then
        desc_error(where, 'data: a source name must be an identifier, got ' .. tostring(name))
      end
      check_keys(src, KEYS.source, where .. ': data.' .. name)
      if src.deliver and src.deliver ~= 'files' and src.deliver ~= 'table' and src.deliver ~= 'jetstream' then
        desc_error(where .. ': data.' .. name, ("deliver must be 'files', 'table' or 'jetstream', not '%s'")
          :format(tostring(src.deliver)))
      end
      if src.deliver == 'jetstream' then PN.check(src, where .. ': data.' .. name) end
      if src.format and src.format ~= 'json' and src.format ~= 'csv' and src.format ~= 'debezium-json' then
        desc_error(where .. ': data.' .. name, ("format must be 'json', 'csv' or 'debezium-json', not '%s'")
          :format(tostring(src.format)))
      end
      if not src.changelog and (type(src.columns) ~= 'table' or #src.columns == 0) then
        desc_error(where .. ': data.' .. name, 'columns (fmhost.gen columns) are required')
      end
    end
  end
  if desc.flink ~= nil then
    check_keys(desc.flink, KEYS.flink, where .. ': flink')
    if desc.flink.jar then check_keys(desc.flink.jar, KEYS.jar, where .. ': flink.jar') end
  end
  if desc.sink ~= nil then
    check_keys(desc.sink, KEYS.sink, where .. ': sink')
    local r = desc.sink.reset
    if r ~= nil and r ~= 'truncate' and r ~= 'drop' and r ~= false then
      desc_error(where .. ': sink', "reset must be 'truncate' or 'drop'")
    end
    local l = desc.sink.latency_ms
    if l ~= nil and not (type(l) == 'number' and l >= 0 and l <= 60000) then
      desc_error(where .. ': sink', 'latency_ms must be milliseconds between 0 and 60000, got ' .. tostring(l))
    end
  end
  if desc.expect ~= nil then
    check_keys(desc.expect, KEYS.expect, where .. ': expect')
    local g = desc.expect.guarantee
    if g ~= nil and not GUARANTEES[g] then
      desc_error(where .. ': expect', ("unknown guarantee '%s', did you mean '%s'?"):format(tostring(g),
        M.closest(tostring(g), { 'exactly_once', 'upsert', 'at_least_once' })))
    end
    for col, o in pairs(desc.expect.columns or {}) do
      check_keys(o, KEYS.column, where .. ': expect.columns.' .. tostring(col))
    end
    if desc.expect.fn ~= nil and type(desc.expect.fn) ~= 'function' then
      desc_error(where .. ': expect', 'fn must be a function row -> row | nil | list of rows')
    end
  end
  for i, f in ipairs(desc.faults or {}) do
    local fw = where .. ': faults[' .. i .. ']'
    if type(f) ~= 'table' then desc_error(fw, 'must be a table') end
    local t = {}
    for k, v in pairs(f) do if k ~= 1 then t[k] = v end end
    check_keys(t, KEYS.fault, fw)
    local a = f.action or f[1]
    if not ACTIONS[a] then
      local names = {}
      for n in pairs(ACTIONS) do names[#names + 1] = n end
      table.sort(names)
      desc_error(fw, ("unknown action '%s', did you mean '%s'?"):format(tostring(a), M.closest(tostring(a), names)))
    end
    if f.at ~= nil then check_keys(f.at, KEYS.at, fw .. '.at') end
  end
  if desc.finish ~= nil then check_keys(desc.finish, KEYS.finish, where .. ': finish') end
  if desc.load ~= nil and desc.load ~= true then
    check_keys(desc.load, require('fmhost.pipeline_load').KEYS, where .. ': load')
    local rt = desc.load.rate
    if rt ~= nil and rt ~= 'max' and not (type(rt) == 'number' and rt > 0) then
      desc_error(where .. ': load', "rate must be rows per second (a number > 0) or 'max'")
    end
  end
  return desc
end

-- Load a NAME.pipeline.lua file: the table it returns, checked.
-- Returns desc | nil, msg.
function M.load(path)
  local chunk, err = loadfile(path, 't', setmetatable({}, { __index = _G }))
  if not chunk then return nil, tostring(err) end
  local ok, desc = pcall(chunk)
  if not ok then return nil, path .. ': ' .. tostring(type(desc) == 'table' and desc.pipeline_error or desc) end
  if type(desc) ~= 'table' then return nil, path .. ': the file must return a pipeline description (a table)' end
  desc.name = desc.name or path:match('([^/]+)%.pipeline%.lua$') or path:match('([^/]+)%.lua$')
  desc.file = path
  local cok, cerr = pcall(M.check, desc)
  if not cok then return nil, path .. ': ' .. tostring(type(cerr) == 'table' and cerr.pipeline_error or cerr) end
  return desc
end

-- --- SQL text -------------------------------------------------------------------

-- Split SQL text into statements at ';' outside quotes and comments:
-- {{sql=, line= (of its first character)}}. EXECUTE STATEMENT SET BEGIN ...
-- END stays one statement.
function M.split_sql(text)
  local out, buf, line, start_line = {}, {}, 1, nil
  local i, n = 1, #text
  local function emit()
    local s = table.concat(buf)
    local lead = s:match('^%s*')
    local body = s:gsub('^%s+', ''):gsub('%s+$', '')
    if body ~= '' then
      local l = start_line
      for _ in lead:gmatch('\n') do l = l + 1 end
      out[#out + 1] = { sql = body, line = l }
    end
    buf, start_line = {}, nil
  end
  while i <= n do
    local c = text:sub(i, i)
    if not start_line then start_line = line end
    if c == "'" or c == '"' or c == '`' then
      local j = i + 1
      while j <= n do
        local d = text:sub(j, j)
        if d == c then
          if text:sub(j + 1, j + 1) == c then j = j + 1 else break end
        elseif d == '\\' and c ~= '`' and c ~= "'" then j = j + 1 end
        j = j + 1
      end
      local piece = text:sub(i, j)
      for _ in piece:gmatch('\n') do line = line + 1 end
      buf[#buf + 1] = piece
      i = j + 1
    elseif c == '-' and text:sub(i + 1, i + 1) == '-' then
      local j = text:find('\n', i, true) or n + 1
      buf[#buf + 1] = text:sub(i, j - 1)
      i = j
    elseif c == '/' and text:sub(i + 1, i + 1) == '*' then
      local j = select(2, text:find('*/', i + 2, true)) or n
      local piece = text:sub(i, j)
      for _ in piece:gmatch('\n') do line = line + 1 end
      buf[#buf + 1] = piece
      i = j + 1
    elseif c == ';' then
      local s = table.concat(buf)
      local up = s:upper()
      if up:match('^%s*EXECUTE%s+STATEMENT%s+SET') and not up:match('%f[%w]END%s*$') then
        buf[#buf + 1] = c
      else
        emit()
      end
      i = i + 1
    else
      if c == '\n' then line = line + 1 end
      buf[#buf + 1] = c
      i = i + 1
    end
  end
  emit()
  return out
end

-- Replace ${name} in text from vars; an unknown name raises naming the
-- closest known one.
function M.expand(text, vars, where)
  return (text:gsub('%${([^}]*)}', function(name)
    local v = vars[name]
    if v == nil then
      local names = {}
      for k in pairs(vars) do names[#names + 1] = k end
      table.sort(names)
      local near = M.closest(name, names)
      desc_error(where or 'pipeline', ("unknown placeholder ${%s}%s"):format(name,
        near and (', did you mean ${' .. near .. '}?') or ''))
    end
    return (tostring(v):gsub('%%', '%%%%'))
  end))
end

-- The real cause in a Java stack trace, one line (fmhost.flink.summarize:
-- the driver's cause where there is one, with the connector's context,
-- "JDBC write failed: Communications link failure (Connection reset by
-- peer)"; never a wrapper of Flink's nor a "[CIRCULAR REFERENCE: ...]").
function M.cause(trace)
  if not trace then return nil end
  local line = require('fmhost.flink').summarize(tostring(trace))
  if line == '' then return tostring(trace):match('^[^\n]*') end
  return line
end

-- Flink's "Unsupported options found for 'X'" lists the unsupported and the
-- supported options on lines of their own: '(unsupported: a; did you mean
-- b?)' for each unsupported one, or nil.
function M.unsupported_options(text)
  text = tostring(text or ''):gsub('\\n', '\n')
  local bad, good = text:match('Unsupported options:%s*(.-)%s*Supported options:%s*(.-)%s*\n%s*\n')
  if not bad then
    bad, good = text:match('Unsupported options:%s*(.-)%s*Supported options:%s*(.*)$')
  end
  if not bad then return nil end
  local supported = {}
  for o in good:gmatch('[^%s]+') do if o:match('^[%w][%w%._%-]*$') then supported[#supported + 1] = o end end
  local parts = {}
  for o in bad:gmatch('[^%s]+') do
    local near = #supported > 0 and M.closest(o, supported)
    parts[#parts + 1] = o .. (near and ('; did you mean ' .. near .. '?') or '')
  end
  if #parts == 0 then return nil end
  return '(unsupported: ' .. table.concat(parts, ', ') .. ')'
end

-- The gateway's message for a refused statement: its most telling line and
-- the position (line, column) it names, if any.
local function gateway_message(msg, info)
  local detail = tostring(info and info.detail or '')
  local text = detail ~= '' and detail or tostring(msg)
  -- the gateway's error body is JSON: {"errors": [...]} with the trace inside
  local okj, body = pcall(function() return require('cjson').decode(text:match('%b{}') or '') end)
  if okj and type(body) == 'table' and type(body.errors) == 'table' then
    local parts = {}
    for _, e in ipairs(body.errors) do parts[#parts + 1] = tostring(e) end
    text = table.concat(parts, '\n')
  end
  local best
  for l in text:gmatch('[^\n]+') do
    if l:find('SQL parse failed', 1, true) or l:find('SQL validation failed', 1, true)
        or l:find('line %d+, column %d+') then
      best = best or l
    end
  end
  local cause = M.cause(text)
  local ln, col = (best or cause or ''):match('line (%d+), column (%d+)')
  if not ln then ln, col = text:match('line (%d+), column (%d+)') end
  local line = best or cause or tostring(msg)
  line = line:gsub('^%s*[%w%.$]+Exception:%s*', ''):gsub('^%s*Caused by:%s*', '')
  if cause and best and not best:find(cause, 1, true) and #cause < 400 then
    line = line .. ' (' .. cause:gsub('^[%w%.$]+Exception:%s*', '') .. ')'
  end
  local unsupported = M.unsupported_options(text)
  if unsupported and not line:find(unsupported, 1, true) then line = line .. ' ' .. unsupported end
  return line, tonumber(ln), tonumber(col)
end

-- --- data ----------------------------------------------------------------------------

-- A generator column list without the pipeline's own keys, with ref= turned
-- into the referenced source's key range.
local function gen_columns(name, src, sources)
  local out = {}
  for _, c in ipairs(src.columns) do
    local col = {}
    for k, v in pairs(c) do if k ~= 'ref' then col[k] = v end end
    if c.ref then
      local rs, rc = tostring(c.ref):match('^([%w_]+)%.([%w_]+)$')
      local other = rs and sources[rs]
      if not other then desc_error('data.' .. name, 'column ' .. tostring(c.name) .. ': ref must be SOURCE.COLUMN, got ' .. tostring(c.ref)) end
      local start = 1
      for _, oc in ipairs(other.columns) do
        if oc.name == rc then start = oc.start or 1 end
      end
      col.min = col.min or start
      col.max = col.max or (start + (other.rows or M.ROWS) - 1)
      col.distribution = col.distribution or 'uniform'
    end
    out[#out + 1] = col
  end
  return out
end

-- The Flink column list for a generator's columns (the documented JDBC
-- mapping; TIMESTAMP is read as TIMESTAMP_LTZ from fmhost's JSON lines).
local function flink_columns(g)
  local parts = {}
  for _, c in ipairs(g:schema().columns) do
    local t = sql.flink_types(c.sql_type)
    parts[#parts + 1] = q(c.name) .. ' ' .. (t or 'STRING')
  end
  return table.concat(parts, ', ')
end

local function rm_dir(dir)
  if dir and dir:match('/pipelines/') then proc.run { 'rm', '-rf', dir, timeout_ms = 60000 } end
end

local function clear_dir(dir)
  rm_dir(dir)
  assert(stack.mkdir_p(dir))
end

-- Row ranges of a source: {{first, count}...} from src.indices (a sorted
-- list of row indices, shrinking) or the whole [0, rows).
local function ranges_of(s)
  if not s.indices then return { { 0, s.rows } } end
  local out = {}
  for _, i in ipairs(s.indices) do
    local last = out[#out]
    if last and last[1] + last[2] == i then last[2] = last[2] + 1 else out[#out + 1] = { i, 1 } end
  end
  return out
end
M.ranges_of = ranges_of

-- --- changelogs -----------------------------------------------------------------

-- A deterministic PRNG of its own (the seed alone replays a changelog).
local function lcg(seed)
  local x = (seed * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
  return function()
    x = (x * 6364136223846793005 + 1442695040888963407) & 0xffffffffffffffff
    return ((x >> 11) & 0x1fffffffffffff) / 9007199254740992.0
  end
end

-- The events of a changelog source: per key an insert, `updates` updates,
-- maybe a delete, with replays (an event sent twice), out-of-order updates
-- (version v before v-1) and key changes (delete + insert under a new key),
-- keys interleaved. An event: {op='c'|'u'|'d', key=, before=row index|nil,
-- after=row index|nil, after_key=}. Row index (k-1)*(updates+1)+v holds
-- version v of key k (its key column replaced by the key).
function M.changelog_events(c, seed)
  local keys, updates = c.keys or 100, c.updates or 2
  local rnd = lcg(seed)
  local per = {}
  local V = updates + 1
  for k = 1, keys do
    local ev = { { op = 'c', key = k, after = (k - 1) * V } }
    for v = 1, updates do
      ev[#ev + 1] = { op = 'u', key = k, before = (k - 1) * V + v - 1, after = (k - 1) * V + v }
    end
    if updates >= 2 and rnd() < (c.reorder_ratio or 0) then
      local v = 1 + math.floor(rnd() * (updates - 1)) + 1 -- swap updates v-1 and v (1-based events 2..)
      ev[v], ev[v + 1] = ev[v + 1], ev[v]
    end
    local last = (k - 1) * V + updates
    if rnd() < (c.rekey_ratio or 0) then
      local nk = keys * 10 + k
      ev[#ev + 1] = { op = 'd', key = k, before = last }
      ev[#ev + 1] = { op = 'c', key = nk, after = last }
    elseif rnd() < (c.delete_ratio or 0) then
      ev[#ev + 1] = { op = 'd', key = k, before = last }
    end
    local out = {}
    for _, e in ipairs(ev) do
      out[#out + 1] = e
      if rnd() < (c.replay_ratio or 0) then out[#out + 1] = e end
    end
    per[k] = out
  end
  -- interleave: round-robin over the keys
  local events, pos, left = {}, {}, keys
  for k = 1, keys do pos[k] = 1 end
  while left > 0 do
    left = 0
    for k = 1, keys do
      local e = per[k][pos[k]]
      if e then
        events[#events + 1] = e
        pos[k] = pos[k] + 1
        if per[k][pos[k]] then left = left + 1 end
      end
    end
  end
  return events
end

local function changelog_image(s, idx, key)
  local parts = {}
  for ci, name in ipairs(s.g:columns()) do
    local v = (ci == 1) and tostring(key) or s.g:text(idx, name, 'json')
    parts[#parts + 1] = '"' .. name .. '":' .. v
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

local function changelog_line(s, e)
  local before = e.before and changelog_image(s, e.before, e.key) or 'null'
  local after = e.after and changelog_image(s, e.after, e.key) or 'null'
  return ('{"before":%s,"after":%s,"op":"%s"}'):format(before, after, e.op)
end

-- The final state per key after applying events (a list of indices into
-- s.events, in order): {key -> row index}, keys in order.
local function changelog_state(s, indices)
  local state, keys = {}, {}
  for _, i in ipairs(indices) do
    local e = s.events[i + 1]
    if e.op == 'd' then state[e.key] = nil
    else
      if state[e.key] == nil then keys[#keys + 1] = e.key end
      state[e.key] = e.after
    end
  end
  local out = {}
  table.sort(keys)
  local seen = {}
  for _, k in ipairs(keys) do
    if state[k] and not seen[k] then
      seen[k] = true
      out[#out + 1] = { key = k, index = state[k] }
    end
  end
  return out
end
M.changelog_state = changelog_state

-- The text of rows [first, first+count) of source s in its file format.
local function rows_text(s, first, count)
  if s.events then
    local lines = {}
    for i = first, first + count - 1 do lines[#lines + 1] = changelog_line(s, s.events[i + 1]) end
    return table.concat(lines, '\n') .. '\n'
  end
  if s.document then
    -- nested documents: each path built from a column's JSON text
    local lines = {}
    for i = first, first + count - 1 do
      local root = {}
      for path, spec in pairs(s.document) do
        local col = type(spec) == 'table' and spec.column or spec
        local as = type(spec) == 'table' and spec.as or s.decimal
        local v = s.g:text(i, col, 'json')
        if as == 'string' and v ~= 'null' and v:sub(1, 1) ~= '"' then v = '"' .. v .. '"' end
        local node = root
        local parts = {}
        for p in path:gmatch('[^%.]+') do parts[#parts + 1] = p end
        for k = 1, #parts - 1 do
          node[parts[k]] = node[parts[k]] or {}
          node = node[parts[k]]
        end
        node[parts[#parts]] = { raw = v }
      end
      local function enc(t)
        if t.raw then return t.raw end
        local keys = {}
        for k in pairs(t) do keys[#keys + 1] = k end
        table.sort(keys)
        local parts = {}
        for _, k in ipairs(keys) do parts[#parts + 1] = '"' .. k .. '":' .. enc(t[k]) end
        return '{' .. table.concat(parts, ',') .. '}'
      end
      lines[#lines + 1] = enc(root)
    end
    return table.concat(lines, '\n') .. '\n'
  end
  if s.format == 'csv' then return s.g:csv(first, first + count, { dialect = 'rfc4180' }) end
  return s.g:jsonl(first, first + count, { json_as_value = s.json_as_value, decimal_as_string = s.decimal == 'string' })
end

-- Write rows of source s into a new file of its folder (atomically: a
-- hidden name, then renamed, so a monitoring source never reads half a file).
local function write_part(s, ranges)
  s.parts = (s.parts or 0) + 1
  local ext = s.format == 'csv' and 'csv' or 'json'
  local name = ('part-%05d.%s'):format(s.parts, ext)
  local tmp = s.dir .. '/.' .. name
  local bytes = 0
  if s.stamp and s.load then
    bytes = s.load:write_stamped(s, tmp, ranges, rows_text)
  elseif #ranges == 1 and not s.document and not s.events then
    bytes = assert(s.g:write(tmp, ranges[1][1], ranges[1][1] + ranges[1][2],
      { format = s.format == 'csv' and 'csv' or 'jsonl', threads = 2, json_as_value = s.json_as_value,
        decimal_as_string = s.decimal == 'string', dialect = s.format == 'csv' and 'rfc4180' or nil }))
  else
    local f = assert(io.open(tmp, 'wb'))
    for _, r in ipairs(ranges) do
      local t = rows_text(s, r[1], r[2])
      bytes = bytes + #t
      f:write(t)
    end
    f:close()
  end
  assert(os.rename(tmp, s.dir .. '/' .. name))
  return bytes
end

-- The WITH options of the source as Flink reads it.
local function source_options(cfg, s, url)
  if s.deliver == 'jetstream' then return PN.options(cfg, s) end
  if s.deliver == 'table' then return sql.jdbc_options(cfg.mysql, s.table, nil, url) end
  local o = { "'connector' = 'filesystem'", "'path' = " .. sql_quote('file://' .. s.dir) }
  if s.format == 'csv' then
    o[#o + 1] = "'format' = 'csv'"
    -- the generator's rfc4180 dialect: strings quoted, a quote doubled, no
    -- escape character (with one, Flink reads the unquoted \N as "N");
    -- NULL is the unquoted \N. Not '' as the null literal: Flink 1.20's
    -- Jackson 2.14 CSV matches the literal against quoted fields too (an
    -- unquoted-only option came in Jackson 2.18), so "" would read as NULL.
    o[#o + 1] = "'csv.null-literal' = '\\N'"
    o[#o + 1] = "'csv.quote-character' = '\"'"
    o[#o + 1] = "'csv.allow-comments' = 'false'"
  elseif s.format == 'debezium-json' then
    o[#o + 1] = "'format' = 'debezium-json'"
    o[#o + 1] = "'debezium-json.timestamp-format.standard' = 'SQL'"
  else
    o[#o + 1] = "'format' = 'json'"
    o[#o + 1] = "'json.timestamp-format.standard' = 'SQL'"
    if not s.document then o[#o + 1] = "'json.fail-on-missing-field' = 'true'" end
  end
  if s.rate then o[#o + 1] = "'source.monitor-interval' = '1 s'" end
  return table.concat(o, ', ')
end

-- --- the run ---------------------------------------------------------------------

local Run = {}
Run.__index = Run

function Run:log(fmt, ...)
  if self.say then self.say(string.format(fmt, ...)) end
end

-- Run a MariaDB statement, recorded in the result.
function Run:db_exec(sql, ...)
  self.result.statements[#self.result.statements + 1] = { where = 'mariadb', sql = sql }
  local n, err, info = self.db:exec(sql, ...)
  if not n then error(('MariaDB refused: %s\n-> %s'):format(sql, tostring(err)), 0) end
  return n, info
end

function Run:scalar(sql)
  local rows, err = self.db:query(sql)
  if not rows then return nil, err end
  local r = rows[1]
  if not r then return nil end
  local _, v = next(r)
  return v
end

function Run:table_exists(name)
  local n = self:scalar(('SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() '
    .. 'AND table_name = %s'):format(sql_quote(name)))
  return (n or 0) > 0
end

-- Tables fmhost creates carry this comment (unless the user's DDL gave one):
-- on a server fmhost does not manage it drops or empties only those.
M.OWNER_MARK = 'created by fmhost.pipeline'

function Run:owned(name)
  if self.created[name] then return true end
  local c = self:scalar(('SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() '
    .. 'AND table_name = %s'):format(sql_quote(name)))
  return c == M.OWNER_MARK
end

function Run:mark_owned(name)
  self.created[name] = true
  self.result.created_tables[#self.result.created_tables + 1] = name
  local c = self:scalar(('SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() '
    .. 'AND table_name = %s'):format(sql_quote(name)))
  if c == nil or c == '' then self:db_exec(('ALTER TABLE %s COMMENT = %s'):format(q(name), sql_quote(M.OWNER_MARK))) end
end

-- Stage a source as a MariaDB table (pool:load from the generator, C to C).
function Run:stage(s)
  if s.staged then return end
  s.table = s.table or (self.prefix .. '_' .. s.name)
  if self:table_exists(s.table) and not self.managed and not self:owned(s.table) then
    error(('the staging table %s exists on a non-managed server: fmhost drops only tables it created; '
      .. 'drop it yourself or rename the pipeline'):format(s.table), 0)
  end
  self:db_exec('DROP TABLE IF EXISTS ' .. q(s.table))
  self:db_exec(s.g:create_table_sql(s.table))
  self:mark_owned(s.table)
  for _, r in ipairs(ranges_of(s)) do
    local ok, err = self.db:load { source = s.g, table = s.table, first = r[1], rows = r[2], threads = 1 }
    if not ok then error('loading ' .. s.table .. ': ' .. tostring(err), 0) end
  end
  s.staged = true
end

function Run:prepare_sources(desc)
  self.sources, self.order = {}, {}
  local names = {}
  for name in pairs(desc.data or {}) do names[#names + 1] = name end
  table.sort(names)
  local base_seed = self.seed
  for k, name in ipairs(names) do
    local d = desc.data[name]
    local rows = self.rows_override or d.rows or desc.rows or M.ROWS
    local s = { name = name, rows = rows, deliver = d.deliver or 'files', format = d.format or 'json',
                rate = d.rate, document = d.document, decimal = d.decimal, json_as_value = d.json_as_value,
                indices = (self.subsets and self.subsets[name]) or d.indices,
                seed = self.seed_override and (self.seed_override + k - 1) or d.seed or (base_seed + k - 1) }
    local cols = gen_columns(name, d, desc.data)
    local g, err = gen.new { seed = s.seed, name = name, time_zone = d.time_zone, columns = cols }
    if not g then desc_error('data.' .. name, tostring(err)) end
    s.g = g
    if d.changelog then
      s.events = M.changelog_events(d.changelog, s.seed)
      s.rows = #s.events
      s.format = 'debezium-json'
      s.changelog = d.changelog
    end
    s.count = s.indices and #s.indices or s.rows
    if self.load and s.deliver ~= 'table' then
      s.load = self.load
      self.load:prepare_source(s)
    end
    s.table = self.prefix .. '_' .. name
    if s.deliver ~= 'table' then s.dir = self.datadir .. '/' .. name end
    if s.deliver == 'jetstream' then PN.prepare(self, s, d) end
    self.sources[name] = s
    self.order[#self.order + 1] = s
  end
end

function Run:deliver()
  local t = now()
  for _, s in ipairs(self.order) do
    if s.deliver == 'table' then
      self:stage(s)
    elseif s.deliver == 'jetstream' then
      PN.deliver(self, s, ranges_of)
    else
      clear_dir(s.dir)
      self.result.files[#self.result.files + 1] = s.dir
      if s.rate and self.load then
        -- a load run: delivery starts once the job's tasks run (fmhost.pipeline_load)
        s.pace = { ranges = ranges_of(s), next_t = math.huge, waiting = true }
      elseif s.rate then
        -- the first second's rows now; the rest while the job runs
        s.pace = { ranges = ranges_of(s), next_t = now() }
        self:pace(s, true)
      else
        s.bytes = write_part(s, ranges_of(s))
      end
    end
  end
  self.result.timings.data_s = now() - t
end

-- Write the rows due by now into a new file (paced sources).
function Run:pace(s, first)
  if s.deliver == 'jetstream' then return PN.pace(self, s, first) end
  local p = s.pace
  if not p or p.done then return end
  local t = now()
  if not first and t < p.next_t then return end
  if s.rate == 'max' then
    -- as fast as the source takes it: every row now, in files of load.chunk_rows
    while #p.ranges > 0 do write_part(s, pace.take(p.ranges, s.load_chunk or 20000)) end
    p.done = true
    return
  end
  local take = pace.take(p.ranges, math.max(1, math.floor(s.rate)))
  if #take > 0 then write_part(s, take) end
  p.next_t = t + 1
  if #p.ranges == 0 then p.done = true end
end

function Run:all_delivered()
  for _, s in ipairs(self.order) do
    if s.pace and not s.pace.done then return false end
  end
  return true
end

-- The sink table: created from the user's DDL or the generator, or an
-- existing one, under the ownership rules.
function Run:prepare_sink(desc)
  local sk = desc.sink or {}
  local exists = self:table_exists(self.sink)
  if exists and not self.managed and not self:owned(self.sink) then
    if sk.reset == 'truncate' then
      self:db_exec('TRUNCATE TABLE ' .. q(self.sink))
      return
    elseif sk.reset == 'drop' then
      self:db_exec('DROP TABLE ' .. q(self.sink))
      exists = false
    elseif not (sk.ddl or sk.from) then
      -- an existing table of the user's that fmhost may not empty: judged as it is
      local n = self:scalar('SELECT COUNT(*) FROM ' .. q(self.sink)) or 0
      if n > 0 then
        error(('the sink table %s on the non-managed server %s:%d holds %d rows and fmhost does not empty a table '
          .. "it did not create; set sink.reset = 'truncate' (or 'drop') in the description to allow it")
          :format(self.sink, self.cfg.mysql.host, self.cfg.mysql.port, n), 0)
      end
      return
    else
      error(('the sink table %s exists on the non-managed server %s:%d; fmhost drops or truncates only tables it '
        .. "created: set sink.reset = 'drop' (or 'truncate') in the description to allow it")
        :format(self.sink, self.cfg.mysql.host, self.cfg.mysql.port), 0)
    end
  end
  local ddl
  if sk.ddl then
    ddl = M.expand(sk.ddl, self.vars, 'sink.ddl')
  elseif sk.from then
    local s = self.sources[sk.from]
    if not s then desc_error('sink', "from = '" .. tostring(sk.from) .. "' names no source") end
    ddl = s.g:create_table_sql(self.sink)
  elseif exists then
    if self.managed or self:owned(self.sink) then self:db_exec('TRUNCATE TABLE ' .. q(self.sink)) end
    return
  else
    if #self.order ~= 1 then desc_error('sink', 'give ddl = (the target table) or from = SOURCE') end
    ddl = self.order[1].g:create_table_sql(self.sink)
  end
  if exists then self:db_exec('DROP TABLE ' .. q(self.sink)) end
  self:db_exec(ddl)
  self:mark_owned(self.sink)
end

function Run:set_vars()
  local v = self.vars
  local url = sql.jdbc_url(self.cfg.mysql)
  v['sink.table'] = self.sink
  v['sink.user'] = self.cfg.mysql.user
  v['sink.password'] = self.cfg.mysql.password
  v['root'] = _FMHOST_ROOT
  v['seed'] = self.seed
  v['dir'] = self.datadir
  for _, s in ipairs(self.order) do
    local p = 'source.' .. s.name .. '.'
    v[p .. 'table'] = s.table
    v[p .. 'path'] = s.dir and ('file://' .. s.dir) or nil
    v[p .. 'dir'] = s.dir
    v[p .. 'columns'] = flink_columns(s.g) .. (self.load and self.load:flink_column(s) or '')
    v[p .. 'options'] = source_options(self.cfg, s, url)
    v[p .. 'rows'] = s.count
    if s.deliver == 'jetstream' then PN.vars(self, s, v) end
    if #self.order == 1 then
      for _, k in ipairs { 'table', 'path', 'dir', 'columns', 'options', 'rows' } do v['source.' .. k] = v[p .. k] end
    end
  end
end

function Run:set_sink_vars(desc)
  local sk = desc.sink or {}
  local port
  if self.proxy then port = self.proxy:port() end
  self.vars['sink.url'] = sql.jdbc_url(self.cfg.mysql, port, sk.url_params)
  self.vars['sink.jdbc'] = sql.jdbc_options(self.cfg.mysql, self.sink, sk.options, self.vars['sink.url'])
  self.vars['sink.options'] = self.vars['sink.jdbc']
end

-- The SQL statements of the description (text or file), with their lines.
local function flink_text(desc)
  local f = desc.flink or {}
  if f.file then
    local path = f.file
    if desc.file and not path:match('^/') then path = (desc.file:match('^(.*)/') or '.') .. '/' .. path end
    local h = io.open(path, 'rb')
    if not h then desc_error('flink', 'cannot read the SQL file ' .. path) end
    local t = h:read('a')
    h:close()
    return t, path
  end
  if type(f.sql) == 'table' then return table.concat(f.sql, ';\n') .. ';', nil end
  -- inline SQL in a description file: the line it starts on, for positions
  if desc.file and type(f.sql) == 'string' then
    local h = io.open(desc.file, 'rb')
    local src = h and h:read('a')
    if h then h:close() end
    local at = src and src:find(f.sql, 1, true)
    if at then
      local base = 1
      for _ in src:sub(1, at - 1):gmatch('\n') do base = base + 1 end
      return f.sql, desc.file, base - 1
    end
  end
  return f.sql, nil
end

-- The Flink statements with their placeholders filled: {{sql=, line=, file=}}.
function Run:expand_statements(desc)
  local text, file, base = flink_text(desc)
  if (desc.flink or {}).jar then return {} end
  if type(text) ~= 'string' or not text:find('%S') then
    desc_error('flink', 'sql = (the Flink SQL statements) or file = (a .sql file) is required')
  end
  local out = {}
  for k, st in ipairs(M.split_sql(text)) do
    local line = st.line + (base or 0)
    out[k] = { line = line, file = file, sql = M.expand(st.sql, self.vars, ('flink statement %d%s'):format(k,
      file and (' (' .. file .. ':' .. line .. ')') or (' (line ' .. line .. ')'))) }
  end
  return out
end

-- Run the statements; the job-submitting ones (INSERT, EXECUTE) become jobs.
function Run:submit(desc, extra_session)
  if (desc.flink or {}).jar then return self:submit_jar(desc, extra_session) end
  local props = {}
  for k, v in pairs(M.SESSION) do props[k] = v end
  if desc.faults and #desc.faults > 0 then for k, v in pairs(M.FAULT_SESSION) do props[k] = v end end
  for k, v in pairs((desc.flink or {}).session or {}) do props[k] = v end
  for k, v in pairs(extra_session or {}) do props[k] = v end
  self.result.session = props
  local s, msg = self.client:session { name = 'fmhost-pipeline-' .. self.name, properties = props }
  if not s then error('no SQL Gateway session: ' .. tostring(msg), 0) end
  self.session = s
  local jobs = {}
  self.result.job.ids = self.result.job.ids or {}
  for k, st in ipairs(self.statements) do
    local sql = st.sql
    self.result.statements[#self.result.statements + 1] = { where = 'flink', sql = sql, line = st.line }
    local up = sql:upper()
    local is_job = up:match('^%s*INSERT%s') or up:match('^%s*EXECUTE%s')
    local ok, emsg, info
    if is_job then
      local op
      op, emsg, info = s:execute(sql)
      if op then
        ok, emsg, info = op:wait { timeout_ms = 120000 }
        if ok then
          local id = op:job_id()
          op:close()
          if id then
            jobs[#jobs + 1] = { id = id, sql = sql }
            self.result.job.ids[#self.result.job.ids + 1] = id
          end
        end
      end
    else
      ok, emsg, info = s:run(sql)
    end
    if not ok then
      local line, l, c = gateway_message(emsg, info)
      local at = st.file or (desc.file or 'flink.sql')
      local pos = l and (':' .. (st.line + l - 1) .. ':' .. (c or 0)) or (':' .. st.line)
      error({ pipeline_error = ('the SQL Gateway rejected statement %d at %s%s%s:\n  %s\n-> %s'):format(k, at, pos,
        l and (' (line ' .. l .. ', column ' .. tostring(c) .. ' of the statement)') or '',
        sql:gsub('\n', '\n  '), line), gateway = true }, 0)
    end
  end
  if #jobs == 0 then error({ pipeline_error = 'the Flink SQL submitted no job (no INSERT INTO ... statement)' }, 0) end
  return jobs
end

-- The jar of flink.jar: built with Maven (flink.jar.build, a project folder
-- relative to the description file) when it is missing.
function Run:jar_path(desc)
  local j = desc.flink.jar
  local path = M.expand(j.path or '', self.vars, 'flink.jar.path')
  if path == '' then desc_error('flink.jar', 'path = (the jar) is required') end
  local base = desc.file and (desc.file:match('^(.*)/') or '.') or '.'
  if not path:match('^/') then path = base .. '/' .. path end
  if not stack.exists(path) and j.build then
    local dir = j.build:match('^/') and j.build or (base .. '/' .. j.build)
    local t = now()
    local r = proc.run { 'mvn', '-q', '-B', '-f', dir .. '/pom.xml', 'package', '-DskipTests', timeout_ms = 900000,
                         max_output = 16 << 20 }
    self.result.timings.build_s = now() - t
    if not r or r.code ~= 0 then
      error(('building the jar job in %s with Maven failed:\n%s'):format(dir,
        r and (r.stdout .. r.stderr):sub(-3000) or 'mvn did not run'), 0)
    end
  end
  if not stack.exists(path) then desc_error('flink.jar', 'no jar at ' .. path) end
  return path
end

-- Upload the jar and run it through REST: its job.
function Run:submit_jar(desc, extra_session)
  local j = desc.flink.jar
  local path = self.jar_file or self:jar_path(desc)
  self.jar_file = path
  if not self.jar_id then
    local id, err = self.client:upload_jar(path)
    if not id then error('uploading ' .. path .. ': ' .. tostring(err), 0) end
    self.jar_id = id
  end
  local args = {}
  for k, a in ipairs(j.args or {}) do args[k] = M.expand(tostring(a), self.vars, 'flink.jar.args[' .. k .. ']') end
  self.result.statements[#self.result.statements + 1] = { where = 'flink', sql = ('run jar %s %s %s'):format(path,
    tostring(j.entry), table.concat(args, ' '):gsub("password [^ ]+", 'password ***')) }
  local job, err = self.client:run_jar(self.jar_id, { entry_class = j.entry, args = args,
    parallelism = j.parallelism, savepoint = extra_session and extra_session['execution.savepoint.path'] })
  if not job then error({ pipeline_error = 'Flink refused to run the jar ' .. path .. ': ' .. tostring(err) }, 0) end
  local id = job:id()
  self.result.job.ids = self.result.job.ids or {}
  self.result.job.ids[#self.result.job.ids + 1] = id
  return { { id = id } }
end

local TERMINAL = { FINISHED = true, FAILED = true, CANCELED = true, SUSPENDED = true }

function Run:target_count()
  local n = self:scalar('SELECT COUNT(*) FROM ' .. q(self.sink))
  return n
end

-- The distinct keys in the target when its rows may hold copies (an at-least-once oracle with a
-- key): the row count then overstates what arrived. nil when copies cannot count (an upsert or
-- exactly-once sink, or no key named).
function Run:target_keys()
  local x = self.expect or {}
  local key = x.key
  if key == nil then key = (self.desc.sink or {}).key end
  if x.guarantee ~= 'at_least_once' or not key then return nil end
  local cols = {}
  for i, c in ipairs(type(key) == 'table' and key or { key }) do cols[i] = q(c) end
  return self:scalar('SELECT COUNT(DISTINCT ' .. table.concat(cols, ', ') .. ') FROM ' .. q(self.sink))
end

-- The number of rows the oracle expects (for fractions and the quiet end).
function Run:expected_count()
  if self.expected_n then return self.expected_n end
  local e = self.expect
  if e.kind == 'generator' then self.expected_n = e.source.count
  elseif e.kind == 'sql' then self.expected_n = self:scalar('SELECT COUNT(*) FROM (' .. e.sql .. ') q')
  elseif e.kind == 'changelog' then
    local idx = {}
    for _, r in ipairs(ranges_of(e.source)) do for i = r[1], r[1] + r[2] - 1 do idx[#idx + 1] = i end end
    self.expected_n = #changelog_state(e.source, idx)
  end
  return self.expected_n
end

function Run:completed_checkpoints(job)
  local c = job:checkpoints()
  local latest = c and type(c.latest) == 'table' and c.latest.completed
  return c and c.counts and c.counts.completed or 0, type(latest) == 'table' and latest or nil
end

-- The job's checkpoint interval in ms (nil when Flink does not say).
function Run:checkpoint_interval_ms(job)
  if self.ckpt_interval == nil then
    local c = self.client:rest('GET', '/jobs/' .. job:id() .. '/checkpoints/config')
    self.ckpt_interval = c and tonumber(c.interval) or false
  end
  return self.ckpt_interval or nil
end

-- A fault after a checkpoint fires no later than this before the next one is due.
M.CHECKPOINT_MARGIN_MS = 400

-- Is fault f due now? true, and for a fault timed by a checkpoint which one and how long ago
-- ({id=, age_s=}), when it is.
function Run:due(f, job)
  local at = f.at or {}
  local t = now() - self.t_running
  if at.after_s and t < at.after_s then return false end
  if at.rows or at.fraction then
    local want = at.rows or math.floor((self:expected_count() or 0) * at.fraction)
    local n = self:target_count()
    if not n or n < want then return false end
  end
  local after
  if at.checkpoint or at.after_checkpoint_s then
    local n, latest = self:completed_checkpoints(job)
    if at.checkpoint and n < at.checkpoint then return false end
    if at.after_checkpoint_s then
      -- At least S seconds after the latest completed checkpoint, and before the next one: rows
      -- written since then are replayed on a restart (a fault right on a checkpoint would leave
      -- nothing to replay). Timed by Flink's own timestamps, not by when this run saw the
      -- checkpoint: the REST API serves checkpoint statistics from a cache
      -- (rest.cache.checkpoint-statistics.timeout, by default web.refresh-interval, 3 s), so the
      -- latest checkpoint it reports may be seconds old and a newer one already complete.
      local acked = latest and tonumber(latest.latest_ack_timestamp)
      if n < 1 or not acked then return false end
      local wall = proc.wall_ms()
      if wall - acked < at.after_checkpoint_s * 1000 then return false end
      local iv, trig = self:checkpoint_interval_ms(job), tonumber(latest.trigger_timestamp)
      local next_due = iv and trig and trig + iv - M.CHECKPOINT_MARGIN_MS
      -- only when the window between the two is open at all (S shorter than the interval)
      if next_due and next_due > acked + at.after_checkpoint_s * 1000 and wall >= next_due then return false end
      after = { id = latest.id, age_s = (wall - acked) / 1000 }
    end
  end
  return true, after
end

-- ', 1.6 s after checkpoint 2' for a fault timed by a checkpoint, else ''.
function M.fault_when(rec)
  local c = rec.checkpoint
  return c and (', %.1f s after checkpoint %s'):format(c.age_s, tostring(c.id)) or ''
end

function Run:apply(f, job, after)
  local a = f.action or f[1]
  local rec = { action = a, at = f.at, t_s = now() - self.t_running, checkpoint = after }
  local cfg = self.cfg
  rec.rows_at = self:target_count()
  if a == 'kill_taskmanager' then
    local ok, killed = stack.flink.kill_taskmanager(cfg, nil, 'KILL')
    rec.ok, rec.detail = ok ~= nil, ok and ('SIGKILL TaskManager pid ' .. killed.pid) or killed
    if ok and f.restart ~= false then
      local ok2, new = stack.flink.start_taskmanager(cfg)
      rec.detail = rec.detail .. (ok2 and ('; new TaskManager pid ' .. new.pid .. ' registered in '
        .. ('%.1f s'):format(new.ms / 1000)) or ('; no new TaskManager: ' .. tostring(new)))
    end
  elseif a == 'cut' or a == 'blackhole' or a == 'slow' then
    local p = self.proxy
    if a == 'cut' then p:toxic('down', { reset = true })
    elseif a == 'blackhole' then p:toxic('blackhole')
    else p:toxic('latency', { ms = f.ms or 500 }) end
    rec.ok = true
    rec.detail = ('%s the network between Flink and MariaDB for %s s'):format(a, tostring(f.duration_s or 5))
    self.heal[#self.heal + 1] = { t = now() + (f.duration_s or 5), fn = function()
      p:clear()
      local base = (self.desc.sink or {}).latency_ms
      if base then p:toxic('latency', { ms = base }) end
      rec.healed_s = now() - self.t_running
      rec.rows_healed = self:target_count()
    end }
  elseif a == 'restart_mariadb' then
    local ok, err = stack.mariadb.kill(cfg, 'KILL')
    if ok then
      proc.sleep(math.floor((f.duration_s or 1) * 1000))
      local ok2, err2 = stack.mariadb.start(cfg)
      rec.ok = ok2 ~= nil and ok2 ~= false
      rec.detail = 'SIGKILL mariadbd and start it again' .. (rec.ok and '' or (': ' .. tostring(err2)))
    else
      rec.ok, rec.detail = false, tostring(err)
    end
  elseif a == 'restart_nats' then
    PN.restart(self, f, rec)
  elseif a == 'cancel' then
    local ok, err = job:cancel()
    rec.ok, rec.detail = ok ~= nil, ok and 'job cancelled' or tostring(err)
    self.cancelled = true
  elseif a == 'savepoint' then
    local path, err = job:stop { savepoint_dir = 'file://' .. self.datadir .. '/savepoints', timeout_ms = 120000 }
    rec.ok, rec.detail = path ~= nil, path and ('stopped with savepoint ' .. path) or tostring(err)
    if path then self.resume_from = path end
  end
  self.result.faults[#self.result.faults + 1] = rec
  self:log('fault %s at %.1f s%s: %s', a, rec.t_s, M.fault_when(rec), tostring(rec.detail))
  return rec
end

-- Wait for the jobs to end: paced writing, faults, heals, the unbounded end.
function Run:watch(desc, jobs)
  local fin = desc.finish or {}
  local unbounded = fin.mode == 'unbounded' or (fin.mode == nil and self:any_paced())
  local deadline = now() + (fin.deadline_s or self.wait_s or M.WAIT_S)
  local quiet_s = fin.quiet_s or 3
  local pending = {}
  for _, f in ipairs(desc.faults or {}) do pending[#pending + 1] = f end
  local last_n, last_change = nil, now()
  local handles = {}
  for _, j in ipairs(jobs) do handles[#handles + 1] = self.client:job_handle(j.id) end
  self.t_running = now()
  while true do
    local states, all_done = {}, true
    for k, h in ipairs(handles) do
      local st = h:state() or 'UNKNOWN'
      states[k] = st
      if not TERMINAL[st] then all_done = false end
    end
    if all_done then
      if self.resume_from then
        -- stopped with a savepoint: resume the job-submitting statements from it
        local path = self.resume_from
        self.resume_from = nil
        self.session:close()
        self.session = nil
        local rj = self:submit(desc, { ['execution.savepoint.path'] = path })
        handles = {}
        for _, j in ipairs(rj) do
          handles[#handles + 1] = self.client:job_handle(j.id)
          self.result.job.resumed = j.id
        end
        jobs = rj
        goto continue
      end
      break
    end
    for _, s in ipairs(self.order) do self:pace(s) end
    if self.load then self.load:tick(handles, states) end
    for k = #self.heal, 1, -1 do
      if now() >= self.heal[k].t then
        self.heal[k].fn()
        table.remove(self.heal, k)
      end
    end
    if #pending > 0 and states[1] == 'RUNNING' then
      local due, after = self:due(pending[1], handles[1])
      if due then self:apply(table.remove(pending, 1), handles[1], after) end
    end
    if self.on_poll then self.on_poll(self, handles, states) end
    if unbounded and #pending == 0 and #self.heal == 0 and self:all_delivered() then
      local n = self:target_count()
      if n ~= last_n then last_n, last_change = n, now() end
      local want = self:expected_count() or 0
      if n and n >= want and now() - last_change >= quiet_s
          and (not self.load or self.load:settled(handles, n))
          -- replayed copies fill an append sink's count before its last keys arrive
          and (self:target_keys() or n) >= want then
        self.t_end_load = self.t_end_load or (last_change)
        self:stop_all(handles, 'the target holds the expected rows and was quiet for ' .. quiet_s .. ' s')
      end
    end
    if now() > deadline then
      if unbounded then
        self:stop_all(handles, 'deadline reached')
      else
        for _, h in ipairs(handles) do h:cancel() end
        self.result.job.timed_out = true
      end
      deadline = now() + 120
    end
    proc.sleep(M.POLL_MS)
    ::continue::
  end
  self.jobs_handles = handles
  return handles
end

function Run:any_paced()
  for _, s in ipairs(self.order) do if s.rate or s.unbounded_source then return true end end
  return false
end

function Run:stop_all(handles, why)
  if self.stopping then return end
  self.stopping = true
  for _, h in ipairs(handles) do
    local path, err = h:stop { savepoint_dir = 'file://' .. self.datadir .. '/savepoints', timeout_ms = 120000 }
    self.result.job.savepoint = path
    self.result.job.stop_error = (not path) and tostring(err) or nil
  end
  self.result.job.stopped = why
end

-- Facts of the (first) job: state, first real cause, restarts, checkpoints.
function Run:job_facts(h)
  local f = self.result.job
  f.id = h:id()
  local d = h:detail()
  f.state = (d and d.state) or h:state()
  if f.state == 'FAILED' or f.state == 'CANCELED' or f.timed_out then
    local root = h:root_exception()
    f.root_exception = root
    f.cause = M.cause(root)
  end
  f.restarts = h:restarts() -- subtask attempts, numRestarts as a floor (nil when Flink does not answer)
  local c = h:checkpoints()
  f.checkpoints = c and c.counts and c.counts.completed or 0
  -- the exceptions history: the first failure, not only the last
  local ex = h:exceptions()
  if ex and ex.exceptionHistory and ex.exceptionHistory.entries and #ex.exceptionHistory.entries > 0 then
    local entries = ex.exceptionHistory.entries
    local first = entries[#entries]
    f.first_failure = M.cause(first.stacktrace) or first.exceptionName
    f.failures = #entries
    -- when each failure happened, seconds from the first (the retry timing)
    f.failure_times_s = {}
    for k = #entries, 1, -1 do
      local ts = tonumber(entries[k].timestamp)
      local t1 = tonumber(first.timestamp)
      if ts and t1 then f.failure_times_s[#f.failure_times_s + 1] = (ts - t1) / 1000 end
    end
  end
end

-- --- the oracle -------------------------------------------------------------------

function Run:prepare_expect(desc)
  local e = desc.expect or {}
  local x = { key = e.key, guarantee = e.guarantee or 'exactly_once', columns = e.columns, ignore = e.ignore }
  if self.load then
    -- the load run's own columns are not the pipeline's output
    local ign = {}
    for _, c in ipairs(e.ignore or {}) do ign[#ign + 1] = c end
    for _, c in ipairs(self.load:ignored()) do ign[#ign + 1] = c end
    x.ignore = ign
  end
  if e.sql then
    x.kind = 'sql'
    for _, s in ipairs(self.order) do self:stage(s) end
    x.sql = M.expand(e.sql, self.vars, 'expect.sql')
  elseif e.fn then
    x.kind = 'fn'
    local sname = e.source or (#self.order == 1 and self.order[1].name)
    x.source = self.sources[sname]
    if not x.source then desc_error('expect', 'fn needs source = (the source it maps)') end
    x.fn = e.fn
  else
    x.kind = 'generator'
    local sname = e.generator or (#self.order == 1 and self.order[1].name)
    x.source = self.sources[sname]
    if not x.source then desc_error('expect', 'generator = SOURCE names no source (there are several)') end
    if x.source.events then x.kind = 'changelog' end
  end
  self.expect = x
end

-- Stage expected rows in a table shaped like the sink: each(add) calls
-- add(row) for every expected row (a table by column name).
function Run:stage_expected(each, what)
  local x = self.expect
  x.table = self.sink .. '_expected'
  self:db_exec('DROP TABLE IF EXISTS ' .. q(x.table))
  self:db_exec('CREATE TABLE ' .. q(x.table) .. ' LIKE ' .. q(self.sink))
  self.created[x.table] = true
  self.result.created_tables[#self.result.created_tables + 1] = x.table
  local cols = self:target_columns()
  local qcols = {}
  for k, c in ipairs(cols) do qcols[k] = q(c) end
  local one = '(' .. string.rep('?', #cols, ',') .. ')'
  local batch, args = {}, {}
  local function flush()
    if #batch == 0 then return end
    local ok, err = self.db:exec('INSERT INTO ' .. q(x.table) .. ' (' .. table.concat(qcols, ',') .. ') VALUES '
      .. table.concat(batch, ','), table.unpack(args))
    if not ok then error('staging the expected rows of ' .. what .. ': ' .. tostring(err), 0) end
    batch, args = {}, {}
  end
  each(function(row)
    batch[#batch + 1] = one
    for _, c in ipairs(cols) do
      local v = row[c]
      if v == nil then v = pool.NULL end
      args[#args + 1] = v
    end
    if #batch >= 200 then flush() end
  end)
  flush()
end

-- The Lua function oracle: fn(row, index) -> row | nil | list of rows for
-- every source row (small runs).
function Run:stage_fn_rows()
  local x, s = self.expect, self.expect.source
  self:stage_expected(function(add)
    for _, r in ipairs(ranges_of(s)) do
      for i = r[1], r[1] + r[2] - 1 do
        local out = x.fn(s.g:record(i), i)
        if type(out) == 'table' then
          if out[1] ~= nil and type(out[1]) == 'table' then
            for _, row in ipairs(out) do add(row) end
          else
            add(out)
          end
        end
      end
    end
  end, 'expect.fn')
end

-- A changelog's oracle: the final state per key after applying its events in order.
function Run:stage_changelog_rows()
  local s = self.expect.source
  local idx = {}
  for _, r in ipairs(ranges_of(s)) do for i = r[1], r[1] + r[2] - 1 do idx[#idx + 1] = i end end
  local keycol = s.g:columns()[1]
  self:stage_expected(function(add)
    for _, e in ipairs(changelog_state(s, idx)) do
      local row = s.g:record(e.index)
      row[keycol] = e.key
      add(row)
    end
  end, 'the changelog')
end

function Run:target_columns()
  local cols, pk = {}, {}
  for _, r in ipairs(assert(self.db:query(('SELECT column_name AS c, column_key AS k FROM information_schema.columns '
    .. 'WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position'):format(sql_quote(self.sink))))) do
    cols[#cols + 1] = r.c
    if r.k == 'PRI' then pk[#pk + 1] = r.c end
  end
  return cols, pk
end

-- Identical replays and differing copies among the duplicated keys.
function Run:duplicates(key, cols)
  local parts = {}
  for _, c in ipairs(cols) do parts[#parts + 1] = "IFNULL(HEX(" .. q(c) .. "), 'N')" end
  local k = {}
  for _, c in ipairs(key) do k[#k + 1] = q(c) end
  local rows = self.db:query(('SELECT COUNT(*) AS keys_n, COALESCE(SUM(d > 1), 0) AS differing, COALESCE(SUM(n - 1), 0) AS copies '
    .. 'FROM (SELECT COUNT(*) AS n, COUNT(DISTINCT MD5(CONCAT_WS(\'|\', %s))) AS d FROM %s GROUP BY %s HAVING COUNT(*) > 1) x')
    :format(table.concat(parts, ', '), q(self.sink), table.concat(k, ', ')))
  if not rows or not rows[1] then return nil end
  local r = rows[1]
  local keys_n, differing = tonumber(r.keys_n) or 0, tonumber(r.differing) or 0
  return { keys = keys_n, identical = keys_n - differing, differing = differing, copies = tonumber(r.copies) or 0 }
end

function Run:verify()
  local x = self.expect
  local t = now()
  local cols, pk = self:target_columns()
  local key = x.key
  if key == nil then key = (self.desc.sink or {}).key end
  if key == nil and #pk > 0 then key = pk end
  local keyless = key == false or key == nil
  if keyless then
    key = {}
    local ign = {}
    for _, c in ipairs(x.ignore or {}) do ign[c] = true end
    for _, c in ipairs(cols) do if not ign[c] then key[#key + 1] = c end end
    if #key > 16 then key = { table.unpack(key, 1, 16) } end
  elseif type(key) == 'string' then key = { key } end
  self.result.key, self.result.keyless = key, keyless
  local expected
  if x.kind == 'generator' then
    local s = x.source
    local first_col = s.g:schema().columns[1]
    local sequential = #key == 1 and first_col.name == key[1] and first_col.distribution == 'sequential'
    if not s.indices and sequential and not keyless then
      expected = { generator = s.g, first = 0, count = s.rows }
    else
      self:stage(s)
      expected = { pool = self.db, query = 'SELECT * FROM ' .. q(s.table) }
    end
  elseif x.kind == 'sql' then
    expected = { pool = self.db, query = x.sql }
  elseif x.kind == 'changelog' then
    self:stage_changelog_rows()
    expected = { pool = self.db, table = x.table }
  else
    self:stage_fn_rows()
    expected = { pool = self.db, table = x.table }
  end
  local v, msg = validate.compare { target = { pool = self.db, table = self.sink }, expected = expected,
    key = #key == 1 and key[1] or key, columns = x.columns, ignore = x.ignore, max_samples = 200,
    max_value_len = 512, log = false, label = self.name, allow_extra_columns = x.allow_extra_columns }
  self.result.timings.verify_s = now() - t
  if not v then error('the comparison failed: ' .. tostring(msg), 0) end
  self.result.verdict = v
  if v.counts.duplicated > 0 and not keyless then
    self.result.duplicates = self:duplicates(key, cols)
  end
end

-- --- verdict -----------------------------------------------------------------------

local function judge(r)
  local v, x = r.verdict, r.expect
  local want_job = r.want_job or 'FINISHED'
  local job_ok = r.job.state == want_job and not r.job.timed_out
  if r.job.stopped and r.job.savepoint and r.job.state == 'FINISHED' and want_job == 'FINISHED' then job_ok = true end
  r.job_ok = job_ok
  if not v then return false end
  local c = v.counts
  local data_ok
  if r.guarantee == 'at_least_once' then
    local d = r.duplicates or { differing = 0 }
    data_ok = c.missing == 0 and c.extra == 0 and c.mismatched_rows == 0 and (d.differing or 0) == 0
      and #(v.missing_columns or {}) == 0 and #(v.extra_columns or {}) == 0
  else
    data_ok = v.ok
  end
  r.data_ok = data_ok
  return job_ok and data_ok
end

-- pipeline.run(desc [, opts]) -> result. opts: cfg=, seed=, rows=, say=fn(line),
-- subsets={SOURCE={indices}} (shrinking), client=, pool=, keep_files= (also keeps JetStream streams),
-- on_poll=fn(run, job_handles, states) (called every poll while the jobs run).
-- Raises {pipeline_error=} for a bad description or a statement the gateway
-- rejects (pipeline.run_protected returns nil, msg instead).
function M.run(desc, opts)
  opts = opts or {}
  local cfg = opts.cfg or _G.cfg
  M.check(desc)
  local t0 = now()
  local name = tostring(desc.name or 'pipeline'):gsub('[^%w_]', '_')
  local self = setmetatable({ cfg = cfg, desc = desc, name = name, say = opts.say, created = {}, vars = {}, heal = {},
    seed = opts.seed or desc.seed or 42, seed_override = opts.seed, rows_override = opts.rows, subsets = opts.subsets,
    wait_s = opts.wait_s, on_poll = opts.on_poll, managed = cfg.mysql.managed ~= false, prefix = 'pl_' .. name:lower():sub(1, 40) }, Run)
  local r = { name = desc.name, file = desc.file, seed = self.seed, statements = {}, faults = {}, files = {},
              created_tables = {}, timings = {}, job = {}, want_job = (desc.expect or {}).job,
              guarantee = (desc.expect or {}).guarantee or 'exactly_once' }
  self.result = r
  local ok, err = pcall(function()
    local up, why = stack.ensure(cfg, PN.wanted(desc) and { 'mariadb', 'nats', 'flink' } or { 'mariadb', 'flink' })
    if not up then error('the stack is not up: ' .. tostring(why), 0) end
    self.db = opts.pool or assert(pool.open { host = cfg.mysql.host, port = cfg.mysql.port, user = cfg.mysql.user,
      password = cfg.mysql.password, database = cfg.mysql.database, charset = 'utf8mb4', size = 2 })
    self.client = opts.client or stack.flink.client(cfg, { timeout_ms = 30000 })
    self.datadir = stack.dir(cfg) .. '/pipelines/' .. name
    if desc.load then self.load = require('fmhost.pipeline_load').new(self, desc.load) end
    self:prepare_sources(desc)
    r.rows = 0
    for _, s in ipairs(self.order) do r.rows = r.rows + s.count end
    r.sources = {}
    for _, s in ipairs(self.order) do
      r.sources[s.name] = { rows = s.count, seed = s.seed, deliver = s.deliver, format = s.format, indices = s.indices }
    end
    local t_setup = now()
    self.sink = (desc.sink or {}).table or (self.prefix .. '_out')
    r.sink_table = self.sink
    local latency_ms = (desc.sink or {}).latency_ms
    local need_proxy = latency_ms ~= nil
    for _, f in ipairs(desc.faults or {}) do
      local a = f.action or f[1]
      if a == 'cut' or a == 'blackhole' or a == 'slow' then need_proxy = true end
    end
    if need_proxy then
      self.proxy = assert(require('fmhost.proxy').new { upstream_host = cfg.mysql.host, upstream_port = cfg.mysql.port,
        name = 'pipeline-sink' })
      -- a sink whose database is that far away for the whole run (a fault's
      -- toxic joins it; the fault's heal clears every toxic and sets it again)
      if latency_ms then assert(self.proxy:toxic('latency', { ms = latency_ms })) end
    end
    -- every placeholder and the SQL file before anything is staged
    self:set_vars()
    self:set_sink_vars(desc)
    self.statements = self:expand_statements(desc)
    if (desc.flink or {}).jar then self.jar_file = self:jar_path(desc) end
    if (desc.expect or {}).sql then M.expand(desc.expect.sql, self.vars, 'expect.sql') end
    -- the sink (ownership checks first), then the data
    self:prepare_sink(desc)
    if self.load then self.load:prepare_sink((desc.sink or {}).from ~= nil or (desc.sink or {}).ddl == nil) end
    clear_dir(self.datadir)
    self:deliver()
    self:prepare_expect(desc)
    r.expect = { kind = self.expect.kind, sql = self.expect.sql }
    r.timings.setup_s = now() - t_setup - (r.timings.data_s or 0)
    local t_job = now()
    local jobs = self:submit(desc)
    local handles = self:watch(desc, jobs)
    r.timings.job_s = now() - t_job
    self:job_facts(handles[1])
    self:verify()
    if self.load then
      self.t_end_load = self.t_end_load or t_job + r.timings.job_s
      self.load:finish(handles[1])
    end
  end)
  -- clean up: the session (its temporary tables), the proxy, the files, the
  -- staged tables the run created (the sink stays for inspection)
  if self.session then pcall(function() self.session:close() end) end
  if self.jar_id and self.client then pcall(function() self.client:rest('DELETE', '/jars/' .. self.jar_id) end) end
  if self.proxy then self.proxy:close() end
  PN.cleanup(self, opts.keep_files)
  if not opts.keep_files then rm_dir(self.datadir) end
  if self.db and not opts.keep_tables then
    for _, s in ipairs(self.order or {}) do
      if s.staged and s.deliver ~= 'table' then pcall(function() self.db:exec('DROP TABLE IF EXISTS ' .. q(s.table)) end) end
    end
    if self.expect and self.expect.table then pcall(function() self.db:exec('DROP TABLE IF EXISTS ' .. q(self.expect.table)) end) end
  end
  if self.db and not opts.pool then self.db:close() end
  if self.client and not opts.client then self.client:close() end
  r.timings.total_s = now() - t0
  -- fmhost's own time: everything but the Flink job (and a one-time Maven build of a jar job)
  r.timings.overhead_s = r.timings.total_s - (r.timings.job_s or 0) - (r.timings.build_s or 0)
  if not ok then
    if type(err) == 'table' and err.pipeline_error then
      r.error = err.pipeline_error
    else
      r.error = tostring(err)
    end
    r.ok = false
    -- a job that started is stopped: nothing is left running
    for _, id in ipairs(r.job.ids or {}) do
      pcall(function()
        local c <close> = stack.flink.client(cfg, { timeout_ms = 10000 })
        local jh = c:job_handle(id)
        local st = jh:state()
        if st and not TERMINAL[st] then jh:cancel() end
      end)
    end
    if opts.report ~= false then require('fmhost.pipeline_report').write(r) end
    return r
  end
  r.ok = judge(r)
  -- the run's table for the HTML report (build/report/pipelines/NAME.json)
  if opts.report ~= false then require('fmhost.pipeline_report').write(r) end
  return r
end

-- --- the diagnosis ---------------------------------------------------------------

local function show(v)
  if v == nil or v == pool.NULL then return 'NULL' end
  if type(v) == 'table' then
    local p = {}
    for _, x in ipairs(v) do p[#p + 1] = show(x) end
    return '(' .. table.concat(p, ', ') .. ')'
  end
  local s = tostring(v)
  if #s > 60 then s = s:sub(1, 57) .. '...' end
  return s
end

local function key_list(keys, total, max)
  local p = {}
  for k = 1, math.min(#keys, max or 8) do p[#p + 1] = show(keys[k]) end
  local more = (total or #keys) - #p
  return table.concat(p, ', ') .. (more > 0 and (' ... ' .. more .. ' more') or '')
end

-- The verdict's own explanation of a column's differences (its pattern) or
-- of the rows of `kinds` (fmhost.validate's diagnosis, built in C).
local function pattern_of(v, column)
  for _, p in ipairs(v.patterns or {}) do if p.column == column then return p end end
end
local function explained(v, kinds)
  for _, x in ipairs(v.explain or {}) do if kinds[x.kind] then return x end end
end

-- The first cause of a failed result, one line: a failed job's cause, else
-- the data's worst problem with the verdict's explanation of it.
function M.cause_line(r)
  if r.error then return r.error:match('^[^\n]*') end
  local j, v = r.job, r.verdict
  if not r.job_ok then
    local c = j.first_failure or j.cause
    return ('the job ended %s%s%s'):format(tostring(j.state), j.timed_out and ' (timed out)' or '',
      c and (': ' .. c) or (r.want_job and (', expected ' .. r.want_job) or ''))
  end
  if not v then return 'no verdict' end
  local c = v.counts
  if #(v.missing_columns or {}) > 0 then return 'the target lacks column(s) ' .. table.concat(v.missing_columns, ', ') end
  if #(v.extra_columns or {}) > 0 then return 'the target has unexpected column(s) ' .. table.concat(v.extra_columns, ', ') end
  local worst
  for _, cs in ipairs(v.columns or {}) do
    if cs.mismatches > 0 and (not worst or cs.mismatches > worst.mismatches) then worst = cs end
  end
  local function why(x) return x and (': ' .. x.text) or '' end
  if c.missing > 0 then return ('%d expected row(s) missing from %s (keys %s)%s'):format(c.missing, r.sink_table,
    key_list(v.missing, c.missing, 5), why(explained(v, { missing = true, collapse = true }))) end
  if worst then return ('column %s differs in %d row(s)%s'):format(worst.name, worst.mismatches,
    why(pattern_of(v, worst.name))) end
  if c.duplicated > 0 then
    local d = r.duplicates
    return ('%d key(s) written more than once (%s)%s'):format(c.duplicated, key_list(v.duplicated, c.duplicated, 5),
      d and (': %d identical replay(s), %d differing copies'):format(d.identical, d.differing) or '')
  end
  if c.extra > 0 then return ('%d unexpected row(s) in %s (keys %s)%s'):format(c.extra, r.sink_table,
    key_list(v.extra, c.extra, 5), why(explained(v, { extra = true, split = true, copies = true }))) end
  if c.expected_duplicated > 0 then return ('the oracle yields %d key(s) more than once: give expect.key')
    :format(c.expected_duplicated) end
  return 'failed'
end

-- The diagnosis: the cause, the job, the counts (fmhost.validate's words:
-- keys present, exact, differing, missing, extra, duplicated), the
-- verdict's diagnosis (its explanations of missing and extra rows, per
-- column the pattern with two examples, the missing rows shown whole; the
-- text of validate.format, one place for those sentences), then the keys
-- and, for a differing column no pattern explains, two samples.
function M.format(r, o)
  o = o or {}
  local lines = {}
  local head = ('pipeline %s %s (seed %s, %s input rows)'):format(tostring(r.name), r.ok and 'PASSED' or 'FAILED',
    tostring(r.seed), tostring(r.rows))
  lines[1] = head
  if not r.ok then lines[#lines + 1] = '  cause: ' .. M.cause_line(r) end
  if r.error then
    local rest = r.error:match('^[^\n]*\n(.*)$')
    if rest then lines[#lines + 1] = '  ' .. rest:gsub('\n', '\n  ') end
    return table.concat(lines, '\n')
  end
  local j, v = r.job, r.verdict
  lines[#lines + 1] = ('  job %s %s, %s restart(s), %s checkpoint(s)%s'):format(tostring(j.id), tostring(j.state),
    tostring(j.restarts or 0), tostring(j.checkpoints or 0), j.stopped and (', stopped: ' .. j.stopped) or '')
  if j.failures and j.failures > 0 and r.ok then
    lines[#lines + 1] = ('  %d failure(s) survived, first: %s'):format(j.failures, tostring(j.first_failure))
  end
  for _, f in ipairs(r.faults or {}) do
    lines[#lines + 1] = ('  fault %s at %.1f s%s (%s rows in the target): %s'):format(f.action, f.t_s,
      M.fault_when(f), tostring(f.rows_at), tostring(f.detail))
  end
  if v then
    local c = v.counts
    local d = r.duplicates
    lines[#lines + 1] = ('  target table %s'):format(tostring(r.sink_table))
    local text = validate.format(v, { 'counts', 'columns', 'diagnosis', 'rows' })
    lines[#lines + 1] = (text:gsub('\n$', ''))
    if d then
      lines[#lines + 1] = ('  copies of the duplicated keys: %d key(s) replayed identically, %d with differing copies')
        :format(d.identical,
        d.differing)
    end
    if c.missing > 0 then lines[#lines + 1] = '  missing keys: ' .. key_list(v.missing, c.missing) end
    if c.extra > 0 then lines[#lines + 1] = '  unexpected keys: ' .. key_list(v.extra, c.extra) end
    if c.duplicated > 0 then lines[#lines + 1] = '  duplicated keys: ' .. key_list(v.duplicated, c.duplicated) end
    local cols = {}
    for _, cs in ipairs(v.columns or {}) do if cs.mismatches > 0 then cols[#cols + 1] = cs end end
    table.sort(cols, function(a, b) return a.mismatches > b.mismatches end)
    local kname = r.key and table.concat(r.key, ',') or 'key'
    if r.keyless then kname = 'row' end
    for n, cs in ipairs(cols) do
      if n > (o.columns or 4) then
        lines[#lines + 1] = ('  ... %d more column(s) differ'):format(#cols - n + 1)
        break
      end
      local p = pattern_of(v, cs.name)
      lines[#lines + 1] = ('  column %s (%s): %d value(s) differ%s'):format(cs.name, tostring(cs.compare),
        cs.mismatches, p and (', ' .. p.kind .. ' (above)') or '')
      local k = 0
      for _, m in ipairs(p and {} or v.mismatches or {}) do
        if m.column == cs.name then
          k = k + 1
          lines[#lines + 1] = ('    %s %s: expected %s, got %s'):format(kname, show(m.key), show(m.expected), show(m.actual))
          if k >= (o.samples or 2) then break end
        end
      end
    end
  end
  if r.load then lines[#lines + 1] = '  ' .. require('fmhost.pipeline_load').format(r.load) end
  if not r.ok and r.file then
    lines[#lines + 1] = ('  replay: fmhost check --seed %s %s'):format(tostring(r.seed), r.file)
  end
  return table.concat(lines, '\n')
end

-- One line: name, verdict, counts, time.
function M.summary(r)
  local v = r.verdict
  local t = r.timings or {}
  if r.ok then
    local ld = r.load and r.load.rows_per_s and ('; %.0f rows/s%s'):format(r.load.rows_per_s,
      r.load.latency and r.load.latency.p99_ms and (', latency p99 %.0f ms'):format(r.load.latency.p99_ms) or '') or ''
    return ('PASS %s: %d rows matched, job %s in %.1f s (fmhost %.2f s)%s'):format(tostring(r.name),
      v and v.counts.matched or 0, tostring(r.job.state), t.job_s or 0, t.overhead_s or 0, ld)
  end
  return ('FAIL %s: %s'):format(tostring(r.name), M.cause_line(r))
end

-- Raise with the diagnosis unless the result passed.
function M.assert_ok(r)
  if not r.ok then error(M.format(r), 2) end
  return r
end

-- busted: assert.pipeline(result) fails with the diagnosis;
-- assert.verdict(verdict) (a verdict of fmhost.validate) with validate.format's text.
function M.register_assertion()
  local ok, luassert = pcall(require, 'luassert')
  if not ok then return false end
  local say = require 'say'
  say:set('assertion.pipeline.positive', '(the pipeline\'s verdict)')
  say:set('assertion.pipeline.negative', 'the pipeline was expected to fail, but it passed')
  luassert:register('assertion', 'pipeline', function(state, args)
    local r = args[1]
    if type(r) ~= 'table' then
      rawset(state, 'failure_message', 'assert.pipeline needs a result of pipeline.run')
      return false
    end
    rawset(state, 'failure_message', M.format(r))
    return r.ok == true
  end, 'assertion.pipeline.positive', 'assertion.pipeline.negative')
  say:set('assertion.verdict.positive', '(the verdict)')
  say:set('assertion.verdict.negative', 'the comparison was expected to fail, but it passed')
  luassert:register('assertion', 'verdict', function(state, args)
    local v = args[1]
    if type(v) ~= 'table' or type(v.counts) ~= 'table' then
      rawset(state, 'failure_message', ('assert.verdict needs a verdict of fmhost.validate, got %s%s'):format(
        type(v), args[2] ~= nil and (' (' .. tostring(args[2]) .. ')') or ''))
      return false
    end
    rawset(state, 'failure_message', validate.format(v))
    return v.ok == true
  end, 'assertion.verdict.positive', 'assertion.verdict.negative')
  return true
end
M.register_assertion()

-- --- shrinking --------------------------------------------------------------------

-- pipeline.shrink(desc, result [, opts]) -> {indices={SOURCE={...}}, rows=, runs=, result=, replay=}
-- Delta debugging (ddmin) over the row indices of one source (opts.source,
-- default the only or first one) until a minimal set that still fails;
-- bounded by opts.budget runs (default 40).
function M.shrink(desc, result, opts)
  opts = opts or {}
  local say = opts.say or function() end
  local sname = opts.source
  if not sname then
    local names = {}
    for n in pairs(desc.data) do names[#names + 1] = n end
    table.sort(names)
    sname = names[1]
  end
  local seed = opts.seed or result.seed
  local all = {}
  local src = result.sources and result.sources[sname]
  local n = src and src.rows or (desc.data[sname].rows or desc.rows or M.ROWS)
  if src and src.indices then all = src.indices else for i = 0, n - 1 do all[#all + 1] = i end end
  local budget, runs = opts.budget or 40, 0
  local last_fail = result
  local function fails(set)
    runs = runs + 1
    table.sort(set)
    local r = M.run(desc, { cfg = opts.cfg, seed = seed, rows = opts.rows, subsets = { [sname] = set }, say = opts.say, report = false })
    local f = not r.ok and not (r.error and r.error:find('rejected statement', 1, true))
    say(('shrink run %d: %d rows -> %s'):format(runs, #set, f and 'fails' or 'passes'))
    if f then last_fail = r end
    return f
  end
  local cur, gran = all, 2
  while #cur >= 2 and runs < budget do
    local size = math.ceil(#cur / gran)
    local reduced = false
    -- try each subset, then each complement
    for k = 0, gran - 1 do
      if runs >= budget then break end
      local sub = {}
      for i = k * size + 1, math.min((k + 1) * size, #cur) do sub[#sub + 1] = cur[i] end
      if #sub > 0 and #sub < #cur and fails(sub) then
        cur, gran, reduced = sub, 2, true
        break
      end
    end
    if not reduced and gran > 2 then
      for k = 0, gran - 1 do
        if runs >= budget then break end
        local comp = {}
        for i = 1, #cur do
          if i <= k * size or i > (k + 1) * size then comp[#comp + 1] = cur[i] end
        end
        if #comp > 0 and #comp < #cur and fails(comp) then
          cur, gran, reduced = comp, math.max(gran - 1, 2), true
          break
        end
      end
    end
    if not reduced then
      if gran >= #cur then break end
      gran = math.min(#cur, gran * 2)
    end
  end
  local s = { source = sname, indices = cur, rows = {}, runs = runs, seed = seed, result = last_fail,
              minimal = #cur == 1 or runs < budget }
  -- the rows themselves, as the generator gives them
  local g = assert(gen.new { seed = last_fail.sources and last_fail.sources[sname].seed or seed, name = sname,
    time_zone = desc.data[sname].time_zone, columns = gen_columns(sname, desc.data[sname], desc.data) })
  for _, i in ipairs(cur) do s.rows[#s.rows + 1] = { index = i, row = g:record(i) } end
  local idx = {}
  for _, i in ipairs(cur) do idx[#idx + 1] = tostring(i) end
  s.replay = ('data.%s.indices = { %s }, seed = %s'):format(sname, table.concat(idx, ', '), tostring(seed))
  s.indices_map = { [sname] = cur }
  return s
end

-- Text of a shrink: the rows, their indices, the seed and the replay.
function M.format_shrink(s)
  local lines = { ('shrunk to %d row(s) of source %s in %d run(s) (seed %s)%s:'):format(#s.indices, s.source, s.runs,
    tostring(s.seed), s.minimal and '' or ' (budget exhausted: not minimal)') }
  for _, e in ipairs(s.rows) do
    local keys, parts = {}, {}
    for k in pairs(e.row) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. '=' .. show(e.row[k]) end
    lines[#lines + 1] = ('  row %d: %s'):format(e.index, table.concat(parts, ', '))
  end
  lines[#lines + 1] = '  replay: add to the description  ' .. s.replay
  return table.concat(lines, '\n')
end

-- A copy of desc that replays a shrink (the source's indices and the seed).
function M.replay_desc(desc, s)
  local copy = {}
  for k, v in pairs(desc) do copy[k] = v end
  copy.data = {}
  for k, v in pairs(desc.data) do
    local c = {}
    for a, b in pairs(v) do c[a] = b end
    copy.data[k] = c
  end
  copy.data[s.source].indices = s.indices
  copy.seed = s.seed
  return copy
end

return M
