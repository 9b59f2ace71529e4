-- fmhost.check.rows: generated rows as fmhost.check generators (gen.check_row, g:check_row).
--
--   local row = gen.check_row(g, {from = 0, to = 100000})
--   check.property{ name = ..., gen = row, fn = function(v) ... v.row ... end }
--
-- A drawn value is {index = i, plain = {names...}, row = g:row(i, {plain=...})}
-- (with by_name = true, `row` is keyed by column name). Row i comes from
-- (seed, i) alone, so the index is the whole case. Shrinking keeps the
-- index and makes columns plain — not NULL, no edge case, the type's
-- simplest value (0, '', 2000-01-01, {}) — first all of them at once, then
-- one at a time, so a counterexample ends with only the columns that make
-- it fail left as generated; then it tries smaller indices. Unique
-- columns stay as generated (they are keys).
local check = require 'fmhost.check'

local M = {}

local function materialize(g, i, plain, by_name)
  local names = {}
  for name in pairs(plain) do names[#names + 1] = name end
  table.sort(names)
  local opts = #names > 0 and { plain = names } or nil
  return { index = i, plain = names, row = by_name and g:record(i, opts) or g:row(i, opts) }
end

function M.row(g, opts)
  opts = opts or {}
  local limit = g:row_limit()
  local lo = opts.from or 0
  local hi = opts.to or math.min(limit, 1 << 40)
  if math.type(lo) ~= 'integer' or math.type(hi) ~= 'integer' or lo < 0 or hi <= lo or hi > limit then
    error(('gen.check_row: need integers 0 <= from < to <= %d (the row limit), got %s, %s')
      :format(limit, tostring(lo), tostring(hi)), 2)
  end
  local by_name = opts.by_name
  local schema = g:schema()
  local shrinkable = {}
  for _, c in ipairs(schema.columns) do
    if not c.unique then shrinkable[#shrinkable + 1] = c.name end
  end

  local function shrink(v)
    local set = {}
    for _, n in ipairs(v.plain) do set[n] = true end
    local out = {}
    local left = {}
    for _, n in ipairs(shrinkable) do if not set[n] then left[#left + 1] = n end end
    if #left > 1 then
      local all = {}
      for _, n in ipairs(shrinkable) do all[n] = true end
      out[#out + 1] = materialize(g, v.index, all, by_name)
    end
    for _, n in ipairs(left) do
      local s = {}
      for k in pairs(set) do s[k] = true end
      s[n] = true
      out[#out + 1] = materialize(g, v.index, s, by_name)
    end
    if v.index > lo then
      out[#out + 1] = materialize(g, lo, set, by_name)
      local mid = lo + (v.index - lo) // 2
      if mid ~= lo and mid ~= v.index then out[#out + 1] = materialize(g, mid, set, by_name) end
    end
    return out
  end

  return check.gen.custom {
    label = 'gen.row',
    generate = function(rng)
      return materialize(g, rng:int(lo, hi - 1), {}, by_name)
    end,
    shrink = shrink,
  }
end

return M
