-- fmhost.gen without a server: determinism, ratios, edge cases, uniqueness,
-- the writers' text (CSV parsed back by LOAD DATA's rules, JSON lines
-- decoded, SQL literals), shortest round-trip doubles, JSON flattening,
-- schema errors and the check generator's shrinking.
local gen = require 'fmhost.gen'
local check = require 'fmhost.check'
local cjson = require 'cjson'
local T = require 'fmhost.testing'

local NULL = gen.NULL

-- ---------------------------------------------------------------- helpers

-- One LOAD DATA line under FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY
-- '"' ESCAPED BY '\\' LINES TERMINATED BY '\n', read as the server reads it.
-- Returns the fields (NULL for \N) and the position after the line.
local unescape = { ['0'] = '\0', b = '\b', n = '\n', r = '\r', t = '\t', Z = '\26' }
local function parse_csv_line(s, pos)
  local fields = {}
  while true do
    local c = s:sub(pos, pos)
    local buf = {}
    if c == '"' then
      pos = pos + 1
      while true do
        local q = s:find('["\\]', pos)
        assert(q, 'unterminated enclosed field')
        buf[#buf + 1] = s:sub(pos, q - 1)
        pos = q
        local ch = s:sub(pos, pos)
        if ch == '\\' then
          local nx = s:sub(pos + 1, pos + 1)
          buf[#buf + 1] = unescape[nx] or nx
          pos = pos + 2
        elseif ch == '"' then
          local nx = s:sub(pos + 1, pos + 1)
          if nx == '"' then buf[#buf + 1] = '"'; pos = pos + 2
          elseif nx == ',' or nx == '\n' or nx == '' then pos = pos + 1; break
          else buf[#buf + 1] = '"'; pos = pos + 1 end
        end
      end
      fields[#fields + 1] = table.concat(buf)
    else
      local e = s:find('[,\n]', pos) or #s + 1
      local raw = s:sub(pos, e - 1)
      if raw == '\\N' then fields[#fields + 1] = NULL
      else fields[#fields + 1] = (raw:gsub('\\(.)', function(x) return unescape[x] or x end)) end
      pos = e
    end
    local sep = s:sub(pos, pos)
    if sep == '\n' or sep == '' then return fields, pos + 1 end
    pos = pos + 1
  end
end

-- first row (from 0) whose column `col` is edge case `name`
local function find_edge(g, col, name, limit)
  for i = 0, limit or 200000 do
    if g:explain(i)[col] == 'edge:' .. name then return i end
  end
  error('no row with edge case ' .. name .. ' in column ' .. col)
end

local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m > 2 and m - 3 or m + 9) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function bits(x) return string.pack('<d', x) end

-- a writer's number text as a float ("-0" reads as the integer 0 in Lua)
local function num(s)
  local x = tonumber(s)
  if math.type(x) == 'integer' then
    x = x + 0.0
    if x == 0 and s:sub(1, 1) == '-' then x = -0.0 end
  end
  return x
end

local function within(count, n, p, what)
  local sd = math.sqrt(n * p * (1 - p))
  local lo, hi = n * p - 5 * sd - 2, n * p + 5 * sd + 2
  assert(count >= lo and count <= hi,
    ('%s: %d of %d, expected about %.0f (%.0f..%.0f)'):format(what, count, n, n * p, lo, hi))
end

local function new(spec, opts) return assert(gen.new(spec, opts)) end

-- ---------------------------------------------------------------- specs

describe('fmhost.gen', function()
  local all = assert(gen.load('all_types'))

  describe('determinism', function()
    it('gives the same rows for the same seed and other rows for another seed', function()
      local a, b = assert(gen.load('all_types', { seed = 11 })), assert(gen.load('all_types', { seed = 11 }))
      local c = assert(gen.load('all_types', { seed = 12 }))
      assert.are.equal(a:csv(0, 300), b:csv(0, 300))
      assert.are_not.equal(a:csv(0, 300), c:csv(0, 300))
      assert.are.same(a:row(77), b:row(77))
    end)

    it('makes row i a pure function of i: rows alone, backwards and in ranges agree', function()
      local whole = all:csv(0, 400)
      local parts = {}
      for i = 399, 0, -1 do parts[i + 1] = all:csv(i, i + 1) end
      assert.are.equal(whole, table.concat(parts))
      assert.are.equal(whole, all:csv(0, 123) .. all:csv(123, 400))
      local rows = all:rows(100, 110)
      for k = 1, 10 do assert.are.same(all:row(99 + k), rows[k]) end
    end)

    it('writes byte-identical files with 1, 2 and 5 threads and in another process', function()
      local dir = T.tmpdir('gen')
      local n = 8000
      for _, fmt in ipairs { 'csv', 'jsonl', 'sql' } do
        local ref
        for _, th in ipairs { 1, 2, 5 } do
          local path = ('%s/%s.%d'):format(dir, fmt, th)
          assert(all:write(path, 0, n, { format = fmt, threads = th }))
          local text = T.read_file(path)
          if ref then assert.are.equal(ref, text, fmt .. ' with ' .. th .. ' threads') else ref = text end
        end
        assert.are.equal(ref, fmt == 'csv' and all:csv(0, n) or fmt == 'jsonl' and all:jsonl(0, n) or all:sql_values(0, n))
      end
      local child = dir .. '/child.csv'
      local r = T.run_fmhost { '-e', ([[assert(require('fmhost.gen').load('all_types'):write_csv(%q, 0, %d, {threads=3}))]])
        :format(child, n) }
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(T.read_file(dir .. '/csv.1'), T.read_file(child))
      T.rmtree(dir)
    end)

    it('streams rows in chunks that add up to the writer output, also after the generator is closed', function()
      local st
      local want
      do
        local g <close> = assert(gen.load('all_types'))
        want = g:jsonl(0, 9000)
        st = g:stream(0, 9000, { format = 'jsonl', threads = 2 })
      end
      collectgarbage()
      local parts = {}
      while true do
        local s = st:read(7777)
        if not s then break end
        assert.is_true(#s <= 7777)
        parts[#parts + 1] = s
      end
      assert.are.equal(9000, st:rows())
      assert.is_true(st:close())
      assert.are.same({ false, 'already closed' }, { st:close() })
      assert.are.equal(want, table.concat(parts))
      local g = assert(gen.load('seven'))
      do local closing <close> = g end
      local ok, err = pcall(g.row, g, 0)
      assert.is_false(ok)
      assert.matches('generator is closed', err)
    end)

    it("keeps a column's values when other columns are added or reordered", function()
      local cols = { { name = 'a', type = 'INT', edge_ratio = 0.2 }, { name = 'b', type = 'VARCHAR(20)' },
                     { name = 'c', type = 'DECIMAL(10,2)', nullable = true } }
      local g1 = new { seed = 5, columns = cols }
      local g2 = new { seed = 5, columns = { cols[3], { name = 'x', type = 'DATE' }, cols[1], cols[2] } }
      for i = 0, 200 do
        local r1, r2 = g1:record(i), g2:record(i)
        assert.are.same({ r1.a, r1.b, r1.c }, { r2.a, r2.b, r2.c })
      end
    end)
  end)

  describe('ratios and edge cases', function()
    it('draws NULLs and each edge case at the configured ratios', function()
      local g = new { seed = 99, columns = {
        { name = 'i', type = 'INT', nullable = true, null_ratio = 0.1, edge_ratio = 0.3 },
        { name = 'd', type = 'DECIMAL(12,4)', nullable = true, null_ratio = 0.2, edge_ratio = 0.25 },
        { name = 'f', type = 'DOUBLE', edge_ratio = 0.4 },
        { name = 's', type = 'VARCHAR(12)', nullable = true, null_ratio = 0.05, edge_ratio = 0.3 },
        { name = 't', type = 'DATETIME(6)', edge_ratio = 0.3 },
        { name = 'j', type = 'JSON', nullable = true, null_ratio = 0.5, edge_ratio = 0.5 },
      } }
      local n = 20000
      local counts = {}
      for i = 0, n - 1 do
        for col, kind in pairs(g:explain(i)) do
          counts[col] = counts[col] or {}
          counts[col][kind] = (counts[col][kind] or 0) + 1
        end
      end
      for _, c in ipairs(g:schema().columns) do
        local got = counts[c.name]
        within(got.null or 0, n, c.null_ratio, c.name .. ' NULLs')
        local edges = 0
        for _, e in ipairs(c.edges) do
          local k = got['edge:' .. e] or 0
          assert.is_true(k > 0, c.name .. ': edge case ' .. e .. ' never drawn')
          within(k, n, c.edge_ratio / #c.edges, c.name .. ' edge ' .. e)
          edges = edges + k
        end
        within(edges, n, c.edge_ratio, c.name .. ' edge cases')
      end
    end)

    it('lists the edge cases the issue names for each type', function()
      local want = {
        c_big = { 'min', 'max', 'zero', 'two_pow_53_plus_one' },
        c_ubig = { 'max', 'int64_max_plus_one' },
        c_dec65 = { 'max', 'min', 'tiny', 'full_precision' },
        c_double = { 'minus_zero', 'min_subnormal', 'max_subnormal', 'max' },
        c_float = { 'minus_zero', 'min_subnormal' },
        c_varchar = { 'empty', 'limit_chars', 'limit_bytes', 'emoji', 'combining', 'rtl', 'cjk', 'specials' },
        c_dt = { 'max', 'max_fraction', 'leap_day', 'dst_gap', 'timestamp_min', 'timestamp_max' },
        c_ts = { 'min', 'max', 'leap_day' },
        c_date = { 'leap_day', 'min', 'max' },
        c_json = { 'empty_object', 'empty_array', 'deep', 'big_numbers', 'unicode' },
      }
      local by = {}
      for _, c in ipairs(all:schema().columns) do by[c.name] = c.edges end
      for col, names in pairs(want) do
        local have = {}
        for _, e in ipairs(by[col]) do have[e] = true end
        for _, e in ipairs(names) do assert.is_true(have[e], col .. ' lacks ' .. e) end
      end
    end)

    it('writes integer extremes, DECIMAL at full precision and scale, -0.0 and subnormals exactly', function()
      assert.are.equal('-9223372036854775808', all:text(find_edge(all, 'c_big', 'min'), 'c_big'))
      assert.are.equal('18446744073709551615', all:text(find_edge(all, 'c_ubig', 'max'), 'c_ubig'))
      assert.are.equal('18446744073709551615', all:cell(find_edge(all, 'c_ubig', 'max'), 'c_ubig'))
      assert.are.equal('9007199254740993', all:text(find_edge(all, 'c_big', 'two_pow_53_plus_one'), 'c_big'))
      assert.are.equal(string.rep('9', 35) .. '.' .. string.rep('9', 30),
        all:cell(find_edge(all, 'c_dec65', 'max'), 'c_dec65'))
      assert.are.equal('-0.' .. string.rep('0', 29) .. '1', all:cell(find_edge(all, 'c_dec65', 'minus_tiny'), 'c_dec65'))
      local full = all:cell(find_edge(all, 'c_dec65', 'full_precision'), 'c_dec65')
      assert.matches('^%-?[1-9]%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%.%d+$', full)
      assert.are.equal(30, #full:match('%.(%d+)$'))
      local mz = find_edge(all, 'c_double', 'minus_zero')
      assert.are.equal('-0', all:text(mz, 'c_double'))
      assert.are.equal(-math.huge, 1 / all:cell(mz, 'c_double'))
      assert.are.equal('5e-324', all:text(find_edge(all, 'c_double', 'min_subnormal'), 'c_double'))
      assert.are.equal('2.225073858507201e-308', all:text(find_edge(all, 'c_double', 'max_subnormal'), 'c_double'))
      assert.are.equal('1e-45', all:text(find_edge(all, 'c_float', 'min_subnormal'), 'c_float'))
      -- FLT_MAX's shortest float text (3.4028235e38) exceeds FLT_MAX as a double, which MariaDB rejects
      assert.are.equal('3.4028234663852886e38', all:text(find_edge(all, 'c_float', 'max'), 'c_float'))
    end)

    it('puts strings at the column limit in characters and in bytes', function()
      local g = new { seed = 1, columns = {
        { name = 'v', type = 'VARCHAR(16)', edge_ratio = 1, edges = { 'limit_chars', 'limit_bytes' } },
        { name = 'c', type = 'CHAR(5)', edge_ratio = 1, edges = { 'limit_bytes' } },
        { name = 't', type = 'TEXT', edge_ratio = 1, edges = { 'limit_bytes', 'limit_chars' } },
        { name = 'tt', type = 'TINYTEXT', edge_ratio = 1, edges = { 'limit_bytes' } },
        { name = 'b', type = 'BLOB', edge_ratio = 1, edges = { 'limit_bytes' } },
      } }
      local v1 = g:cell(find_edge(g, 'v', 'limit_chars'), 'v')
      assert.are.same({ 16, 16 }, { utf8.len(v1), #v1 })
      local v2 = g:cell(find_edge(g, 'v', 'limit_bytes'), 'v')
      assert.are.same({ 16, 64 }, { utf8.len(v2), #v2 })
      local c = g:cell(0, 'c')
      assert.are.same({ 5, 20 }, { utf8.len(c), #c })
      local t = g:cell(find_edge(g, 't', 'limit_bytes'), 't')
      assert.are.equal(65535, #t)
      assert.is_not_nil(utf8.len(t))
      assert.are.equal(65535, #g:cell(find_edge(g, 't', 'limit_chars'), 't'))
      local tt = g:cell(0, 'tt')
      assert.are.equal(255, #tt)
      assert.is_not_nil(utf8.len(tt))
      assert.are.equal(65535, #g:cell(0, 'b'))
    end)

    it('writes emoji, combining marks, right-to-left and CJK text as valid UTF-8', function()
      local g = new { seed = 2, columns = { { name = 's', type = 'VARCHAR(40)', edge_ratio = 0.5 } } }
      local seen = {}
      local classes = {
        emoji = function(cp) return cp >= 0x1F300 and cp <= 0x1FAFF end,
        combining = function(cp) return cp >= 0x300 and cp <= 0x36F end,
        rtl = function(cp) return (cp >= 0x5D0 and cp <= 0x5EA) or (cp >= 0x621 and cp <= 0x64A) end,
        cjk = function(cp) return cp >= 0x4E00 and cp <= 0x9FFF end,
        nul = function(cp) return cp == 0 end, backslash = function(cp) return cp == 92 end,
        quote = function(cp) return cp == 39 or cp == 34 end, tab = function(cp) return cp == 9 end,
        newline = function(cp) return cp == 10 end,
      }
      for i = 0, 3000 do
        local s = g:cell(i, 's')
        assert.is_not_nil(utf8.len(s), 'invalid UTF-8 in row ' .. i)
        assert.is_true(utf8.len(s) <= 40)
        for _, cp in utf8.codes(s) do
          for name, f in pairs(classes) do if f(cp) then seen[name] = true end end
        end
      end
      for name in pairs(classes) do assert.is_true(seen[name], 'no ' .. name) end
    end)

    it('writes DATETIME(6) at .999999, TIMESTAMP at its 1970 and 2038 limits (UTC) and leap days', function()
      assert.are.equal('9999-12-31 23:59:59.999999', all:cell(find_edge(all, 'c_dt', 'max'), 'c_dt'))
      assert.matches('23:59:59%.999999$', all:cell(find_edge(all, 'c_dt', 'max_fraction'), 'c_dt'))
      assert.are.equal('1970-01-01 00:00:01.000000', all:cell(find_edge(all, 'c_ts', 'min'), 'c_ts'))
      assert.are.equal('2038-01-19 03:14:07.999999', all:cell(find_edge(all, 'c_ts', 'max'), 'c_ts'))
      assert.are.equal('2038-01-19 03:14:07', all:cell(find_edge(all, 'c_dt0', 'timestamp_max'), 'c_dt0'))
      assert.matches('^%d%d%d%d%-02%-29$', all:cell(find_edge(all, 'c_date', 'leap_day'), 'c_date'))
      assert.matches('^%d%d%d%d%-02%-29 ', all:cell(find_edge(all, 'c_ts', 'leap_day'), 'c_ts'))
      assert.are.equal('838:59:59.999', all:cell(find_edge(all, 'c_time', 'max'), 'c_time'))
      assert.are.equal('-00:00:00.001', all:cell(find_edge(all, 'c_time', 'minus_tiny'), 'c_time'))
    end)

    it('puts DST-gap edge cases at local times that Europe/Berlin skips', function()
      local g = new { seed = 3, dst_zone = 'Europe/Berlin',
                      columns = { { name = 't', type = 'DATETIME', edge_ratio = 1, edges = { 'dst_gap' } } } }
      for i = 0, 200 do
        local y, m, d, h = g:cell(i, 't'):match('^(%d+)%-(%d+)%-(%d+) (%d+):')
        y, m, d, h = tonumber(y), tonumber(m), tonumber(d), tonumber(h)
        -- a Sunday in late March (early April before 1981), between 02:00 and 03:00
        assert.are.equal(0, (days_from_civil(y, m, d) + 4) % 7, g:cell(i, 't'))
        assert.is_true(m == 3 and d >= 25 or m == 4 and d <= 7, g:cell(i, 't'))
        assert.are.equal(2, h, g:cell(i, 't'))
      end
      local ny = new { seed = 3, dst_zone = 'America/New_York',
                       columns = { { name = 't', type = 'DATETIME', edge_ratio = 1, edges = { 'dst_gap' } } } }
      for i = 0, 50 do assert.matches(' 02:', ny:cell(i, 't')) end
    end)

    it('renders TIMESTAMP text in the session time zone', function()
      local cols = { { name = 't', type = 'TIMESTAMP(3)' } }
      local utc = new { seed = 8, columns = cols }
      local ist = new { seed = 8, time_zone = '+05:30', columns = cols }
      for i = 0, 100 do
        local a, b = utc:cell(i, 't'), ist:cell(i, 't')
        local function secs(s)
          local y, m, d, H, M, S = s:match('^(%d+)%-(%d+)%-(%d+) (%d+):(%d+):(%d+)')
          return days_from_civil(tonumber(y), tonumber(m), tonumber(d)) * 86400 + H * 3600 + M * 60 + S
        end
        assert.are.equal(5 * 3600 + 1800, secs(b) - secs(a))
        assert.are.equal(a:sub(-4), b:sub(-4))
      end
    end)

    it('writes empty, deep and big-number JSON documents that parse', function()
      local j = new { seed = 4, columns = { { name = 'j', type = 'JSON', edge_ratio = 0.5, depth = 4 } } }
      local kinds = {}
      for i = 0, 2000 do
        local text = j:cell(i, 'j')
        local ok, v = pcall(cjson.decode, text)
        assert.is_true(ok, text)
        kinds[j:explain(i).j] = text
      end
      assert.are.equal('{}', kinds['edge:empty_object'])
      assert.are.equal('[]', kinds['edge:empty_array'])
      local deep = kinds['edge:deep']
      local depth, max = 0, 0
      for c in deep:gmatch('[%[%]{}]') do
        depth = depth + ((c == '[' or c == '{') and 1 or -1)
        max = math.max(max, depth)
      end
      assert.are.equal(31, max)
      assert.matches('123456789012345678901234567890', kinds['edge:big_numbers'])
    end)
  end)

  describe('unique and distributions', function()
    it('keeps unique columns unique', function()
      local g = new { seed = 21, columns = {
        { name = 'i', type = 'INT', unique = true },
        { name = 's', type = 'VARCHAR(10)', unique = true },
        { name = 'd', type = 'DECIMAL(8,2)', unique = true },
        { name = 't', type = 'DATETIME(3)', unique = true },
        { name = 'f', type = 'DOUBLE', unique = true },
        { name = 'b', type = 'BINARY(4)', unique = true },
        { name = 'sq', type = 'VARCHAR(12)', unique = true, distribution = 'sequential' },
      } }
      local seen = {}
      for _, c in ipairs(g:columns()) do seen[c] = {} end
      for i = 0, 30000 do
        for c, v in pairs(g:record(i)) do
          local key = c == 'f' and bits(v == 0 and 0.0 or v) or v
          assert.is_nil(seen[c][key], ('column %s repeats %s at row %d'):format(c, tostring(v), i))
          seen[c][key] = true
        end
      end
    end)

    it('refuses rows past what a small unique column can serve', function()
      local g = new { seed = 1, columns = { { name = 'k', type = 'TINYINT UNSIGNED', unique = true } } }
      assert.are.equal(256, g:row_limit())
      local vals = {}
      for i = 0, 255 do vals[#vals + 1] = g:cell(i, 'k') end
      table.sort(vals)
      for i = 0, 255 do assert.are.equal(i, vals[i + 1]) end
      assert.has_error(function() g:row(256) end)
      local ok, msg = g:write_csv('/tmp/never-written.csv', 0, 300)
      assert.is_nil(ok)
      assert.matches('unique', msg)
    end)

    it('counts sequential columns from start by step', function()
      local g = new { seed = 1, columns = {
        { name = 'id', type = 'BIGINT', distribution = 'sequential' },
        { name = 'k', type = 'INT', distribution = 'sequential', start = 100, step = -3 },
        { name = 'd', type = 'DATE', distribution = 'sequential', start = '2024-02-27' },
        { name = 't', type = 'DATETIME(3)', distribution = 'sequential', start = '2024-01-01 00:00:00', step = '0.5' },
      } }
      assert.are.same({ 1, 100, '2024-02-27', '2024-01-01 00:00:00.000' }, g:row(0))
      assert.are.same({ 3, 94, '2024-02-29', '2024-01-01 00:00:01.000' }, g:row(2))
      assert.are.same({ 4, 91, '2024-03-01', '2024-01-01 00:00:01.500' }, g:row(3))
    end)

    it('skews zipf columns toward their first ranks', function()
      local g = new { seed = 6, columns = { { name = 'z', type = 'INT', distribution = 'zipf', zipf_n = 50, zipf_s = 1.0 } } }
      local freq = {}
      for i = 0, 20000 do
        local v = g:cell(i, 'z')
        freq[v] = (freq[v] or 0) + 1
      end
      local list = {}
      for v, n in pairs(freq) do list[#list + 1] = n end
      table.sort(list, function(a, b) return a > b end)
      assert.is_true(#list <= 50)
      -- rank 1 of Zipf(50, 1) has probability 1/H(50) = 0.2222
      within(list[1], 20001, 0.2222, 'rank 1')
      assert.is_true(list[1] > 1.7 * list[2] and list[2] > list[5])
    end)
  end)

  describe('writers', function()
    it('writes CSV that LOAD DATA reads back to the row, NULLs and escapes included', function()
      local text = all:csv(0, 2000)
      local pos = 1
      local names = all:columns()
      local types = {}
      for k, c in ipairs(all:schema().columns) do types[k] = c.type end
      for i = 0, 1999 do
        local fields
        fields, pos = parse_csv_line(text, pos)
        local row = all:row(i)
        assert.are.equal(#names, #fields)
        for k = 1, #names do
          local want, got = row[k], fields[k]
          if want == NULL then
            assert.are.equal(NULL, got, names[k] .. ' row ' .. i)
          elseif types[k] == 'DOUBLE' then
            assert.are.equal(bits(want), bits(num(got)), names[k] .. ' row ' .. i)
          elseif types[k] == 'FLOAT' then
            assert.are.equal(string.pack('<f', want), string.pack('<f', num(got)), names[k] .. ' row ' .. i)
          elseif math.type(want) == 'integer' then
            assert.are.equal(tostring(want), got, names[k] .. ' row ' .. i)
          else
            assert.are.equal(want, got, names[k] .. ' row ' .. i)
          end
        end
      end
      assert.are.equal(#text + 1, pos)
    end)

    it('escapes NUL, backslash, quotes, ^Z, CR and LF in CSV and SQL text', function()
      local g = new { seed = 1, columns = { { name = 's', type = 'VARCHAR(16)', edge_ratio = 1, edges = { 'specials' } } } }
      for i = 0, 50 do
        local s = g:cell(i, 's')
        local csv = g:text(i, 's', 'csv')
        local body = csv:sub(2, -2)
        assert.are.equal('"', csv:sub(1, 1))
        assert.is_nil(body:find('[%z\n\r\26]'))
        assert.are.equal(s, (parse_csv_line(csv .. '\n', 1))[1])
        local sql = g:text(i, 's', 'sql')
        assert.is_nil(sql:sub(2, -2):gsub("''", ''):find("'"))
        assert.is_nil(sql:find('[%z\n\r\26]'))
      end
    end)

    it('writes JSON lines that decode to the row', function()
      local g = new { seed = 31, columns = {
        { name = 'id', type = 'INT', distribution = 'sequential' },
        { name = 's', type = 'VARCHAR(30)', nullable = true, edge_ratio = 0.3 },
        { name = 'b', type = 'BOOLEAN' }, { name = 'd', type = 'DECIMAL(30,10)' },
        { name = 'f', type = 'DOUBLE', edge_ratio = 0.2, edges = { 'zero', 'min_subnormal', 'max', 'tenth' } },
        { name = 'bin', type = 'VARBINARY(8)' }, { name = 'ts', type = 'TIMESTAMP(6)' },
        { name = 'j', type = 'JSON', edge_ratio = 0.2, edges = { 'empty_object', 'unicode' } },
      } }
      local lines = g:jsonl(0, 500)
      local i = 0
      for line in lines:gmatch('[^\n]+') do
        local obj = cjson.decode(line)
        local r = g:record(i)
        assert.are.equal(r.id, obj.id)
        assert.are.equal(r.s == NULL and cjson.null or r.s, obj.s)
        assert.are.equal(r.b == 1, obj.b)
        assert.are.equal(r.f, obj.f)
        assert.are.equal(r.j, obj.j)
        assert.are.equal(r.ts .. 'Z', obj.ts)
        assert.matches('"d":' .. r.d:gsub('%p', '%%%0') .. ',', line)
        assert.are.equal(#r.bin, #((obj.bin):gsub('=', '')) * 3 // 4)
        i = i + 1
      end
      assert.are.equal(500, i)
      local as_value = cjson.decode(g:jsonl(0, 1, { json_as_value = true, decimal_as_string = true }))
      assert.are.equal('table', type(as_value.j))
      assert.are.equal(g:cell(0, 'd'), as_value.d)
    end)

    it('writes SQL tuples with exponent doubles, X literals and doubled quotes', function()
      local g = new { seed = 1, columns = {
        { name = 'f', type = 'DOUBLE', edge_ratio = 1, edges = { 'tenth' } },
        { name = 'b', type = 'BINARY(2)', edge_ratio = 1, edges = { 'ones' } },
        { name = 'e', type = 'ENUM', values = { "it's" } },
        { name = 'n', type = 'INT', nullable = true, null_ratio = 1 },
        { name = 'o', type = 'BOOLEAN', edge_ratio = 1, edges = { 'true' } },
      } }
      assert.are.equal("(1e-1,X'FFFF','it''s',NULL,TRUE),\n(1e-1,X'FFFF','it''s',NULL,TRUE)", g:sql_values(0, 2))
    end)

    it("writes the rfc4180 CSV dialect (Flink's csv format): NULL as \\N, \"\" for empty, quotes doubled", function()
      local g = new { seed = 1, columns = {
        { name = 'n', type = 'VARCHAR(8)', nullable = true, null_ratio = 1 },
        { name = 'e', type = 'VARCHAR(8)', edge_ratio = 1, edges = { 'empty' } },
        { name = 'q', type = 'ENUM', values = { 'a"b' } },
        { name = 'l', type = 'ENUM', values = { 'x\ny\\z' } },
        { name = 'i', type = 'INT', nullable = true, null_ratio = 1 },
      } }
      local want = '\\N,"","a""b","x\ny\\z",\\N\n'
      assert.are.equal(want .. want, g:csv(0, 2, { dialect = 'rfc4180' }))
      -- the default stays the LOAD DATA dialect
      assert.are.equal('\\N,"","a\\"b","x\\ny\\\\z",\\N\n', g:csv(0, 1))
      local path = os.tmpname()
      assert.are.equal(2 * #want, g:write(path, 0, 2, { format = 'csv', dialect = 'rfc4180' }))
      local f = assert(io.open(path, 'rb'))
      assert.are.equal(want .. want, f:read('a'))
      f:close()
      os.remove(path)
      local ok, err = pcall(g.csv, g, 0, 1, { dialect = 'excel' })
      assert.is_false(ok)
      assert.matches("dialect must be 'mysql' or 'rfc4180', not 'excel'", err, 1, true)
    end)

    it('prints every DOUBLE and FLOAT as the shortest text that reads back to the same bits', function()
      local g = new { seed = 77, columns = { { name = 'f', type = 'DOUBLE' } } }
      local r = check.Rng.new(12345)
      local function shortest_len(x)
        for p = 1, 17 do
          if tonumber(('%.' .. p .. 'g'):format(x)) == x then return p end
        end
      end
      local function digits(s) return #(s:gsub('e.*$', ''):gsub('[^%d]', ''):gsub('^0+', ''):gsub('0+$', '')) end
      for k = 1, 100000 do
        local x = string.unpack('<d', string.pack('<i8', r:next()))
        if k % 3 == 0 then x = string.unpack('<d', string.pack('<i8', r:next() & 0x800fffffffffffff)) end
        if x == x and x ~= math.huge and x ~= -math.huge then
          local s = gen.format_double(x)
          assert.are.equal(bits(x), bits(num(s)), s)
          if k % 50 == 0 and x ~= 0 then assert.is_true(digits(s) <= shortest_len(x), s) end
          local f = string.unpack('<f', string.pack('<I4', r:next() & 0xffffffff))
          if f == f and f ~= math.huge and f ~= -math.huge then
            local fs = gen.format_double(f, 'float')
            assert.are.equal(string.pack('<f', f), string.pack('<f', num(fs)), fs)
          end
        end
      end
      for i = 0, 2000 do
        local s = g:text(i, 'f')
        assert.are.equal(bits(g:cell(i, 'f')), bits(num(s)), s)
      end
      assert.are.same({ '0.1', '1e21', '1.2345678901234568e17', '0.000001', '1e-7', '-0' },
        { gen.format_double(0.1), gen.format_double(1e21), gen.format_double(1.2345678901234568e17),
          gen.format_double(1e-6), gen.format_double(1e-7), gen.format_double(-0.0) })
    end)
  end)

  describe('flatten', function()
    local doc = '{"a":{"b":[10,{"c":"x\\u00e9\\ud83d\\ude00"}],"big":123456789012345678901234567890},'
      .. '"a.b":true,"":null,"n":-0.5e-3,"e":{},"arr":[]}'

    it('reads values by $-paths and dotted short paths, numbers as their exact text', function()
      local v, kinds = assert(gen.flatten(doc, { '$.a.b[0]', '$.a.b[1].c', 'a.b.1.c', '$.a.big', '$."a.b"',
        '$.n', '$.e', '$.arr', '$.a.b' }))
      assert.are.same({ 10, 'xé😀', 'xé😀', '123456789012345678901234567890', true, '-0.5e-3', '{}', '[]',
        '[10,{"c":"x\\u00e9\\ud83d\\ude00"}]' }, v)
      assert.are.same({ 'number', 'string', 'string', 'number', 'boolean', 'number', 'object', 'array', 'array' }, kinds)
    end)

    it('gives NULL for JSON null and for absent paths', function()
      local v, kinds = assert(gen.flatten(doc, { '$.""', '$.nope', '$.a.b[5]', '$.n.x' }))
      assert.are.same({ NULL, NULL, NULL, NULL }, v)
      assert.are.same({ 'null', 'null', 'null', 'null' }, kinds)
    end)

    it('refuses a document that is not JSON, and a bad path, with the reason', function()
      local ok, msg = gen.flatten('{"a":1,}', { '$.a' })
      assert.is_nil(ok)
      assert.matches('not a JSON document', msg)
      ok, msg = gen.flatten('{"a":1}', { '$.a[' })
      assert.is_nil(ok)
      assert.matches('path', msg)
    end)
  end)

  describe('schemas', function()
    it('loads every YAML schema under config/schemas', function()
      local lfs = require 'lfs'
      local dir = _FMHOST_ROOT .. '/config/schemas'
      local n = 0
      for f in lfs.dir(dir) do
        if f:match('%.yaml$') then
          local g, err = gen.load(dir .. '/' .. f)
          assert.is_not_nil(g, err)
          g:row(0)
          n = n + 1
        end
      end
      assert.is_true(n >= 2)
    end)

    it('creates MariaDB DDL matching the schema', function()
      local g = assert(gen.load('seven'))
      assert.are.equal(table.concat({
        'CREATE TABLE `seven` (',
        '  `id` BIGINT NOT NULL,', '  `i` INT NOT NULL,', '  `d` DECIMAL(22,9) NOT NULL,', '  `f` DOUBLE NOT NULL,',
        '  `s` VARCHAR(64) NULL,', '  `ts` DATETIME(6) NOT NULL,', '  `b` BOOLEAN NOT NULL,', '  PRIMARY KEY (`id`)',
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin' }, '\n'), g:create_table_sql())
      assert.matches("^LOAD DATA LOCAL INFILE '/tmp/x%.csv' INTO TABLE `seven` CHARACTER SET utf8mb4 FIELDS TERMINATED BY ','",
        g:load_data_sql('seven', '/tmp/x.csv'))
    end)

    it('reports schema mistakes with a message naming the cause', function()
      local cases = {
        { { columns = { { name = 'a', type = 'INTEGRAL' } } }, "unknown type 'INTEGRAL'" },
        { { columns = { { name = 'a', type = 'INT', colour = 'red' } } }, "unknown key 'colour'" },
        { { columns = { { name = 'a', type = 'DECIMAL(10,12)' } } }, 'scale 12 exceeds precision 10' },
        { { columns = { { name = 'a', type = 'INT', null_ratio = 0.2 } } }, 'null_ratio needs nullable' },
        { { columns = { { name = 'a', type = 'INT', unique = true, edge_ratio = 0.1 } } }, 'takes no edge cases' },
        { { columns = { { name = 'a', type = 'VARCHAR' } } }, 'VARCHAR needs a length' },
        { { columns = { { name = 'a', type = 'INT', edges = { 'nope' } , edge_ratio = 0.1 } } }, "no edge case named 'nope'" },
        { { columns = { { name = 'a', type = 'INT' }, { name = 'a', type = 'INT' } } }, 'appears twice' },
        { { columns = { { name = 'a', type = 'ENUM' } } }, 'ENUM needs values' },
        { { columns = {} }, 'at least one column' },
        { { time_zone = 'Mars/Olympus', columns = { { name = 'a', type = 'INT' } } }, 'Mars/Olympus' },
        { { colour = 1, columns = { { name = 'a', type = 'INT' } } }, "unknown schema key 'colour'" },
      }
      for _, c in ipairs(cases) do
        local g, msg, info = gen.new(c[1])
        assert.is_nil(g, c[2])
        assert.matches(c[2], msg, 1, true)
        assert.are.equal('config', info.kind)
      end
      local g, msg = gen.load('/nonexistent/schema.yaml')
      assert.is_nil(g)
      assert.matches('cannot read schema /nonexistent/schema.yaml', msg, 1, true)
      local dir = T.tmpdir('gen')
      T.write_file(dir .. '/bad.yaml', 'columns:\n  - {name: a, type: INT, length: [1]}\n')
      g, msg = gen.load(dir .. '/bad.yaml')
      assert.is_nil(g)
      assert.matches('bad.yaml: column \'a\': length must be a single value', msg, 1, true)
      T.rmtree(dir)
    end)
  end)

  describe('check generator', function()
    it('draws rows and shrinks a failing row to the column that makes it fail', function()
      local g = new { seed = 9, columns = {
        { name = 'id', type = 'INT', unique = true },
        { name = 'a', type = 'VARCHAR(8)', edge_ratio = 0.3 },
        { name = 'n', type = 'INT', nullable = true, null_ratio = 0.3 },
        { name = 'x', type = 'DOUBLE', edge_ratio = 0.5 },
      } }
      local r = check.run { name = 'gen shrink demo', seed = 4, runs = 200, store = false,
        gen = gen.check_row(g, { by_name = true }),
        fn = function(v) return not (v.row.x ~= v.row.x + 1 - 1 or (v.row.x == 0 and 1 / v.row.x < 0)) end }
      assert.is_false(r.ok)
      local ce = r.counterexample
      assert.are.same({ 'a', 'n' }, ce.plain)
      assert.is_true(1 / ce.row.x < 0 or ce.row.x == math.huge or ce.row.x ~= ce.row.x + 1 - 1)
      assert.are.equal('', ce.row.a)
      assert.are.equal(0, ce.row.n)
    end)
  end)
end)
