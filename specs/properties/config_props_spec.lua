-- Property checks of fmhost.config over generated configurations:
-- valid overlays load exactly what they say (property 21), the layers apply
-- in their order for any environment (property 22), and every class of
-- broken input gives its one precise line (property 3). The generators read
-- config/schema.yaml, so keys added later are checked too.
local config = require 'fmhost.config'
local check = require 'fmhost.check'
local T = require 'fmhost.testing'
local g = check.gen

local root = _FMHOST_ROOT
local schema_file = root .. '/config/schema.yaml'
local default_file = root .. '/config/default.yaml'
local schema = assert(config.schema(schema_file))
local baseline = assert(config.load { dir = root .. '/config', root = root })

local P = 'Feature: flink-mysql-connector-test, '

-- Helpers ---------------------------------------------------------------------

local function leaf(key) return key:match('([^.]+)$') end
local function parent(key) return key:match('^(.*)%.[^.]+$') or '' end

-- Restricted Damerau-Levenshtein distance, case-insensitive.
local function distance(a, b)
  a, b = a:lower(), b:lower()
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:sub(i, i) == b:sub(j - 1, j - 1) and a:sub(i - 1, i - 1) == b:sub(j, j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[#a][#b]
end

-- A YAML double-quoted scalar for any UTF-8 string: non-printable
-- characters become escapes, the rest stays as written.
local function dq(s)
  local out = { '"' }
  for _, cp in utf8.codes(s) do
    local ch
    if cp == 0x22 then ch = '\\"'
    elseif cp == 0x5C then ch = '\\\\'
    elseif cp < 0x20 or (cp >= 0x7F and cp <= 0x9F) or cp == 0xFEFF or cp == 0xFFFE or cp == 0xFFFF
        or cp == 0x2028 or cp == 0x2029 then -- YAML counts NEL, LS and PS as line breaks
      ch = cp <= 0xFF and string.format('\\x%02X', cp) or string.format('\\u%04X', cp)
    else
      ch = utf8.char(cp)
    end
    out[#out + 1] = ch
  end
  out[#out + 1] = '"'
  return table.concat(out)
end

local function quote_lua_pattern(s) return (s:gsub('%p', '%%%0')) end

-- Render entries {key=, yaml=} (in order) as a YAML file in one of three
-- styles; returns the text and the line of every key.
local function emit(entries, style)
  local out, lines = { '# written by config_props_spec' }, {}
  if style == 'dotted' then
    for _, e in ipairs(entries) do
      out[#out + 1] = e.key .. ': ' .. e.yaml
      lines[e.key] = #out
    end
    return table.concat(out, '\n') .. '\n', lines
  end
  -- a tree of sections keeping first-seen order
  local tree = { order = {}, kids = {} }
  for _, e in ipairs(entries) do
    local node = tree
    local segs = {}
    for s in e.key:gmatch('[^.]+') do segs[#segs + 1] = s end
    for i = 1, #segs - 1 do
      local s = segs[i]
      if not node.kids[s] then
        node.kids[s] = { order = {}, kids = {} }
        node.order[#node.order + 1] = s
      end
      node = node.kids[s]
    end
    node.kids[segs[#segs]] = e
    node.order[#node.order + 1] = segs[#segs]
  end
  if style == 'flow' then
    local function flow(node)
      local parts = {}
      for _, name in ipairs(node.order) do
        local kid = node.kids[name]
        parts[#parts + 1] = name .. ': ' .. (kid.order and flow(kid) or kid.yaml)
      end
      return '{' .. table.concat(parts, ', ') .. '}'
    end
    out[#out + 1] = flow(tree)
    for _, e in ipairs(entries) do lines[e.key] = #out end
    return table.concat(out, '\n') .. '\n', lines
  end
  local function block(node, indent)
    for _, name in ipairs(node.order) do
      local kid = node.kids[name]
      if kid.order then
        out[#out + 1] = indent .. name .. ':'
        block(kid, indent .. '  ')
      else
        out[#out + 1] = indent .. name .. ': ' .. kid.yaml
        lines[kid.key] = #out
      end
    end
  end
  block(tree, '')
  return table.concat(out, '\n') .. '\n', lines
end

-- Generators of valid values ---------------------------------------------------
-- Each draws {yaml = text for a YAML file, raw = text for FMHOST_* and --set,
-- value = what the loaded cfg must hold}.

local function bool_word()
  return g.tuple(g.bool(), g.elements { { 'true', 'false' }, { 'yes', 'no' }, { 'on', 'off' } }, g.bool())
    :map(function(t)
      local w = t[2][t[1] and 1 or 2]
      if t[3] then w = w:upper() end
      return { yaml = w, raw = w, value = t[1] }
    end)
end

local segment = g.string { min = 1, max = 8, chars = 'abcxyz0189_-' }

local function value_gen(k)
  local t = k.type
  if t == 'int' or t == 'port' then
    return g.int(k.min or math.mininteger, k.max or math.maxinteger)
      :map(function(v) return { yaml = tostring(v), raw = tostring(v), value = v } end)
  elseif t == 'duration_ms' then
    return g.tuple(g.int(k.min or 0, k.max or (1 << 50)), g.elements { '', 'ms', 's' })
      :map(function(p)
        local v, unit = p[1], p[2]
        local text = (unit == 's' and v % 1000 == 0) and (v // 1000 .. 's')
                     or (unit == 'ms' and v .. 'ms') or tostring(v)
        return { yaml = text, raw = text, value = v }
      end)
  elseif t == 'number' then
    return g.float { min = k.min, max = k.max }:map(function(v)
      local text = string.format('%.17g', v)
      return { yaml = text, raw = text, value = tonumber(text) }
    end)
  elseif t == 'bool' then
    return bool_word()
  elseif t == 'enum' then
    return g.tuple(g.elements(k.values), g.bool()):map(function(p)
      local w = p[2] and p[1]:upper() or p[1]
      return { yaml = w, raw = w, value = p[1] }
    end)
  elseif t == 'path' then
    return g.tuple(g.bool(), g.array(segment, { min = 1, max = 3 })):map(function(p)
      local rel = 'd' .. table.concat(p[2], '/')
      if p[1] then return { yaml = dq('/' .. rel), raw = '/' .. rel, value = '/' .. rel } end
      return { yaml = dq(rel), raw = rel, value = root .. '/' .. rel }
    end)
  else -- string
    return g.string { min = k.when_empty and 1 or 0, max = 24, utf8 = true }:map(function(s)
      s = s:gsub('%z', '')
      if s == '' and k.when_empty then s = 'x' end
      return { yaml = dq(s), raw = s, value = s }
    end)
  end
end

-- The value a key holds with nothing but the defaults, or derived from other
-- keys through when_empty when its default is empty.
local function expand(tmpl, get)
  return (tmpl:gsub('{([^}]*)}', function(ref) return tostring(get(ref)) end))
end

local function expected_default(k, get)
  local v = config.get(baseline, k.key)
  if k.when_empty and v == expand(k.when_empty, function(r) return config.get(baseline, r) end) then
    return expand(k.when_empty, get)
  end
  return v
end

local function default_origin_line(key)
  return tonumber(config.origin(baseline, key):match(':(%d+)$'))
end

-- A scratch directory with a copy of default.yaml; overlays are written per case.
local function scratch()
  local dir = T.tmpdir('fmhost-config-props')
  T.write_file(dir .. '/default.yaml', T.read_file(default_file))
  return dir
end

local function load_in(dir, opts)
  opts.dir, opts.schema, opts.root = dir, schema_file, root
  return config.load(opts)
end

-- Every key's generated value with a flag saying whether it is written.
local function picks_gen(max_keys)
  local fields = {}
  for _, k in ipairs(schema) do fields[k.key] = g.tuple(g.bool(), value_gen(k)) end
  return g.record(fields)
end

-- Property 21 -----------------------------------------------------------------

describe('configuration loading', function()
  local dir
  setup(function() dir = scratch() end)
  teardown(function() T.rmtree(dir) end)

  it('loads exactly the values a valid overlay file gives, with their lines', function()
    check.property {
      name = P .. 'Property 21: External configuration loading',
      gen = g.record { picks = picks_gen(), style = g.elements { 'block', 'flow', 'dotted' } },
      fn = function(case)
        local entries, written = {}, {}
        for _, k in ipairs(schema) do
          local p = case.picks[k.key]
          if p[1] then
            entries[#entries + 1] = { key = k.key, yaml = p[2].yaml }
            written[k.key] = p[2]
          end
        end
        local text, lines = emit(entries, case.style)
        T.write_file(dir .. '/site.yaml', text)
        local cfg, err = load_in(dir, { env = 'site' })
        assert(cfg, err)
        local function effective(key) return config.get(cfg, key) end
        for _, k in ipairs(schema) do
          local got = config.get(cfg, k.key)
          if written[k.key] then
            assert.are.equal(written[k.key].value, got, k.key)
            assert.are.equal(math.type(written[k.key].value), math.type(got), k.key)
            assert.are.equal(dir .. '/site.yaml:' .. lines[k.key], config.origin(cfg, k.key))
          else
            assert.are.equal(expected_default(k, effective), got, k.key)
            assert.are.equal(dir .. '/default.yaml:' .. default_origin_line(k.key), config.origin(cfg, k.key))
          end
        end
      end,
    }
  end)
end)

-- Property 22 -----------------------------------------------------------------

describe('environment-specific configuration', function()
  local dir
  setup(function() dir = scratch() end)
  teardown(function() T.rmtree(dir) end)

  it('applies default, overlay of the named environment, FMHOST_* and --set in that order', function()
    local fields = {}
    for _, k in ipairs(schema) do
      local v = value_gen(k)
      fields[k.key] = g.record {
        overlay = g.tuple(g.bool(), v),
        env = g.tuple(g.bool(), v),
        set = g.tuple(g.bool(), v),
      }
    end
    check.property {
      name = P .. 'Property 22: Environment-specific configuration',
      gen = g.record {
        env = g.string { min = 1, max = 10, chars = 'abcdefghijklmnopqrstuvwxyz0123456789-_' },
        keys = g.record(fields),
        style = g.elements { 'block', 'flow', 'dotted' },
      },
      fn = function(case)
        local env = 'e-' .. case.env
        local entries, environ, set, want = {}, {}, {}, {}
        -- FMHOST_ names that are not keys are present and must not matter
        environ.FMHOST_LOG_LEVEL, environ.FMHOST_SEED, environ.FMHOST_ENV = 'bogus', 'bogus', 'bogus'
        environ.FMHOST_NOT_A_KEY = 'bogus'
        for _, k in ipairs(schema) do
          local c = case.keys[k.key]
          if c.overlay[1] then
            entries[#entries + 1] = { key = k.key, yaml = c.overlay[2].yaml }
            want[k.key] = { value = c.overlay[2].value, layer = 'overlay' }
          end
          if c.env[1] and k.env then
            environ[k.env] = c.env[2].raw
            want[k.key] = { value = c.env[2].value, origin = 'environment ' .. k.env }
          end
          if c.set[1] then
            set[#set + 1] = k.key .. '=' .. c.set[2].raw
            want[k.key] = { value = c.set[2].value, origin = '--set' }
          end
        end
        local text, lines = emit(entries, case.style)
        T.write_file(dir .. '/' .. env .. '.yaml', text)
        -- a decoy overlay that would fail the load if it were read
        T.write_file(dir .. '/' .. env .. 'x.yaml', 'mysql:\n  port: 0\n')
        local cfg, err = load_in(dir, { env = env, environ = environ, set = set })
        os.remove(dir .. '/' .. env .. '.yaml')
        os.remove(dir .. '/' .. env .. 'x.yaml')
        assert(cfg, err)
        local function effective(key) return config.get(cfg, key) end
        for _, k in ipairs(schema) do
          local w, got = want[k.key], config.get(cfg, k.key)
          if w then
            assert.are.equal(w.value, got, k.key)
            local origin = w.origin or (dir .. '/' .. env .. '.yaml:' .. lines[k.key])
            assert.are.equal(origin, config.origin(cfg, k.key))
          else
            assert.are.equal(expected_default(k, effective), got, k.key)
          end
        end
      end,
    }
  end)
end)

-- Property 3 ------------------------------------------------------------------

describe('invalid configuration', function()
  local dir
  setup(function() dir = scratch() end)
  teardown(function() T.rmtree(dir) end)

  local name = P .. 'Property 3: Invalid configuration error handling'
  local overlay = function() return dir .. '/broken.yaml' end

  -- some valid keys to surround the broken one, written in block style
  local function valid_entries(picks, except)
    local entries = {}
    for _, k in ipairs(schema) do
      local p = picks[k.key]
      if p[1] and k.key ~= except then entries[#entries + 1] = { key = k.key, yaml = p[2].yaml } end
    end
    return entries
  end

  local function load_broken(text)
    T.write_file(overlay(), text)
    local cfg, err, info = load_in(dir, { env = 'broken' })
    os.remove(overlay())
    assert.is_nil(cfg)
    assert.are.equal('string', type(err))
    assert.is_nil(err:find('\n'), 'the message is one line')
    assert.are.equal('config', info.kind)
    assert.are.equal(err, info.message)
    return err, info
  end

  local letters = 'abcdefghijklmnopqrstuvwxyz'
  local keys = {}
  for _, k in ipairs(schema) do keys[#keys + 1] = k end

  -- a name one edit away from a valid one that is no valid name itself
  local function mutate(word, op, pos, ch)
    pos = (pos - 1) % (#word + 1) + 1
    if op == 'insert' then return word:sub(1, pos - 1) .. ch .. word:sub(pos) end
    pos = math.min(pos, #word)
    if op == 'delete' then return word:sub(1, pos - 1) .. word:sub(pos + 1) end
    if op == 'replace' then return word:sub(1, pos - 1) .. ch .. word:sub(pos + 1) end
    if pos == #word then pos = pos - 1 end -- swap with the next letter
    return word:sub(1, pos - 1) .. word:sub(pos + 1, pos + 1) .. word:sub(pos, pos) .. word:sub(pos + 2)
  end

  local function is_name(path)
    if schema[path] then return true end
    for _, k in ipairs(schema) do
      if k.key:sub(1, #path + 1) == path .. '.' then return true end
    end
    return false
  end

  it('names an unknown key, its file and line, and the closest valid name', function()
    local gen = g.record {
      key = g.elements(keys),
      part = g.elements { 'leaf', 'section' },
      op = g.elements { 'insert', 'delete', 'replace', 'swap' },
      pos = g.int(1, 40),
      ch = g.elements { 'a', 'e', 'o', 'x', 'z', '_' },
      via = g.elements { 'file', 'set' },
      picks = picks_gen(),
    }:map(function(c)
      local k = c.key.key
      if c.part == 'leaf' then
        c.bad = parent(k) .. '.' .. mutate(leaf(k), c.op, c.pos, c.ch)
        c.original = k
      else
        c.bad = mutate(parent(k), c.op, c.pos, c.ch)
        c.original = parent(k)
      end
      if c.bad:match('^%.') or c.bad:match('%.$') or c.bad == '' then c.bad = nil end
      return c
    end):filter(function(c) return c.bad and not is_name(c.bad) end)
    check.property {
      name = name .. ' (unknown key)',
      gen = gen,
      fn = function(c)
        local err, info
        if c.via == 'set' then
          local cfg
          cfg, err, info = load_in(dir, { set = { c.bad .. '=1' } })
          assert.is_nil(cfg)
          assert.are.equal('--set', info.file)
          assert.is_nil(info.line)
          assert.truthy(err:match('^%-%-set: ' .. quote_lua_pattern(c.bad) .. ': unknown key'), err)
          assert.are.equal(c.bad, info.key)
        else
          local entries = valid_entries(c.picks, nil)
          -- the bad key goes in as a dotted key at the end, so its line is known
          local text, _ = emit(entries, 'block')
          local bad_line = select(2, text:gsub('\n', '')) + 1
          text = text .. c.bad .. ': 1\n'
          err, info = load_broken(text)
          local shown = c.part == 'leaf' and c.bad or c.bad
          assert.truthy(err:match('^' .. quote_lua_pattern(overlay() .. ':' .. bad_line .. ': ' .. shown) .. ': unknown key'), err)
          assert.are.equal(overlay(), info.file)
          assert.are.equal(bad_line, info.line)
        end
        -- one edit away from a valid name: a suggestion at least that close
        assert.is_string(info.suggestion, err)
        local sugg = info.suggestion
        assert.truthy(is_name(sugg), sugg)
        local written = c.part == 'leaf' and leaf(c.bad) or c.bad
        local offered = c.part == 'leaf' and leaf(sugg) or sugg
        assert.is_true(distance(written, offered) <= distance(written, c.part == 'leaf' and leaf(c.original) or c.original),
                       err)
        assert.truthy(err:find("did you mean '", 1, true), err)
      end,
    }
  end)

  local bool_words = { ['true'] = 1, ['false'] = 1, yes = 1, no = 1, on = 1, off = 1 }
  local function not_a(k, w)
    if k.type == 'bool' then return not bool_words[w:lower()] end
    if k.type == 'enum' then
      for _, v in ipairs(k.values) do if v == w:lower() then return false end end
    end
    return true
  end

  it('says what type a key expected and what it got, from a file, FMHOST_* or --set', function()
    local gen = g.record {
      key = g.elements(keys),
      word = g.string { min = 1, max = 8, chars = letters },
      shape = g.elements { '{a: 1}', '[1, 2]' },
      via = g.elements { 'file', 'env', 'set' },
      picks = picks_gen(),
    }:filter(function(c) return not_a(c.key, c.word) end)
    check.property {
      name = name .. ' (wrong type)',
      gen = gen,
      fn = function(c)
        local k = c.key
        local scalar_ok = k.type ~= 'string' and k.type ~= 'path'
        local via = scalar_ok and c.via or 'file'
        if via == 'env' and not k.env then via = 'set' end
        local err, info, where, got
        if via == 'file' then
          local entries = valid_entries(c.picks, k.key)
          local value = scalar_ok and c.word or c.shape
          entries[#entries + 1] = { key = k.key, yaml = value }
          local text, lines = emit(entries, 'block')
          err, info = load_broken(text)
          where = overlay() .. ':' .. lines[k.key]
          assert.are.equal(lines[k.key], info.line)
        else
          local cfg
          if via == 'env' then
            cfg, err, info = load_in(dir, { environ = { [k.env] = c.word } })
            where = 'environment ' .. k.env
          else
            cfg, err, info = load_in(dir, { set = { k.key .. '=' .. c.word } })
            where = '--set'
          end
          assert.is_nil(cfg)
          assert.is_nil(info.line)
        end
        got = scalar_ok and ("'" .. (k.secret and '***' or c.word) .. "'")
              or (c.shape:match('^{') and 'a mapping' or 'a sequence')
        local expected = info.expected
        if k.type == 'int' or k.type == 'port' then assert.are.equal('an integer', expected)
        elseif k.type == 'number' then assert.are.equal('a number', expected)
        elseif k.type == 'duration_ms' then assert.truthy(expected:match('^a duration in milliseconds'))
        else assert.are.equal(k.expected, expected) end
        local prefix = where .. ': ' .. k.key .. ': expected ' .. expected .. ', got ' .. got
        assert.are.equal(prefix, err:sub(1, #prefix))
        assert.are.equal(k.key, info.key)
        assert.are.equal(got, info.got)
        if k.secret and scalar_ok then assert.is_nil(err:find(c.word, 1, true), err) end
      end,
    }
  end)

  local ports = {}
  for _, k in ipairs(schema) do if k.type == 'port' then ports[#ports + 1] = k end end

  it('rejects a port outside its range, naming the range', function()
    check.property {
      name = name .. ' (port out of range)',
      gen = g.record {
        key = g.elements(ports),
        port = g.one_of { g.int(-100000, 0), g.int(65536, 10000000), g.int(math.mininteger, math.maxinteger) },
        via = g.elements { 'file', 'env', 'set' },
      }:filter(function(c) return c.port < c.key.min or c.port > c.key.max end),
      fn = function(c)
        local k, err, info, where = c.key
        local via = (c.via == 'env' and not k.env) and 'set' or c.via
        if via == 'file' then
          local text, lines = emit({ { key = k.key, yaml = tostring(c.port) } }, 'block')
          err, info = load_broken(text)
          where = overlay() .. ':' .. lines[k.key]
        elseif via == 'env' then
          _, err, info = load_in(dir, { environ = { [k.env] = tostring(c.port) } })
          where = 'environment ' .. k.env
        else
          _, err, info = load_in(dir, { set = { k.key .. '=' .. c.port } })
          where = '--set'
        end
        assert.are.equal(string.format("%s: %s: expected a port %d..%d, got '%d'", where, k.key, k.min, k.max, c.port), err)
        assert.are.equal(k.expected, info.expected)
      end,
    }
  end)

  -- Corruptions that make a YAML file malformed, put between two top-level
  -- sections of an otherwise valid overlay.
  local corruptions = {
    'mysql: [1, 2',                 -- an unclosed flow sequence
    'log: "unterminated',           -- an unclosed quoted scalar
    '\tnats:\n\t  port: 1',          -- tabs for indentation
    'check: runs: 1',               -- a mapping value where none may start
    '  - item\nflink: {rest_port: 1', -- a sequence entry inside a mapping, and more
    'stack: {dir: x]',              -- mismatched brackets
    'nats: &a\n  port: *b',         -- an undefined alias
  }

  it('passes on libyaml\'s problem for malformed YAML, with its line and column', function()
    check.property {
      name = name .. ' (malformed YAML)',
      gen = g.record { picks = picks_gen(), corruption = g.int(1, #corruptions), at = g.int(0, 40) },
      fn = function(c)
        local text = emit(valid_entries(c.picks, nil), 'block')
        local ls = {}
        for l in text:gmatch('[^\n]*\n') do ls[#ls + 1] = l end
        -- top-level boundaries: before a line that starts a section, or the end
        local bounds = {}
        for i, l in ipairs(ls) do if l:match('^%a') then bounds[#bounds + 1] = i end end
        bounds[#bounds + 1] = #ls + 1
        local at = bounds[c.at % #bounds + 1]
        table.insert(ls, at, corruptions[c.corruption] .. '\n')
        local total = select(2, table.concat(ls):gsub('\n', ''))
        local err, info = load_broken(table.concat(ls))
        local line, col = err:match('^' .. quote_lua_pattern(overlay()) .. ':(%d+):?(%d*): malformed YAML: .+')
        assert.truthy(line, err)
        line = tonumber(line)
        assert.are.equal(line, info.line)
        assert.are.equal('well-formed YAML', info.expected)
        -- everything before the corruption is valid: libyaml notices the
        -- problem at the corruption or after it, at the latest at the end
        assert.is_true(line >= at and line <= total + 1, err)
        if col ~= '' then assert.are.equal(tonumber(col), info.column) end
      end,
    }
  end)

  -- Where each key's line is in default.yaml, and the line of its section.
  local function default_lines(text)
    local where, stack, n = {}, {}, 0
    for l in (text .. '\n'):gmatch('([^\n]*)\n') do
      n = n + 1
      local indent, name = l:match('^(%s*)([%w_.]+):')
      if name and not l:match('^%s*#') then
        while #stack > 0 and stack[#stack].indent >= #indent do table.remove(stack) end
        local path = name
        if #stack > 0 then path = stack[#stack].path .. '.' .. name end
        where[path] = n
        stack[#stack + 1] = { indent = #indent, path = path }
      end
    end
    return where
  end

  it('names a missing required key, where it belongs, and what it must be', function()
    local required = {}
    for _, k in ipairs(schema) do if k.required then required[#required + 1] = k end end
    local text = T.read_file(default_file)
    local where = default_lines(text)
    check.property {
      name = name .. ' (missing required key)',
      gen = g.elements(required),
      fn = function(k)
        local ls = {}
        for l in (text):gmatch('([^\n]*)\n') do ls[#ls + 1] = l end
        assert.is_number(where[k.key], k.key .. ' not found in default.yaml')
        table.remove(ls, where[k.key])
        local file = dir .. '/default.yaml'
        T.write_file(file, table.concat(ls, '\n') .. '\n')
        local cfg, err, info = load_in(dir, {})
        T.write_file(file, text)
        assert.is_nil(cfg)
        local line = where[parent(k.key)] or 1
        local env = k.env or 'its environment variable'
        assert.are.equal(string.format('%s:%d: %s: missing required key, expected %s (give it in %s, an overlay, %s or --set)',
                                       file, line, k.key, k.expected, file, env), err)
        assert.are.equal(k.key, info.key)
        assert.are.equal(line, info.line)
        assert.are.equal(k.expected, info.expected)
      end,
    }
  end)

  it('names a file that cannot be read and the reason', function()
    check.property {
      name = name .. ' (unreadable file)',
      gen = g.record {
        what = g.elements { 'missing overlay', 'directory overlay', 'missing default', 'directory default' },
        env = g.string { min = 1, max = 10, chars = 'abcdefghijklmnopqrstuvwxyz0123456789-_' },
      },
      fn = function(c)
        local env = 'u-' .. c.env
        local sub = T.tmpdir('fmhost-config-unreadable')
        local file, what, reason
        if c.what:match('default') then
          file, what = sub .. '/default.yaml', 'the default configuration'
        else
          T.write_file(sub .. '/default.yaml', T.read_file(default_file))
          file, what = sub .. '/' .. env .. '.yaml', "the overlay of environment '" .. env .. "'"
        end
        if c.what:match('directory') then
          os.execute('mkdir ' .. T.shell_quote(file))
          reason = 'Is a directory'
        else
          reason = 'No such file or directory'
        end
        local cfg, err, info = load_in(sub, { env = env })
        T.rmtree(sub)
        assert.is_nil(cfg)
        assert.are.equal(string.format('%s: cannot read %s: %s', file, what, reason), err)
        assert.are.equal(file, info.file)
        assert.is_number(info.code)
      end,
    }
  end)
end)
