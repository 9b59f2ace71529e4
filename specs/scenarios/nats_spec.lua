-- fmhost.nats against the stack's private nats-server with JetStream #nats
--
-- Every check reads back what the server holds (stream state, per-subject
-- counts, stored messages and their headers) and compares it with what was
-- published or with the generator's row, value by value.
local nats = require 'fmhost.nats'
local gen = require 'fmhost.gen'
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'
local check = require 'fmhost.check'

local function connect()
  assert(stack.ensure(_G.cfg or {}, { 'nats' }))
  return assert(nats.connect((_G.cfg or {}).nats))
end

-- FNV-1a 64 of s mod n (unsigned) plus 1: the subject a key is sent to,
-- computed here independently of the C code.
local function fnv_slot(s, n)
  local h = 0xcbf29ce484222325
  for i = 1, #s do h = (h ~ s:byte(i)) * 0x100000001b3 end
  return ((h >> 1) % n * 2 + (h & 1)) % n + 1
end

local function line(text) return (text:gsub('\n$', '')) end

describe('fmhost.nats on a real nats-server #nats', function()
  local c
  local made = {}

  -- a fresh stream (deleted first when a previous run left it)
  local function fresh(cfg)
    c:stream_delete(cfg.name)
    made[#made + 1] = cfg.name
    return assert(c:stream_add(cfg))
  end

  lazy_setup(function() c = connect() end)

  lazy_teardown(function()
    if c then
      for _, name in ipairs(made) do c:stream_delete(name) end
      c:close()
    end
  end)

  describe('streams', function()
    it('are added with the configuration asked for, and adding the same again is harmless', function()
      local info = fresh { name = 'FMH_CRUD', subjects = { 'crud.a', 'crud.b.*' }, storage = 'memory',
                           retention = 'limits', max_msgs = 1000, max_bytes = 1 << 20, duplicate_window_ms = 30000,
                           max_age_ms = 3600000, discard = 'new', description = 'spec stream' }
      local cf = info.config
      assert.are.same({ 'crud.a', 'crud.b.*' }, cf.subjects)
      assert.are.same({ 'memory', 'limits', 'new', 1000, 1 << 20, 30000, 3600000, 'spec stream' },
        { cf.storage, cf.retention, cf.discard, cf.max_msgs, cf.max_bytes, cf.duplicate_window_ms, cf.max_age_ms,
          cf.description })
      assert.are.same({ 0, 0, 0 }, { info.state.messages, info.state.bytes, info.state.last_seq })
      local again = assert(c:stream_add { name = 'FMH_CRUD', subjects = { 'crud.a', 'crud.b.*' }, storage = 'memory',
        retention = 'limits', max_msgs = 1000, max_bytes = 1 << 20, duplicate_window_ms = 30000,
        max_age_ms = 3600000, discard = 'new', description = 'spec stream' })
      assert.are.equal(info.created_ns, again.created_ns)
      local names = assert(c:streams())
      local found = false
      for _, n in ipairs(names) do found = found or n == 'FMH_CRUD' end
      assert.is_true(found)
    end)

    it('refuses another configuration under an existing name, and update applies it', function()
      local ok, msg, info = c:stream_add { name = 'FMH_CRUD', subjects = { 'crud.a' } }
      assert.is_nil(ok)
      assert.matches('stream name already in use with a different configuration', msg, 1, true)
      assert.are.same({ 'jetstream', 10058, false }, { info.kind, info.code, info.retryable })
      local up = assert(c:stream_update { name = 'FMH_CRUD', subjects = { 'crud.a', 'crud.b.*', 'crud.c' },
        storage = 'memory', max_msgs = 5, max_bytes = 1 << 20, duplicate_window_ms = 30000, max_age_ms = 3600000,
        discard = 'new', description = 'spec stream' })
      assert.are.same({ 'crud.a', 'crud.b.*', 'crud.c' }, up.config.subjects)
      assert.are.equal(5, assert(c:stream_info('FMH_CRUD')).config.max_msgs)
    end)

    it('count messages per subject, purge without resetting sequences, and delete', function()
      for i = 1, 3 do assert(c:publish('crud.a', 'a' .. i)) end
      assert(c:publish('crud.b.x', 'bx'))
      assert(c:publish('crud.c', 'c'))
      local st = assert(c:stream_info('FMH_CRUD', { subjects = true })).state
      assert.are.same({ 5, 1, 5 }, { st.messages, st.first_seq, st.last_seq })
      assert.are.same({ ['crud.a'] = 3, ['crud.b.x'] = 1, ['crud.c'] = 1 }, st.subjects)
      -- max_msgs 5 with discard new: the sixth is refused by the server
      local ok, msg, info = c:publish('crud.a', 'a4')
      assert.is_nil(ok, 'a sixth message was stored')
      assert.are.equal('jetstream', info.kind, msg)
      assert.is_true(assert(c:stream_purge('FMH_CRUD', { subject = 'crud.a' })))
      st = assert(c:stream_info('FMH_CRUD', { subjects = 'crud.a' })).state
      assert.are.same({ 2, 5 }, { st.messages, st.last_seq })
      assert.is_nil(st.subjects['crud.a'])
      assert.is_true(assert(c:stream_purge('FMH_CRUD')))
      st = assert(c:stream_info('FMH_CRUD')).state
      assert.are.same({ 0, 6, 5 }, { st.messages, st.first_seq, st.last_seq })
      assert.are.equal(6, assert(c:publish('crud.c', 'after')).seq)
      assert.is_true(assert(c:stream_delete('FMH_CRUD')))
      local gone, gmsg, ginfo = c:stream_info('FMH_CRUD')
      assert.is_nil(gone)
      assert.are.equal('nats: stream FMH_CRUD: stream not found (JetStream error 10059)', gmsg)
      assert.are.same({ 'jetstream', 10059, false }, { ginfo.kind, ginfo.code, ginfo.retryable })
    end)
  end)

  describe('publishing', function()
    lazy_setup(function() fresh { name = 'FMH_PUB', subjects = { 'pub.>' }, duplicate_window_ms = 120000 } end)

    it('publishes synchronously: each ack carries the next sequence, and the message reads back whole', function()
      local data = 'bytes \0 and ünïcode\n'
      local a1 = assert(c:publish('pub.s', data, { msg_id = 's-1', headers = { ['X-Case'] = 'one' } }))
      local a2 = assert(c:publish('pub.s', 'second', { expect_stream = 'FMH_PUB', expect_last_seq = a1.seq }))
      assert.are.same({ 'FMH_PUB', 1, false }, { a1.stream, a1.seq, a1.duplicate })
      assert.are.equal(2, a2.seq)
      local m = assert(c:get_msg('FMH_PUB', 1))
      assert.are.same({ 1, 'pub.s', data, 's-1', 'one' },
        { m.seq, m.subject, m.data, m.headers['Nats-Msg-Id'], m.headers['X-Case'] })
      local last = assert(c:last_msg('FMH_PUB', 'pub.s'))
      assert.are.same({ 2, 'second' }, { last.seq, last.data })
      -- an expectation that does not hold is refused and stores nothing
      local ok, msg, info = c:publish('pub.s', 'third', { expect_last_seq = 1 })
      assert.is_nil(ok)
      assert.are.same({ 'jetstream', 10071 }, { info.kind, info.code }, msg)
      assert.are.equal(2, assert(c:stream_info('FMH_PUB')).state.messages)
    end)

    it('publishes asynchronously: every ack counted, the messages stored in order', function()
      local before = assert(c:stream_info('FMH_PUB')).state.last_seq
      for i = 1, 500 do assert(c:publish_async('pub.a', 'async ' .. i, { msg_id = 'a-' .. i })) end
      local acks = assert(c:wait_async(30000))
      assert.are.same({ 500, 500, 0, 0, 0, before + 1, before + 500 },
        { acks.published, acks.acked, acks.duplicates, acks.failed, acks.unacked, acks.first_seq, acks.last_seq })
      local msgs = assert(c:read('FMH_PUB', { start_seq = before + 1, count = 1000 }))
      assert.are.equal(500, #msgs)
      for i, m in ipairs(msgs) do
        assert.are.same({ before + i, 'pub.a', 'async ' .. i, 'a-' .. i },
          { m.seq, m.subject, m.data, m.headers['Nats-Msg-Id'] })
      end
      -- the next wait counts from zero
      assert.are.same({ 0, 0 }, { assert(c:wait_async(1000)).published, assert(c:wait_async(1000)).acked })
    end)

    it('deduplicates by message id: the same ids again leave the stream as it was', function()
      local st0 = assert(c:stream_info('FMH_PUB')).state
      local dup = assert(c:publish('pub.s', 'other text', { msg_id = 's-1' }))
      assert.are.same({ 1, true }, { dup.seq, dup.duplicate })
      for i = 1, 500 do assert(c:publish_async('pub.a', 'again ' .. i, { msg_id = 'a-' .. i })) end
      local acks = assert(c:wait_async(30000))
      assert.are.same({ 500, 500, 500 }, { acks.published, acks.acked, acks.duplicates })
      local st1 = assert(c:stream_info('FMH_PUB')).state
      assert.are.same({ st0.messages, st0.last_seq, st0.bytes }, { st1.messages, st1.last_seq, st1.bytes })
      assert.are.equal('async 7', assert(c:get_msg('FMH_PUB', st0.last_seq - 500 + 7)).data)
    end)

    it('fetches from a durable pull consumer and acknowledges what it fetched', function()
      local st = assert(c:stream_info('FMH_PUB')).state
      local ci = assert(c:consumer_add('FMH_PUB', { durable = 'spec_pull', filter_subject = 'pub.a',
                                                    ack_policy = 'explicit' }))
      assert.are.same({ 'spec_pull', 500, 'explicit' }, { ci.name, ci.num_pending, ci.config.ack_policy })
      local got = assert(c:fetch('FMH_PUB', 'spec_pull', 10, { timeout_ms = 10000 }))
      assert.are.equal(10, #got)
      for i, m in ipairs(got) do
        assert.are.same({ 'async ' .. i, i, 1 }, { m.data, m.consumer_seq, m.num_delivered })
      end
      local info = assert(c:consumer_info('FMH_PUB', 'spec_pull'))
      assert.are.same({ 10, st.last_seq - 500 + 10, 490, 0 },
        { info.delivered.consumer_seq, info.ack_floor.stream_seq, info.num_pending, info.num_ack_pending })
      -- the listing holds every consumer with the same state, a second one included
      assert(c:consumer_add('FMH_PUB', { durable = 'spec_idle', filter_subject = 'pub.a' }))
      local seen = {}
      for _, x in ipairs(assert(c:consumers('FMH_PUB'))) do seen[x.name] = x.delivered.consumer_seq end
      assert.are.same({ spec_pull = 10, spec_idle = 0 }, seen)
      assert.is_true(assert(c:consumer_delete('FMH_PUB', 'spec_idle')))
      assert.is_true(assert(c:consumer_delete('FMH_PUB', 'spec_pull')))
      local _, _, gone = c:consumer_info('FMH_PUB', 'spec_pull')
      assert.are.same({ 'jetstream', 10014 }, { gone.kind, gone.code })
    end)
  end)

  describe('publish_rows', function()
    local N = 100000
    local SUBJ = { 'rows.s1', 'rows.s2', 'rows.s3', 'rows.s4' }
    local g, first_seq

    lazy_setup(function()
      g = assert(gen.load('events'))
      fresh { name = 'FMH_ROWS', subjects = { 'rows.*' }, duplicate_window_ms = 600000 }
    end)

    it('publishes 100k generated rows over 4 subjects by key hash, each counted where its key hashes to', function()
      local r = assert(c:publish_rows { generator = g, subjects = SUBJ, rows = N, timeout_ms = 120000 })
      print(string.format('\n  publish_rows: %d rows in %.2f s (%.0f msgs/s, %.0f bytes a message)', r.acked, r.wall_s,
                          r.msgs_per_s, r.bytes / r.acked))
      assert.are.same({ N, N, 0, 0, 0 }, { r.published, r.acked, r.duplicates, r.failed, r.unacked })
      first_seq = r.first_seq
      assert.are.equal(first_seq + N - 1, r.last_seq)
      -- the oracle: the key is event_id, hashed here in Lua
      local want = { 0, 0, 0, 0 }
      for i = 0, N - 1 do
        local s = fnv_slot(tostring(g:cell(i, 1)), 4)
        want[s] = want[s] + 1
      end
      local st = assert(c:stream_info('FMH_ROWS', { subjects = true })).state
      assert.are.same({ N, first_seq, first_seq + N - 1 }, { st.messages, st.first_seq, st.last_seq })
      for k, subj in ipairs(SUBJ) do
        assert.are.equal(want[k], st.subjects[subj], subj)
        assert.are.equal(want[k], r.per_subject[subj], subj)
      end
    end)

    it("stores at each sampled sequence the generator's JSON for that row, its id and its subject", function()
      assert.is_number(first_seq, 'the previous spec publishes the rows')
      local seed = check.resolve_seed()
      print(string.format('\n  sampled rows: seed %d (replay: fmhost --seed %d specs/scenarios/nats_spec.lua)', seed, seed))
      local rng = seed
      local function next_row()
        rng = (rng * 6364136223846793005 + 1442695040888963407)
        return ((rng >> 33) % N)
      end
      local rows = { 0, N - 1 }
      for _ = 1, 300 do rows[#rows + 1] = next_row() end
      for _, i in ipairs(rows) do
        local m = assert(c:get_msg('FMH_ROWS', first_seq + i))
        local id = tostring(g:cell(i, 1))
        assert.are.equal(line(g:jsonl(i, i + 1)), m.data, 'row ' .. i)
        assert.are.equal(id, m.headers['Nats-Msg-Id'], 'row ' .. i)
        assert.are.equal(SUBJ[fnv_slot(id, 4)], m.subject, 'row ' .. i)
      end
    end)

    it('publishing the same rows again stores nothing: every message is a duplicate', function()
      assert.is_number(first_seq, 'the first spec publishes the rows')
      local r = assert(c:publish_rows { generator = g, subjects = SUBJ, rows = N, timeout_ms = 120000 })
      assert.are.same({ N, N, N }, { r.published, r.acked, r.duplicates })
      local st = assert(c:stream_info('FMH_ROWS')).state
      assert.are.same({ N, first_seq + N - 1 }, { st.messages, st.last_seq })
    end)

    it('spreads CSV rows round robin with prefixed ids, and sync publishing stores the same', function()
      fresh { name = 'FMH_ROWS_RR', subjects = { 'rr.*' } }
      local subj = { 'rr.a', 'rr.b', 'rr.c' }
      local r = assert(c:publish_rows { generator = g, subjects = subj, first = 1000, rows = 300, format = 'csv',
                                        spread = 'round_robin', msg_id = 'ev-' })
      assert.are.same({ 100, 100, 100 }, { r.per_subject['rr.a'], r.per_subject['rr.b'], r.per_subject['rr.c'] })
      local msgs = assert(c:read('FMH_ROWS_RR', { count = 300 }))
      assert.are.equal(300, #msgs)
      for k, m in ipairs(msgs) do
        local i = 1000 + k - 1
        assert.are.same({ line(g:csv(i, i + 1)), 'ev-' .. g:cell(i, 1), subj[(k - 1) % 3 + 1] },
          { m.data, m.headers['Nats-Msg-Id'], m.subject }, 'row ' .. i)
      end
      -- sync, one by one, the next 50 rows; then the first 50 again (duplicates)
      local s = assert(c:publish_rows { generator = g, subjects = subj, first = 1300, rows = 50, format = 'csv',
                                        spread = 'round_robin', msg_id = 'ev-', sync = true })
      assert.are.same({ 50, 50, 0, 301, 350 }, { s.published, s.acked, s.duplicates, s.first_seq, s.last_seq })
      s = assert(c:publish_rows { generator = g, subjects = subj, first = 1000, rows = 50, format = 'csv',
                                  spread = 'round_robin', msg_id = 'ev-', sync = true })
      assert.are.same({ 50, 50 }, { s.acked, s.duplicates })
      assert.are.equal(350, assert(c:stream_info('FMH_ROWS_RR')).state.messages)
      assert.are.equal(line(g:csv(1349, 1350)), assert(c:get_msg('FMH_ROWS_RR', 350)).data)
    end)
  end)

  describe('errors', function()
    it('says no server is reachable, retryable, after the attempts', function()
      local l = assert(proc.listen(0))
      local port = l.port
      l:close()
      local nc, msg, info = nats.connect { url = 'nats://127.0.0.1:' .. port, connect_attempts = 2,
                                          connect_backoff_ms = 50 }
      assert.is_nil(nc)
      assert.are.equal('gave up after 2 attempts (attempts): nats: cannot connect to nats://127.0.0.1:' .. port
        .. ': no server available (nothing accepts connections there, or it did not answer within the connect '
        .. 'timeout)', msg)
      assert.are.same({ 'nats', 'no_server', true }, { info.kind, info.reason, info.retryable })
    end)

    it('names a stream that does not exist, for every call on it, not retryable', function()
      for _, call in ipairs {
        function() return c:stream_info('FMH_NO_SUCH') end,
        function() return c:stream_purge('FMH_NO_SUCH') end,
        function() return c:stream_delete('FMH_NO_SUCH') end,
        function() return c:get_msg('FMH_NO_SUCH', 1) end,
        function() return c:read('FMH_NO_SUCH') end,
        function() return c:consumers('FMH_NO_SUCH') end,
      } do
        local ok, msg, info = call()
        assert.is_nil(ok)
        assert.matches('FMH_NO_SUCH.*stream not found %(JetStream error 10059%)', msg)
        assert.are.same({ 'jetstream', 10059, false }, { info.kind, info.code, info.retryable })
      end
    end)

    it('reports a subject no stream captures as no responders, retryable; publish_rows stores nothing', function()
      local ok, msg, info = c:publish('fmh.nowhere.x', 'lost')
      assert.is_nil(ok)
      assert.are.equal('nats: publishing to fmh.nowhere.x: no responders (no stream captures the subject, or '
        .. 'JetStream is not enabled on the server)', msg)
      assert.are.same({ 'nats', 'no_responders', true }, { info.kind, info.reason, info.retryable })
      local g = assert(gen.load('events'))
      local r, rmsg, rinfo = c:publish_rows { generator = g, subject = 'fmh.nowhere.y', rows = 20 }
      assert.is_nil(r)
      assert.matches('20 of 20 messages were refused, the first: no responders', rmsg, 1, true)
      assert.are.same({ 20, 0, 20, true }, { rinfo.published, rinfo.acked, rinfo.failed, rinfo.retryable })
    end)

    it('refuses a message larger than the server takes, before sending it', function()
      local big = string.rep('x', c:max_payload() + 1)
      local ok, msg, info = c:publish('pub.big', big)
      assert.is_nil(ok)
      assert.matches("more than the server's max_payload", msg, 1, true)
      assert.are.same({ 'nats', 'max_payload', false }, { info.kind, info.reason, info.retryable })
    end)
  end)

  describe('lifecycle', function()
    it('closes once: a second close says so, and a closed connection raises', function()
      local k = connect()
      assert.is_true(k:close())
      assert.are.same({ false, 'already closed' }, { k:close() })
      assert.has_error(function() k:stream_info('FMH_PUB') end)
      assert.matches('closed', tostring(k))
    end)

    it('closes a <close> variable at the end of its scope', function()
      local held
      do
        local k <close> = connect()
        held = k
        assert.is_true(k:connected())
      end
      assert.are.same({ false, 'already closed' }, { held:close() })
    end)
  end)
end)
