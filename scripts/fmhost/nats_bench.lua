-- fmhost.nats_bench: what the JetStream benchmarks (bench/nats_source.lua,
-- bench/nats_pipeline.lua) share: the rows (fmhost.gen 'seven', ~150 bytes
-- of JSON each), a stream holding them on 4 subjects, Flink SQL jobs run to
-- FINISHED and timed by Flink's own job duration.
local gen = require 'fmhost.gen'
local nats = require 'fmhost.nats'
local stack = require 'fmhost.stack'

local M = {}

M.STREAM = 'FMH_BENCH_SRC'
M.SUBJECTS = { 'fmhbench.1', 'fmhbench.2', 'fmhbench.3', 'fmhbench.4' }
M.COLUMNS = 'id BIGINT, i INT, d DECIMAL(22,9), f DOUBLE, s STRING, ts TIMESTAMP(6), b BOOLEAN'
M.WAIT_MS = 1800000

local sql = require 'fmhost.pipeline.sql'

function M.settings(cfg)
  return {
    rows = math.tointeger(stack.get(cfg, 'bench.rows')),
    runs = math.tointeger(stack.get(cfg, 'bench.runs')),
    seed = math.tointeger(stack.get(cfg, 'bench.seed')),
  }
end

function M.generator(seed) return assert(gen.load('seven', { seed = seed })) end

-- A fresh stream holding rows [0, rows) of g spread over the 4 subjects by key.
function M.fill_stream(cfg, g, rows)
  local c = assert(nats.connect(cfg.nats))
  c:stream_delete(M.STREAM)
  assert(c:stream_add { name = M.STREAM, subjects = M.SUBJECTS, storage = 'file', duplicate_window_ms = 600000,
                        description = 'fmhost bench' })
  local r = assert(c:publish_rows { generator = g, subjects = M.SUBJECTS, rows = rows, format = 'json',
                                    spread = 'hash', timeout_ms = 600000 })
  assert(r.acked == rows, ('%d of %d messages stored'):format(r.acked, rows))
  return c, r
end

-- The connector's WITH options over the bench stream (bounded at its last message).
function M.nats_with(cfg, subjects)
  return sql.with { { 'connector', 'nats-jetstream' }, { 'servers', stack.nats.url(cfg) }, { 'stream', M.STREAM },
    { 'subjects', table.concat(subjects or M.SUBJECTS, ';') }, { 'format', 'json' },
    { 'scan.bounded.mode', 'latest' }, { 'scan.batch-size', '5000' } }
end

-- Run statements (the last one an INSERT) in a fresh session at parallelism p;
-- returns the job's duration in seconds as Flink measured it (start to end),
-- after it FINISHED.
function M.run_job(client, statements, p, extra)
  local props = { ['execution.runtime-mode'] = 'streaming', ['table.dml-sync'] = 'false',
                  ['parallelism.default'] = tostring(p), ['restart-strategy.type'] = 'none' }
  for k, v in pairs(extra or {}) do props[k] = v end
  local s <close> = assert(client:session { name = 'fmhost-bench', properties = props })
  for i = 1, #statements - 1 do assert(s:run(statements[i])) end
  local op = assert(s:execute(statements[#statements]))
  assert(op:wait { timeout_ms = M.WAIT_MS })
  local job = client:job_handle(assert(op:job_id()))
  local state, msg, info = job:wait('FINISHED', M.WAIT_MS)
  if state ~= 'FINISHED' then
    error(('the bench job ended %s: %s\n%s'):format(tostring(info and info.state), tostring(msg),
      tostring(info and info.root_exception)), 0)
  end
  local d = assert(job:detail())
  local ms = tonumber(d.duration) or ((tonumber(d['end-time']) or 0) - (tonumber(d['start-time']) or 0))
  return ms / 1000, job:id()
end

-- The machine's load (1, 5, 15 minutes) from /proc/loadavg.
function M.load()
  local f = io.open('/proc/loadavg')
  if not f then return nil end
  local a, b, c = f:read('l'):match('^(%S+)%s+(%S+)%s+(%S+)')
  f:close()
  return { tonumber(a), tonumber(b), tonumber(c) }
end

return M
