-- fmhost.check, the property-check runner: planted bugs are found and
-- shrunk exactly, seeds replay, the failure store is replayed first,
-- budgets hold, and the failure text says how to replay. Deliberate
-- failures go to a temporary store, never to .fmhost/.
local check = require 'fmhost.check'
local g = check.gen
local lfs = require 'lfs'

local function rm_rf(path)
  local mode = lfs.attributes(path, 'mode')
  if mode == 'directory' then
    for f in lfs.dir(path) do
      if f ~= '.' and f ~= '..' then rm_rf(path .. '/' .. f) end
    end
    lfs.rmdir(path)
  elseif mode then
    os.remove(path)
  end
end

local function has_3_and_7(a)
  local seen = {}
  for _, x in ipairs(a) do seen[x] = true end
  return seen[3] and seen[7]
end

describe('fmhost.check', function()
  local store, saved, printed

  before_each(function()
    local tmp = os.tmpname()
    os.remove(tmp)
    store = tmp .. '-check-store'
    printed = {}
    saved = check.configure { store_dir = store, out = function(line) printed[#printed + 1] = line end }
  end)

  after_each(function()
    check.configure(saved)
    rm_rf(store)
  end)

  it('shrinks a failure on arrays holding both 3 and 7 to exactly {3, 7}', function()
    for seed = 1, 20 do
      local r = check.run {
        name = 'planted 3 and 7', seed = seed, store = false,
        gen = g.array(g.int(0, 20), { max = 40 }),
        fn = function(a) assert(not has_3_and_7(a), 'holds 3 and 7') end,
      }
      assert.is_false(r.ok, 'seed ' .. seed .. ' found no counterexample')
      assert.are.same({ 3, 7 }, r.counterexample)
    end
  end)

  it('shrinks a failure on integers >= 1000 to exactly 1000', function()
    for seed = 1, 20 do
      local r = check.run {
        name = 'planted 1000', seed = seed, store = false,
        gen = g.int(-100000, 100000),
        fn = function(x) return x < 1000 end,
      }
      assert.is_false(r.ok)
      assert.are.equal(1000, r.counterexample)
      assert.is_true(r.shrinks > 0 or r.original == 1000)
    end
  end)

  it('shrinks records and tuples field by field', function()
    local r = check.run {
      name = 'planted record', seed = 7, store = false,
      gen = g.record { n = g.int(0, 1000), s = g.string { max = 10 }, t = g.tuple(g.bool(), g.int(-50, 50)) },
      fn = function(v) return not (v.n >= 10 and #v.s >= 2) end,
    }
    assert.is_false(r.ok)
    assert.are.same({ n = 10, s = 'aa', t = { false, 0 } }, r.counterexample)
  end)

  it('shrinks through map, filter and one_of without a written shrinker', function()
    local r = check.run {
      name = 'planted map filter', seed = 3, store = false,
      gen = g.array(g.one_of { g.int(0, 100):filter(function(x) return x % 2 == 0 end):map(function(x) return x * 10 end),
        g.constant(-1) }),
      fn = function(a) for _, x in ipairs(a) do if x >= 100 then return false end end end,
    }
    assert.is_false(r.ok)
    assert.are.same({ 100 }, r.counterexample)
  end)

  it('gives the same cases for the same seed and other cases for another seed', function()
    local function cases(seed)
      local seen = {}
      check.property {
        name = 'record cases', seed = seed, runs = 150,
        gen = g.record { a = g.array(g.int(-5, 5)), s = g.string { utf8 = true, max = 8 }, f = g.float(-1, 1) },
        fn = function(v) seen[#seen + 1] = v end,
      }
      return seen
    end
    local one, two = cases(42), cases(42)
    assert.are.equal(150, #one)
    assert.are.same(one, two)
    assert.are_not.same(one, cases(43))
  end)

  it('replays one run alone from its seed and run index', function()
    local gen = g.array(g.string { max = 5 }, { max = 6 })
    local seen = {}
    check.property { name = 'run alone', seed = 9, runs = 130, gen = gen, fn = function(v) seen[#seen + 1] = v end }
    assert.are.same(seen[17], check.generate(gen, 9, 17, check.size_for(17, 130)))
    local alone = {}
    local r = check.property { name = 'run alone', seed = 9, runs = 130, run = 17, gen = gen,
      fn = function(v) alone[#alone + 1] = v end }
    assert.are.same({ seen[17] }, alone)
    assert.are.equal(1, r.runs)
    assert.matches('check: passed "run alone" case 17 of 130', printed[#printed], 1, true)
  end)

  it('takes the seed from --seed (the global) when none is given', function()
    local old = rawget(_G, '_FMHOST_SEED')
    _G._FMHOST_SEED = '12345'
    local ok, r = pcall(check.property, { name = 'global seed', gen = g.int(0, 9), fn = function() end })
    _G._FMHOST_SEED = old
    assert.is_true(ok, tostring(r))
    assert.are.equal(12345, r.seed)
    assert.are.equal(check.min_runs(), r.runs)
  end)

  it('shrinks floats to the simplest failing value, integers first', function()
    for seed = 1, 10 do
      local r = check.run { name = 'planted float', seed = seed, store = false, gen = g.float(),
        fn = function(x) return not (x > 1.5) end }
      assert.is_false(r.ok)
      assert.are.equal(2.0, r.counterexample)
      assert.are.equal('float', math.type(r.counterexample))
    end
  end)

  it('draws inf, -inf, nan and -0.0 only when asked for special floats', function()
    local function specials(gen)
      local found = {}
      check.property { name = 'specials', seed = 5, runs = 1000, gen = gen, fn = function(x)
        if x ~= x then found.nan = true
        elseif x == math.huge then found.inf = true
        elseif x == -math.huge then found.ninf = true
        elseif x == 0 and 1 / x < 0 then found.nzero = true end
      end }
      return found
    end
    assert.are.same({}, specials(g.float()))
    assert.are.same({ nan = true, inf = true, ninf = true, nzero = true }, specials(g.float { special = true }))
  end)

  it('keeps generated values inside their bounds', function()
    check.property { name = 'bounds', seed = 8, runs = 300,
      gen = g.tuple(g.int(-3, 4), g.int(10, 12), g.float(-2.5, -1), g.string { min = 2, max = 4 },
        g.array(g.bool(), { min = 1, max = 3 }), g.elements { 'x', 'y' }),
      fn = function(t)
        assert(t[1] >= -3 and t[1] <= 4 and t[2] >= 10 and t[2] <= 12)
        assert(t[3] >= -2.5 and t[3] <= -1)
        assert(#t[4] >= 2 and #t[4] <= 4)
        assert(#t[5] >= 1 and #t[5] <= 3)
        assert(t[6] == 'x' or t[6] == 'y')
      end }
  end)

  it('shrinks a boolean to false and an always-failing array to {}', function()
    local r = check.run { name = 'bool', seed = 3, store = false, gen = g.bool(), fn = function() return false end }
    assert.are.equal(false, r.counterexample)
    r = check.run { name = 'always', seed = 3, store = false, gen = g.array(g.string()), fn = function() error('boom') end }
    assert.are.same({}, r.counterexample)
    assert.matches('boom', r.message)
  end)

  it('shrinks integers in a range without 0 toward the bound nearest 0', function()
    local r = check.run { name = 'negative range', seed = 2, store = false, gen = g.int(-500, -20),
      fn = function(x) return x > -100 end }
    assert.are.equal(-100, r.counterexample)
    r = check.run { name = 'positive range', seed = 2, store = false, gen = g.int(50, 5000),
      fn = function(x) return false end }
    assert.are.equal(50, r.counterexample)
  end)

  it('grows sizes with the run index and shrinks through bind, frequency and custom generators', function()
    -- ten cases: only check.configure may lower the floor (this spec, to look at the mechanics)
    check.configure { store_dir = store, out = function(line) printed[#printed + 1] = line end, runs = 10 }
    local sizes = {}
    check.property { name = 'sizes', seed = 1, gen = g.sized(function(n) return g.constant(n) end),
      fn = function(n) sizes[#sizes + 1] = n end }
    assert.are.same({ 10, 20, 30, 40, 50, 60, 70, 80, 90, 100 }, sizes)

    local r = check.run { name = 'bind', seed = 1, store = false,
      gen = g.int(1, 10):bind(function(n) return g.array(g.int(0, 100), { min = n, max = n }) end),
      fn = function(a) return #a < 5 end }
    assert.are.same({ 0, 0, 0, 0, 0 }, r.counterexample)

    r = check.run { name = 'frequency', seed = 1, store = false,
      gen = g.frequency { { 1, g.constant('a') }, { 5, g.int(0, 10) } },
      fn = function(x) return type(x) == 'string' end }
    assert.are.equal(0, r.counterexample)

    r = check.run { name = 'custom', seed = 1, store = false,
      gen = g.custom { generate = function(rng) return rng:int(0, 1000) end,
        shrink = function(v) if v > 0 then return { v // 2, v - 1 } end return {} end },
      fn = function(x) return x < 37 end }
    assert.are.equal(37, r.counterexample)
  end)

  it('shrinks a failure that a utf8 string holds a CJK ideograph to that one ideograph', function()
    local r = check.run { name = 'cjk', seed = 1, store = false, gen = g.string { utf8 = true },
      fn = function(s)
        for _, c in utf8.codes(s) do if c >= 0x4E00 and c <= 0x9FFF then return false end end
      end }
    assert.are.equal('一', r.counterexample)
  end)

  it('raises an error naming the seed, the run, the counterexample and the replay command', function()
    local ok, err = pcall(check.property, {
      name = 'Feature: fmhost, Property 0: strings stay short', seed = 777,
      gen = g.string { max = 30 },
      fn = function(s) assert(#s < 3, 'too long: ' .. #s) end,
    })
    assert.is_false(ok)
    assert.are.equal('string', type(err))
    assert.matches('Property 0: strings stay short', err, 1, true)
    assert.matches('seed=777', err, 1, true)
    assert.matches('run %d+ of 100', err)
    assert.matches('counterexample: "aaa"', err, 1, true)
    assert.matches('too long: 3', err, 1, true)
    assert.matches('fmhost %-%-seed 777 .*check_spec%.lua', err)
    assert.are.equal(1, #printed)
    assert.matches('seed=777', printed[1], 1, true)
  end)

  it('replays a stored failure first, and forgets it once it passes', function()
    local name = 'stored failure'
    local first_failing
    local ok = pcall(check.property, {
      name = name, seed = 1001, gen = g.int(0, 100000),
      fn = function(x)
        if x >= 1000 and not first_failing then first_failing = x end
        return x < 1000
      end,
    })
    assert.is_false(ok)
    local path = check.store_path(name, store)
    assert.is_truthy(io.open(path, 'r')):close()

    -- another seed: the stored case comes first and fails again
    local tried = {}
    local r = check.run { name = name, seed = 2002, gen = g.int(0, 100000),
      fn = function(x) tried[#tried + 1] = x; return x < 1000 end }
    assert.are.equal(first_failing, tried[1])
    assert.is_true(r.replayed)
    assert.are.equal(1001, r.seed)
    assert.are.equal(1000, r.counterexample)

    -- fixed: the stored case passes, is removed, and the random runs follow
    tried = {}
    r = check.run { name = name, seed = 2002, runs = 10, gen = g.int(0, 100000),
      fn = function(x) tried[#tried + 1] = x end }
    assert.is_true(r.ok)
    assert.are.equal(first_failing, tried[1])
    assert.are.equal(check.min_runs(), r.runs) -- runs = 10 is below the floor
    assert.are.equal(1 + r.runs, #tried)
    assert.is_nil(io.open(path, 'r'))
  end)

  it('tries explicit examples before random cases', function()
    local tried = {}
    local r = check.run { name = 'examples', seed = 5, runs = 3, gen = g.int(0, 10), examples = { 99, 98 },
      fn = function(x) tried[#tried + 1] = x end }
    assert.is_true(r.ok)
    assert.are.same({ 99, 98 }, { tried[1], tried[2] })
    assert.are.equal(2 + check.min_runs(), #tried)
  end)

  it('stops early at the time budget, never below the floor, and reports the runs done', function()
    local r = check.property {
      name = 'time budget', seed = 1, runs = 1000000, time_budget_s = 0.2, gen = g.int(0, 10),
      fn = function() local t = check.clock(); while check.clock() - t < 0.005 do end end,
    }
    assert.are.equal('time_budget', r.stopped)
    -- 100 cases of 5 ms are 0.5 s, past the budget: the floor still ran
    assert.is_true(r.runs >= check.min_runs() and r.runs < 1000000, 'ran ' .. r.runs)
    assert.is_true(r.elapsed_s < 0.5 + check.min_runs() * 0.05)
    assert.matches('check: passed "time budget" ' .. r.runs .. ' of 1000000 cases .*stopped at the time budget', printed[1])
  end)

  describe('the floor of cases (check.runs)', function()
    local c, had_cfg, old_runs
    before_each(function()
      had_cfg = rawget(_G, 'cfg') ~= nil
      c = rawget(_G, 'cfg') or {}
      _G.cfg = c
      c.check = c.check or {}
      old_runs = c.check.runs
    end)
    after_each(function()
      c.check.runs = old_runs
      if not had_cfg then _G.cfg = nil end
    end)

    local function count(runs, extra)
      local n = 0
      local p = { name = 'floor', seed = 4, runs = runs, gen = g.int(0, 9), fn = function() n = n + 1 end }
      for k, v in pairs(extra or {}) do p[k] = v end
      local r = check.property(p)
      return n, r
    end

    it('is 100 when nothing sets it', function()
      c.check.runs = nil
      if os.getenv('FMHOST_CHECK_RUNS') then return end -- the environment sets it; the child spec below covers 100
      assert.are.equal(100, check.min_runs())
      local n, r = count(12)
      assert.are.same({ 100, 100, 100 }, { n, r.runs, r.floor })
    end)

    it('holds against a lower runs=, and a higher runs= raises it', function()
      c.check.runs = 150
      assert.are.equal(150, check.min_runs())
      for _, asked in ipairs { 0, 1, 12, 40, 149 } do
        local n, r = count(asked)
        assert.are.same({ 150, 150 }, { n, r.runs }, 'runs = ' .. asked)
      end
      local n, r = count(nil)
      assert.are.equal(150, n)
      n, r = count(400)
      assert.are.same({ 400, 400, 150 }, { n, r.runs, r.floor })
      -- one line per property, saying how many cases ran
      assert.are.equal(7, #printed)
      assert.matches('^check: passed "floor" 150 of 150 cases %(floor 150%) seed=4 ', printed[1])
      assert.matches('^check: passed "floor" 400 of 400 cases %(floor 150%) seed=4 ', printed[7])
    end)

    it('also bounds run= (one case of a full run) and a time budget', function()
      c.check.runs = 120
      local r = check.property { name = 'floor run', seed = 3, runs = 5, run = 110, gen = g.int(0, 9), fn = function() end }
      assert.are.equal(1, r.runs)
      assert.has_error(function()
        check.property { name = 'floor run', seed = 3, run = 121, gen = g.int(0, 9), fn = function() end }
      end, 'check.property: run must be an integer in 1..120 (runs)')
      local n = count(10, { time_budget_s = 1e-9 })
      assert.are.equal(120, n)
    end)

    it('rejects a runs= that is not a non-negative integer, and a broken floor', function()
      assert.has_error(function() count(2.5) end, 'check.property: runs must be a non-negative integer, got 2.5')
      assert.has_error(function() count(-1) end, 'check.property: runs must be a non-negative integer, got -1')
      c.check.runs = 0
      assert.has_error(function() count(10) end, 'check: check.runs must be a positive integer, got 0')
    end)

    it('comes from --set check.runs and FMHOST_CHECK_RUNS in a real fmhost, and is 100 by default', function()
      local T = require 'fmhost.testing'
      local dir = T.tmpdir('fmhost-floor')
      T.write_file(dir .. '/floor_spec.lua', [[
        local check = require 'fmhost.check'
        describe('a property asking for 10 cases', function()
          it('runs the floor', function()
            local n = 0
            check.property { name = 'asks for 10', runs = 10, gen = check.gen.int(0, 9), fn = function() n = n + 1 end }
            print('CASES ' .. n)
          end)
        end)
      ]])
      local function cases(args, opts)
        local r = T.run_fmhost(args, opts)
        assert.are.equal(0, r.code, r.stdout .. r.stderr)
        local line = r.stdout:match('check: passed "asks for 10" [^\n]*')
        return math.tointeger(tonumber(r.stdout:match('CASES (%d+)'))), line
      end
      local ok, err = pcall(function()
        local n, line = cases({ dir .. '/floor_spec.lua' }, { hermetic = true })
        assert.are.equal(100, n)
        assert.matches('100 of 100 cases (floor 100)', line, 1, true)
        n, line = cases({ dir .. '/floor_spec.lua' }, { hermetic = true, env = { FMHOST_CHECK_RUNS = '130' } })
        assert.are.equal(130, n)
        assert.matches('130 of 130 cases (floor 130)', line, 1, true)
        n, line = cases({ '--set', 'check.runs=120', dir .. '/floor_spec.lua' })
        assert.are.equal(120, n)
        assert.matches('120 of 120 cases (floor 120)', line, 1, true)
      end)
      T.rmtree(dir)
      assert(ok, err)
    end)
  end)

  it('stops shrinking at the shrink budget', function()
    local r = check.run { name = 'shrink budget', seed = 1, store = false, shrink_budget = 2,
      gen = g.int(0, 1000000), fn = function(x) return x < 1000 end }
    assert.is_false(r.ok)
    assert.are.equal(2, r.shrinks)
    assert.matches('shrink budget', r.shrink_note)
  end)

  it('raises a clear error when a filter cannot be satisfied', function()
    local ok, err = pcall(check.property, { name = 'impossible filter', seed = 1,
      gen = g.int(1, 10):filter(function(x) return x > 100 end), fn = function() end })
    assert.is_false(ok)
    assert.matches('impossible filter', err, 1, true)
    assert.matches('predicate rejected 100 generated values', err, 1, true)
    assert.are.equal(0, #printed)
  end)

  it('generates valid UTF-8 across 1 to 4 byte sequences', function()
    local widths = {}
    check.property { name = 'utf8 strings', seed = 11, runs = 200, gen = g.string { utf8 = true, max = 40 },
      fn = function(s)
        assert(utf8.len(s), 'invalid UTF-8: ' .. check.show(s))
        for _, cp in utf8.codes(s) do
          widths[#utf8.char(cp)] = true
        end
      end }
    assert.are.same({ true, true, true, true }, widths)
  end)

  it('prints the seed of a failing run in a child fmhost, and that seed replays the same case', function()
    local T = require 'fmhost.testing'
    local dir = T.tmpdir('fmhost-check')
    local fixture = _FMHOST_ROOT .. '/specs/fixtures/check_fixture.lua'
    local function run(args, env, sub)
      -- after any --set of the parent's, which a child inherits
      args = { '--set', 'check.store_dir=' .. dir .. '/' .. sub, table.unpack(args) }
      local r = T.run_fmhost(args, { env = env })
      local out = r.stdout
      return {
        code = r.code, out = out,
        seed = out:match('check: FAILED [^\n]- seed=(%d+)'),
        run = out:match('check: FAILED [^\n]- run=(%d+)'),
        first = out:match('first failing case: ([^\n]*)'),
        counterexample = out:match('counterexample: ([^\n]*)'),
      }
    end
    local a = run({ fixture }, {}, 'a')
    local b = run({ '--seed', a.seed or '', fixture }, {}, 'b')
    local c = run({ fixture }, { FMHOST_SEED = a.seed or '' }, 'c')
    local again = run({ fixture }, {}, 'a') -- the store of the first run
    T.rmtree(dir)
    assert.are.equal(1, a.code)
    assert.matches('0 passed, 1 failed', a.out, 1, true)
    assert.is_truthy(a.seed and a.run and a.first)
    assert.are.equal('95000', a.counterexample)
    assert.matches('fmhost --seed ' .. a.seed .. ' ', a.out, 1, true)
    for _, r in ipairs { b, c, again } do
      assert.are.equal(a.seed, r.seed)
      assert.are.equal(a.run, r.run)
      assert.are.equal(a.first, r.first)
      assert.are.equal('95000', r.counterexample)
    end
    assert.matches('replayed from the failure store', again.out, 1, true)
  end)

  it('renders values stably with sorted keys and escaped strings', function()
    assert.are.equal('{1, 2, a = "x\\ny", b = {c = true}, ["k k"] = 0.5}',
      check.show { 1, 2, b = { c = true }, a = 'x\ny', ['k k'] = 0.5 })
    assert.are.equal('"\\x00\\xFF"', check.show('\0\255'))
    assert.are.equal('{0/0, math.huge, -0.0, 3.0}', check.show { 0 / 0, math.huge, -0.0, 3.0 })
  end)
end)
