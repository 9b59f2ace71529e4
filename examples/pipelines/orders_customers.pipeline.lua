-- Orders joined with customers: each order's customer_id draws from the
-- customers' keys (ref), so every order finds its customer. The oracle is
-- the same join run by MariaDB over the staged sources.
return {
  name = 'orders_customers',
  seed = 5,
  data = {
    customers = {
      rows = 200,
      columns = {
        { name = 'id', type = 'INT', primary_key = true, distribution = 'sequential' },
        { name = 'name', type = 'VARCHAR(40)', charset = 'utf8' },
        { name = 'country', type = 'CHAR(2)', charset = 'ascii' },
      },
    },
    orders = {
      rows = 2000,
      columns = {
        { name = 'id', type = 'BIGINT', primary_key = true, distribution = 'sequential' },
        { name = 'customer_id', type = 'INT', ref = 'customers.id' },
        { name = 'amount', type = 'DECIMAL(12,2)' },
      },
    },
  },
  flink = {
    sql = [[
      CREATE TEMPORARY TABLE customers (id INT, name STRING, country STRING) WITH (${source.customers.options});
      CREATE TEMPORARY TABLE orders (id BIGINT, customer_id INT, amount DECIMAL(12,2)) WITH (${source.orders.options});
      CREATE TEMPORARY TABLE enriched (order_id BIGINT, customer_name STRING, country STRING, amount DECIMAL(12,2),
        PRIMARY KEY (order_id) NOT ENFORCED) WITH (${sink.jdbc});
      INSERT INTO enriched
      SELECT o.id, c.name, c.country, o.amount FROM orders o JOIN customers c ON o.customer_id = c.id;
    ]],
  },
  sink = {
    ddl = [[CREATE TABLE ${sink.table} (order_id BIGINT PRIMARY KEY, customer_name VARCHAR(40) NOT NULL,
      country CHAR(2) NOT NULL, amount DECIMAL(12,2) NOT NULL) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin]],
  },
  expect = {
    sql = [[SELECT o.id AS order_id, c.name AS customer_name, c.country, o.amount
            FROM ${source.orders.table} o JOIN ${source.customers.table} c ON o.customer_id = c.id]],
  },
}
