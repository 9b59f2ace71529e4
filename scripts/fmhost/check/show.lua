-- A stable, readable rendering of Lua values for counterexamples: table
-- keys in sorted order (array part first), strings quoted with escapes,
-- floats that read back to the same number, cycles marked. The output is
-- Lua syntax for plain data, so a counterexample can be pasted into a spec.
local M = {}

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch('%a+') do keywords[w] = true end

-- code points that would render invisibly or reorder the text around them
local function invisible(cp)
  return (cp >= 0x80 and cp <= 0x9F) or (cp >= 0x200B and cp <= 0x200F)
    or (cp >= 0x202A and cp <= 0x202E) or (cp >= 0x2066 and cp <= 0x2069)
    or cp == 0xFEFF or cp == 0x00AD
end

local named = { ['\n'] = '\\n', ['\t'] = '\\t', ['\r'] = '\\r', ['"'] = '\\"', ['\\'] = '\\\\',
  ['\a'] = '\\a', ['\b'] = '\\b', ['\f'] = '\\f', ['\v'] = '\\v' }

local function escape_byte(c)
  return named[c] or string.format('\\x%02X', c:byte())
end

function M.quote(s)
  if utf8.len(s) then
    local out = {}
    for _, cp in utf8.codes(s) do
      if cp < 0x80 then
        local c = string.char(cp)
        if named[c] or cp < 0x20 or cp == 0x7F then out[#out + 1] = escape_byte(c)
        else out[#out + 1] = c end
      elseif invisible(cp) then
        out[#out + 1] = string.format('\\u{%X}', cp)
      else
        out[#out + 1] = utf8.char(cp)
      end
    end
    return '"' .. table.concat(out) .. '"'
  end
  -- not UTF-8: every byte outside printable ASCII is escaped
  return '"' .. s:gsub('[%c"\\\128-\255]', escape_byte) .. '"'
end

function M.number(x)
  if math.type(x) == 'integer' then return string.format('%d', x) end
  if x ~= x then return '0/0' end
  if x == math.huge then return 'math.huge' end
  if x == -math.huge then return '-math.huge' end
  if x == 0 then return (1 / x < 0) and '-0.0' or '0.0' end
  local s
  for p = 1, 17 do
    s = string.format('%.' .. p .. 'g', x)
    if tonumber(s) == x then break end
  end
  if not s:find('[%.eEn]') then s = s .. '.0' end
  return s
end

local type_rank = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return (type_rank[ta] or 9) < (type_rank[tb] or 9) or
    ((type_rank[ta] or 9) == (type_rank[tb] or 9) and ta < tb) end
  if ta == 'number' or ta == 'string' then return a < b end
  if ta == 'boolean' then return (not a) and b end
  return tostring(a) < tostring(b)
end

local function render(v, path, depth, out)
  local t = type(v)
  if t == 'string' then out[#out + 1] = M.quote(v)
  elseif t == 'number' then out[#out + 1] = M.number(v)
  elseif t == 'boolean' or t == 'nil' then out[#out + 1] = tostring(v)
  elseif t == 'table' then
    if path[v] then out[#out + 1] = '<cycle>'; return end
    if depth > 32 then out[#out + 1] = '{...}'; return end
    path[v] = true
    local n = 0
    while rawget(v, n + 1) ~= nil do n = n + 1 end
    local keys = {}
    for k in next, v do
      if not (math.type(k) == 'integer' and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, key_less)
    out[#out + 1] = '{'
    local first = true
    local function sep() if first then first = false else out[#out + 1] = ', ' end end
    for i = 1, n do sep(); render(rawget(v, i), path, depth + 1, out) end
    for _, k in ipairs(keys) do
      sep()
      if type(k) == 'string' and k:match('^[%a_][%w_]*$') and not keywords[k] then
        out[#out + 1] = k
      else
        out[#out + 1] = '['; render(k, path, depth + 1, out); out[#out + 1] = ']'
      end
      out[#out + 1] = ' = '
      render(rawget(v, k), path, depth + 1, out)
    end
    out[#out + 1] = '}'
    path[v] = nil
  else
    out[#out + 1] = '<' .. t .. '>'
  end
end

-- show(v [, max]) -> string; with max, longer output is cut and marked.
function M.show(v, max)
  local out = {}
  render(v, {}, 0, out)
  local s = table.concat(out)
  if max and #s > max then
    local cut = max
    -- do not cut inside a UTF-8 sequence
    while cut > 0 and (s:byte(cut + 1) or 0) >= 0x80 and (s:byte(cut + 1) or 0) < 0xC0 do cut = cut - 1 end
    s = s:sub(1, cut) .. string.format('... (%d bytes)', #s)
  end
  return s
end

return M
