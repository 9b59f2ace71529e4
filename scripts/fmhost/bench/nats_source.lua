-- nats_source: rows per second fmhost's JetStream connector reads into Flink
-- (bounded at the stream's last message, 4 subjects, JSON, a `blackhole`
-- sink) against Flink's own `filesystem` JSON source reading the same rows
-- from 4 files into the same sink, in the same run, at parallelism 1 and 4.
-- Both sides are timed by Flink's job duration (start to FINISHED), the
-- median of bench.runs runs, after one untimed job of each; the rows are
-- published (and written) once beforehand. The goal: the connector at >= 0.5 of the files' rate.
-- The machine's load average is recorded beside the figures.
local NB = require 'fmhost.nats_bench'
local stack = require 'fmhost.stack'

local M = { name = 'nats_source', needs = { 'nats', 'flink' },
            about = 'JetStream connector -> blackhole rows/s vs filesystem JSON -> blackhole, parallelism 1 and 4' }
M.GOAL = 0.5

function M.run(cfg, B)
  local s = NB.settings(cfg)
  local g = NB.generator(s.seed)
  local load0 = NB.load()
  local c, pub = NB.fill_stream(cfg, g, s.rows)
  -- the same rows as 4 JSON-lines files
  local dir = stack.dir(cfg) .. '/bench/nats_source'
  require('fmhost.proc').run { 'rm', '-rf', dir }
  assert(stack.mkdir_p(dir))
  local per = (s.rows + 3) // 4
  for k = 0, 3 do
    local from, to = k * per, math.min(s.rows, (k + 1) * per)
    assert(g:write(('%s/part-%d.json'):format(dir, k), from, to, { format = 'jsonl', threads = 2 }))
  end
  local client <close> = stack.flink.client(cfg, { timeout_ms = 60000 })
  local sink = "CREATE TEMPORARY TABLE snk (" .. NB.COLUMNS .. ") WITH ('connector' = 'blackhole')"
  local function nats_job(p)
    return NB.run_job(client, { 'CREATE TEMPORARY TABLE src (' .. NB.COLUMNS .. ') WITH (' .. NB.nats_with(cfg) .. ')',
      sink, 'INSERT INTO snk SELECT * FROM src' }, p)
  end
  local function files_job(p)
    return NB.run_job(client, { 'CREATE TEMPORARY TABLE src (' .. NB.COLUMNS .. ") WITH ('connector' = 'filesystem', "
      .. "'path' = 'file://" .. dir .. "', 'format' = 'json')", sink, 'INSERT INTO snk SELECT * FROM src' }, p)
  end
  -- one untimed job of each kind first: class loading and the JIT warm up for both sides alike
  files_job(1)
  nats_job(1)
  local out = {}
  for _, p in ipairs { 1, 4 } do
    local nt, ft = {}, {}
    for i = 1, s.runs do
      ft[i] = files_job(p)
      nt[i] = nats_job(p)
    end
    local n, f = B.median(nt), B.median(ft)
    out[p] = { fmhost_rows_per_s = s.rows / n, baseline_rows_per_s = s.rows / f, ratio = f / n,
               runs = { fmhost_s = nt, baseline_s = ft } }
  end
  c:stream_delete(NB.STREAM)
  c:close()
  require('fmhost.proc').run { 'rm', '-rf', dir }
  local r = {
    name = M.name,
    rows = s.rows,
    fmhost = { rows_per_s = out[1].fmhost_rows_per_s, wall_s = s.rows / out[1].fmhost_rows_per_s,
               peak_rss_mb = B.peak_rss_mb(),
               what = "fmhost's JetStream connector (4 subjects, JSON) -> blackhole, parallelism 1, Flink's job duration",
               publish_msgs_per_s = pub.msgs_per_s, bytes_per_msg = pub.bytes / s.rows },
    baseline = { what = "Flink's filesystem JSON source (4 files, the same rows) -> blackhole, parallelism 1",
                 rows_per_s = out[1].baseline_rows_per_s },
    ratio = out[1].ratio,
    parallelism_4 = out[4],
    parallelism_1 = out[1],
    goal_ratio = M.GOAL,
    goal_met = out[1].ratio >= M.GOAL and out[4].ratio >= M.GOAL,
    load_before = load0, load_after = NB.load(),
  }
  return r
end

return M
