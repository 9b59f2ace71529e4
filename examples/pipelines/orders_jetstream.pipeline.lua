-- Orders through NATS JetStream: the orders example's rows published by
-- fmhost into a JetStream stream it creates (2 subjects, each row one JSON
-- message keyed by its id), read by Flink with fmhost's JetStream connector
-- (${source.orders.nats}: servers, stream, subjects, format and the bounded
-- mode), the paid and shipped ones written into MariaDB with their tax.
-- The oracle is the same filter and arithmetic as an SQL query over the
-- orders staged in MariaDB. The stream is deleted when the run ends.
return {
  name = 'orders_jetstream',
  seed = 42,
  rows = 3000,
  data = {
    orders = {
      deliver = 'jetstream',
      subjects = 2, -- pl_orders_jetstream_orders.orders.1 and .2, one split each
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
    session = { ['parallelism.default'] = '2' },
    sql = [[
      CREATE TEMPORARY TABLE orders (
        id BIGINT, customer_id INT, amount DECIMAL(12,2), status STRING, note STRING, created_at TIMESTAMP(3)
      ) WITH (${source.orders.nats});

      CREATE TEMPORARY TABLE paid_orders (
        id BIGINT, customer_id INT, amount DECIMAL(12,2), tax DECIMAL(12,2), note STRING, created_at TIMESTAMP(3),
        PRIMARY KEY (id) NOT ENFORCED
      ) WITH (${sink.jdbc});

      INSERT INTO paid_orders
      SELECT id, customer_id, amount, CAST(amount * 0.2 AS DECIMAL(12,2)), note, created_at
      FROM orders WHERE status IN ('paid', 'shipped');
    ]],
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
