-- Shrink trees: a generated value together with the ways to make it
-- simpler. A tree is { value = v, kids = function() -> iterator }, where the
-- iterator returns child trees (simpler candidates, best first) and nil at
-- the end. Children are built lazily, so a shrinker that stops at the first
-- failing candidate never pays for the rest. Generators combine trees
-- (map, filter, bind, zip, arrays), which is what makes shrinking
-- integrated: nobody writes a shrinker for a record or an array.
local T = {}

local function none() return nil end
local function no_kids() return none end

function T.leaf(v) return { value = v, kids = no_kids } end

function T.list_iter(list)
  local i = 0
  return function() i = i + 1; return list[i] end
end

-- Concatenate iterators; `thunks` is an array of functions that each make
-- one iterator, called only when the previous ones are exhausted.
function T.chain(thunks)
  local i, cur = 0, nil
  return function()
    while true do
      if cur then
        local x = cur()
        if x ~= nil then return x end
      end
      i = i + 1
      local th = thunks[i]
      if not th then return nil end
      cur = th()
    end
  end
end

function T.imap(it, f)
  return function()
    local x = it()
    if x ~= nil then return f(x) end
  end
end

function T.ifilter(it, p)
  return function()
    while true do
      local x = it()
      if x == nil or p(x) then return x end
    end
  end
end

-- A tree from a value and a function listing simpler values.
function T.unfold(v, shrink)
  return {
    value = v,
    kids = function()
      local list = shrink(v) or {}
      return T.imap(T.list_iter(list), function(c) return T.unfold(c, shrink) end)
    end,
  }
end

function T.map(t, f)
  return {
    value = f(t.value),
    kids = function()
      return T.imap(t.kids(), function(c) return T.map(c, f) end)
    end,
  }
end

function T.filter(t, p)
  return {
    value = t.value,
    kids = function()
      return T.imap(T.ifilter(t.kids(), function(c) return p(c.value) end),
        function(c) return T.filter(c, p) end)
    end,
  }
end

-- Candidates that replace one component at a time; `trees` has n entries.
local function component_kids(trees, n, rebuild)
  local thunks = {}
  for i = 1, n do
    thunks[i] = function()
      return T.imap(trees[i].kids(), function(c)
        local copy = table.move(trees, 1, n, 1, {})
        copy[i] = c
        return rebuild(copy)
      end)
    end
  end
  return T.chain(thunks)
end

-- Fixed-size product (tuple, record): combine(values, n) builds the value.
function T.zip(trees, n, combine)
  local vals = {}
  for i = 1, n do vals[i] = trees[i].value end
  local function rebuild(ts) return T.zip(ts, n, combine) end
  return {
    value = combine(vals, n),
    kids = function() return component_kids(trees, n, rebuild) end,
  }
end

-- Integer shrink candidates: the destination first, then halfway there,
-- a quarter of the way, ..., finally one step closer. Binary search on a
-- monotone property therefore lands exactly on the boundary.
local function quot2(n)
  if n >= 0 then return n >> 1 end
  return (n + 1) // 2               -- rounds toward zero, never overflows
end

function T.int_towards(dest, x)
  if x == dest then return {} end
  local out = { dest }
  local h = quot2(x - dest)
  while h ~= 0 do
    local c = x - h
    if c ~= out[#out] then out[#out + 1] = c end
    h = quot2(h)
  end
  return out
end

-- A strict "simpler than" order on plain values, used to put array
-- elements in a canonical order while shrinking ({7, 3} becomes {3, 7}).
local rank = { ['nil'] = 0, boolean = 1, number = 2, string = 3, table = 4 }
local show -- set by T.set_show (avoids a require cycle)
function T.set_show(f) show = f end

function T.simpler(a, b)
  local ta, tb = type(a), type(b)
  local ra, rb = rank[ta] or 5, rank[tb] or 5
  if ra ~= rb then return ra < rb end
  if ta == 'boolean' then return a == false and b == true end
  if ta == 'number' then
    local aa, ab = math.abs(a), math.abs(b)
    if aa ~= ab then return aa < ab end
    return a > b                     -- 1 before -1
  end
  if ta == 'string' then
    if #a ~= #b then return #a < #b end
    return a < b
  end
  if ta == 'table' and show then
    local sa, sb = show(a), show(b)
    if #sa ~= #sb then return #sa < #sb end
    return sa < sb
  end
  return false
end

-- Variable-size sequence of element trees with a minimum length.
-- make(values, n) builds the value. Candidates, in order: remove a chunk
-- (the whole removable part first, then halves, quarters, ... single
-- elements), shrink one element, swap two neighbours into simpler order.
function T.array(trees, min, make)
  local n = #trees
  local vals = {}
  for i = 1, n do vals[i] = trees[i].value end
  local function rebuild(ts) return T.array(ts, min, make) end

  local function removals()
    local k, start = n, 1
    return function()
      while k >= 1 do
        if n - k >= min and start <= n then
          local stop = math.min(start + k - 1, n)
          local ts = {}
          for i = 1, start - 1 do ts[#ts + 1] = trees[i] end
          for i = stop + 1, n do ts[#ts + 1] = trees[i] end
          start = start + k
          if #ts >= min then return rebuild(ts) end
        else
          k = k // 2
          start = 1
        end
      end
      return nil
    end
  end

  local function swaps()
    local i = 0
    return function()
      while i < n - 1 do
        i = i + 1
        if T.simpler(trees[i + 1].value, trees[i].value) then
          local ts = table.move(trees, 1, n, 1, {})
          ts[i], ts[i + 1] = ts[i + 1], ts[i]
          return rebuild(ts)
        end
      end
      return nil
    end
  end

  return {
    value = make(vals, n),
    kids = function()
      return T.chain {
        removals,
        function() return component_kids(trees, n, rebuild) end,
        swaps,
      }
    end,
  }
end

return T
