-- Nested JSON events flattened with JSON_VALUE: each line is a document
-- built from the generator's columns by path; the job pulls the fields out
-- and the oracle is the generator's own rows.
return {
  name = 'events',
  seed = 7,
  rows = 2000,
  data = {
    events = {
      columns = {
        { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
        { name = 'city', type = 'VARCHAR(40)', charset = 'utf8', nullable = true, null_ratio = 0.05 },
        { name = 'lat', type = 'DOUBLE', min = -90, max = 90 },
        { name = 'amount', type = 'DECIMAL(10,2)' },
        { name = 'ts', type = 'TIMESTAMP(3)' },
      },
      -- {"id":1,"ts":"...Z","payload":{"amount":"12.30","geo":{"city":"...","lat":..}}}
      document = { id = 'id', ts = 'ts', ['payload.geo.city'] = 'city', ['payload.geo.lat'] = 'lat',
                   ['payload.amount'] = { column = 'amount', as = 'string' } },
    },
  },
  flink = {
    sql = [[
      CREATE TEMPORARY TABLE events (id BIGINT, ts TIMESTAMP_LTZ(3), payload STRING) WITH (${source.options});
      CREATE TEMPORARY TABLE flat (id BIGINT, city STRING, lat DOUBLE, amount DECIMAL(10,2), ts TIMESTAMP(3),
        PRIMARY KEY (id) NOT ENFORCED) WITH (${sink.jdbc});
      INSERT INTO flat
      SELECT id,
             JSON_VALUE(payload, '$.geo.city'),
             JSON_VALUE(payload, '$.geo.lat' RETURNING DOUBLE),
             CAST(JSON_VALUE(payload, '$.amount') AS DECIMAL(10,2)),
             CAST(ts AS TIMESTAMP(3))
      FROM events;
    ]],
  },
  sink = { from = 'events' },
  expect = { generator = 'events' },
}
