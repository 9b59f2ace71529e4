-- fmhost.pool through network faults made by fmhost.proxy between the pool
-- and the private MariaDB #mysql
--
-- down: operations fail fast with retryable errors, and succeed again once
-- the network is back; blackhole: the configured timeouts fire, nothing
-- hangs; reset_peer in the middle of a transaction: nothing of it is
-- applied. Upper time bounds are generous: they only tell "the configured
-- timeout fired" from "hung".
local pool = require 'fmhost.pool'
local proxy = require 'fmhost.proxy'
local stack = require 'fmhost.stack'
local proc = require 'fmhost.proc'

local function mysql_cfg()
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  return (_G.cfg or {}).mysql or {}
end

local function timed(fn)
  local t0 = proc.now_ms()
  local r = table.pack(fn())
  return (proc.now_ms() - t0) / 1000, table.unpack(r, 1, r.n)
end

local function balanced(p)
  local s = p:stats()
  assert.are.equal(s.total, s.active + s.idle + s.opening)
  assert.are.equal(s.total - s.opening, s.created - s.destroyed)
  return s
end

describe('fmhost.pool through network faults #mysql', function()
  local prx, p
  before_each(function()
    local m = mysql_cfg()
    prx = assert(proxy.new { upstream_host = m.host or '127.0.0.1', upstream_port = m.port or 13306,
                             name = 'pool-faults' })
    p = assert(pool.open(m, { host = '127.0.0.1', port = prx:port(), socket = '', size = 2,
                              validate_after_ms = 0, connect_timeout_ms = 2000, read_timeout_ms = 2000,
                              write_timeout_ms = 2000 }))
  end)
  after_each(function()
    if p then p:close() end
    if prx then prx:close() end
  end)

  it('down: operations fail fast with retryable errors, and work again once it is removed', function()
    assert.are.equal(1, p:scalar('SELECT 1'))
    prx:toxic('down')
    local took, v, msg, info = timed(function() return p:scalar('SELECT 1') end)
    assert.is_nil(v)
    assert.is_true(info.retryable, msg)
    assert.are.equal('connection', info.class)
    assert.is_true(took < 5, 'took ' .. took .. ' s')
    took, v, msg, info = timed(function() return p:acquire() end)
    assert.is_nil(v)
    assert.is_true(info.retryable, msg)
    assert.is_true(took < 5, 'took ' .. took .. ' s')
    prx:remove('down')
    assert.are.equal(1, p:scalar('SELECT 1'))
    local s = balanced(p)
    assert.are.equal(0, s.active)
    assert.is_true(s.validation_failures + s.broken >= 1)
  end)

  it('blackhole: a statement fails after read_timeout_ms instead of hanging', function()
    local c <close> = assert(p:acquire())
    assert.are.equal(1, c:scalar('SELECT 1'))
    prx:toxic('blackhole')
    local took, v, msg, info = timed(function() return c:scalar('SELECT 1') end)
    assert.is_nil(v)
    assert.is_true(info.retryable, msg)
    assert.is_true(took >= 1.5 and took < 20, 'took ' .. took .. ' s')
    c:release()
    prx:clear()
    assert.are.equal(1, p:scalar('SELECT 1'))
    assert.are.equal(0, balanced(p).active)
  end)

  it('blackhole: opening a connection fails after the connect timeout instead of hanging', function()
    prx:toxic('blackhole')
    local took, q, msg, info = timed(function()
      return pool.open(mysql_cfg(), { host = '127.0.0.1', port = prx:port(), socket = '', connect_timeout_ms = 2000 })
    end)
    assert.is_nil(q)
    assert.is_true(info.retryable, msg)
    assert.is_true(took >= 1.5 and took < 20, 'took ' .. took .. ' s')
  end)

  it('reset_peer in the middle of a transaction: nothing of it is applied', function()
    p:exec('DROP TABLE IF EXISTS pool_faults')
    assert(p:exec('CREATE TABLE pool_faults (id INT PRIMARY KEY)'))
    local v, msg, info = p:transaction(function(c)
      for id = 1, 5 do assert(c:exec('INSERT INTO pool_faults VALUES (?)', id)) end
      prx:toxic('reset_peer')
      return c:exec('INSERT INTO pool_faults VALUES (?)', 6)
    end)
    assert.is_nil(v)
    assert.is_true(info.retryable, msg)
    prx:clear()
    -- through a fresh session: none of the five rows; and their keys are free again
    assert.are.equal(0, p:scalar('SELECT COUNT(*) FROM pool_faults'))
    local n = assert(p:exec('INSERT INTO pool_faults VALUES (1), (2), (3), (4), (5), (6)'))
    assert.are.equal(6, n)
    p:exec('DROP TABLE pool_faults')
    local s = balanced(p)
    assert.are.equal(0, s.active)
    assert.is_true(s.broken >= 1)
  end)
end)
