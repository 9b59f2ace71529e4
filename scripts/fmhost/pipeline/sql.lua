-- The Flink SQL a pipeline is authored in: string literals and identifiers,
-- WITH (...) option lists, the JDBC connector's options for a MariaDB table
-- (the stack's private server by default), and the Flink types of MariaDB
-- column types. fmhost.pipeline, fmhost.pipeline_nats, fmhost.conformance,
-- the benches and the specs write their DDL with it; the stack's Flink
-- (fmhost.stack.flink) runs the cluster and knows nothing of tables.
--
--   local sql = require 'fmhost.pipeline.sql'
--   sql.quote("it's") -> 'it''s'            sql.ident('a`b') -> `a``b`
--   sql.with({{'connector', 'jdbc'}}, {['sink.buffer-flush.max-rows'] = '100'})
--   sql.jdbc_url(cfg.mysql [, port, params]) -> jdbc:mysql://127.0.0.1:13306/fmhost
--   sql.jdbc_options(cfg.mysql, 'orders' [, extra, url]) -> the WITH options, as SQL text
--   sql.flink_types('BIGINT UNSIGNED') -> source type, sink type, SELECT expression
local M = {}

-- A Flink SQL string literal.
function M.quote(v) return "'" .. tostring(v):gsub("'", "''") .. "'" end

-- A quoted identifier (table or column name).
function M.ident(name) return '`' .. tostring(name):gsub('`', '``') .. '`' end

-- The WITH (...) options of list = {{key, value}, ...}, then those of
-- extra = {key = value} in key order, as SQL text: 'k' = 'v', ...
function M.with(list, extra)
  local opts = {}
  for _, kv in ipairs(list) do opts[#opts + 1] = kv end
  local keys = {}
  for k in pairs(extra or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do opts[#opts + 1] = { k, extra[k] } end
  local parts = {}
  for _, kv in ipairs(opts) do parts[#parts + 1] = M.quote(kv[1]) .. ' = ' .. M.quote(kv[2]) end
  return table.concat(parts, ', ')
end

-- The JDBC URL Flink's MySQL dialect accepts for mysql (cfg.mysql: host,
-- port, database): jdbc:mysql://host:port/database; port replaces
-- mysql.port (a proxy's, say); params = {k = v} are appended in key order.
function M.jdbc_url(mysql, port, params)
  local url = ('jdbc:mysql://%s:%d/%s'):format(mysql.host, tonumber(port or mysql.port), mysql.database)
  if params and next(params) then
    local keys, parts = {}, {}
    for k in pairs(params) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. '=' .. tostring(params[k]) end
    url = url .. '?' .. table.concat(parts, '&')
  end
  return url
end

-- The WITH (...) options of a Flink SQL table on the MariaDB table
-- table_name through the JDBC connector, as SQL text: connector, url (url,
-- else M.jdbc_url(mysql)), driver, table-name, username and password of
-- mysql (cfg.mysql), then extra = {['sink.buffer-flush.max-rows'] = '100', ...}
-- in key order.
function M.jdbc_options(mysql, table_name, extra, url)
  return M.with({ { 'connector', 'jdbc' }, { 'url', url or M.jdbc_url(mysql) },
                  { 'driver', 'com.mysql.cj.jdbc.Driver' }, { 'table-name', table_name },
                  { 'username', mysql.user }, { 'password', mysql.password } }, extra)
end

-- The Flink types a user declares for a MariaDB column type, following the
-- JDBC connector's documented mapping: the source field's type (what
-- Flink's json format reads the generator's JSON value into), the sink
-- column's type and the SELECT expression (`%s` = the source field).
-- Returns source, sink, select | nil, msg.
function M.flink_types(sql_type)
  local t = sql_type:upper():gsub('%s+', ' ')
  local uns = t:find(' UNSIGNED', 1, true) ~= nil
  local base = t:match('^(%a+)')
  local p, s = t:match('^DECIMAL%((%d+),%s*(%d+)%)')
  local fsp = t:match('^%a+%((%d)%)') or '0'
  local ints = {
    TINYINT = uns and 'SMALLINT' or 'TINYINT', SMALLINT = uns and 'INT' or 'SMALLINT',
    MEDIUMINT = 'INT', INT = uns and 'BIGINT' or 'INT', INTEGER = uns and 'BIGINT' or 'INT',
    BIGINT = uns and 'DECIMAL(20,0)' or 'BIGINT',
  }
  if ints[base] then return ints[base], ints[base], '%s' end
  if base == 'DECIMAL' or base == 'NUMERIC' then
    p, s = tonumber(p or 10), tonumber(s or 0)
    if p > 38 then
      return nil, ('%s has no Flink type: Flink DECIMAL stops at precision 38; give the column flink = '
        .. "'STRING' (exact) or a DECIMAL(38,s) (values that do not fit are lost)"):format(sql_type)
    end
    local d = ('DECIMAL(%d,%d)'):format(p, s)
    return d, d, '%s'
  end
  if base == 'FLOAT' then return 'FLOAT', 'FLOAT', '%s' end
  if base == 'DOUBLE' or base == 'REAL' then return 'DOUBLE', 'DOUBLE', '%s' end
  if base == 'BOOLEAN' or base == 'BOOL' then return 'BOOLEAN', 'BOOLEAN', '%s' end
  if base == 'CHAR' or base == 'VARCHAR' or base:match('TEXT$') or base == 'ENUM' or base == 'SET'
      or base == 'JSON' then
    return 'STRING', 'STRING', '%s'
  end
  if base == 'BINARY' or base == 'VARBINARY' or base:match('BLOB$') then return 'BYTES', 'BYTES', '%s' end
  if base == 'DATE' then return 'DATE', 'DATE', '%s' end
  if base == 'TIME' then return 'TIME(' .. fsp .. ')', 'TIME(' .. fsp .. ')', '%s' end
  if base == 'DATETIME' then return 'TIMESTAMP(' .. fsp .. ')', 'TIMESTAMP(' .. fsp .. ')', '%s' end
  if base == 'TIMESTAMP' then
    -- fmhost.gen writes a TIMESTAMP as UTC text ending in Z, which Flink's json
    -- format reads into TIMESTAMP_LTZ; the MySQL dialect takes no
    -- TIMESTAMP_LTZ, so the user casts to TIMESTAMP (in the session zone)
    local ts = 'TIMESTAMP(' .. fsp .. ')'
    return 'TIMESTAMP_LTZ(' .. fsp .. ')', ts, 'CAST(%s AS ' .. ts .. ')'
  end
  return nil, 'no Flink type known for MariaDB type ' .. sql_type .. ': give the column flink = and sink ='
end

return M
