-- fmhost.validate against a table corrupted the ways a pipeline corrupts
-- data #mysql
--
-- Generated rows are loaded into MariaDB, then a copy of the table is
-- changed in one way (rows deleted, rows duplicated, a DECIMAL digit, a
-- DATETIME shifted by a microsecond, an hour or +05:30, a string cut by one
-- character, an emoji replaced by '?', JSON members reordered or a JSON value
-- changed) and compared with the generator: the verdict must name exactly
-- the keys and columns that were changed and nothing else. The seed (of the
-- data and of the rows picked) is printed; FMHOST_SEED=N replays a run.
local pool = require 'fmhost.pool'
local gen = require 'fmhost.gen'
local stack = require 'fmhost.stack'
local V = require 'fmhost.validate'
local check = require 'fmhost.check'

local N = 3000
local BASE = 'vmut_base'
local T = 'vmut_t'

local SCHEMA = {
  name = 'vmut',
  columns = {
    { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
    { name = 'd', type = 'DECIMAL(22,9)', nullable = true, null_ratio = 0.02, edge_ratio = 0.1 },
    { name = 'dt', type = 'DATETIME(6)', edge_ratio = 0.05 },
    { name = 's', type = 'VARCHAR(64)', nullable = true, null_ratio = 0.02, edge_ratio = 0.1 },
    { name = 'e', type = 'VARCHAR(32)', charset = 'emoji', min_length = 1 },
    { name = 'j', type = 'JSON', nullable = true, null_ratio = 0.02, depth = 2, width = 4 },
    { name = 'f', type = 'DOUBLE', edge_ratio = 0.1 },
    { name = 'n', type = 'INT', nullable = true, null_ratio = 0.1 },
  },
}

local seed = check.resolve_seed()
print(('validate_mutation_spec: seed %d (FMHOST_SEED=%d replays it)'):format(seed, seed))

local p, g, rng

-- rows picked for a mutation: distinct, from an eligible set
local used = {}
local function pick(c, sql_cond, k)
  local cands = {}
  for row in c:rows('SELECT id FROM ' .. BASE .. ' WHERE ' .. sql_cond .. ' ORDER BY id') do
    if not used[row.id] then cands[#cands + 1] = row.id end
  end
  assert(#cands >= k, 'not enough rows for ' .. sql_cond)
  local out = {}
  for _ = 1, k do
    local i = rng:int(1, #cands)
    out[#out + 1] = cands[i]
    used[cands[i]] = true
    table.remove(cands, i)
  end
  table.sort(out)
  return out
end

local function fresh(keyless)
  p:exec('DROP TABLE IF EXISTS ' .. T)
  if keyless then
    assert(p:exec('CREATE TABLE ' .. T .. ' AS SELECT * FROM ' .. BASE))
  else
    assert(p:exec('CREATE TABLE ' .. T .. ' LIKE ' .. BASE))
    assert(p:exec('INSERT INTO ' .. T .. ' SELECT * FROM ' .. BASE))
  end
end

local function verdict()
  return assert(V.compare { target = { pool = p, table = T }, expected = { generator = g, first = 0, count = N },
                            key = 'id', max_samples = 50, log = false })
end

local function sorted(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  return c
end

-- The set of (key, column) pairs the verdict names as field mismatches.
local function fields(v)
  local out = {}
  for _, m in ipairs(v.mismatches) do out[#out + 1] = m.key .. ':' .. m.column end
  table.sort(out)
  return out
end

-- exactly these problems and nothing else
local function assert_exactly(v, want)
  local c = v.counts
  assert.are.same(sorted(want.missing or {}), sorted(v.missing))
  assert.are.same(sorted(want.extra or {}), sorted(v.extra))
  assert.are.same(sorted(want.duplicated or {}), sorted(v.duplicated))
  assert.are.same(sorted(want.fields or {}), fields(v))
  assert.are.equal(#(want.missing or {}), c.missing)
  assert.are.equal(#(want.extra or {}), c.extra)
  assert.are.equal(#(want.duplicated or {}), c.duplicated)
  assert.are.equal(#(want.fields or {}), c.mismatched_fields)
  assert.are.equal(N, c.expected)
  assert.are.equal(N - #(want.missing or {}), c.matched)
  assert.is_false(v.truncated)
  assert.are.equal(next(want) == nil, v.ok)
  assert.are.equal(seed, v.seed)
  assert.are.same({ 0, N - 1 }, v.range)
end

local function one_field(v, key, column, reason)
  assert_exactly(v, { fields = { key .. ':' .. column } })
  assert.are.equal(reason, v.mismatches[1].reason)
  return v.mismatches[1]
end

-- top-level members of a JSON object text, verbatim (strings and nesting respected)
local function members(json)
  assert(json:sub(1, 1) == '{')
  local out, depth, start, in_str, esc = {}, 0, 2, false, false
  for i = 1, #json do
    local ch = json:sub(i, i)
    if in_str then
      if esc then esc = false
      elseif ch == '\\' then esc = true
      elseif ch == '"' then in_str = false end
    elseif ch == '"' then in_str = true
    elseif ch == '{' or ch == '[' then depth = depth + 1
    elseif ch == '}' or ch == ']' then
      depth = depth - 1
      if depth == 0 then out[#out + 1] = json:sub(start, i - 1) end
    elseif ch == ',' and depth == 1 then
      out[#out + 1] = json:sub(start, i - 1)
      start = i + 1
    end
  end
  return out
end

-- the name of a member (its JSON string as written, escapes and all)
local function member_name(member)
  local first = assert(member:find('"', 1, true), 'a member starts with its name')
  local i = first + 1
  while i <= #member do
    local ch = member:sub(i, i)
    if ch == '\\' then i = i + 2
    elseif ch == '"' then return member:sub(first, i)
    else i = i + 1 end
  end
  error('unterminated member name in ' .. member)
end

describe('fmhost.validate finds exactly what was corrupted #mysql', function()
  lazy_setup(function()
    assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
    p = assert(pool.open(cfg.mysql, { size = 4, acquire_timeout_ms = 60000 }))
    g = assert(gen.new(SCHEMA, { seed = seed }))
    rng = check.Rng.for_case(seed, 1)
    p:exec('DROP TABLE IF EXISTS ' .. BASE)
    assert(p:exec(g:create_table_sql(BASE)))
    assert(p:load { table = BASE, source = g, rows = N })
  end)

  lazy_teardown(function()
    if p then
      p:exec('DROP TABLE IF EXISTS ' .. T)
      p:exec('DROP TABLE IF EXISTS ' .. BASE)
      assert.are.equal(0, p:stats().active)
      p:close()
    end
  end)

  it('finds an untouched copy equal, every column compared', function()
    fresh()
    local v = verdict()
    assert_exactly(v, {})
    assert.are.equal(N, v.counts.target)
    local names = {}
    for _, c in ipairs(v.columns) do names[#names + 1] = c.name .. '=' .. c.compare end
    assert.are.same({ 'd=decimal', 'dt=temporal', 's=string', 'e=string', 'j=json', 'f=double', 'n=integer' }, names)
  end)

  it('names exactly the k deleted rows as missing', function()
    fresh()
    local c <close> = assert(p:acquire())
    local keys = pick(c, 'TRUE', 7)
    assert(p:exec('DELETE FROM ' .. T .. ' WHERE id IN (' .. table.concat(keys, ',') .. ')'))
    assert_exactly(verdict(), { missing = keys })
  end)

  it('names exactly the k rows duplicated in a table without a unique key', function()
    fresh(true)
    local c <close> = assert(p:acquire())
    local keys = pick(c, 'TRUE', 5)
    assert(p:exec('INSERT INTO ' .. T .. ' SELECT * FROM ' .. BASE .. ' WHERE id IN (' .. table.concat(keys, ',') .. ')'))
    local v = verdict()
    assert_exactly(v, { duplicated = keys })
    assert.are.equal(5, v.counts.duplicate_rows)
    assert.are.equal(N + 5, v.counts.target)
  end)

  it('names the row and column of one changed DECIMAL digit', function()
    fresh()
    local c <close> = assert(p:acquire())
    local id = pick(c, 'd IS NOT NULL', 1)[1]
    local d = c:scalar('SELECT d FROM ' .. T .. ' WHERE id = ?', id)
    local pos = #d
    local digit = tonumber(d:sub(pos, pos))
    local changed = d:sub(1, pos - 1) .. tostring(digit == 9 and 8 or digit + 1)
    assert(c:exec('UPDATE ' .. T .. ' SET d = ? WHERE id = ?', pool.decimal(changed), id))
    local m = one_field(verdict(), id, 'd', 'decimal')
    assert.are.equal(changed, m.actual)
    assert.are.equal(V.decimal_canon(d), V.decimal_canon(m.expected))
  end)

  it('names a DATETIME shifted by one microsecond', function()
    fresh()
    local c <close> = assert(p:acquire())
    local id = pick(c, "dt BETWEEN '1001-01-01' AND '9998-12-31'", 1)[1]
    assert(c:exec('UPDATE ' .. T .. ' SET dt = dt + INTERVAL 1 MICROSECOND WHERE id = ?', id))
    local m = one_field(verdict(), id, 'dt', 'temporal')
    assert.matches('+1 microseconds', m.detail, 1, true)
  end)

  it('names a DATETIME shifted by one hour', function()
    fresh()
    local c <close> = assert(p:acquire())
    local id = pick(c, "dt BETWEEN '1001-01-01' AND '9998-12-31'", 1)[1]
    assert(c:exec('UPDATE ' .. T .. ' SET dt = dt - INTERVAL 1 HOUR WHERE id = ?', id))
    local m = one_field(verdict(), id, 'dt', 'temporal')
    assert.matches('-1 hours', m.detail, 1, true)
    assert.matches('a shift of -01:00', m.detail, 1, true)
  end)

  it('names the offset of a DATETIME shifted by a whole number of minutes (+05:30, -00:45)', function()
    fresh()
    local c <close> = assert(p:acquire())
    local ids = pick(c, "dt BETWEEN '1001-01-01' AND '9998-12-31'", 2)
    assert(c:exec('UPDATE ' .. T .. ' SET dt = dt + INTERVAL 330 MINUTE WHERE id = ?', ids[1]))
    assert(c:exec('UPDATE ' .. T .. ' SET dt = dt - INTERVAL 45 MINUTE WHERE id = ?', ids[2]))
    local v = verdict()
    assert_exactly(v, { fields = { ids[1] .. ':dt', ids[2] .. ':dt' } })
    local by = {}
    for _, m in ipairs(v.mismatches) do by[m.key] = m end
    assert.matches('target is +330 minutes from the expected value, a shift of +05:30', by[ids[1]].detail, 1, true)
    assert.matches('target is -45 minutes from the expected value, a shift of -00:45', by[ids[2]].detail, 1, true)
  end)

  it('names a string cut by one character', function()
    fresh()
    local c <close> = assert(p:acquire())
    local id = pick(c, 'CHAR_LENGTH(s) >= 2', 1)[1]
    assert(c:exec('UPDATE ' .. T .. ' SET s = LEFT(s, CHAR_LENGTH(s) - 1) WHERE id = ?', id))
    local m = one_field(verdict(), id, 's', 'string')
    assert.are.equal(m.expected:sub(1, #m.actual), m.actual)
    assert.are.equal(1, utf8.len(m.expected) - utf8.len(m.actual))
  end)

  it("names an emoji replaced by '?'", function()
    fresh()
    local c <close> = assert(p:acquire())
    -- rows whose e holds a 4-byte UTF-8 character
    local id = pick(c, "HEX(e) REGEXP '^(..)*F[0-4]'", 1)[1]
    local e = c:scalar('SELECT e FROM ' .. T .. ' WHERE id = ?', id)
    local replaced = e:gsub('[\xF0-\xF4][\x80-\xBF][\x80-\xBF][\x80-\xBF]', '?', 1)
    assert.are_not.equal(e, replaced)
    assert(c:exec('UPDATE ' .. T .. ' SET e = ? WHERE id = ?', replaced, id))
    local m = one_field(verdict(), id, 'e', 'string')
    assert.are.equal(e, m.expected)
    assert.are.equal(replaced, m.actual)
    -- the character that became '?', by its code point and place
    local pos = e:find('[\xF0-\xF4]')
    local at, code = utf8.len(e:sub(1, pos - 1)), utf8.codepoint(e, pos)
    assert.are.equal(("1 character became '?' (the first, U+%04X at character %d): the target column's character "
      .. 'set cannot hold it'):format(code, at), m.detail)
  end)

  it('accepts JSON whose members were reordered', function()
    fresh()
    local c <close> = assert(p:acquire())
    local ids = pick(c, "JSON_TYPE(j) = 'OBJECT' AND JSON_LENGTH(j) >= 2", 3)
    for _, id in ipairs(ids) do
      local j = c:scalar('SELECT j FROM ' .. T .. ' WHERE id = ?', id)
      local m = members(j)
      local rev = {}
      for i = #m, 1, -1 do rev[#rev + 1] = m[i] end
      local reordered = '{' .. table.concat(rev, ', ') .. '}'
      assert.are_not.equal(j, reordered)
      assert(c:exec('UPDATE ' .. T .. ' SET j = ? WHERE id = ?', reordered, id))
      assert.are.equal(reordered, c:scalar('SELECT j FROM ' .. T .. ' WHERE id = ?', id))
    end
    assert_exactly(verdict(), {})
  end)

  it('names a JSON value that was changed', function()
    fresh()
    local c <close> = assert(p:acquire())
    local id = pick(c, "JSON_TYPE(j) = 'OBJECT' AND JSON_LENGTH(j) >= 1", 1)[1]
    local j = c:scalar('SELECT j FROM ' .. T .. ' WHERE id = ?', id)
    local m = members(j)
    local name = member_name(m[1])
    m[1] = name .. ': "fmhost-changed"'
    local changed = '{' .. table.concat(m, ',') .. '}'
    assert(c:exec('UPDATE ' .. T .. ' SET j = ? WHERE id = ?', changed, id))
    local mm = one_field(verdict(), id, 'j', 'json')
    assert.matches('^JSON differs at %$', mm.detail)
  end)

  it('names every corruption at once, each with its key and column', function()
    fresh()
    local c <close> = assert(p:acquire())
    local del = pick(c, 'TRUE', 3)
    local dec = pick(c, 'ABS(d) < 1e12', 1)[1]
    local us = pick(c, "dt BETWEEN '1001-01-01' AND '9998-12-31'", 1)[1]
    local cut = pick(c, 'CHAR_LENGTH(s) >= 2', 1)[1]
    local nul = pick(c, 'n IS NOT NULL', 1)[1]
    local reo = pick(c, "JSON_TYPE(j) = 'OBJECT' AND JSON_LENGTH(j) >= 2", 1)[1]
    assert(p:exec('DELETE FROM ' .. T .. ' WHERE id IN (' .. table.concat(del, ',') .. ')'))
    assert(c:exec('UPDATE ' .. T .. ' SET d = d + 1 WHERE id = ?', dec))
    assert(c:exec('UPDATE ' .. T .. ' SET dt = dt + INTERVAL 1 MICROSECOND WHERE id = ?', us))
    assert(c:exec('UPDATE ' .. T .. ' SET s = LEFT(s, CHAR_LENGTH(s) - 1) WHERE id = ?', cut))
    assert(c:exec('UPDATE ' .. T .. ' SET n = NULL WHERE id = ?', nul))
    local j = c:scalar('SELECT j FROM ' .. T .. ' WHERE id = ?', reo)
    local m = members(j)
    m[1], m[#m] = m[#m], m[1]
    assert(c:exec('UPDATE ' .. T .. ' SET j = ? WHERE id = ?', '{' .. table.concat(m, ',') .. '}', reo))
    assert(p:exec('INSERT INTO ' .. T .. ' SELECT * FROM ' .. BASE .. ' WHERE id = ?', del[1]))
    local v = verdict()
    assert_exactly(v, { missing = { del[2], del[3] },
                        fields = { dec .. ':d', us .. ':dt', cut .. ':s', nul .. ':n' } })
    local by = {}
    for _, mm in ipairs(v.mismatches) do by[mm.column] = mm end
    assert.are.equal('null_actual', by.n.reason)
    assert.are.equal(pool.NULL, by.n.actual)
    local text = V.format(v)
    assert.matches('missing keys (2)', text, 1, true)
    assert.matches(('key %d column n [null_actual]'):format(nul), text, 1, true)
  end)
end)
