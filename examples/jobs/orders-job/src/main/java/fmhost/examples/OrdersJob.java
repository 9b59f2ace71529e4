package fmhost.examples;

import java.util.HashMap;
import java.util.Map;

import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;

/**
 * The orders pipeline as a jar: reads the orders (JSON lines in a folder),
 * keeps the paid and shipped ones, computes the tax and upserts them into a
 * MariaDB table through the JDBC connector.
 *
 * Arguments: --path DIR --url JDBC_URL --table NAME --user U --password P.
 */
public final class OrdersJob {
  private OrdersJob() {}

  private static String quote(String s) {
    return "'" + s.replace("'", "''") + "'";
  }

  public static void main(String[] args) {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    for (String k : new String[] {"path", "url", "table", "user", "password"}) {
      if (!a.containsKey(k)) {
        throw new IllegalArgumentException("missing argument --" + k);
      }
    }
    TableEnvironment t = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    t.getConfig().set("table.local-time-zone", "UTC");
    t.executeSql("CREATE TEMPORARY TABLE orders (id BIGINT, customer_id INT, amount DECIMAL(12,2), status STRING, "
        + "note STRING, created_at TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = " + quote(a.get("path"))
        + ", 'format' = 'json')");
    t.executeSql("CREATE TEMPORARY TABLE paid_orders (id BIGINT, customer_id INT, amount DECIMAL(12,2), "
        + "tax DECIMAL(12,2), note STRING, created_at TIMESTAMP(3), PRIMARY KEY (id) NOT ENFORCED) WITH ("
        + "'connector' = 'jdbc', 'driver' = 'com.mysql.cj.jdbc.Driver', 'url' = " + quote(a.get("url"))
        + ", 'table-name' = " + quote(a.get("table")) + ", 'username' = " + quote(a.get("user"))
        + ", 'password' = " + quote(a.get("password")) + ")");
    t.executeSql("INSERT INTO paid_orders SELECT id, customer_id, amount, CAST(amount * 0.2 AS DECIMAL(12,2)), note, "
        + "created_at FROM orders WHERE status IN ('paid', 'shipped')");
  }
}
