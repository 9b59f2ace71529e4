-- fmhost.pool through a database crash: the private mariadbd is killed
-- (SIGKILL) in the middle of a keyed insert workload, another fmhost
-- process starts it again while this one retries, and the retried work
-- completes with no key lost or doubled #mysql #slow
--
-- Each batch of keys is one transaction, retried with fmhost.retry. A retry
-- first asks the server whether the batch is already there (a commit whose
-- answer was lost), so re-running it can neither double nor skip a key.
local pool = require 'fmhost.pool'
local retry = require 'fmhost.retry'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'
local cjson = require 'cjson'
local T = require 'fmhost.testing'

local KEYS, BATCH = 3000, 25
local KILL_AT_BATCH, KILL_AT_ROW = 40, 13

local function value(id) return (id * 7919) % 100003 end

-- A child fmhost that starts the server after delay_ms, with this run's cfg.
local function restart_later(delay_ms)
  local chunk = [[
    local cfg = require('cjson').decode(os.getenv('FMH_RESTART_CFG'))
    require('fmhost.proc').sleep(tonumber(os.getenv('FMH_RESTART_DELAY')))
    assert(require('fmhost.stack').service('mariadb').start(cfg))
  ]]
  local out = os.tmpname()
  local child = assert(proc.spawn { T.exe(), '-e', chunk, stdout = out, merge_stderr = true,
                                    env = { FMH_RESTART_CFG = cjson.encode(_G.cfg or {}),
                                            FMH_RESTART_DELAY = tostring(delay_ms) } })
  return child, out
end

describe('fmhost.pool across a MariaDB crash #mysql #slow', function()
  it('completes a keyed insert workload killed mid-transaction, with no key lost or doubled, and the pool recovers', function()
    local cfg = _G.cfg or {}
    assert(stack.ensure(cfg, { 'mariadb' }))
    local mariadb = stack.service('mariadb')
    local p = assert(pool.open(cfg.mysql or {}, { size = 3, validate_after_ms = 0, connect_timeout_ms = 2000,
                                                  acquire_timeout_ms = 10000 }))
    p:exec('DROP TABLE IF EXISTS pool_restart')
    assert(p:exec('CREATE TABLE pool_restart (id BIGINT PRIMARY KEY, v INT NOT NULL, batch INT NOT NULL)'))
    local policy = retry.policy { max_attempts = 60, base_ms = 100, factor = 1.5, cap_ms = 1000,
                                  deadline_ms = 120000, seed = 4242 }
    local killed, child, child_out = false, nil, nil
    local retried_batches, most_attempts = 0, 0

    local function insert_batch(b)
      local lo, hi = (b - 1) * BATCH + 1, math.min(b * BATCH, KEYS)
      return p:transaction(function(c)
        local have, msg, info = c:scalar('SELECT COUNT(*) FROM pool_restart WHERE id BETWEEN ? AND ?', lo, hi)
        if not have then return nil, msg, info end
        if have == hi - lo + 1 then return 'already there' end
        if have ~= 0 then return nil, ('batch %d half there (%d rows)'):format(b, have), { retryable = false } end
        for id = lo, hi do
          if b == KILL_AT_BATCH and id - lo + 1 == KILL_AT_ROW and not killed then
            killed = true
            assert(mariadb.kill(cfg, 'KILL'))
            child, child_out = restart_later(1500)
          end
          local n, emsg, einfo = c:exec('INSERT INTO pool_restart VALUES (?, ?, ?)', id, value(id), b)
          if not n then return nil, emsg, einfo end
        end
        return 'inserted'
      end)
    end

    for b = 1, (KEYS + BATCH - 1) // BATCH do
      local r, msg = policy:run(function() return insert_batch(b) end)
      assert(r, ('batch %d: %s'):format(b, tostring(msg)))
      local o = policy:last()
      if o.attempts > 1 then retried_batches = retried_batches + 1 end
      most_attempts = math.max(most_attempts, o.attempts)
    end

    assert.is_true(killed)
    local exited, code = child:wait(120000)
    local log = io.open(child_out):read('a')
    os.remove(child_out)
    assert.is_true(exited, 'the restarting fmhost did not finish')
    assert.are.equal(0, code, log)
    assert.is_true(retried_batches >= 1 and most_attempts >= 2, 'the killed batch was retried')

    -- every key exactly once, with its value, in the batch that wrote it
    local agg = p:row('SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d, MIN(id) AS lo, MAX(id) AS hi FROM pool_restart')
    assert.are.same({ KEYS, KEYS, 1, KEYS }, { agg.n, agg.d, agg.lo, agg.hi })
    local k = 0
    do
      local c <close> = assert(p:acquire())
      for row in c:rows('SELECT id, v, batch FROM pool_restart ORDER BY id') do
        k = k + 1
        assert.are.same({ k, value(k), (k - 1) // BATCH + 1 }, { row.id, row.v, row.batch })
      end
    end
    assert.are.equal(KEYS, k)

    -- the pool replaced what the crash broke and works without a restart of fmhost
    local s = p:stats()
    assert.is_true(s.broken + s.validation_failures >= 1)
    assert.is_true(s.connect_failures >= 1)
    assert.are.equal(0, s.active)
    assert.are.equal(1, p:scalar('SELECT 1'))
    p:exec('DROP TABLE pool_restart')
    p:close()
  end)
end)
