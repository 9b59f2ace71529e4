-- fmhost.pool's prepared statement cache against a table that changes #mysql
--
-- A connection keeps its prepared statements; MariaDB re-prepares a
-- statement itself when a table it reads changed, and sends the new result
-- columns with the next execution. These specs change the table between two
-- runs of one cached statement (on the same connection and from another,
-- with other statements in between) and read back exactly the rows and
-- columns MariaDB holds at that moment.
local pool = require 'fmhost.pool'
local stack = require 'fmhost.stack'

local function open(over)
  assert(stack.ensure(_G.cfg or {}, { 'mariadb' }))
  return assert(pool.open((_G.cfg or {}).mysql or {}, over))
end

-- "name:type" of each result column, in order
local function shape(info)
  local t = {}
  for _, col in ipairs(info.columns) do t[#t + 1] = col.name .. ':' .. col.type end
  return t
end

-- all rows and their column shape; fails with the pool's message
local function select_all(c, sql, ...)
  local rows, info, x = c:query(sql, ...)
  assert(rows, tostring(info) .. ' (code ' .. tostring(x and x.code) .. ')')
  return rows, shape(info)
end

describe('fmhost.pool statement cache when a table changes #mysql', function()
  local p, c, other
  local T = 'fmh_stmt_cache_t'

  before_each(function()
    p = open { size = 2, prepare_all = true, name = 'stmt-cache' }
    c = assert(p:acquire())
    other = assert(p:acquire())
    assert(c:exec('DROP TABLE IF EXISTS ' .. T))
    assert(c:exec('CREATE TABLE ' .. T .. ' (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(10) NOT NULL)'))
    assert(c:exec('INSERT INTO ' .. T .. " VALUES (1, 10, 'x'), (2, 20, 'y')"))
  end)

  after_each(function()
    if c then c:release() end
    if other then
      other:exec('DROP TABLE IF EXISTS ' .. T)
      other:release()
    end
    local s = p:stats()
    p:close()
    c, other, p = nil, nil, nil
    -- no statement left the session out of step: nothing was thrown away
    assert.are.equal(0, s.broken)
  end)

  it('a cached SELECT * returns a column added on the same connection', function()
    local _, before = select_all(c, 'SELECT * FROM ' .. T .. ' ORDER BY id')
    assert.are.same({ 'id:int', 'a:int', 'b:varchar' }, before)
    assert(c:exec('ALTER TABLE ' .. T .. ' ADD COLUMN n INT NOT NULL DEFAULT 7'))
    local rows, cols = select_all(c, 'SELECT * FROM ' .. T .. ' ORDER BY id')
    assert.are.same({ 'id:int', 'a:int', 'b:varchar', 'n:int' }, cols)
    assert.are.same({ { id = 1, a = 10, b = 'x', n = 7 }, { id = 2, a = 20, b = 'y', n = 7 } }, rows)
    assert.are.equal(42, c:scalar('SELECT 40 + 2')) -- the session is still in step
  end)

  it('a cached SELECT * drops a column another connection dropped, with other statements in between', function()
    select_all(c, 'SELECT * FROM ' .. T .. ' ORDER BY id')
    assert.are.equal(2, c:scalar('SELECT COUNT(*) FROM ' .. T))
    assert(other:exec('ALTER TABLE ' .. T .. ' DROP COLUMN a'))
    assert.are.equal('x', c:scalar('SELECT b FROM ' .. T .. ' WHERE id = ?', 1))
    local rows, cols = select_all(c, 'SELECT * FROM ' .. T .. ' ORDER BY id')
    assert.are.same({ 'id:int', 'b:varchar' }, cols)
    assert.are.same({ { id = 1, b = 'x' }, { id = 2, b = 'y' } }, rows)
    assert.are.equal(2, c:scalar('SELECT COUNT(*) FROM ' .. T))
  end)

  it('a cached SELECT * names the new column when one column is replaced by another (same count)', function()
    select_all(c, 'SELECT * FROM ' .. T .. ' ORDER BY id')
    assert(other:exec('ALTER TABLE ' .. T .. " DROP COLUMN b, ADD COLUMN d DATE NOT NULL DEFAULT '2020-01-02'"))
    local rows, cols = select_all(c, 'SELECT * FROM ' .. T .. ' ORDER BY id')
    assert.are.same({ 'id:int', 'a:int', 'd:date' }, cols)
    assert.are.same({ { id = 1, a = 10, d = '2020-01-02' }, { id = 2, a = 20, d = '2020-01-02' } }, rows)
    -- and a rename on the same connection, run twice after the change
    assert(c:exec('ALTER TABLE ' .. T .. ' CHANGE a z VARCHAR(5) NOT NULL'))
    for _ = 1, 2 do
      rows, cols = select_all(c, 'SELECT * FROM ' .. T .. ' ORDER BY id')
      assert.are.same({ 'id:int', 'z:varchar', 'd:date' }, cols)
      assert.are.same({ { id = 1, z = '10', d = '2020-01-02' }, { id = 2, z = '20', d = '2020-01-02' } }, rows)
    end
  end)

  it('a statement prepared for its parameters follows the table too, without prepare_all', function()
    local q = open { size = 1, name = 'stmt-cache-params' }
    local qc = assert(q:acquire())
    local sql = 'SELECT * FROM ' .. T .. ' WHERE id >= ? ORDER BY id'
    local rows, cols = select_all(qc, sql, 2)
    assert.are.same({ 'id:int', 'a:int', 'b:varchar' }, cols)
    assert(other:exec('ALTER TABLE ' .. T .. ' ADD COLUMN n INT NOT NULL DEFAULT 7, DROP COLUMN a'))
    rows, cols = select_all(qc, sql, 2)
    assert.are.same({ 'id:int', 'b:varchar', 'n:int' }, cols)
    assert.are.same({ { id = 2, b = 'y', n = 7 } }, rows)
    assert(other:exec('ALTER TABLE ' .. T .. ' DROP COLUMN n'))
    rows, cols = select_all(qc, sql, 1)
    assert.are.same({ 'id:int', 'b:varchar' }, cols)
    assert.are.same({ { id = 1, b = 'x' }, { id = 2, b = 'y' } }, rows)
    qc:release()
    local s = q:stats()
    q:close()
    assert.are.equal(0, s.broken)
  end)

  it('a streaming cursor over a cached statement reports the current columns', function()
    do
      local cur <close> = assert(c:cursor('SELECT * FROM ' .. T .. ' ORDER BY id'))
      assert.are.same({ id = 1, a = 10, b = 'x' }, cur:fetch())
    end
    assert(other:exec('ALTER TABLE ' .. T .. ' ADD COLUMN n INT NOT NULL DEFAULT 7'))
    local cur <close> = assert(c:cursor('SELECT * FROM ' .. T .. ' ORDER BY id'))
    local names = {}
    for _, col in ipairs(cur:columns()) do names[#names + 1] = col.name end
    assert.are.same({ 'id', 'a', 'b', 'n' }, names)
    assert.are.same({ id = 1, a = 10, b = 'x', n = 7 }, cur:fetch())
    assert.are.same({ id = 2, a = 20, b = 'y', n = 7 }, cur:fetch())
    assert.is_nil(cur:fetch())
  end)

  it('INSERT ... RETURNING * runs once per call and returns the current columns', function()
    local rows, cols = select_all(c, 'INSERT INTO ' .. T .. ' (id, a, b) VALUES (?, ?, ?) RETURNING *', 3, 30, 'z')
    assert.are.same({ 'id:int', 'a:int', 'b:varchar' }, cols)
    assert.are.same({ { id = 3, a = 30, b = 'z' } }, rows)
    assert(other:exec('ALTER TABLE ' .. T .. ' ADD COLUMN n INT NOT NULL DEFAULT 7'))
    rows, cols = select_all(c, 'INSERT INTO ' .. T .. ' (id, a, b) VALUES (?, ?, ?) RETURNING *', 4, 40, 'w')
    assert.are.same({ 'id:int', 'a:int', 'b:varchar', 'n:int' }, cols)
    assert.are.same({ { id = 4, a = 40, b = 'w', n = 7 } }, rows)
    -- each call inserted exactly one row
    assert.are.equal(4, c:scalar('SELECT COUNT(*) FROM ' .. T))
    assert.are.same({ { id = 3 }, { id = 4 } }, (c:query('SELECT id FROM ' .. T .. ' WHERE id > 2 ORDER BY id')))
  end)
end)
