-- A child fmhost runs with exactly its parent's configuration: the overlay
-- of --env, every --set and the log options reach children and
-- grandchildren started through fmhost.testing, even when the environment
-- (FMHOST_MYSQL_PORT, FMHOST_ENV) points somewhere else.
--
-- The situation this guards against: `fmhost --env X specs/properties` on a
-- machine where another stack holds the default ports; a spec's child
-- fmhost lost --env/--set and talked to the other stack's MariaDB. Here a
-- listener stands in for that other stack: the environment's
-- FMHOST_MYSQL_PORT names it, the command line's --set names another port.
local T = require 'fmhost.testing'
local proc = require 'fmhost.proc'
local cjson = require 'cjson'

local root = _FMHOST_ROOT

-- Lua source of a spec file (run in a child fmhost) that compares its own
-- configuration with that of a grandchild started by fmhost.testing, and
-- prints its own view for the outer spec.
local INNER = [==[
local T = require 'fmhost.testing'
local config = require 'fmhost.config'
local log = require 'fmhost.log'
local cjson = require 'cjson'

local function view()
  return cjson.encode { show = config.show(cfg), level = log.level(), tracing = log.tracing(),
                        port = cfg.mysql.port, timeout = cfg.mysql.connect_timeout_ms,
                        rows = cfg.bench.rows }
end

describe('a child fmhost', function()
  it('starts grandchildren with its own configuration', function()
    local mine = view()
    print('CHILD ' .. mine)
    local probe = [[
      local log, config, cjson = require 'fmhost.log', require 'fmhost.config', require 'cjson'
      log.debug('grandchild.probe', { pid = require('fmhost.proc').getpid() })
      print('GRANDCHILD ' .. cjson.encode { show = config.show(cfg), level = log.level(), tracing = log.tracing(),
        port = cfg.mysql.port, timeout = cfg.mysql.connect_timeout_ms, rows = cfg.bench.rows })
    ]]
    local r = T.run_fmhost({ '-e', probe }, { timeout_ms = 120000 })
    assert.are.equal(0, r.code, r.stderr)
    print(r.stdout)
    local theirs = assert(r.stdout:match('GRANDCHILD ([^\n]*)'), r.stdout)
    assert.are.same(cjson.decode(mine), cjson.decode(theirs))
  end)
end)
]==]

describe('child fmhost processes', function()
  local dir, decoy
  before_each(function()
    dir = T.tmpdir('fmhost-childcfg')
    -- a project root of its own: the real config folder plus one overlay
    assert(os.execute('cp -r ' .. T.shell_quote(root .. '/config') .. ' ' .. T.shell_quote(dir .. '/config')))
    T.write_file(dir .. '/config/childcfg.yaml', 'mysql:\n  connect_timeout_ms: 4321\nbench:\n  rows: 7777\n')
    T.write_file(dir .. '/inner_spec.lua', INNER)
    decoy = assert(proc.listen(0)) -- "the other stack"
  end)
  after_each(function()
    decoy:close()
    T.rmtree(dir)
  end)

  it('see the --env overlay, every --set and the log options of their parent', function()
    local real = T.free_port()
    assert.are_not.equal(decoy.port, real)
    local log_file = dir .. '/run.log'
    -- the environment points elsewhere; the command line must win in every generation
    local r = T.run_fmhost({ '--env', 'childcfg', '--set', 'mysql.port=' .. real, '--set', 'bench.rows=8888',
                             '--log-level', 'debug', '--log-file', log_file, dir .. '/inner_spec.lua' },
                           { hermetic = true, timeout_ms = 300000,
                             env = { FMHOST_ROOT = dir, FMHOST_MYSQL_PORT = tostring(decoy.port), FMHOST_ENV = 'ci' } })
    local out = r.stdout
    assert.are.equal(0, r.code, out .. r.stderr)
    local child = cjson.decode((assert(out:match('%f[%w]CHILD ([^\n]*)'), out)))
    local grandchild = cjson.decode((assert(out:match('GRANDCHILD ([^\n]*)'), out)))
    -- the child itself took its command line
    assert.are.same({ real, 4321, 8888, 'debug' }, { child.port, child.timeout, child.rows, child.level })
    -- and the grandchild the same values, from the same layers (config show names each origin)
    assert.are.same({ real, 4321, 8888, 'debug', false },
                    { grandchild.port, grandchild.timeout, grandchild.rows, grandchild.level, grandchild.tracing })
    assert.are.equal(child.show, grandchild.show)
    assert.matches('mysql.port = ' .. real .. '%s+%(%-%-set%)', grandchild.show)
    assert.matches('mysql.connect_timeout_ms = 4321%s+%([^)]*/config/childcfg%.yaml:%d+%)', grandchild.show)
    -- the grandchild logged its debug line to the parent's --log-file
    local logged = false
    for line in T.read_file(log_file):gmatch('[^\n]+') do
      if cjson.decode(line).event == 'grandchild.probe' then logged = true end
    end
    assert.is_true(logged, 'no grandchild.probe line in the --log-file: ' .. T.read_file(log_file))
  end)

  it('hand on --trace, and let a child\'s own options win over the inherited ones', function()
    local log_file = dir .. '/trace.log'
    local chunk = [[
      local T = require 'fmhost.testing'
      local r = T.run_fmhost({ '--set', 'bench.rows=9999', '-e',
        'print(cfg.bench.rows, cfg.mysql.connect_timeout_ms, require("fmhost.log").level(), require("fmhost.log").tracing())' })
      io.write(r.stdout)
      io.stderr:write(r.stderr)
      os.exit(r.code)
    ]]
    local r = T.run_fmhost({ '--env', 'childcfg', '--set', 'bench.rows=8888', '--trace', '--log-file', log_file,
                             '-e', chunk },
                           { hermetic = true, env = { FMHOST_ROOT = dir }, timeout_ms = 120000 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.equal('9999\t4321\ttrace\ttrue\n', r.stdout)
  end)

  it('keep to themselves with hermetic = true', function()
    local chunk = [[
      local T = require 'fmhost.testing'
      local r = T.run_fmhost({ '-e', 'print(cfg.bench.rows, cfg.mysql.connect_timeout_ms)' }, { hermetic = true })
      io.write(r.stdout)
      io.stderr:write(r.stderr)
      os.exit(r.code)
    ]]
    local r = T.run_fmhost({ '--env', 'childcfg', '--set', 'bench.rows=8888', '-e', chunk },
                           { hermetic = true, env = { FMHOST_ROOT = dir }, timeout_ms = 120000 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local defaults = assert(require('fmhost.config').load { dir = root .. '/config' })
    assert.are.equal(('%d\t%d\n'):format(defaults.bench.rows, defaults.mysql.connect_timeout_ms), r.stdout)
  end)

  it('answer --version alone, whatever options their parent runs with', function()
    local chunk = [[
      local r = require('fmhost.testing').run_fmhost({ '--version' })
      io.write(r.stdout)
      os.exit(r.code)
    ]]
    local r = T.run_fmhost({ '--env', 'childcfg', '--set', 'bench.rows=8888', '-e', chunk },
                           { hermetic = true, env = { FMHOST_ROOT = dir }, timeout_ms = 120000 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches('fmhost', r.stdout)
  end)
end)
