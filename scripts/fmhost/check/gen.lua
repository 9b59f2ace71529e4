-- Generators for property checks. A generator draws a value from an Rng
-- together with its shrink tree (fmhost.check.tree), so every combination
-- below shrinks without a user-written shrinker.
--
--   local g = require('fmhost.check').gen
--   g.int(lo, hi)  g.float{min, max, special}  g.bool()
--   g.string{min, max, utf8, chars}  g.array(gen, {min, max})
--   g.record{k = gen}  g.tuple(g1, g2, ...)  g.one_of{g1, g2}
--   g.elements{v1, v2}  g.frequency{{w, gen}, ...}  g.constant(v)
--   g.sized(function(size) return gen end)
--   g.custom{generate = function(rng, size) ... end, shrink = function(v) return {...} end}
--   gen:map(f)  gen:filter(pred [, max_tries])  gen:bind(f)  gen:sample(n [, seed])
--   g.is(x) -> bool;  g.new(function(rng, size) return tree end) for tree-level generators
--
-- `size` runs from 1 to 100 as a property's runs proceed; arrays and
-- strings scale their length with it, so early cases are small.
-- custom's rng is a fmhost.check.rng: rng:int(lo, hi), rng:float(),
-- rng:bool(p), rng:next() (64 random bits), rng:split(); its shrink(v)
-- lists simpler values, best first, and is applied again to each.
local T = require 'fmhost.check.tree'
local Rng = require 'fmhost.check.rng'

local G = {}
local Gen = {}
Gen.__index = Gen
Gen.__name = 'fmhost.check.Gen'

local function new(generate, label)
  return setmetatable({ generate = generate, label = label }, Gen)
end
G.new = new

function G.is(x) return getmetatable(x) == Gen end

local function check_gen(x, what, level)
  if getmetatable(x) ~= Gen then
    error(string.format('%s: expected a generator (check.gen.*), got %s', what, type(x)), (level or 2) + 1)
  end
  return x
end

local function check_int(x, what, level)
  if math.type(x) ~= 'integer' then
    if type(x) == 'number' and x == math.floor(x) and math.tointeger(x) then return math.tointeger(x) end
    error(string.format('%s: expected an integer, got %s', what, tostring(x)), (level or 2) + 1)
  end
  return x
end

-- The value of a draw with its tree; generate(rng, size) -> tree.
function Gen:draw(rng, size) return self.generate(rng, size or 100) end

-- A few values for a look in the REPL: gen:sample(10, seed)
function Gen:sample(n, seed)
  n = n or 10
  local out = {}
  for i = 1, n do
    local size = n >= 100 and (i - 1) % 100 + 1 or math.max(1, (i * 100 + n - 1) // n)
    out[i] = self.generate(Rng.for_case(seed or 0, i), size).value
  end
  return out
end

function Gen:map(f)
  local base = self
  return new(function(rng, size) return T.map(base.generate(rng, size), f) end, 'map')
end

function Gen:filter(pred, max_tries)
  local base = self
  max_tries = max_tries or 100
  return new(function(rng, size)
    for _ = 1, max_tries do
      local t = base.generate(rng, size)
      if pred(t.value) then return T.filter(t, pred) end
    end
    error(string.format('check.gen filter: the predicate rejected %d generated values in a row; '
      .. 'loosen it, raise max_tries (gen:filter(pred, n)) or generate the wanted values directly with map',
      max_tries), 0)
  end, 'filter')
end

-- Generate a, then a generator from f(a). Shrinking a regenerates b from
-- the same random stream, so b stays as similar as the new a allows.
function Gen:bind(f)
  local base = self
  return new(function(rng, size)
    local ta = base.generate(rng, size)
    local sub = rng:next()
    local function build(t)
      local gb = f(t.value)
      if getmetatable(gb) ~= Gen then error('check.gen bind: the function must return a generator', 0) end
      local tb = gb.generate(Rng.new(sub), size)
      return {
        value = tb.value,
        kids = function()
          return T.chain { function() return T.imap(t.kids(), build) end, tb.kids }
        end,
      }
    end
    return build(ta)
  end, 'bind')
end

function G.constant(v)
  return new(function() return T.leaf(v) end, 'constant')
end

function G.sized(f)
  return new(function(rng, size)
    return check_gen(f(size), 'check.gen.sized: the function', 1).generate(rng, size)
  end, 'sized')
end

function G.custom(spec)
  if type(spec) ~= 'table' or type(spec.generate) ~= 'function' then
    error('check.gen.custom: expected {generate = function(rng, size) ... end [, shrink = function(v) return {...} end]}', 2)
  end
  local gen, shrink = spec.generate, spec.shrink or function() return {} end
  return new(function(rng, size) return T.unfold(gen(rng, size), shrink) end, spec.label or 'custom')
end

-- Integers ------------------------------------------------------------------

-- an integer tree over [lo, hi] shrinking toward dest, unbiased draw
local function uniform_int(rng, lo, hi, dest)
  local x = rng:int(lo, hi)
  return T.unfold(x, function(v) return T.int_towards(dest, v) end)
end

-- g.int(lo, hi): uniform in [lo, hi] (default: the whole 64-bit range),
-- with one draw in ten taken from the edges (lo, hi, the origin and its
-- neighbours). Shrinks toward 0, or toward the bound nearest 0.
function G.int(lo, hi)
  lo = check_int(lo == nil and math.mininteger or lo, 'check.gen.int lo')
  hi = check_int(hi == nil and math.maxinteger or hi, 'check.gen.int hi')
  if lo > hi then error(string.format('check.gen.int: empty range [%d, %d]', lo, hi), 2) end
  local dest = (lo <= 0 and hi >= 0) and 0 or (lo > 0 and lo or hi)
  local edges = { lo, hi, dest }
  if dest < hi then edges[#edges + 1] = dest + 1 end
  if dest > lo then edges[#edges + 1] = dest - 1 end
  local function shrink(v) return T.int_towards(dest, v) end
  return new(function(rng, _)
    local x
    if rng:int(1, 10) == 1 then x = edges[rng:int(1, #edges)] else x = rng:int(lo, hi) end
    return T.unfold(x, shrink)
  end, 'int')
end

function G.bool()
  local function shrink(v) if v then return { false } end return {} end
  return new(function(rng) return T.unfold(rng:int(0, 1) == 1, shrink) end, 'bool')
end

-- Floats --------------------------------------------------------------------

local DBL_MAX = 1.7976931348623157e308

-- Float shrink candidates. "Simpler" means: an integer before any
-- non-integer, then closer to dest; integers shrink by jumps of powers of
-- ten and then by halving the distance (as int does), non-integers first
-- try their neighbouring integers and shorter decimals. Each accepted
-- candidate is simpler by that order, so shrinking cannot cycle.
local function float_towards(dest, lo, hi)
  local function integral(v) return v == math.floor(v) end
  return function(x)
    if x == dest then return {} end
    if x ~= x or x == math.huge or x == -math.huge then return { dest } end
    if x == 0 and dest == 0 then return { 0.0 } end -- -0.0
    local out, seen = {}, { [x] = true }
    local dist = math.abs(x - dest)
    local x_int = integral(x)
    local function add(c)
      if c == nil then return end
      c = c + 0.0
      if c ~= c or c < lo or c > hi or seen[c] then return end
      local closer = math.abs(c - dest) < dist
      if c == dest or (integral(c) and not x_int) or (closer and (integral(c) or not x_int)) then
        seen[c] = true
        out[#out + 1] = c
      end
    end
    add(dest)
    local sign = x < dest and -1 or 1
    if not x_int then
      local t = x >= 0 and math.floor(x) or math.ceil(x)  -- toward zero
      add(t)
      add(t + (x >= 0 and 1 or -1))                       -- away from zero
      for p = 1, 15 do add(tonumber(string.format('%.' .. p .. 'g', x))) end
      local h = (x - dest) / 2
      for _ = 1, 8 do add(x - h); h = h / 2 end
    else
      local e = math.floor(math.log(dist, 10))
      if e >= 1 then
        for _, k in ipairs(T.int_towards(0, e)) do add(dest + sign * 10.0 ^ k) end
      end
      local h = x - dest
      for _ = 1, 64 do
        h = h / 2
        h = h >= 0 and math.floor(h) or math.ceil(h)
        if h == 0 then break end
        add(x - h)
      end
    end
    return out
  end
end

-- g.float() or g.float(lo, hi) or g.float{min=, max=, special=false}:
-- finite floats in [min, max] (default: every finite double). One draw in
-- ten is an edge case (0, the bounds, +-1, +-0.5, tiny values, 2^53);
-- magnitudes are drawn on a log scale (10^-20 .. 10^20) for wide ranges
-- and mostly uniformly for narrow ones. special=true makes one draw in
-- twenty inf, -inf, nan or -0.0. Shrinks toward 0 (or the bound nearest 0),
-- integers first.
function G.float(a, b)
  local o = type(a) == 'table' and a or { min = a, max = b }
  local lo, hi = o.min or -DBL_MAX, o.max or DBL_MAX
  if type(lo) ~= 'number' or type(hi) ~= 'number' or not (lo <= hi) then
    error('check.gen.float: expected min <= max', 2)
  end
  lo, hi = lo + 0.0, hi + 0.0
  local dest = (lo <= 0 and hi >= 0) and 0.0 or (lo > 0 and lo or hi)
  local edges = {}
  for _, e in ipairs { dest, lo, hi, 1.0, -1.0, 0.5, -0.5, 1e-300, -1e-300, 2.0 ^ 53, -2.0 ^ 53 } do
    if e >= lo and e <= hi then edges[#edges + 1] = e end
  end
  local specials = o.special and { math.huge, -math.huge, 0 / 0, -0.0 }
  local wide = (hi - lo) > 1e12
  local emax = math.min(20, math.floor(math.log(math.max(math.abs(lo), math.abs(hi), 1e-300), 10)))
  local shrink = float_towards(dest, lo, hi)
  return new(function(rng)
    local x
    local r = rng:int(1, 10)
    if specials and rng:int(1, 20) == 1 then
      x = specials[rng:int(1, #specials)]
    elseif r == 1 then
      x = edges[rng:int(1, #edges)]
    elseif r <= (wide and 9 or 3) then -- log scale: sign * mantissa * 10^e
      local e = rng:int(-20, math.max(-20, emax))
      x = (rng:bool() and -1 or 1) * rng:float() * 10.0 ^ e
      if x < lo or x > hi then x = nil end
    end
    if x == nil then
      local u = rng:float()
      x = lo * (1 - u) + hi * u
      if x < lo then x = lo elseif x > hi then x = hi end
    end
    return T.unfold(x, shrink)
  end, 'float')
end

-- Choices -------------------------------------------------------------------

function G.elements(values)
  if type(values) ~= 'table' or #values == 0 then
    error('check.gen.elements: expected a non-empty array of values', 2)
  end
  local n = #values
  return new(function(rng)
    return T.map(uniform_int(rng, 1, n, 1), function(i) return values[i] end)
  end, 'elements')
end

function G.one_of(gens)
  if type(gens) ~= 'table' or #gens == 0 then error('check.gen.one_of: expected a non-empty array of generators', 2) end
  for i, x in ipairs(gens) do check_gen(x, 'check.gen.one_of[' .. i .. ']') end
  local n = #gens
  local index = new(function(rng) return uniform_int(rng, 1, n, 1) end)
  return index:bind(function(i) return gens[i] end)
end

function G.frequency(pairs_)
  if type(pairs_) ~= 'table' or #pairs_ == 0 then
    error('check.gen.frequency: expected {{weight, gen}, ...}', 2)
  end
  local cum, total = {}, 0
  for i, p in ipairs(pairs_) do
    local w = p[1]
    if type(w) ~= 'number' or w < 0 or math.type(w) ~= 'integer' then
      error('check.gen.frequency: weight ' .. i .. ' must be a non-negative integer', 2)
    end
    check_gen(p[2], 'check.gen.frequency[' .. i .. ']')
    total = total + w
    cum[i] = total
  end
  if total == 0 then error('check.gen.frequency: all weights are zero', 2) end
  local function pick(r)
    for i = 1, #cum do if r <= cum[i] then return pairs_[i][2] end end
  end
  -- shrinking the drawn number toward 1 moves toward the first entries
  local index = new(function(rng) return uniform_int(rng, 1, total, 1) end)
  return index:bind(pick)
end

-- Products ------------------------------------------------------------------

function G.tuple(...)
  local gens = table.pack(...)
  for i = 1, gens.n do check_gen(gens[i], 'check.gen.tuple argument ' .. i) end
  local n = gens.n
  local function combine(vals, k) return table.move(vals, 1, k, 1, {}) end
  return new(function(rng, size)
    local trees = {}
    for i = 1, n do trees[i] = gens[i].generate(rng, size) end
    return T.zip(trees, n, combine)
  end, 'tuple')
end

local key_rank = { number = 1, string = 2, boolean = 3 }
local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b)
    local ra, rb = key_rank[type(a)] or 9, key_rank[type(b)] or 9
    if ra ~= rb then return ra < rb end
    if ra == 3 then return (not a) and b end
    if ra == 9 then return tostring(a) < tostring(b) end
    return a < b
  end)
  return ks
end

-- Fields are drawn in sorted key order, so a record's cases do not depend
-- on the order `pairs` happens to visit its fields.
function G.record(fields)
  if type(fields) ~= 'table' then error('check.gen.record: expected a table of generators', 2) end
  local keys = sorted_keys(fields)
  for _, k in ipairs(keys) do check_gen(fields[k], 'check.gen.record field ' .. tostring(k)) end
  local n = #keys
  local function combine(vals)
    local r = {}
    for i = 1, n do r[keys[i]] = vals[i] end
    return r
  end
  return new(function(rng, size)
    local trees = {}
    for i = 1, n do trees[i] = fields[keys[i]].generate(rng, size) end
    return T.zip(trees, n, combine)
  end, 'record')
end

-- length in [min, max], the upper end scaled by size (1..100)
local function length_opts(o, a, b, what)
  local min, max
  if type(o) == 'table' then min, max = o.min, o.max else min, max = a, b end
  min = check_int(min or 0, what .. ' min', 3)
  max = check_int(max or min + 30, what .. ' max', 3)
  if min < 0 or max < min then
    error(string.format('%s: expected 0 <= min <= max, got min=%d max=%d', what, min, max), 3)
  end
  return min, max
end

local function draw_length(rng, size, min, max)
  local top = min + ((max - min) * math.min(size, 100) + 99) // 100
  return rng:int(min, math.min(top, max))
end

-- A generator of a drawn number (min..max, growing with size) of values
-- of elem, built by make(vals, n) and shrunk as T.array shrinks (fewer,
-- then simpler elements).
local function sequence(elem, min, max, make, kind)
  return new(function(rng, size)
    local len = draw_length(rng, size, min, max)
    local trees = {}
    for i = 1, len do trees[i] = elem.generate(rng, size) end
    return T.array(trees, min, make)
  end, kind)
end

-- g.array(gen, {min=0, max=min+30}) or g.array(gen, min, max)
function G.array(gen, o, b)
  check_gen(gen, 'check.gen.array')
  local min, max = length_opts(o, type(o) == 'number' and o or nil, b, 'check.gen.array')
  local function make(vals, n) return table.move(vals, 1, n, 1, {}) end
  return sequence(gen, min, max, make, 'array')
end

-- Strings -------------------------------------------------------------------

local function ascii_alphabet()
  local s = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '
  local list = {}
  for c in s:gmatch('.') do list[#list + 1] = c end
  for b = 0x21, 0x7E do
    local c = string.char(b)
    if not s:find(c, 1, true) then list[#list + 1] = c end
  end
  list[#list + 1] = '\t'
  list[#list + 1] = '\n'
  return list
end
local ASCII = ascii_alphabet()

-- code point ranges across scripts and UTF-8 sequence lengths
local function cp_range(lo, hi)
  return new(function(rng) return T.map(uniform_int(rng, lo, hi, lo), utf8.char) end)
end

local UTF8_CHAR = G.frequency {
  { 40, G.elements(ASCII) },                 -- 1 byte
  { 8, cp_range(0x00C0, 0x024F) },           -- Latin-1 and Latin Extended (2 bytes)
  { 5, cp_range(0x0370, 0x04FF) },           -- Greek, Cyrillic
  { 4, cp_range(0x05D0, 0x05EA) },           -- Hebrew (right-to-left)
  { 4, cp_range(0x0621, 0x064A) },           -- Arabic (right-to-left)
  { 4, cp_range(0x0300, 0x036F) },           -- combining diacritical marks
  { 8, cp_range(0x4E00, 0x9FFF) },           -- CJK ideographs (3 bytes)
  { 3, cp_range(0x3041, 0x3096) },           -- Hiragana
  { 3, cp_range(0xAC00, 0xD7A3) },           -- Hangul syllables
  { 3, cp_range(0x2010, 0x2BFF) },           -- punctuation, arrows, maths, symbols
  { 7, cp_range(0x1F300, 0x1FAFF) },         -- emoji and pictographs (4 bytes)
  { 2, cp_range(0x20000, 0x2A6DF) },         -- CJK extension B (4 bytes)
  { 3, G.elements {                          -- invisible, joining and edge characters
    '\u{FEFF}', '\u{200F}', '\u{202E}', '\u{200D}', '\u{00A0}', '\u{FFFD}', '\u{0301}',
    '\u{1F3FD}', '\u{1F1EB}', '\u{1F1F7}', '\u{E000}', '\u{10FFFF}',
  } },
}

local function split_chars(chars)
  local list = {}
  if type(chars) == 'table' then
    for i, c in ipairs(chars) do
      if type(c) ~= 'string' then error('check.gen.string: chars[' .. i .. '] is not a string', 3) end
      list[i] = c
    end
  elseif type(chars) == 'string' then
    if utf8.len(chars) then
      for _, cp in utf8.codes(chars) do list[#list + 1] = utf8.char(cp) end
    else
      for c in chars:gmatch('.') do list[#list + 1] = c end
    end
  else
    error('check.gen.string: chars must be a string or an array of strings', 3)
  end
  if #list == 0 then error('check.gen.string: chars is empty', 3) end
  return list
end

-- g.string{min=0, max=min+30, utf8=false, chars=nil}: length counts
-- characters (code points with utf8=true, as a VARCHAR(n) in utf8mb4
-- does). Default alphabet: printable ASCII plus tab and newline;
-- utf8=true draws valid UTF-8 across 1-4 byte sequences (Latin, Greek,
-- Cyrillic, Hebrew, Arabic, combining marks, CJK, Hangul, emoji, zero-width
-- joiners, skin-tone modifiers, regional indicators, BOM, bidi controls);
-- chars= gives an alphabet (a string, split into UTF-8
-- characters when it is valid UTF-8, or an array of strings). Shrinks to
-- fewer characters and toward the alphabet's first ("a").
function G.string(o)
  o = o or {}
  if type(o) ~= 'table' then error('check.gen.string: expected an options table {min, max, utf8, chars}', 2) end
  local min, max = length_opts(o, nil, nil, 'check.gen.string')
  local char
  if o.chars then char = G.elements(split_chars(o.chars))
  elseif o.utf8 then char = UTF8_CHAR
  else char = G.elements(ASCII) end
  local function make(vals, n) return table.concat(vals, '', 1, n) end
  return sequence(char, min, max, make, 'string')
end

return G
