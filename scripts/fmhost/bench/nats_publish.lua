-- nats_publish: messages per second fmhost.nats's publish_rows puts into a
-- JetStream stream (file storage, a message id on every message,
-- asynchronous with at most nats.max_pending in flight, each row made into a
-- ~200-byte JSON message in C), against publishing the same messages one by
-- one with a synchronous publish that waits for each ack (the way a simple
-- client does it), both measured in this run on the stack's nats-server.
-- The synchronous side publishes the first bench.nats_sync_msgs of the same
-- messages (at its rate all of them would take minutes); rates are per
-- message. Also recorded: re-publishing the same messages, which the
-- stream acks as duplicates and stores nothing. The goal: >= 200k msgs/s.
local gen = require 'fmhost.gen'
local nats = require 'fmhost.nats'
local stack = require 'fmhost.stack'

local M = { name = 'nats_publish', needs = { 'nats' },
            about = 'fmhost.nats publish_rows (async, message ids) msgs/s vs the same messages published one by one, sync' }

local STREAM, SUBJECTS = 'FMH_BENCH', { 'bench.s1', 'bench.s2', 'bench.s3', 'bench.s4' }
M.GOAL = 200000

-- ~200 bytes of JSON a row (the note is 80..100 ASCII characters).
local function generator(seed)
  return assert(gen.new { seed = seed, name = 'nats_bench', columns = {
    { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
    { name = 'ts', type = 'DATETIME(3)' },
    { name = 'user_id', type = 'INT UNSIGNED' },
    { name = 'kind', type = 'ENUM', values = { 'view', 'click', 'purchase', 'refund' } },
    { name = 'amount', type = 'DECIMAL(12,2)' },
    { name = 'note', type = 'VARCHAR(100)', charset = 'ascii', min_length = 80 },
  } })
end

local function fresh_stream(c)
  c:stream_delete(STREAM)
  assert(c:stream_add { name = STREAM, subjects = { 'bench.*' }, storage = 'file', duplicate_window_ms = 600000 })
end

local function check_count(c, want)
  local st = assert(c:stream_info(STREAM)).state
  assert(st.messages == want, ('%s holds %d messages, not %d'):format(STREAM, st.messages, want))
end

function M.run(cfg, B)
  local n = math.tointeger(stack.get(cfg, 'bench.nats_msgs'))
  local n_sync = math.min(n, math.tointeger(stack.get(cfg, 'bench.nats_sync_msgs')))
  local runs = math.tointeger(stack.get(cfg, 'bench.runs'))
  local seed = math.tointeger(stack.get(cfg, 'bench.seed'))
  local g = generator(seed)
  local c <close> = assert(nats.connect(cfg.nats))
  local opts = { generator = g, subjects = SUBJECTS, rows = n, timeout_ms = 600000 }

  local ft, dt, bt, bytes = {}, {}, {}, 0
  for _ = 1, runs do
    -- fmhost: every row once, into an empty stream
    fresh_stream(c)
    local r = assert(c:publish_rows(opts))
    assert(r.acked == n and r.duplicates == 0, 'publish_rows: not every message was stored once')
    check_count(c, n)
    ft[#ft + 1], bytes = r.wall_s, r.bytes
    -- the same rows again: all duplicates
    r = assert(c:publish_rows(opts))
    assert(r.duplicates == n, 'the re-publish stored messages')
    dt[#dt + 1] = r.wall_s
    -- the baseline: the same messages one by one, each waiting for its ack
    fresh_stream(c)
    r = assert(c:publish_rows { generator = g, subjects = SUBJECTS, rows = n_sync, sync = true })
    assert(r.acked == n_sync, 'sync publish: not every message was stored')
    check_count(c, n_sync)
    bt[#bt + 1] = r.wall_s
  end
  c:stream_delete(STREAM)

  local f_med, d_med, b_med = B.median(ft), B.median(dt), B.median(bt)
  local rate = n / f_med
  local r = {
    name = M.name,
    rows = n,
    fmhost = { rows_per_s = rate, wall_s = f_med, peak_rss_mb = B.peak_rss_mb(), bytes_per_msg = bytes / n,
               mb_per_s = bytes / f_med / 1e6, duplicate_rows_per_s = n / d_med,
               max_pending = math.tointeger(stack.get(cfg, 'nats.max_pending')),
               goal_rows_per_s = M.GOAL, goal_met = rate >= M.GOAL },
    baseline = { what = 'the same messages one by one, synchronous publish waiting for each ack',
                 rows_per_s = n_sync / b_med, wall_s = b_med, rows = n_sync },
    runs = { fmhost_s = ft, duplicate_s = dt, baseline_s = bt },
  }
  r.ratio = r.fmhost.rows_per_s / r.baseline.rows_per_s
  return r
end

return M
