-- CSV files delivery (data.<src>.format = 'csv') against the real stack:
-- nullable VARCHAR with both NULLs and empty strings drawn, INT and DECIMAL
-- with NULLs, read by Flink's csv format and compared value by value with
-- the generator. The generator writes its rfc4180 dialect (NULL as the
-- unquoted \N, "" for an empty string, no escape character).
local P = require 'fmhost.pipeline'
local stack = require 'fmhost.stack'
local pool = require 'fmhost.pool'

describe('pipeline CSV source #flink #mysql', function()
  lazy_setup(function() assert(stack.ensure(cfg, { 'mariadb', 'flink' })) end)

  it('keeps NULLs apart from empty strings through Flink csv, every value compared', function()
    local d = {
      name = 'csvnulls',
      seed = 7,
      rows = 400,
      data = {
        src = {
          format = 'csv',
          columns = {
            { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
            { name = 's', type = 'VARCHAR(20)', nullable = true, null_ratio = 0.2, edge_ratio = 0.3, edges = { 'empty' } },
            { name = 'n', type = 'INT', nullable = true, null_ratio = 0.2 },
            { name = 'm', type = 'DECIMAL(10,2)', nullable = true, null_ratio = 0.2 },
          },
        },
      },
      flink = {
        sql = [[
          CREATE TEMPORARY TABLE src (id BIGINT, s STRING, n INT, m DECIMAL(10,2)) WITH (${source.src.options});
          CREATE TEMPORARY TABLE out_t (id BIGINT, s STRING, n INT, m DECIMAL(10,2),
            PRIMARY KEY (id) NOT ENFORCED) WITH (${sink.jdbc});
          INSERT INTO out_t SELECT id, s, n, m FROM src;
        ]],
      },
      sink = {
        ddl = [[CREATE TABLE ${sink.table} (id BIGINT PRIMARY KEY, s VARCHAR(20) NULL, n INT NULL,
          m DECIMAL(10,2) NULL) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin]],
      },
      expect = { sql = [[SELECT id, s, n, m FROM ${source.src.table}]] },
    }
    local r = P.run(d)
    assert.pipeline(r)
    assert.are.equal(400, r.verdict.counts.matched, P.format(r))
    -- the data really held both kinds (so the comparison could tell them apart)
    local m = cfg.mysql
    local db = assert(pool.open { host = m.host, port = m.port, user = m.user, password = m.password,
                                  database = m.database, size = 1 })
    finally(function() db:close() end)
    local rows = assert(db:query([[SELECT SUM(s IS NULL) AS a, SUM(s = '') AS b, SUM(n IS NULL) AS c,
      SUM(m IS NULL) AS d FROM pl_csvnulls_out]]))
    for _, k in ipairs { 'a', 'b', 'c', 'd' } do
      assert.is_true(tonumber(rows[1][k]) > 10, k .. ': ' .. tostring(rows[1][k]))
    end
  end)
end)
