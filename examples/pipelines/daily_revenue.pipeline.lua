-- A windowed aggregate: orders summed per day (a tumbling event-time window)
-- into a summary table. The oracle is a GROUP BY query over the staged
-- orders, run by MariaDB.
return {
  name = 'daily_revenue',
  seed = 9,
  rows = 3000,
  data = {
    orders = {
      columns = {
        { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
        { name = 'amount', type = 'DECIMAL(12,2)' },
        { name = 'created_at', type = 'DATETIME(3)', min = '2024-03-01 00:00:00', max = '2024-03-31 23:59:59' },
      },
    },
  },
  flink = {
    sql = [[
      CREATE TEMPORARY TABLE orders (id BIGINT, amount DECIMAL(12,2), created_at TIMESTAMP(3),
        -- the rows arrive in any order within the month: a watermark that waits the month out
        WATERMARK FOR created_at AS created_at - INTERVAL '31' DAY) WITH (${source.options});
      CREATE TEMPORARY TABLE daily (day_start TIMESTAMP(3), orders BIGINT, revenue DECIMAL(38,2),
        PRIMARY KEY (day_start) NOT ENFORCED) WITH (${sink.jdbc});
      INSERT INTO daily
      SELECT window_start, COUNT(*), SUM(amount)
      FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(created_at), INTERVAL '1' DAY))
      GROUP BY window_start, window_end;
    ]],
  },
  sink = {
    ddl = [[CREATE TABLE ${sink.table} (day_start DATETIME(3) PRIMARY KEY, orders BIGINT NOT NULL,
      revenue DECIMAL(38,2) NOT NULL)]],
  },
  expect = {
    sql = [[SELECT CAST(DATE(created_at) AS DATETIME(3)) AS day_start, COUNT(*) AS orders, SUM(amount) AS revenue
            FROM ${source.table} GROUP BY DATE(created_at)]],
  },
}
