-- Orders: paid orders only, with the tax computed, into a MariaDB table.
-- The oracle is the same filter and arithmetic as an SQL query over the
-- staged orders, run by MariaDB.
return {
  name = 'orders',
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
    sql = [[
      CREATE TEMPORARY TABLE orders (
        id BIGINT, customer_id INT, amount DECIMAL(12,2), status STRING, note STRING, created_at TIMESTAMP(3)
      ) WITH (${source.orders.options});

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
