-- fmhost.metrics without servers: the histogram against exact percentiles
-- of sorted seeded data, merging, fixed memory; the per-second series; /proc
-- of a known process; the progress lines; the sampler's lifecycle and the
-- gap it records when the REST endpoint does not answer.
local metrics = require 'fmhost.metrics'
local check = require 'fmhost.check'
local Rng = require 'fmhost.check.rng'
local proc = require 'fmhost.proc'

-- nearest rank, as the histogram defines it
local function exact(sorted, q)
  if q <= 0 then return sorted[1] end
  local rank = math.max(1, math.ceil(q / 100 * #sorted))
  return sorted[math.min(rank, #sorted)]
end

-- n values spread over many orders of magnitude (log-uniform), plus small ones
local function data(seed, n)
  local r = Rng.for_case(seed, 1)
  local out = {}
  for i = 1, n do
    if r:bool(0.1) then out[i] = r:int(0, 300)
    else out[i] = math.floor(2 ^ (r:float() * 40)) end
  end
  return out
end

describe('fmhost.metrics histogram', function()
  local seed = check.resolve_seed()
  print(('metrics_spec: seed %d (FMHOST_SEED=%d replays it)'):format(seed, seed))

  it('gives every percentile within the stated relative error of the sorted data', function()
    for run = 0, 4 do
      local xs = data(seed + run, 20000)
      local h = metrics.histogram()
      for _, v in ipairs(xs) do h:record(v) end
      table.sort(xs)
      assert.equal(#xs, h:count())
      assert.equal(xs[1], h:min())
      assert.equal(xs[#xs], h:max())
      for _, q in ipairs({ 0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100 }) do
        local want, got = exact(xs, q), h:percentile(q)
        local err = math.abs(got - want) / math.max(want, 1)
        assert(err <= metrics.relative_error,
          ('seed %d run %d: p%s = %d, exact %d (relative error %.5f > %.5f)'):format(seed, run, q, got, want, err,
            metrics.relative_error))
      end
    end
  end)

  it('is exact for values below 256 and reports the bound as 1/256', function()
    assert.equal(1 / 256, metrics.relative_error)
    local h = metrics.histogram()
    for v = 0, 255 do h:record(v) end
    for _, q in ipairs({ 10, 50, 90, 99 }) do
      assert.equal(exact((function() local t = {} for v = 0, 255 do t[#t + 1] = v end return t end)(), q),
        h:percentile(q))
    end
  end)

  it('merges into exactly the histogram of the union', function()
    local a, b, u = metrics.histogram(), metrics.histogram(), metrics.histogram()
    local xs, ys = data(seed, 5000), data(seed + 100, 7000)
    for _, v in ipairs(xs) do a:record(v); u:record(v) end
    for _, v in ipairs(ys) do b:record(v); u:record(v) end
    assert.equal(a, a:merge(b))
    assert.same(u:summary(), a:summary())
    for q = 0, 100, 0.5 do assert.equal(u:percentile(q), a:percentile(q)) end
    assert.equal(12000, a:count())
  end)

  it('keeps a fixed memory whatever it records', function()
    local h = metrics.histogram()
    local before = h:memory()
    collectgarbage('collect')
    local kb0 = collectgarbage('count')
    for i = 1, 200000 do h:record(i * 7919 % 1000003, 3) end
    h:record(math.maxinteger)
    collectgarbage('collect')
    assert.equal(before, h:memory())
    assert(before < 128 * 1024, 'a histogram takes ' .. before .. ' bytes')
    assert(collectgarbage('count') - kb0 < 64, 'recording grew the Lua heap')
    assert.equal(600001, h:count())
    assert.equal(math.maxinteger, h:max())
  end)

  it('counts weighted records, resets, and refuses negative values', function()
    local h = metrics.histogram()
    assert.is_nil(h:percentile(50))
    assert.same({ count = 0 }, h:summary())
    h:record(10, 99); h:record(1000)
    assert.equal(100, h:count())
    assert.equal(10, h:percentile(99))
    assert.equal(1000, h:percentile(99.5))
    assert.near(19.9, h:mean(), 1e-9)
    h:reset()
    assert.equal(0, h:count())
    assert.has_error(function() h:record(-1) end)
    assert.has_error(function() h:percentile(101) end)
  end)
end)

describe('fmhost.metrics series', function()
  it('keeps one slot per second with sum, count, min, max and last', function()
    local s = metrics.series { capacity = 60 }
    s:add(5, 1000.1); s:add(7, 1000.9); s:add(1, 1002.5); s:add(3, 1000.0)
    local pts = s:points()
    assert.equal(2, #pts)
    assert.same({ t = 1000, n = 3, sum = 15, min = 3, max = 7, last = 3, mean = 5 }, pts[1])
    assert.same({ t = 1002, n = 1, sum = 1, min = 1, max = 1, last = 1, mean = 1 }, pts[2])
  end)

  it('drops seconds older than its ring and reuses their slots', function()
    local s = metrics.series { capacity = 10 }
    for t = 100, 130 do s:add(t, t) end
    local pts = s:points()
    assert.equal(10, #pts)
    assert.equal(121, pts[1].t)
    assert.equal(130, pts[10].t)
    assert.is_false(s:add(1, 120))
    assert.is_true(s:add(1, 125))
    assert.equal(2, s:points()[5].n)
  end)

  it('closes once: a second close returns false, already closed', function()
    local s = metrics.series()
    assert.is_true(s:close())
    local ok, msg = s:close()
    assert.is_false(ok)
    assert.equal('already closed', msg)
    assert.has_error(function() s:add(1) end, 'series is closed')
  end)
end)

describe('fmhost.metrics /proc', function()
  it("reads a known process's RSS and CPU time", function()
    -- a child that holds 64 MiB resident and burns CPU for a moment
    local p = assert(proc.spawn { 'sh', '-c', "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 30" })
    local ok, err = pcall(function()
      local u = assert(metrics.proc_usage(p.pid))
      assert(u.rss_bytes > 0 and u.rss_bytes < 1 << 30, 'rss ' .. u.rss_bytes)
      assert.equal(100, u.hz)
      -- this process: its RSS grows by what it allocates and touches
      local me = assert(metrics.proc_usage(tonumber(io.open('/proc/self/stat'):read('l'):match('^(%d+)'))))
      local big = string.rep('x', 32 << 20)
      local me2 = assert(metrics.proc_usage(tonumber(io.open('/proc/self/stat'):read('l'):match('^(%d+)'))))
      assert(me2.rss_bytes - me.rss_bytes > 24 << 20, ('rss grew %d bytes'):format(me2.rss_bytes - me.rss_bytes))
      assert(#big > 0)
      local t0 = me2.cpu_ticks
      local x = 0
      local c0 = os.clock()
      while os.clock() - c0 < 0.3 do x = x + 1 end
      local me3 = assert(metrics.proc_usage(tonumber(io.open('/proc/self/stat'):read('l'):match('^(%d+)'))))
      assert(me3.cpu_ticks - t0 >= 20, 'cpu ticks ' .. (me3.cpu_ticks - t0))
    end)
    p:kill_tree()
    p:wait(5000)
    assert(ok, err)
    local none, msg = metrics.proc_usage(p.pid)
    assert.is_nil(none)
    assert.matches('no such process', msg)
  end)
end)

describe('fmhost.metrics progress', function()
  local function tmpfile()
    return assert(io.tmpfile())
  end

  it('writes at most one line a second at a terminal, with count, rate and ETA', function()
    local f = tmpfile()
    local pr = metrics.progress { label = 'load', total = 1000000, tty = true, out = f }
    assert.is_nil(pr:add(100000, 0.5))
    assert.equal('load: 200,000 / 1,000,000 rows  20%  200k rows/s  ETA 0:04', pr:add(100000, 1.0))
    assert.is_nil(pr:add(100000, 1.5))
    assert.is_nil(pr:add(100000, 1.99))
    assert.matches('^load: 500,000 / 1,000,000 rows  50%%', pr:add(100000, 2.0))
    assert.equal('load: 500,000 rows in 0:05 (100k rows/s)', pr:done(5))
    assert.is_nil(pr:done(6))
    f:seek('set')
    local out = f:read('a')
    assert.equal('\rload: 200,000 / 1,000,000 rows  20%  200k rows/s  ETA 0:04\27[K'
      .. '\rload: 500,000 / 1,000,000 rows  50%  250k rows/s  ETA 0:02\27[K'
      .. '\rload: 500,000 rows in 0:05 (100k rows/s)\27[K\n', out)
    assert.is_true(pr:close())
    assert.same({ false, 'already closed' }, { pr:close() })
  end)

  it('writes a plain line every 10 s when not at a terminal', function()
    local f = tmpfile()
    local pr = metrics.progress { label = 'validate', tty = false, out = f }
    local lines = 0
    for t = 1, 35 do if pr:add(1000, t) then lines = lines + 1 end end
    assert.equal(3, lines)
    pr:done(35)
    f:seek('set')
    assert.equal('validate: 10,000 rows  1.0k rows/s\nvalidate: 20,000 rows  1.0k rows/s\n'
      .. 'validate: 30,000 rows  1.0k rows/s\nvalidate: 35,000 rows in 0:35 (1.0k rows/s)\n', f:read('a'))
  end)

  it('writes nothing when quiet', function()
    local f = tmpfile()
    local pr = metrics.progress { total = 10, quiet = true, out = f }
    for t = 1, 30 do assert.is_nil(pr:add(1, t)) end
    assert.is_nil(pr:done(31))
    assert.equal(30, pr:count())
    f:seek('set')
    assert.equal('', f:read('a'))
  end)
end)

describe('fmhost.metrics sampler', function()
  it('records an unreachable REST endpoint as one gap and keeps sampling', function()
    -- a port nothing listens on: bind one, learn it, close it
    local srv = require('fmhost.proxy').echo_server {}
    local dead = srv:port()
    srv:close()
    local pid = tonumber(io.open('/proc/self/stat'):read('l'):match('^(%d+)'))
    local smp <close> = assert(metrics.sampler { rest = 'http://127.0.0.1:' .. dead, pids = { pid }, interval_ms = 100 })
    local deadline = os.time() + 20
    while #smp:samples() < 4 and os.time() < deadline do proc.sleep(50) end
    smp:stop()
    local xs = smp:samples()
    assert(#xs >= 4, 'samples ' .. #xs)
    for i, x in ipairs(xs) do
      assert.is_false(x.flink_ok)
      assert.equal(pid, x.procs[1].pid)
      assert.is_true(x.procs[1].alive)
      assert(x.procs[1].rss_bytes > 0)
      if i > 1 then assert(x.procs[1].cpu >= 0) end
    end
    local gaps = smp:gaps()
    assert.equal(1, #gaps)
    assert.equal('flink', gaps[1].what)
    assert.matches(tostring(dead), gaps[1].msg)
    assert.equal(xs[1].t, gaps[1].from)
    assert.equal(xs[#xs].t, gaps[1].to)
    local st = smp:stats()
    assert.equal(#xs, st.ticks)
    assert.is_false(st.running)
  end)

  it('refuses bad options in one line and closes once', function()
    assert.has_error(function() metrics.sampler { intervall_ms = 5 } end, "metrics.sampler: unknown option 'intervall_ms'")
    local none, msg, info = metrics.sampler { job = 'nope' }
    assert.is_nil(none)
    assert.equal("sampler: job 'nope' is not a 32-hex Flink job id", msg)
    assert.equal('config', info.kind)
    local smp = assert(metrics.sampler { interval_ms = 50 })
    assert.is_true(smp:close())
    assert.same({ false, 'already closed' }, { smp:close() })
    assert.has_error(function() smp:samples() end, 'sampler is closed')
  end)
end)
