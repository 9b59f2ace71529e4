-- Bad input to `fmhost check`: one clear error each, a non-zero exit, no job
-- left running, no table of the user's dropped or emptied, no temp file left.
local T = require 'fmhost.testing'
local stack = require 'fmhost.stack'
local pool = require 'fmhost.pool'
local lfs = require 'lfs'

local GOOD = [[
return {
  name = '%s',
  rows = 50,
  data = { orders = { columns = {
    { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
    { name = 'amount', type = 'DECIMAL(12,2)' },
  } } },
  flink = { sql = %s },
  sink = %s,
}
]]

local function write(dir, name, text)
  local path = dir .. '/' .. name .. '.pipeline.lua'
  local f = assert(io.open(path, 'w'))
  f:write(text)
  f:close()
  return path
end

local function entries(dir)
  local n = 0
  if lfs.attributes(dir, 'mode') ~= 'directory' then return 0 end
  for e in lfs.dir(dir) do if e ~= '.' and e ~= '..' then n = n + 1 end end
  return n
end

describe('fmhost check on bad input #flink #mysql', function()
  local dir, db, client
  local function running_jobs()
    local n = 0
    for _, j in ipairs(assert(client:jobs())) do
      if j.status == 'RUNNING' or j.status == 'CREATED' or j.status == 'INITIALIZING' then n = n + 1 end
    end
    return n
  end
  local function no_leftovers(name)
    assert.are.equal(0, entries(stack.dir(cfg) .. '/pipelines/' .. name), 'temp files left')
    assert.are.equal(0, running_jobs(), 'a job was left running')
  end

  lazy_setup(function()
    assert(stack.ensure(cfg, { 'mariadb', 'flink' }))
    dir = T.tmpdir('fmhost-pl-bad')
    local m = cfg.mysql
    db = assert(pool.open { host = m.host, port = m.port, user = m.user, password = m.password, database = m.database,
                            size = 1 })
    client = stack.flink.client(cfg)
  end)
  lazy_teardown(function()
    T.rmtree(dir)
    if db then db:close() end
    if client then client:close() end
  end)

  it('a pipeline file with a Lua error: its file and line, exit 1', function()
    local p = write(dir, 'syntax', 'return { name = "syntax", rows = }\n')
    local r = T.run_fmhost({ 'check', p })
    assert.are.equal(1, r.code)
    assert.matches('ERROR ' .. p .. ': ' .. p .. ':1:', r.stdout, 1, true)
    assert.matches('0 passed, 1 failed', r.stdout, 1, true)
  end)

  it('an unknown key: names the closest valid one, exit 1, nothing run', function()
    local p = write(dir, 'unknown_key', 'return { name = "unknown_key", data = {}, expext = { sql = "SELECT 1" } }\n')
    local r = T.run_fmhost({ 'check', p })
    assert.are.equal(1, r.code)
    assert.matches("unknown key 'expext', did you mean 'expect'?", r.stdout, 1, true)
  end)

  it('SQL the gateway rejects: the statement, the gateway\'s message and the line/column in the file\'s SQL; '
    .. 'no job left, no temp file', function()
    local sql = "[[\nCREATE TEMPORARY TABLE orders (id BIGINT, amount DECIMAL(12,2)) WITH (${source.options});\n"
      .. "CREATE TEMPORARY TABLE o (id BIGINT, amount DECIMAL(12,2), PRIMARY KEY (id) NOT ENFORCED) WITH (${sink.jdbc});\n"
      .. "INSERT INTO o\nSELECT id, amount\nFROM orderz;\n]]"
    local p = write(dir, 'rejected', GOOD:format('rejected', sql, "{ from = 'orders' }"))
    local r = T.run_fmhost({ 'check', p })
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    assert.matches('the SQL Gateway rejected statement 3 at ' .. p .. ':13:6', r.stdout, 1, true)
    assert.matches('FROM orderz', r.stdout, 1, true)
    assert.matches("Object 'orderz' not found", r.stdout, 1, true)
    no_leftovers('rejected')
  end)

  it('an unknown placeholder: named with the closest one, before any data is staged', function()
    local sql = "'CREATE TEMPORARY TABLE o (id BIGINT) WITH (${sink.jdbcc}); INSERT INTO o SELECT 1'"
    local p = write(dir, 'placeholder', GOOD:format('placeholder', sql, "{ from = 'orders' }"))
    assert(db:exec('DROP TABLE IF EXISTS pl_placeholder_out'))
    local r = T.run_fmhost({ 'check', p })
    assert.are.equal(1, r.code)
    assert.matches('unknown placeholder ${sink.jdbcc}, did you mean ${sink.jdbc}?', r.stdout, 1, true)
    assert.are.equal(0, db:scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
      .. "AND table_name = 'pl_placeholder_out'"), 'the sink was created before the placeholder error')
    no_leftovers('placeholder')
  end)

  it('a sink table on a non-managed server without explicit permission: refused, the table and its rows '
    .. 'untouched, no job', function()
    assert(db:exec('DROP TABLE IF EXISTS users_orders'))
    assert(db:exec('CREATE TABLE users_orders (id BIGINT PRIMARY KEY, amount DECIMAL(12,2))'))
    assert(db:exec("INSERT INTO users_orders VALUES (1, 2.50), (2, 3.75)"))
    local sql = "'CREATE TEMPORARY TABLE orders (id BIGINT, amount DECIMAL(12,2)) WITH (${source.options}); "
      .. "CREATE TEMPORARY TABLE o (id BIGINT, amount DECIMAL(12,2)) WITH (${sink.jdbc}); INSERT INTO o SELECT * FROM orders'"
    local p = write(dir, 'foreign', GOOD:format('foreign', sql, "{ table = 'users_orders', from = 'orders' }"))
    local rest, gw = stack.flink.urls(cfg)
    local r = T.run_fmhost({ '--set', 'mysql.managed=false', '--set', 'flink.managed=false', '--set', 'flink.rest_url=' .. rest,
      '--set', 'flink.gateway_url=' .. gw, 'check', p })
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    assert.matches('the sink table users_orders exists on the non-managed server', r.stdout, 1, true)
    assert.matches("set sink.reset = 'drop'", r.stdout, 1, true)
    assert.are.equal(2, db:scalar('SELECT COUNT(*) FROM users_orders'))
    no_leftovers('foreign')
    assert(db:exec('DROP TABLE users_orders'))
  end)
end)
