-- fmhost.conformance: does a Flink SQL pipeline write every MariaDB column
-- type into MariaDB correctly and completely?
--
-- A case names MariaDB columns (fmhost.gen column keys) and, where the
-- documented JDBC type mapping is not what the user writes, the Flink types
-- and SELECT expression. Each batch of cases is one fmhost.pipeline run: the
-- generator's rows (seeded) as JSON lines, a `filesystem` source (format
-- json), a JDBC upsert sink (PRIMARY KEY NOT ENFORCED) on the MariaDB table
-- derived from the generator, INSERT INTO sink SELECT ... until the job
-- ends; then one verdict per case over the case's own columns, value by
-- value (fmhost.validate).
--
-- Cases that share writer options, session settings and JDBC options run in
-- one pipeline (one table, one job); a case expected to fail its job runs
-- alone. A column's values depend only on (seed, column name, row), so a case
-- draws the same data alone or batched, and the seed alone replays it.
--
--   local C = require 'fmhost.conformance'
--   local r = C.run_case(cfg, { name = 'ints', seed = 42, rows = 2000,
--     columns = { { name = 'i', type = 'INT', nullable = true, null_ratio = 0.1, edge_ratio = 0.2 } } })
--   C.assert_exact(r)        -- raises with the mismatch samples unless every value arrived
--
-- A case: {name= (a sentence), columns={col...}, rows=, seed=, writer=
-- {json_as_value=, decimal_as_string=} (fmhost.gen's JSON-lines options),
-- session={['table.local-time-zone']=...} (SET for its pipeline only),
-- jdbc={sink option=value}, expect_job='FINISHED'|'FAILED', alone=true,
-- defect= (a short name), check=function(result) (raises when the expected
-- outcome does not hold; default assert_exact)}.
-- A column: fmhost.gen keys (name, type, nullable, null_ratio, edge_ratio,
-- edges, min, max, charset, length, ...) plus flink= (the source field's
-- Flink type), sink= (the sink column's Flink type; default flink=, else the
-- mapping's), select= (the SELECT expression, `%s` standing for the quoted
-- source field; default a CAST when the two types differ), compare= (the
-- fmhost.validate column options: ulp, fsp, time_zone, as).
--
-- API:
--   C.open(cfg [, {seed=, rows=, session=, client=, pool=, prefix=, on_pipeline=fn(facts)}]) -> runner
--   runner:result(case [, plan]) -> result (runs the case's batch of `plan` once)
--   runner:run_batch(cases)   runner:close()   runner.batches_run
--   C.run_case(cfg, case [, open opts]) -> result
--   C.plan(cases) -> {{key=, cases=}...}     C.batch_key(case) -> text
--   C.flink_types(mariadb_type) -> source, sink, select | nil, msg
--   C.describe(result [, max]) -> text       C.samples_text(result, col [, max]) -> text
--   C.assert_exact(result)   C.assert_only_differ(result, {cols})
--   C.assert_every(result, col, pred(m), what)   C.count_values(result, col, pred(v)) -> n
--   C.kind(result, id, col) -> 'value'|'null'|'edge:<name>'   C.cause(java_trace) -> line
--   C.decimal_round(text, scale) -> text   C.integer_digits(text) -> n   C.micros(text) -> n
--   C.summary_rows(result, passed, defect) -> rows   C.write_summary(path, doc)
--   C.ROWS (3000), C.WAIT_MS, C.SESSION (the session properties every pipeline starts from)
-- A result: {ok=, name=, case=, verdict= (fmhost.validate), seed=, rows=,
--   table=, generator=, pool=, columns={name={mariadb=, flink=, sink=,
--   select=, compare=, nulls=, edges={edge=count}, mismatches=, samples=
--   {all of the column's mismatches}}}, facts={seed=, rows=, table=, job_id=,
--   state=, cause=, root_exception=, job_message=, target_rows=, file=, bytes=,
--   mariadb_ddl=, source_ddl=, sink_ddl=, insert=, timings={write_s=, job_s=,
--   validate_s=, total_s=}}} or {error=, facts=, case=} when the pipeline
--   could not be set up.
local stack = require 'fmhost.stack'
local pool = require 'fmhost.pool'
local gen = require 'fmhost.gen'
local validate = require 'fmhost.validate'
local P = require 'fmhost.pipeline'
local sql = require 'fmhost.pipeline.sql'

local M = {}

-- The pipeline runner's: rows a case writes, a job's whole run, and the
-- session every pipeline runs in (streaming like a user's continuous job,
-- UTC like the TaskManager's JVM and the stack's MariaDB, the INSERT
-- returning once submitted, and a failing job failing at once: the runner
-- reads the cause, restarts would only repeat it).
M.ROWS = P.ROWS
M.WAIT_MS = P.WAIT_S * 1000
M.SESSION = P.SESSION

-- column keys that belong to the runner, not to fmhost.gen
local RUNNER_KEYS = { flink = true, sink = true, select = true, compare = true }

local function now() return require('fmhost.proc').now_ms() / 1000 end

local q, sql_quote = sql.ident, sql.quote

-- --- the type mapping ------------------------------------------------------

-- The Flink types a user declares for a MariaDB column type: see
-- fmhost.pipeline.sql.flink_types.
M.flink_types = sql.flink_types

-- --- planning ----------------------------------------------------------------

local function sorted_pairs_text(t)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. '=' .. tostring(t[k]) end
  return table.concat(parts, ';')
end

-- Cases that may share one pipeline have the same batch key.
function M.batch_key(case)
  if (case.expect_job or 'FINISHED') ~= 'FINISHED' or case.alone then return 'alone:' .. case.name end
  return table.concat({ 'w:' .. sorted_pairs_text(case.writer), 's:' .. sorted_pairs_text(case.session),
                        'j:' .. sorted_pairs_text(case.jdbc), 'seed:' .. tostring(case.seed) }, '|')
end

local function check_case(case, i)
  local where = 'conformance case ' .. (case and case.name and ('"' .. case.name .. '"') or '#' .. tostring(i))
  if type(case) ~= 'table' then error(where .. ' must be a table', 3) end
  if type(case.name) ~= 'string' or case.name == '' then error(where .. ': name (a sentence) is required', 3) end
  if type(case.columns) ~= 'table' or #case.columns == 0 then error(where .. ': columns (a list) is required', 3) end
  for k, col in ipairs(case.columns) do
    if type(col) ~= 'table' or type(col.name) ~= 'string' or type(col.type) ~= 'string' then
      error(where .. ': column ' .. k .. ' needs a name and a type', 3)
    end
    if col.name == 'id' then error(where .. ": the column name 'id' is the runner's key", 3) end
  end
  local e = case.expect_job or 'FINISHED'
  if e ~= 'FINISHED' and e ~= 'FAILED' then error(where .. ": expect_job must be 'FINISHED' or 'FAILED'", 3) end
end

-- Group cases into pipelines: {{key=, cases={...}}, ...} in the cases' order.
function M.plan(cases)
  local batches, by_key, owner = {}, {}, {}
  for i, case in ipairs(cases) do
    check_case(case, i)
    for _, col in ipairs(case.columns) do
      if owner[col.name] and owner[col.name] ~= case then
        error(('conformance: column %s appears in "%s" and "%s": column names must be unique across the cases')
          :format(col.name, owner[col.name].name, case.name), 2)
      end
      owner[col.name] = case
    end
    local key = M.batch_key(case)
    local b = by_key[key]
    if not b then
      b = { key = key, cases = {} }
      by_key[key] = b
      batches[#batches + 1] = b
    end
    b.cases[#b.cases + 1] = case
  end
  return batches
end

-- --- the runner ----------------------------------------------------------------

local Runner = {}
Runner.__index = Runner

-- M.open(cfg [, {seed=, rows=, session=, client=, pool=, prefix=, on_pipeline=}]) -> Runner
-- Brings the stack up (MariaDB and Flink) when it is not, opens one gateway
-- session and one pool that every pipeline of the runner reuses.
-- on_pipeline(facts) is called after each pipeline (its facts, timings and
-- the number of cases and columns it carried).
function M.open(cfg, o)
  o = o or {}
  local up, why = stack.ensure(cfg, { 'mariadb', 'flink' })
  if not up then error('conformance: the stack (MariaDB and Flink) is not up: ' .. tostring(why), 2) end
  local self = setmetatable({ cfg = cfg, seed = o.seed, rows = o.rows or M.ROWS, prefix = o.prefix or 'cf',
                              results = {}, batches_run = 0, on_pipeline = o.on_pipeline }, Runner)
  local ok, err = pcall(function()
    self.client = o.client or stack.flink.client(cfg, { timeout_ms = 30000 })
    self.own_client = not o.client
    if o.pool then
      self.pool = o.pool
    else
      local m = cfg.mysql
      self.pool = assert(pool.open { host = m.host, port = m.port, user = m.user, password = m.password,
                                     database = m.database, charset = 'utf8mb4', size = 2 })
      self.own_pool = true
    end
    self.base_session = {}
    for k, v in pairs(M.SESSION) do self.base_session[k] = v end
    for k, v in pairs(o.session or {}) do self.base_session[k] = v end
  end)
  if not ok then
    self:close()
    error(err, 2)
  end
  self.datadir = stack.dir(cfg) .. '/conformance'
  return self
end

function Runner:close()
  if self.own_client and self.client then self.client:close() end
  self.client = nil
  if self.own_pool and self.pool then self.pool:close() end
  self.pool = nil
end

-- The real cause of a Java stack trace, one line: fmhost.pipeline's cause
-- (fmhost.flink.summarize, the one implementation).
function M.cause(trace) return P.cause(trace) end

-- Column facts from the generator: NULLs and edge cases drawn, per column.
-- A Lua loop over the rows: fine for the few thousand rows of a conformance
-- pipeline (what a case is for), not for a bulk load.
local function coverage(g, n, names)
  local facts = {}
  for _, name in ipairs(names) do facts[name] = { nulls = 0, edges = {} } end
  for i = 0, n - 1 do
    local e = g:explain(i)
    for _, name in ipairs(names) do
      local k = e[name]
      local f = facts[name]
      if k == 'null' then
        f.nulls = f.nulls + 1
      elseif k and k:sub(1, 5) == 'edge:' then
        local en = k:sub(6)
        f.edges[en] = (f.edges[en] or 0) + 1
      end
    end
  end
  return facts
end

-- Run one batch (cases sharing a pipeline). Fills self.results[case].
function Runner:run_batch(cases)
  local t0 = now()
  self.batches_run = self.batches_run + 1
  local first = cases[1]
  local seed = first.seed or self.seed
  local n = 0
  for _, c in ipairs(cases) do n = math.max(n, c.rows or self.rows) end
  local label = first.table or (self.prefix .. '_' .. self.batches_run)
  local tname = label:gsub('[^%w_]', '_')

  -- the generator: the key, then every case's columns
  local spec = { name = tname, time_zone = '+00:00',
                 columns = { { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential', start = 1 } } }
  local colcase, colcol, colinfo = {}, {}, {}
  for _, c in ipairs(cases) do
    for _, col in ipairs(c.columns) do
      local gc = {}
      for k, v in pairs(col) do if not RUNNER_KEYS[k] then gc[k] = v end end
      spec.columns[#spec.columns + 1] = gc
      colcase[col.name], colcol[col.name] = c, col
    end
  end
  local g = assert(gen.new(spec, seed and { seed = seed } or nil))
  seed = g:seed()
  local schema = g:schema()
  local names = {}
  for k = 2, #schema.columns do
    local sc = schema.columns[k]
    local col = colcol[sc.name]
    local fsrc, fsink, fsel = M.flink_types(sc.sql_type)
    local src_t = col.flink or fsrc
    if not src_t then error(('conformance case "%s", column %s: %s'):format(colcase[sc.name].name, sc.name, fsink), 0) end
    local sink_t = col.sink or col.flink or fsink
    local sel = col.select
    if not sel then
      if not col.flink and not col.sink then sel = fsel
      elseif src_t == sink_t then sel = '%s'
      else sel = 'CAST(%s AS ' .. sink_t .. ')' end
    end
    colinfo[sc.name] = { mariadb = sc.sql_type, flink = src_t, sink = sink_t,
                         select = (sel:gsub('%%s', (q(sc.name):gsub('%%', '%%%%')))), compare = col.compare }
    names[#names + 1] = sc.name
  end

  local db, cfg = self.pool, self.cfg
  local facts = { seed = seed, rows = n, table = tname, cases = #cases, timings = {} }

  -- the pipeline: the generator's rows as JSON lines, a filesystem/json
  -- source, a JDBC upsert sink on the table derived from the generator,
  -- INSERT INTO sink SELECT ..., run and judged by fmhost.pipeline
  local src, sink, sel = { '`id` BIGINT' }, { '`id` BIGINT' }, { '`id`' }
  for _, name in ipairs(names) do
    local ci = colinfo[name]
    src[#src + 1] = q(name) .. ' ' .. ci.flink
    sink[#sink + 1] = q(name) .. ' ' .. ci.sink
    sel[#sel + 1] = ci.select
  end
  local src_name, sink_name = 'src_' .. tname, 'snk_' .. tname
  facts.source_ddl = ('CREATE TEMPORARY TABLE %s (%s) WITH (${source.options})'):format(q(src_name),
    table.concat(src, ', '))
  facts.sink_ddl = ('CREATE TEMPORARY TABLE %s (%s, PRIMARY KEY (`id`) NOT ENFORCED) WITH (${sink.jdbc})'):format(
    q(sink_name), table.concat(sink, ', '))
  facts.insert = ('INSERT INTO %s SELECT %s FROM %s'):format(q(sink_name), table.concat(sel, ', '), q(src_name))
  local session = {}
  for k, v in pairs(self.base_session) do session[k] = v end
  for k, v in pairs(first.session or {}) do session[k] = v end
  local w = first.writer or {}
  local desc = {
    name = tname,
    data = { [tname] = { columns = spec.columns, rows = n, seed = seed, time_zone = spec.time_zone,
                         json_as_value = w.json_as_value, decimal = w.decimal_as_string and 'string' or nil } },
    flink = { session = session, sql = { facts.source_ddl, facts.sink_ddl, facts.insert } },
    sink = { table = tname, from = tname, options = first.jdbc },
    expect = { generator = tname, key = 'id', job = first.expect_job },
  }
  local pr = P.run(desc, { cfg = cfg, pool = db, client = self.client, wait_s = M.WAIT_MS / 1000 })
  facts.pipeline = pr
  facts.mariadb_ddl = g:create_table_sql(tname)
  for _, st in ipairs(pr.statements or {}) do
    if st.where == 'flink' then
      if st.sql:match('^CREATE TEMPORARY TABLE `src_') then facts.source_ddl = st.sql
      elseif st.sql:match('^CREATE TEMPORARY TABLE `snk_') then facts.sink_ddl = st.sql
      elseif st.sql:match('^INSERT') then facts.insert = st.sql end
    end
  end
  facts.file = pr.files and pr.files[1]
  facts.timings.write_s = pr.timings.data_s
  facts.timings.job_s = pr.timings.job_s
  local ok, err = pr.error == nil, pr.error
  if ok then
    facts.job_id = pr.job.id
    facts.state = pr.job.state or 'UNKNOWN'
    if facts.state ~= 'FINISHED' then
      facts.root_exception = pr.job.root_exception
      facts.job_message = pr.job.first_failure or pr.job.cause
      facts.cause = M.cause(facts.root_exception) or facts.job_message
    end
  end
  if not ok then
    for _, c in ipairs(cases) do self.results[c] = { error = err, facts = facts, case = c } end
    facts.error = err
    if self.on_pipeline then self.on_pipeline(facts) end
    return
  end
  facts.target_rows = (assert(db:query('SELECT COUNT(*) AS n FROM ' .. q(tname))))[1].n

  -- one verdict per case, over the case's own columns
  local t3 = now()
  local cov = coverage(g, n, names)
  for _, c in ipairs(cases) do
    local mine, ignore, copts = {}, {}, {}
    for _, col in ipairs(c.columns) do
      mine[col.name] = true
      if col.compare then copts[col.name] = col.compare end
    end
    for _, name in ipairs(names) do if not mine[name] then ignore[#ignore + 1] = name end end
    local v, vmsg = validate.compare { target = { pool = db, table = tname },
      expected = { generator = g, first = 0, count = n }, key = 'id', columns = copts, ignore = ignore,
      max_samples = n * #c.columns, samples_per_key = 0, max_value_len = 1 << 20, log = false, label = c.name }
    local r = { case = c, name = c.name, facts = facts, generator = g, seed = seed, rows = n, table = tname, pool = db,
                verdict = v, error = (not v) and vmsg or nil, columns = {} }
    for _, col in ipairs(c.columns) do
      local ci = colinfo[col.name]
      r.columns[col.name] = { name = col.name, mariadb = ci.mariadb, flink = ci.flink, sink = ci.sink,
        select = ci.select, nulls = cov[col.name].nulls, edges = cov[col.name].edges, mismatches = 0, samples = {} }
    end
    if v then
      for _, cs in ipairs(v.columns or {}) do
        if r.columns[cs.name] then
          r.columns[cs.name].mismatches = cs.mismatches
          r.columns[cs.name].compare = cs.compare
        end
      end
      for _, m in ipairs(v.mismatches or {}) do
        local rc = r.columns[m.column]
        if rc then rc.samples[#rc.samples + 1] = m end
      end
    end
    r.ok = v and v.ok and facts.state == 'FINISHED' or false
    self.results[c] = r
  end
  facts.timings.validate_s = now() - t3
  facts.timings.total_s = now() - t0
  facts.columns = #names
  if self.on_pipeline then self.on_pipeline(facts) end
end

-- The result of a case, running its batch (with the other cases of
-- `plan` that share it) when it has not run yet.
function Runner:result(case, batches)
  if self.results[case] then return self.results[case] end
  local batch
  for _, b in ipairs(batches or M.plan({ case })) do
    for _, c in ipairs(b.cases) do if c == case then batch = b end end
  end
  assert(batch, 'the case is in no batch of the plan')
  self:run_batch(batch.cases)
  return self.results[case]
end

-- One case in its own pipeline (and its own session).
function M.run_case(cfg, case, o)
  local r = M.open(cfg, o)
  local ok, res = pcall(function() return r:result(case) end)
  r:close()
  if not ok then error(res, 0) end
  return res
end

-- --- reading and asserting results ----------------------------------------

local function show(v)
  if v == nil or v == pool.NULL then return 'NULL' end
  local s = tostring(v)
  if #s > 80 then s = s:sub(1, 77) .. '...' end
  return s
end

-- Text of a column's mismatch samples (first `max`, default 8).
function M.samples_text(r, col, max)
  local rc = r.columns[col]
  if not rc then return '(no column ' .. col .. ')' end
  local lines = {}
  for k, m in ipairs(rc.samples) do
    if k > (max or 8) then
      lines[#lines + 1] = ('    ... %d more'):format(rc.mismatches - (max or 8))
      break
    end
    lines[#lines + 1] = ('    id %s: expected %s, got %s (%s)'):format(show(m.key), show(m.expected), show(m.actual),
      tostring(m.reason))
  end
  return table.concat(lines, '\n')
end

local function sorted_columns(r)
  local out = {}
  for _, col in ipairs(r.case.columns) do out[#out + 1] = r.columns[col.name] end
  return out
end

-- A readable summary of a result: the pipeline's end, counts, then each
-- column with mismatches and their first samples.
function M.describe(r, max)
  if r.error then return 'the pipeline or its comparison failed: ' .. tostring(r.error) end
  local f, v = r.facts, r.verdict
  local lines = { ('seed %d, %d rows, table %s, job %s %s%s'):format(r.seed, r.rows, r.table, tostring(f.job_id),
    tostring(f.state), f.cause and (': ' .. f.cause) or '') }
  if v then
    local c = v.counts
    lines[#lines + 1] = ('rows: expected %d, in MariaDB %d, matched %d, missing %d, extra %d, duplicated %d, '
      .. 'mismatched %d'):format(c.expected, c.target, c.matched, c.missing, c.extra, c.duplicated, c.mismatched_rows)
  end
  for _, rc in ipairs(sorted_columns(r)) do
    if rc.mismatches > 0 then
      lines[#lines + 1] = ('  %s %s (Flink %s -> %s): %d values differ'):format(rc.name, rc.mariadb, rc.flink, rc.sink,
        rc.mismatches)
      lines[#lines + 1] = M.samples_text(r, rc.name, max)
    end
  end
  return table.concat(lines, '\n')
end

-- Raise unless the job finished and every value of every column arrived.
function M.assert_exact(r)
  if r.error then error(M.describe(r), 2) end
  if r.facts.state ~= 'FINISHED' or not r.verdict or not r.verdict.ok then
    error('"' .. r.name .. '": values were lost or changed\n' .. M.describe(r), 2)
  end
  return r
end

-- Raise unless the columns that differ are exactly `cols` (a list).
function M.assert_only_differ(r, cols)
  if r.error then error(M.describe(r), 2) end
  local want = {}
  for _, c in ipairs(cols) do want[c] = true end
  local bad = {}
  for _, rc in ipairs(sorted_columns(r)) do
    if (rc.mismatches > 0) ~= (want[rc.name] == true) then
      bad[#bad + 1] = rc.name .. (rc.mismatches > 0 and ' differs' or ' arrived unchanged')
    end
  end
  local c = r.verdict.counts
  if c.missing + c.extra + c.duplicated > 0 then bad[#bad + 1] = 'rows are missing, extra or duplicated' end
  if #bad > 0 then
    error(('"%s": expected exactly %s to differ, but %s\n%s'):format(r.name, table.concat(cols, ', '),
      table.concat(bad, '; '), M.describe(r)), 2)
  end
end

-- Raise unless every mismatch of column `col` satisfies pred(m) (m =
-- {key, expected, actual, reason}); `what` names the defect's shape.
function M.assert_every(r, col, pred, what)
  local rc = r.columns[col]
  if #rc.samples < rc.mismatches then
    error(('"%s": only %d of %d mismatches of %s were kept'):format(r.name, #rc.samples, rc.mismatches, col), 2)
  end
  local odd = {}
  for _, m in ipairs(rc.samples) do
    if not pred(m) then odd[#odd + 1] = m end
  end
  if #odd > 0 then
    local lines = {}
    for k = 1, math.min(#odd, 8) do
      lines[#lines + 1] = ('    id %s: expected %s, got %s'):format(show(odd[k].key), show(odd[k].expected),
        show(odd[k].actual))
    end
    error(('"%s": %d of %d values of %s differ otherwise than %s:\n%s'):format(r.name, #odd, rc.mismatches, col,
      what, table.concat(lines, '\n')), 2)
  end
end

-- The number of generated rows whose value of `col` satisfies pred(value)
-- (value as fmhost.gen gives it; NULL is pool.NULL).
function M.count_values(r, col, pred)
  local g, k = r.generator, 0
  for i = 0, r.rows - 1 do
    if pred(g:record(i)[col]) then k = k + 1 end
  end
  return k
end

-- What the generator drew for column `col` in the row of key `id` (the
-- runner's key is sequential from 1): 'value', 'null' or 'edge:<name>'.
function M.kind(r, id, col)
  local i = math.tointeger(id) - 1
  local e = r.generator:explain(i)
  return e[col]
end

-- Decimal text rounded half away from zero to `scale` fraction digits
-- (Java's HALF_UP, which Flink's DECIMAL(p,s) applies); plain text, compare
-- it through fmhost.validate.decimal_canon.
function M.decimal_round(text, scale)
  local sign, int, frac = tostring(text):match('^([-+]?)(%d*)%.?(%d*)$')
  assert(int, 'not a decimal: ' .. tostring(text))
  if #frac <= scale then return tostring(text) end
  local keep, next_digit = frac:sub(1, scale), frac:sub(scale + 1, scale + 1)
  local digits = int .. keep
  if next_digit >= '5' then
    -- add one to the digit string
    local out, carry = {}, 1
    for k = #digits, 1, -1 do
      local d = digits:byte(k) - 48 + carry
      carry = d // 10
      out[k] = string.char(48 + d % 10)
    end
    digits = (carry > 0 and '1' or '') .. table.concat(out)
  end
  local ip = #digits - scale
  return sign .. digits:sub(1, ip) .. (scale > 0 and ('.' .. digits:sub(ip + 1)) or '')
end

-- The number of digits before the point of a decimal text (0 for 0.x).
function M.integer_digits(text)
  local int = tostring(text):match('^[-+]?0*(%d*)')
  return #int
end

-- Days since 1970-01-01 of a civil date (proleptic Gregorian).
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- Microseconds since 1970-01-01 00:00:00 of 'YYYY-MM-DD HH:MM:SS[.ffffff]'
-- (a wall-clock text, no zone), or of 'HH:MM:SS[.f]' (TIME, signed).
function M.micros(text)
  text = tostring(text)
  local y, mo, d, h, mi, s, f = text:match('^(%d+)-(%d+)-(%d+)[ T](%d+):(%d+):(%d+)%.?(%d*)')
  if y then
    local us = tonumber(((f or '') .. '000000'):sub(1, 6))
    return ((days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
      + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)) * 1000000) + us
  end
  local neg
  neg, h, mi, s, f = text:match('^(-?)(%d+):(%d+):(%d+)%.?(%d*)$')
  assert(h, 'not a temporal text: ' .. text)
  local us = (tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)) * 1000000 + tonumber(((f or '') .. '000000'):sub(1, 6))
  return neg == '-' and -us or us
end

-- --- the summary the report reads ---------------------------------------------

-- One entry per column of a result, the table the report shows. passed:
-- whether the case's assertion held; defect: the case's defect name or nil.
-- A column's outcome: 'exact' (every value arrived, the job finished),
-- 'defect: <name>' (it differs, or its job failed, as the case asserts), or
-- 'FAIL' (the case's assertion did not hold).
function M.summary_rows(r, passed, defect)
  local out = {}
  if not r.columns then return out end
  local f = r.facts or {}
  for _, rc in ipairs(sorted_columns(r)) do
    local outcome
    if not passed then outcome = 'FAIL'
    elseif rc.mismatches == 0 and f.state == 'FINISHED' then outcome = 'exact'
    else outcome = 'defect: ' .. tostring(defect) end
    local edges = {}
    for name, k in pairs(rc.edges or {}) do edges[#edges + 1] = ('%s×%d'):format(name, k) end
    table.sort(edges)
    local first = rc.samples[1]
    out[#out + 1] = {
      case = r.name, column = rc.name, mariadb = rc.mariadb, flink = rc.flink, sink = rc.sink,
      rows = r.rows, nulls = rc.nulls, edges = table.concat(edges, ' '), mismatches = rc.mismatches,
      outcome = outcome, seed = tostring(r.seed), state = f.state, cause = f.cause,
      sample = first and ('id %s: expected %s, got %s'):format(show(first.key), show(first.expected),
        show(first.actual)) or nil,
    }
  end
  return out
end

-- Write the summary the report reads, as JSON: doc = {run = {seed=, rows=,
-- pipelines=}, cases = {{name=, defect=, passed=, state=, cause=,
-- message=}...}, columns = {summary_rows entries...}}.
function M.write_summary(path, doc)
  local cjson = require 'cjson'
  local dir = path:match('^(.*)/[^/]*$')
  if dir then stack.mkdir_p(dir) end
  local f = assert(io.open(path, 'wb'))
  f:write(cjson.encode(doc))
  f:close()
end

return M
