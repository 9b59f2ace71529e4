-- fmhost.retry: backoff schedules, the retry loop and error classification.
-- No server: the functions run here fail on purpose.
local retry = require 'fmhost.retry'

local function fails_with(retryable, code)
  return function()
    return nil, 'boom', { kind = 'test', code = code, retryable = retryable }
  end
end

describe('fmhost.retry', function()
  describe('policies', function()
    it('defaults to the seed policy: 3 retries after 1 s, 2 s and 4 s', function()
      local p = retry.policy()
      assert.are.equal(4, p.max_attempts)
      assert.are.same({ 1000, 2000, 4000 }, p:schedule())
    end)

    it('caps the nominal delay at cap_ms', function()
      local p = retry.policy { max_attempts = 7, base_ms = 100, factor = 3, cap_ms = 1000 }
      assert.are.same({ 100, 300, 900, 1000, 1000, 1000 }, p:schedule())
    end)

    it('keeps jittered delays inside [d*(1-jitter), d] and replays them from the seed', function()
      local a = retry.policy { max_attempts = 50, base_ms = 10, factor = 1.5, cap_ms = 5000, jitter = 0.5, seed = 42 }
      local b = retry.policy { max_attempts = 50, base_ms = 10, factor = 1.5, cap_ms = 5000, jitter = 0.5, seed = 42 }
      local c = retry.policy { max_attempts = 50, base_ms = 10, factor = 1.5, cap_ms = 5000, jitter = 0.5, seed = 43 }
      local sa, sb, sc = a:schedule(), b:schedule(), c:schedule()
      assert.are.same(sa, sb)
      assert.are_not.same(sa, sc)
      for k, d in ipairs(sa) do
        local nominal = math.min(5000, 10 * 1.5 ^ (k - 1))
        assert.is_true(d <= nominal + 1e-9 and d >= nominal * 0.5 - 1e-9,
                       ('delay %d = %g outside [%g, %g]'):format(k, d, nominal * 0.5, nominal))
      end
    end)

    it('full jitter spreads delays over [0, d]', function()
      local p = retry.policy { max_attempts = 201, base_ms = 1000, factor = 1, jitter = 1, seed = 7 }
      local lo, hi = 1e9, -1
      for _, d in ipairs(p:schedule()) do lo = math.min(lo, d); hi = math.max(hi, d) end
      assert.is_true(lo < 100 and hi > 900, ('range %g..%g'):format(lo, hi))
    end)

    it('rejects a jitter outside 0..1 and a factor below 1', function()
      assert.has_error(function() retry.policy { jitter = 1.5 } end, 'retry policy: jitter must be in 0..1')
      assert.has_error(function() retry.policy { factor = 0.5 } end, 'retry policy: factor must be >= 1')
      assert.has_error(function() retry.policy { max_attempts = 0 } end)
    end)

    it('exposes its seed, so a fresh one can be replayed', function()
      local p = retry.policy { jitter = 1 }
      local q = retry.policy { jitter = 1, seed = p.seed }
      assert.are.same(p:schedule(), q:schedule())
    end)
  end)

  describe('run', function()
    it('returns the results of the first attempt that succeeds, unchanged', function()
      local p = retry.policy { base_ms = 1, sleep = false }
      local n = 0
      local a, b = p:run(function(attempt, x)
        n = n + 1
        assert.are.equal(n, attempt)
        if attempt < 3 then return nil, 'not yet', { retryable = true } end
        return 'done', x
      end, 'extra')
      assert.are.equal('done', a)
      assert.are.equal('extra', b)
      local o = p:last()
      assert.is_true(o.ok)
      assert.are.equal(3, o.attempts)
      assert.are.same({ 1, 2 }, o.delays)
      assert.are.equal('ok', o.cause)
    end)

    it('stops at once on a non-retryable error and returns it unchanged', function()
      local p = retry.policy { base_ms = 1, sleep = false }
      local v, msg, info = p:run(fails_with(false, 1062))
      assert.is_nil(v)
      assert.are.equal('boom', msg)
      assert.are.equal(1062, info.code)
      assert.are.equal(1, info.attempts)
      assert.are.equal('permanent', info.cause)
      assert.are.same({}, info.delays)
    end)

    it('gives up after max_attempts with the delays it waited and the last cause', function()
      local p = retry.policy { sleep = false }
      local v, msg, info = p:run(fails_with(true, 2013))
      assert.is_nil(v)
      assert.are.equal('gave up after 4 attempts (attempts): boom', msg)
      assert.are.equal(4, info.attempts)
      assert.are.same({ 1000, 2000, 4000 }, info.delays)
      assert.are.equal('attempts', info.cause)
      assert.are.equal(2013, info.code)
      assert.is_true(info.retryable)
    end)

    it('really sleeps the delays between attempts', function()
      local p = retry.policy { max_attempts = 3, base_ms = 40, factor = 2 }
      local v, _, info = p:run(fails_with(true))
      assert.is_nil(v)
      assert.are.same({ 40, 80 }, info.delays)
      assert.is_true(info.elapsed_ms >= 119, 'elapsed ' .. info.elapsed_ms)
      assert.is_true(info.elapsed_ms < 5000, 'elapsed ' .. info.elapsed_ms)
    end)

    it('stops before a delay that would end after the deadline', function()
      local p = retry.policy { max_attempts = 100, base_ms = 100, factor = 2, deadline_ms = 1000, sleep = false }
      local v, msg, info = p:run(fails_with(true))
      assert.is_nil(v)
      assert.are.equal('deadline', info.cause)
      -- 100+200+400 = 700 ms slept; the next 800 ms would pass 1000
      assert.are.same({ 100, 200, 400 }, info.delays)
      assert.are.equal(4, info.attempts)
      assert.matches('^gave up after 4 attempts %(deadline%): boom$', msg)
    end)

    it('treats a plain nil (no info) as retryable and builds an info table', function()
      local p = retry.policy { max_attempts = 2, base_ms = 0, sleep = false }
      local v, msg, info = p:run(function() return nil end)
      assert.is_nil(v)
      assert.are.equal('gave up after 2 attempts (attempts): no result', msg)
      assert.are.equal('retry', info.kind)
      assert.are.equal(2, info.attempts)
    end)

    it('lets an error raised by fn propagate without retrying', function()
      local p = retry.policy { base_ms = 0, sleep = false }
      local n = 0
      assert.has_error(function() p:run(function() n = n + 1; error('bug') end) end)
      assert.are.equal(1, n)
    end)

    it('draws a new jitter stream for each run of the same policy', function()
      local p = retry.policy { max_attempts = 4, base_ms = 100, jitter = 1, seed = 9, sleep = false }
      local _, _, i1 = p:run(fails_with(true))
      local _, _, i2 = p:run(fails_with(true))
      assert.are.same(p:schedule(), i1.delays)
      assert.are_not.same(i1.delays, i2.delays)
    end)
  end)

  describe('classification', function()
    local retryable_mysql = {
      [2002] = 'connection', [2003] = 'connection', [2006] = 'connection', [2013] = 'connection',
      [2055] = 'connection', [4031] = 'connection', [1040] = 'overload', [1205] = 'lock_timeout',
      [1213] = 'deadlock', [1317] = 'interrupted', [1927] = 'interrupted', [1053] = 'shutdown',
    }
    local permanent_mysql = {
      [1062] = 'duplicate', [1064] = 'syntax', [1146] = 'schema', [1054] = 'schema', [1049] = 'schema',
      [1406] = 'data', [1264] = 'data', [1366] = 'data', [1048] = 'data', [1045] = 'auth',
      [2026] = 'tls', [9999] = 'other',
    }

    it('calls connection loss, overload, lock timeouts, deadlocks, kills and shutdown retryable', function()
      for code, cls in pairs(retryable_mysql) do
        local r, c = retry.classify_mysql(code)
        assert.is_true(r, 'code ' .. code)
        assert.are.equal(cls, c, 'code ' .. code)
      end
    end)

    it('calls duplicate keys, syntax, unknown objects, bad data and access denied permanent', function()
      for code, cls in pairs(permanent_mysql) do
        local r, c = retry.classify_mysql(code)
        assert.is_false(r, 'code ' .. code)
        assert.are.equal(cls, c, 'code ' .. code)
      end
    end)

    it('retries HTTP 408, 429, 502, 503, 504 and nothing else, 500 included', function()
      local expect = { [200] = false, [301] = false, [400] = false, [401] = false, [404] = false,
                       [408] = true, [409] = false, [429] = true, [500] = false, [501] = false,
                       [502] = true, [503] = true, [504] = true }
      for status, want in pairs(expect) do
        assert.are.equal(want, (retry.classify_http(status)), 'status ' .. status)
      end
      assert.are.same({ false, 'server_error' }, { retry.classify_http(500) })
      assert.are.same({ true, 'overload' }, { retry.classify_http(429) })
    end)

    it('retries curl connect failures and timeouts but not bad URLs or TLS failures', function()
      assert.are.same({ true, 'connection' }, { retry.classify_curl(7) })  -- couldn't connect
      assert.are.same({ true, 'timeout' }, { retry.classify_curl(28) })
      assert.are.same({ true, 'connection' }, { retry.classify_curl(52) }) -- empty reply
      assert.are.same({ true, 'connection' }, { retry.classify_curl(56) }) -- recv error
      assert.are.same({ false, 'usage' }, { retry.classify_curl(3) })
      assert.are.same({ false, 'tls' }, { retry.classify_curl(60) })
      assert.are.same({ false, 'ok' }, { retry.classify_curl(0) })
    end)

    it('classifies an info table by its kind', function()
      assert.are.same({ true, 'deadlock' }, { retry.classify { kind = 'mysql', code = 1213 } })
      assert.are.same({ true, 'unavailable' }, { retry.classify { kind = 'http', status = 503 } })
      assert.are.same({ false, 'config' }, { retry.classify { kind = 'config', retryable = false } })
    end)
  end)
end)
