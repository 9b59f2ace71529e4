-- fmhost.pipeline.sql and fmhost.pipeline.pace without servers: the Flink SQL
-- text pipelines are written in (quoting, WITH options, the JDBC
-- connector's URL and options) and the paced sources' row ranges.
local sql = require 'fmhost.pipeline.sql'
local pace = require 'fmhost.pipeline.pace'

describe('fmhost.pipeline.sql (no server)', function()
  local mysql = { host = '127.0.0.1', port = 13306, database = 'fmhost', user = 'u', password = "p'w" }

  it('quotes string literals and identifiers', function()
    assert.are.equal("'it''s'", sql.quote("it's"))
    assert.are.equal("'42'", sql.quote(42))
    assert.are.equal('`a``b`', sql.ident('a`b'))
  end)

  it('writes WITH options in list order, then the extra ones in key order', function()
    assert.are.equal("'connector' = 'x', 'b' = '2', 'a' = '1', 'c' = 'it''s', 'd' = '4'",
      sql.with({ { 'connector', 'x' }, { 'b', '2' }, { 'a', '1' } }, { d = '4', c = "it's" }))
    assert.are.equal('', sql.with({}))
  end)

  it('builds the JDBC URL of cfg.mysql, with another port and parameters in key order', function()
    assert.are.equal('jdbc:mysql://127.0.0.1:13306/fmhost', sql.jdbc_url(mysql))
    assert.are.equal('jdbc:mysql://127.0.0.1:40001/fmhost?a=1&useSSL=false',
      sql.jdbc_url(mysql, 40001, { useSSL = false, a = 1 }))
  end)

  it('builds the JDBC options of a table, with a given URL', function()
    assert.are.equal("'connector' = 'jdbc', 'url' = 'jdbc:mysql://h:1/d', 'driver' = 'com.mysql.cj.jdbc.Driver', "
      .. "'table-name' = 't', 'username' = 'u', 'password' = 'p''w', 'sink.max-retries' = '0'",
      sql.jdbc_options(mysql, 't', { ['sink.max-retries'] = '0' }, 'jdbc:mysql://h:1/d'))
  end)
end)

describe('fmhost.pipeline.pace (no server)', function()
  it('takes rows off the front of the ranges, across ranges, until none are left', function()
    local ranges = { { 1, 3 }, { 10, 5 } }
    assert.are.same({ { 1, 3 }, { 10, 1 } }, pace.take(ranges, 4))
    assert.are.same({ { 11, 4 } }, ranges)
    assert.are.same({ { 11, 4 } }, pace.take(ranges, 100))
    assert.are.same({}, ranges)
    assert.are.same({}, pace.take(ranges, 5))
  end)
end)
