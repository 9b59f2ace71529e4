-- fmhost.check: property checks with integrated shrinking, usable inside
-- a busted `it`.
--
--   local check = require 'fmhost.check'
--   local g = check.gen
--   check.property{ name = 'Feature: ..., Property 5: ...',
--                   gen = g.record{ n = g.int(1, 10), s = g.string{ max = 20, utf8 = true } },
--                   fn = function(v) assert(...) end }
--
-- A run draws `runs` cases, never fewer than the floor check.runs of the
-- configuration (default 100; `--set check.runs=N` or FMHOST_CHECK_RUNS=N
-- change it): a property's own runs= may raise the count, not lower it,
-- and a time budget stops a run only above the floor. Each passing property
-- prints one line saying how many cases ran. Case k comes from its own
-- random stream derived from (seed, k), so the seed alone replays a run and
-- one case can be regenerated without the others. fn fails a case by raising or by
-- returning false. A failing case is shrunk to a minimal counterexample,
-- its (seed, run) is written to the failure store, one line goes to
-- stdout, and check.property raises an error naming the seed, the run,
-- the counterexample and how to replay it. The next run of a property
-- with that name replays the stored case first and forgets it once it
-- passes.
--
-- Module functions:
--   check.property{...} -> result        raises the failure text on failure
--   check.run{...}      -> result        the same, returns instead of raising/printing
--   check.configure{...} -> previous     module settings (tests use a temporary store)
--   check.min_runs() -> n                the floor of cases per property
--   check.resolve_seed(seed) -> seed, from
--   check.generate(gen, seed, run, size) -> the value case (seed, run) draws
--   check.size_for(run, runs) -> size    1..100
--   check.store_path(name, dir) -> path  check.store_dir() -> dir or nil
--   check.show(v [, max]) -> string      stable rendering used in messages
--   check.clock() -> seconds             monotonic clock
--   check.gen                            generators (fmhost/check/gen.lua)
--   check.Rng                            the PRNG (fmhost/check/rng.lua)
local Rng = require 'fmhost.check.rng'
local T = require 'fmhost.check.tree'
local G = require 'fmhost.check.gen'
local S = require 'fmhost.check.show'
T.set_show(S.show)

local M = {}
M.gen = G
M.show = S.show
M.Rng = Rng

-- Settings (check.configure) -------------------------------------------------

local setting_keys = { 'store_dir', 'store', 'out', 'runs', 'shrink_budget', 'shrink_attempts',
  'shrink_time_s', 'time_budget_s' }
local settings = {}

-- check.configure{store_dir=, store=, out=, runs=, shrink_budget=,
-- shrink_attempts=, shrink_time_s=, time_budget_s=} replaces the module's settings (a key
-- left out returns to its default) and returns the previous settings, so
-- check.configure(previous) restores them. runs= replaces the floor of the
-- configuration: only check.lua's own unit spec does that, to look at the
-- mechanics with a handful of cases; out=function(line) takes the printed
-- lines.
function M.configure(t)
  local old = {}
  for _, k in ipairs(setting_keys) do old[k] = settings[k] end
  local new = {}
  for _, k in ipairs(setting_keys) do new[k] = t and t[k] end
  for k in pairs(t or {}) do
    if new[k] == nil and t[k] ~= nil then error('check.configure: unknown setting ' .. tostring(k), 2) end
  end
  settings = new
  return old
end

-- The run's configuration and seed (`fmhost --seed N`), as the spec runner
-- hands them over with check.use{cfg=, seed=}; the REPL's and the specs'
-- globals cfg (without check.use) and _FMHOST_SEED (set there, it wins) are
-- their entry points.
local run = {}

-- check.use{cfg=, seed=}: the configuration (check.runs, check.store_dir,
-- check.shrink_budget, stack.dir) and the --seed of this run.
function M.use(t)
  run = { cfg = t and t.cfg, seed = t and t.seed }
end

local function cfg_get(...)
  local c = run.cfg or rawget(_G, 'cfg')
  for _, k in ipairs { ... } do
    if type(c) ~= 'table' then return nil end
    c = c[k]
  end
  return c
end

-- The floor of cases per property: check.configure{runs=}, else check.runs
-- of the configuration (which FMHOST_CHECK_RUNS and --set check.runs set),
-- else FMHOST_CHECK_RUNS when no configuration is loaded, else 100.
function M.min_runs()
  local v, from = settings.runs, 'check.configure{runs=}'
  if v == nil then v, from = cfg_get('check', 'runs'), 'check.runs' end
  if v == nil then
    local e = os.getenv('FMHOST_CHECK_RUNS')
    if e and e ~= '' then v, from = tonumber(e), 'FMHOST_CHECK_RUNS' end
  end
  if v == nil then return 100 end
  local n = math.tointeger(v)
  if not n or n < 1 then
    error(string.format('check: %s must be a positive integer, got %s', from, tostring(v)), 0)
  end
  return n
end

-- Seeds ----------------------------------------------------------------------

local function parse_seed(v, where)
  local n = v
  if type(v) == 'string' then n = tonumber(v) end
  if type(n) == 'number' then
    local i = math.tointeger(n)
    if i then return i end
  end
  error(string.format('check: the seed from %s must be an integer, got %s', where, tostring(v)), 0)
end

local fresh_count = 0
local function fresh_seed()
  fresh_count = fresh_count + 1
  local f = io.open('/dev/urandom', 'rb')
  if f then
    local b = f:read(8)
    f:close()
    if b and #b == 8 then return string.unpack('<i8', b) & ((1 << 53) - 1) end
  end
  local t = os.time() ~ math.floor(os.clock() * 1e6) ~ (fresh_count << 40)
  return Rng.mix(t) & ((1 << 53) - 1)
end

-- The seed of a run: the argument, else `fmhost --seed N`, else
-- FMHOST_SEED, else a fresh one. Returns the seed and where it came from.
function M.resolve_seed(seed)
  if seed ~= nil then return parse_seed(seed, 'seed='), 'argument' end
  local g = rawget(_G, '_FMHOST_SEED') -- set by a spec or at the REPL: it wins over the run's
  if g == nil then g = run.seed end
  if g ~= nil then return parse_seed(g, '--seed'), '--seed' end
  local e = os.getenv('FMHOST_SEED')
  if e and e ~= '' then return parse_seed(e, 'FMHOST_SEED'), 'FMHOST_SEED' end
  return fresh_seed(), 'fresh'
end

-- size of run k of n: 1..100, cycling when there are more than 100 runs
function M.size_for(k, runs)
  if runs >= 100 then return (k - 1) % 100 + 1 end
  return math.max(1, math.min(100, (k * 100 + runs - 1) // runs))
end

-- The value of case (seed, run, size) of a generator, as a run draws it.
function M.generate(gen, seed, run, size)
  return gen.generate(Rng.for_case(seed, run), size or 100).value
end

-- Clock ----------------------------------------------------------------------

local clock
do
  local ok, system = pcall(require, 'system')
  if ok and type(system) == 'table' and system.monotime then clock = system.monotime
  elseif ok and type(system) == 'table' and system.gettime then clock = system.gettime
  else clock = os.clock end
end
M.clock = clock

-- Failure store --------------------------------------------------------------

local function name_hash(s)
  local h = 0x6a09e667f3bcc908
  for i = 1, #s do h = Rng.mix(h ~ s:byte(i)) end
  return string.format('%08x', h & 0xffffffff)
end

function M.store_path(name, dir)
  local base = name:gsub('[^%w%-_.]+', '_'):sub(1, 80)
  return dir .. '/' .. base .. '-' .. name_hash(name) .. '.txt'
end

local function nonempty(v) if v ~= nil and v ~= '' then return v end end

-- the failure store's folder: the argument, check.configure, the config
-- (check.store_dir, else <stack.dir>/check/failures), else .fmhost/ under
-- the project root
local function store_dir(p)
  if p.store == false or (p.store == nil and settings.store == false) then return nil end
  local d = nonempty(p.store_dir) or nonempty(settings.store_dir) or nonempty(cfg_get('check', 'store_dir'))
  if d then return d end
  local stack = nonempty(cfg_get('stack', 'dir'))
  if not stack then
    local root = rawget(_G, '_FMHOST_ROOT')
    stack = root and (root .. '/.fmhost') or '.fmhost'
  end
  return stack .. '/check/failures'
end
M.store_dir = function(p) return store_dir(p or {}) end

local function mkdir_p(dir)
  local ok, lfs = pcall(require, 'lfs')
  if not ok then return os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'") end
  local path = dir:sub(1, 1) == '/' and '/' or ''
  for part in dir:gmatch('[^/]+') do
    path = path .. part
    if not lfs.attributes(path, 'mode') then lfs.mkdir(path) end
    path = path .. '/'
  end
  return lfs.attributes(dir, 'mode') == 'directory'
end

local function store_read(path, name)
  local f = io.open(path, 'r')
  if not f then return nil end
  local rec = {}
  for line in f:lines() do
    local k, v = line:match('^(%w+)=(.*)$')
    if k then rec[k] = v end
  end
  f:close()
  local seed, run, size = math.tointeger(tonumber(rec.seed)), math.tointeger(tonumber(rec.run)), math.tointeger(tonumber(rec.size))
  if not (seed and run and size) then os.remove(path); return nil end -- unreadable: forget it
  if rec.name and rec.name ~= S.quote(name) then return nil end -- another name with the same file
  return { seed = seed, run = run, size = size }
end

local function store_write(path, dir, name, seed, run, size)
  if not mkdir_p(dir) then return nil, 'cannot create ' .. dir end
  local tmp = path .. '.tmp'
  local f, err = io.open(tmp, 'w')
  if not f then return nil, err end
  f:write('# fmhost check failure store: replayed first on the next run of this property\n',
    'name=', S.quote(name), '\n', 'seed=', seed, '\n', 'run=', run, '\n', 'size=', size, '\n')
  f:close()
  return os.rename(tmp, path)
end

-- Running cases ----------------------------------------------------------------

local function deep_copy(v, memo)
  if type(v) ~= 'table' then return v end
  memo = memo or {}
  if memo[v] then return memo[v] end
  local c = {}
  memo[v] = c
  for k, x in next, v do c[deep_copy(k, memo)] = deep_copy(x, memo) end
  return setmetatable(c, getmetatable(v))
end

local function message_of(e)
  if type(e) == 'string' then return e end
  if type(e) == 'table' and type(e.message) == 'string' then return e.message end
  return S.show(e)
end

-- failed?, message. fn gets its own copy so that it may mutate the value.
local function test_case(fn, value)
  local ok, res = pcall(fn, deep_copy(value))
  if not ok then return true, message_of(res) end
  if res == false then return true, 'the property returned false' end
  return false
end

local function shrink(tree, msg, fn, budget, attempts_cap, time_cap)
  local cur, cur_msg, steps, attempts = tree, msg, 0, 0
  local note
  local t0 = clock()
  while steps < budget do
    if clock() - t0 >= time_cap then note = string.format('shrink time budget of %gs reached', time_cap); break end
    local ok, it = pcall(cur.kids)
    if not ok then note = 'shrinking stopped: ' .. message_of(it); break end
    local moved = false
    while attempts < attempts_cap do
      local got, cand = pcall(it)
      if not got then note = 'shrinking stopped: ' .. message_of(cand); break end
      if cand == nil then break end
      attempts = attempts + 1
      local failed, m = test_case(fn, cand.value)
      if failed then cur, cur_msg, moved = cand, m, true; steps = steps + 1; break end
    end
    if not moved or note then break end
  end
  if note then -- already said why it stopped
  elseif steps >= budget then note = string.format('shrink budget of %d steps reached', budget)
  elseif attempts >= attempts_cap then note = string.format('shrink attempt cap of %d reached', attempts_cap) end
  return cur, cur_msg, steps, attempts, note
end

-- the spec file that called check.property, for the replay hint
local function caller_file()
  local fallback
  for level = 3, 40 do
    local info = debug.getinfo(level, 'S')
    if not info then break end
    local src = info.source
    if src:sub(1, 1) == '@' then
      local path = src:sub(2)
      if path:match('_spec%.lua$') then return path end
      if not fallback and not path:match('scripts/fmhost/') and not path:match('/busted/')
        and not path:match('/luassert/') then fallback = path end
    end
  end
  return fallback or '<specfile>'
end

local function indent(s, pad)
  return (s:gsub('\n', '\n' .. pad))
end

local function failure_text(r)
  local where
  if r.example then where = string.format('example #%d', r.example)
  else
    where = string.format('run %d of %d (size %d)', r.run, r.runs_planned, r.size)
    if r.replayed then where = where .. ', replayed from the failure store' end
  end
  local lines = {
    string.format('property failed: %s', r.name),
    string.format('  seed=%d  %s  shrinks=%d (attempts %d)%s', r.seed, where, r.shrinks,
      r.shrink_attempts, r.shrink_note and ('; ' .. r.shrink_note) or ''),
    '  counterexample: ' .. indent(S.show(r.counterexample), '    '),
    '  failure: ' .. indent(r.message, '    '),
  }
  if r.shrinks > 0 then
    lines[#lines + 1] = '  first failing case: ' .. indent(S.show(r.original, 2000), '    ')
    if r.original_message ~= r.message then
      lines[#lines + 1] = '  first failure: ' .. indent(r.original_message, '    ')
    end
  end
  lines[#lines + 1] = string.format('  replay: fmhost --seed %d %s', r.seed, r.file)
  if r.store_error then lines[#lines + 1] = '  (the failure store could not be written: ' .. r.store_error .. ')' end
  return table.concat(lines, '\n')
end

local function log_event(level, fields)
  if not package.preload['fmhost.log'] and not package.loaded['fmhost.log'] then return end
  local ok, log = pcall(require, 'fmhost.log')
  if ok and type(log) == 'table' and log[level] then pcall(log[level], 'check.property', fields) end
end

local function opt_number(p, key, default)
  local v = p[key]
  if v == nil then v = settings[key] end
  if v == nil then v = default end
  if type(v) ~= 'number' or v < 0 then
    error(string.format('check.property: %s must be a non-negative number, got %s', key, tostring(v)), 3)
  end
  return v
end

-- check.run{...} -> result: the same as check.property but returns the
-- result table instead of raising or printing. result = {ok, name, seed,
-- seed_from, runs, shrinks, shrink_attempts, elapsed_s, stopped,
-- replayed, and on failure: run, size, example, counterexample, message,
-- original, original_message, file, text}.
function M.run(p)
  if type(p) ~= 'table' then error('check.property: expected a table {name=, gen=, fn=, ...}', 2) end
  local name, gen, fn = p.name, p.gen, p.fn
  if type(name) ~= 'string' or name == '' then error('check.property: name must be a non-empty string', 2) end
  if not G.is(gen) then error('check.property "' .. name .. '": gen must be a generator (check.gen.*)', 2) end
  if type(fn) ~= 'function' then error('check.property "' .. name .. '": fn must be a function', 2) end
  -- the floor holds whatever the property asks: runs= raises it, never lowers it
  local floor = M.min_runs()
  local asked = p.runs
  if asked ~= nil then
    asked = type(asked) == 'number' and math.tointeger(asked)
    if not asked or asked < 0 then
      error('check.property: runs must be a non-negative integer, got ' .. tostring(p.runs), 2)
    end
  end
  local runs = math.max(floor, asked or 0)
  local budget = opt_number(p, 'shrink_budget', cfg_get('check', 'shrink_budget') or 1000)
  local attempts_cap = opt_number(p, 'shrink_attempts', math.max(20 * budget, 1000))
  local shrink_time = opt_number(p, 'shrink_time_s', 60)
  if settings.out ~= nil and type(settings.out) ~= 'function' then
    error('check.configure: out must be a function(line)', 2)
  end
  local time_budget = p.time_budget_s or settings.time_budget_s
  if time_budget ~= nil and (type(time_budget) ~= 'number' or time_budget <= 0) then
    error('check.property: time_budget_s must be a positive number', 2)
  end
  local only = p.run
  if only ~= nil then only = type(only) == 'number' and math.tointeger(only) or false end
  if only ~= nil and not (only and only >= 1 and only <= runs) then
    error(string.format('check.property: run must be an integer in 1..%d (runs)', runs), 2)
  end
  local seed, seed_from = M.resolve_seed(p.seed)
  local file = caller_file()
  local dir = store_dir(p)
  local path = dir and M.store_path(name, dir)
  local t0 = clock()

  local result = { ok = true, name = name, seed = seed, seed_from = seed_from, runs = 0,
    runs_planned = runs, floor = floor, examples = 0, shrinks = 0, shrink_attempts = 0, replayed = false }

  local function draw(s, k, size)
    local ok, tree = pcall(gen.generate, Rng.for_case(s, k), size)
    if not ok then
      error(string.format('check.property "%s": the generator failed at seed=%d run %d: %s',
        name, s, k, message_of(tree)), 0)
    end
    return tree
  end

  local function fail(tree, msg, info)
    local cur, cur_msg, steps, attempts, note = tree, msg, 0, 0, nil
    if tree then cur, cur_msg, steps, attempts, note = shrink(tree, msg, fn, budget, attempts_cap, shrink_time) end
    result.ok = false
    for k, v in pairs(info) do result[k] = v end
    if tree then
      result.counterexample, result.original = cur.value, tree.value
    else
      result.counterexample, result.original = info.original, info.original
    end
    result.message, result.original_message = cur_msg, msg
    result.shrinks, result.shrink_attempts, result.shrink_note = steps, attempts, note
    result.runs_planned, result.file = runs, file
    result.elapsed_s = clock() - t0
    if path and not info.example then
      local ok, err = store_write(path, dir, name, result.seed, result.run, result.size)
      if not ok then result.store_error = tostring(err) end
    end
    result.text = failure_text(result)
    return result
  end

  -- only case `run` of this seed, as the full run would draw it
  if only then
    local size = M.size_for(only, runs)
    local tree = draw(seed, only, size)
    result.runs, result.only = 1, only
    local failed, msg = test_case(fn, tree.value)
    if failed then return fail(tree, msg, { run = only, size = size }) end
    result.elapsed_s = clock() - t0
    return result
  end

  -- 1. the stored failure of this property, if any
  if path then
    local st = store_read(path, name)
    if st then
      result.replayed = true
      -- a generator that changed since may no longer draw this case: then
      -- the stored case is forgotten and the random runs say what is wrong
      local gok, tree = pcall(draw, st.seed, st.run, st.size)
      local failed, msg = false, nil
      if gok then failed, msg = test_case(fn, tree.value) end
      if failed then
        return fail(tree, msg, { seed = st.seed, run = st.run, size = st.size, replayed = true })
      end
      os.remove(path)
    end
  end

  -- 2. explicit examples
  if p.examples ~= nil then
    if type(p.examples) ~= 'table' then error('check.property: examples must be an array of values', 2) end
    for i = 1, #p.examples do
      result.examples = i
      local failed, msg = test_case(fn, p.examples[i])
      if failed then return fail(nil, msg, { example = i, original = p.examples[i] }) end
    end
  end

  -- 3. random cases; the time budget only cuts the cases above the floor
  for k = 1, runs do
    if time_budget and k > floor and clock() - t0 >= time_budget then
      result.stopped = 'time_budget'
      break
    end
    local size = M.size_for(k, runs)
    local tree = draw(seed, k, size)
    result.runs = k
    local failed, msg = test_case(fn, tree.value)
    if failed then return fail(tree, msg, { run = k, size = size }) end
  end
  result.elapsed_s = clock() - t0
  return result
end

local function print_line(line)
  if settings.out then settings.out(line) else io.stdout:write(line, '\n'); io.stdout:flush() end
end

-- the one line a passing property prints: how many cases ran, of how many,
-- above which floor, with the seed that replays them
local function passed_line(r)
  local what
  if r.runs_planned and r.runs == 1 and r.only then
    what = string.format('case %d of %d', r.only, r.runs_planned)
  else
    what = string.format('%d of %d cases (floor %d)', r.runs, r.runs_planned, r.floor)
  end
  local extra = ''
  if r.examples > 0 then extra = extra .. string.format(' + %d examples', r.examples) end
  if r.replayed then extra = extra .. ' + the stored failure, which passed' end
  if r.stopped == 'time_budget' then extra = extra .. '; stopped at the time budget' end
  return string.format('check: passed %s %s%s seed=%d %.2f s', S.quote(r.name), what, extra, r.seed,
    r.elapsed_s or 0)
end

-- check.property{name, gen, fn, runs=check.runs (a floor, default 100:
-- runs= may raise it, not lower it), seed=nil, run=nil (only that
-- case of the seed, without the store or examples), time_budget_s=nil (never
-- cuts below the floor), shrink_budget=1000, shrink_attempts=max(20*shrink_budget, 1000),
-- shrink_time_s=60, examples={...}, store_dir=nil, store=true} -> result on success ({ok=true, name, seed,
-- runs, runs_planned, floor, shrinks=0, elapsed_s, stopped}) after printing one line
-- with the number of cases that ran; on failure prints one line with the seed
-- and raises the failure text.
function M.property(p)
  local r = M.run(p)
  log_event('info', { msg = r.ok and 'passed' or 'failed', name = r.name,
    seed = r.seed, runs = r.runs, shrinks = r.shrinks, elapsed_s = r.elapsed_s,
    stopped = r.stopped, run = r.run })
  if r.ok then
    print_line(passed_line(r))
    return r
  end
  local line = string.format('check: FAILED %s seed=%d %s shrinks=%d counterexample=%s replay: fmhost --seed %d %s',
    S.quote(r.name), r.seed, r.example and ('example=' .. r.example) or ('run=' .. r.run), r.shrinks,
    S.show(r.counterexample, 300):gsub('\n', '\\n'), r.seed, r.file)
  print_line(line)
  error(r.text, 2) -- busted then names the spec line that called check.property
end

return M
