-- `fmhost bench [NAME...]`: benchmarks, each measuring fmhost and a baseline
-- in the same run on the same data, each written to build/bench/NAME.json:
--   {"name":…, "rows":…, "fmhost":{"rows_per_s":…, "wall_s":…, "peak_rss_mb":…},
--    "baseline":{"what":…, "rows_per_s":…}, "ratio":…}
-- A benchmark is a module scripts/fmhost/bench/NAME.lua returning
--   { name = 'NAME', about = 'one line', needs = {'mariadb'}, run = function(cfg, B) -> result }
-- where B is this module (timing and median helpers). Each benchmark runs in
-- a child fmhost of its own so that its peak RSS is its own.
local proc = require 'fmhost.proc'

local M = {}

-- Monotonic wall-clock seconds (sub-millisecond resolution).
function M.clock()
  return proc.now_ms() / 1000
end

function M.time(fn, ...)
  local t0 = M.clock()
  local r = table.pack(fn(...))
  return M.clock() - t0, table.unpack(r, 1, r.n)
end

function M.median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

-- Run the stock `mariadb` client for cfg.mysql over TCP with the words of
-- args, reading opts.stdin (a path) and discarding its output, and return the
-- seconds it took. The password travels in the child's environment, never on
-- a command line `ps` shows; opts.timeout_ms (default an hour) bounds it.
function M.time_client(cfg, args, opts)
  opts = opts or {}
  local proc = require 'fmhost.proc'
  local s = require('fmhost.stack').service('mariadb').settings(cfg)
  local argv = { 'mariadb', '--no-defaults', '--protocol=TCP', '-h', s.host, '-P', tostring(s.port),
                 '-u', s.user, '-D', s.database, '--default-character-set=utf8mb4' }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  local t0 = proc.now_ms()
  local r, msg = proc.run { argv = argv, env = { MYSQL_PWD = s.password }, stdin = opts.stdin,
                            stdout = '/dev/null', timeout_ms = opts.timeout_ms or 3600000 }
  local dt = (proc.now_ms() - t0) / 1000
  if not r then error('the stock mariadb client failed: ' .. tostring(msg), 2) end
  if not r.ok then
    error(('the stock mariadb client failed (%s): %s'):format(r.code and 'exit ' .. r.code or 'signal ' ..
          tostring(r.signal), r.stderr or ''), 2)
  end
  return dt
end

function M.peak_rss_mb()
  local kb = require('fmhost.files').status_kb('self', 'VmHWM')
  return kb and kb / 1024
end

local function json_encode(v)
  return require('cjson').encode(v)
end

local function bench_dir() return _FMHOST_ROOT .. '/scripts/fmhost/bench' end
local function out_dir() return _FMHOST_ROOT .. '/build/bench' end

function M.list()
  local lfs = require 'lfs'
  local names = {}
  if lfs.attributes(bench_dir(), 'mode') == 'directory' then
    for f in lfs.dir(bench_dir()) do
      local n = f:match('^([%w_]+)%.lua$')
      if n then names[#names + 1] = n end
    end
  end
  table.sort(names)
  return names
end

function M.line(r)
  return ('%-18s rows=%-9d fmhost %12.0f rows/s  baseline %12.0f rows/s (%s)  ratio %.2f  peak %.0f MiB')
    :format(r.name, r.rows or 0, r.fmhost.rows_per_s or 0, r.baseline.rows_per_s or 0,
            r.baseline.what or '?', r.ratio or 0, r.fmhost.peak_rss_mb or 0)
end

-- Run one benchmark in this process and write its JSON.
function M.run_one(cfg, name)
  local ok, b = pcall(require, 'fmhost.bench.' .. name)
  if not ok then
    io.stderr:write('fmhost: no benchmark named ', name, ' (', tostring(b), ')\n')
    return 2
  end
  if b.needs and #b.needs > 0 then
    local up, err = require('fmhost.stack').ensure(cfg, b.needs)
    if not up then
      io.stderr:write('fmhost: benchmark ', name, ' needs ', table.concat(b.needs, ', '), ': ', tostring(err), '\n')
      return 1
    end
  end
  local r = b.run(cfg, M)
  r.name = r.name or name
  r.fmhost.peak_rss_mb = r.fmhost.peak_rss_mb or M.peak_rss_mb()
  if not r.ratio and r.fmhost.rows_per_s and r.baseline.rows_per_s and r.baseline.rows_per_s > 0 then
    r.ratio = r.fmhost.rows_per_s / r.baseline.rows_per_s
  end
  os.execute('mkdir -p ' .. out_dir())
  local f = assert(io.open(out_dir() .. '/' .. name .. '.json', 'w'))
  f:write(json_encode(r), '\n')
  f:close()
  print(M.line(r))
  return 0
end

function M.command(cfg, words, opts)
  if words[1] == '--one' then return M.run_one(cfg, words[2]) end
  if words[1] == '--list' then
    for _, n in ipairs(M.list()) do
      local ok, b = pcall(require, 'fmhost.bench.' .. n)
      print(('%-18s %s'):format(n, ok and b.about or tostring(b)))
    end
    return 0
  end
  local names = #words > 0 and words or M.list()
  local known = {}
  for _, n in ipairs(M.list()) do known[n] = true end
  for _, n in ipairs(names) do
    if not known[n] then
      io.stderr:write('fmhost: no benchmark named ', n, ' (fmhost bench --list)\n')
      return 2
    end
  end
  local T = require 'fmhost.testing'
  local failed = 0
  for _, n in ipairs(names) do
    -- a child of its own: its peak RSS is this benchmark's alone; it runs
    -- with this process's configuration (T.argv: --env, every --set, the log
    -- options; the FMHOST_* variables it inherits)
    local words = {}
    for k, w in ipairs(T.argv { 'bench', '--one', n }) do words[k] = T.shell_quote(w) end
    local ok = os.execute(table.concat(words, ' '))
    if not ok then
      failed = failed + 1
      io.stderr:write('fmhost: benchmark ', n, ' failed\n')
    end
  end
  return failed > 0 and 1 or 0
end

return M
