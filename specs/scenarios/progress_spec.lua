-- Progress lines of long work: a child fmhost (stderr a pipe, not a
-- terminal) loads 200,000 rows into the private MariaDB with p:load and
-- compares them with validate.compare; with progress=true its stderr ends
-- with the final line whose count is the rows loaded / the expected rows
-- merged; with progress=false, and by default when stderr is not a terminal
-- (specs, CI logs), it prints nothing. #mysql
local T = require 'fmhost.testing'
local stack = require 'fmhost.stack'

local ROWS = 200000

-- the child's script: load ROWS rows of the 'seven' generator, compare them;
-- prints the load's rows and the verdict's counts on stdout
local function script(progress)
  local opt = progress == nil and '' or (', progress = ' .. tostring(progress))
  return ([[
    local pool = require 'fmhost.pool'
    local gen = require 'fmhost.gen'
    local V = require 'fmhost.validate'
    local g = assert(gen.load('seven', { seed = 7 }))
    local p = assert(pool.open(cfg.mysql, { size = 2 }))
    p:exec('DROP TABLE IF EXISTS progress_t')
    assert(p:exec(g:create_table_sql('progress_t')))
    local r = assert(p:load { table = 'progress_t', source = g, rows = %d, chunk_rows = 20000 %s })
    local v = assert(V.compare { target = { pool = p, table = 'progress_t' },
                                 expected = { generator = g, count = %d }, key = 'id', log = false %s })
    print('LOADED ' .. r.rows .. ' STATEMENTS ' .. r.statements .. ' MATCHED ' .. v.counts.matched
          .. ' EXPECTED ' .. v.counts.expected .. ' OK ' .. tostring(v.ok))
    p:exec('DROP TABLE progress_t')
    p:close()
  ]]):format(ROWS, opt, ROWS, opt)
end

local function run(progress)
  local r = T.run_fmhost({ '-e', script(progress) }, { timeout_ms = 600000 })
  assert.are.equal(0, r.code, r.stderr)
  local loaded, stmts, matched, expected, ok =
    r.stdout:match('LOADED (%d+) STATEMENTS (%d+) MATCHED (%d+) EXPECTED (%d+) OK (%a+)')
  assert.is_not_nil(loaded, r.stdout)
  assert.are.same({ ROWS, 10, ROWS, ROWS, 'true' },
    { tonumber(loaded), tonumber(stmts), tonumber(matched), tonumber(expected), ok })
  return r.stderr
end

-- '1,234' -> 1234
local function num(s) return tonumber((s:gsub(',', ''))) end

describe('progress of a load and of a comparison #mysql', function()
  setup(function() assert(stack.ensure(_G.cfg or {}, { 'mariadb' })) end)

  it('ends with a final line counting every row loaded and merged (progress=true, stderr not a terminal)', function()
    local err = run(true)
    -- not a terminal: plain lines, never a carriage return or an erase
    assert.is_nil(err:find('\r', 1, true), err)
    assert.is_nil(err:find('\27[K', 1, true), err)
    local lines = {}
    for l in err:gmatch('[^\n]+') do
      if l:match('^load: ') or l:match('^validate: ') then lines[#lines + 1] = l end
    end
    local load_final, val_final
    for _, l in ipairs(lines) do
      local n = l:match('^load: ([%d,]+) rows in %d+:%d%d %(')
      if n then assert.is_nil(load_final, 'one final load line'); load_final = num(n) end
      n = l:match('^validate: ([%d,]+) rows in %d+:%d%d %(')
      if n then assert.is_nil(val_final, 'one final validate line'); val_final = num(n) end
      -- an intermediate line (a slow machine) never counts past the total
      local d, t = l:match('^%a+: ([%d,]+) / ([%d,]+) rows')
      if d then
        assert.are.equal(ROWS, num(t), l)
        assert.is_true(num(d) <= ROWS, l)
      end
    end
    assert.are.equal(ROWS, load_final, err)
    assert.are.equal(ROWS, val_final, err)
    -- the load's final line comes before the comparison's
    assert.is_true(err:find('load: ', 1, true) < err:find('validate: ', 1, true), err)
  end)

  it('prints nothing with progress=false', function()
    local err = run(false)
    assert.is_nil(err:find('load: ', 1, true), err)
    assert.is_nil(err:find('validate: ', 1, true), err)
  end)

  it('prints nothing by default when stderr is not a terminal', function()
    local err = run(nil)
    assert.is_nil(err:find('load: ', 1, true), err)
    assert.is_nil(err:find('validate: ', 1, true), err)
  end)
end)
