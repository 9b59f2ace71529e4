-- The orders pipeline as a jar job (examples/jobs/orders-job, a Flink Table
-- API program of the project's own, built by Maven when its jar is missing):
-- uploaded and run through the JobManager's REST API, judged by the same
-- SQL oracle as the SQL version.
return {
  name = 'orders_jar',
  seed = 42,
  rows = 3000,
  data = {
    orders = {
      columns = {
        { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
        { name = 'customer_id', type = 'INT', min = 1, max = 500 },
        { name = 'amount', type = 'DECIMAL(12,2)' },
        { name = 'status', type = 'ENUM', values = { 'new', 'paid', 'shipped', 'cancelled' } },
        { name = 'note', type = 'VARCHAR(40)', charset = 'emoji', nullable = true, null_ratio = 0.1 },
        { name = 'created_at', type = 'DATETIME(3)' },
      },
    },
  },
  flink = {
    jar = {
      build = '../jobs/orders-job',                       -- a Maven project, relative to this file
      path = '${root}/build/jobs/orders-job/orders-job.jar',
      entry = 'fmhost.examples.OrdersJob',
      args = { '--path', '${source.orders.path}', '--url', '${sink.url}', '--table', '${sink.table}',
               '--user', '${sink.user}', '--password', '${sink.password}' },
      parallelism = 1,
    },
  },
  sink = {
    ddl = [[CREATE TABLE ${sink.table} (id BIGINT PRIMARY KEY, customer_id INT NOT NULL,
      amount DECIMAL(12,2) NOT NULL, tax DECIMAL(12,2) NOT NULL, note VARCHAR(40) NULL,
      created_at DATETIME(3) NOT NULL) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin]],
  },
  expect = {
    sql = [[SELECT id, customer_id, amount, ROUND(amount * 0.2, 2) AS tax, note, created_at
            FROM ${source.orders.table} WHERE status IN ('paid', 'shipped')]],
  },
}
