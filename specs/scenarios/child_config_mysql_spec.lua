-- A spec run whose MariaDB is named on the command line reaches that server
-- from every child and grandchild fmhost, while the environment names
-- another port, held by a listener that never answers as MariaDB would:
-- the situation of `fmhost --env X specs/properties` beside another stack on
-- the default ports, where a grandchild that lost --env/--set met the other
-- stack (Table 'fmhost.vprop_big' doesn't exist). The grandchild reads a
-- row this process wrote to the real private MariaDB. #mysql
local T = require 'fmhost.testing'
local pool = require 'fmhost.pool'
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'

-- a spec file for the child: its grandchild (T.run_fmhost) reads the mark
local INNER = [==[
local T = require 'fmhost.testing'
describe('a spec run on the command line\'s MariaDB', function()
  it('reaches that server from a grandchild fmhost', function()
    local probe = [[
      local p = assert(require('fmhost.pool').open(cfg.mysql, { size = 1, connect_timeout_ms = 3000 }))
      print('MARK ' .. tostring(p:scalar('SELECT v FROM child_cfg_mark WHERE id = 1')) .. ' PORT ' .. cfg.mysql.port)
      p:close()
    ]]
    local r = T.run_fmhost({ '-e', probe }, { timeout_ms = 120000 })
    assert.are.equal(0, r.code, r.stderr)
    io.write(r.stdout)
  end)
end)
]==]

describe('child fmhost processes and the MariaDB of their parent #mysql', function()
  it('reach the server of the command line, not the one of the environment', function()
    local cfg = _G.cfg or {}
    assert(stack.ensure(cfg, { 'mariadb' }))
    local mark = ('mark-%d-%d'):format(proc.getpid(), math.floor(proc.now_ms()))
    local p = assert(pool.open(cfg.mysql, { size = 1 }))
    p:exec('DROP TABLE IF EXISTS child_cfg_mark')
    assert(p:exec('CREATE TABLE child_cfg_mark (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL)'))
    assert(p:exec('INSERT INTO child_cfg_mark VALUES (1, ?)', mark))
    local decoy = assert(proc.listen(0)) -- "the other stack": accepts, never greets
    local dir = T.tmpdir('fmhost-childdb')
    T.write_file(dir .. '/inner_spec.lua', INNER)
    local ok, r = pcall(T.run_fmhost, { '--set', 'mysql.port=' .. cfg.mysql.port, dir .. '/inner_spec.lua' },
                        { env = { FMHOST_MYSQL_PORT = tostring(decoy.port) }, timeout_ms = 300000 })
    decoy:close()
    T.rmtree(dir)
    p:exec('DROP TABLE IF EXISTS child_cfg_mark')
    p:close()
    assert(ok, r)
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches('MARK ' .. mark .. ' PORT ' .. cfg.mysql.port, r.stdout, 1, true)
  end)
end)
