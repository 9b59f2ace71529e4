package fmhost.flink.jetstream.job;

import fmhost.flink.jetstream.JetStreamConnectionConfig;
import fmhost.flink.jetstream.source.BoundedMode;
import fmhost.flink.jetstream.source.JetStreamSource;
import fmhost.flink.jetstream.source.JetStreamSourceBuilder;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.connector.jdbc.JdbcExactlyOnceOptions;
import org.apache.flink.connector.jdbc.JdbcExecutionOptions;
import org.apache.flink.connector.jdbc.JdbcSink;
import org.apache.flink.connector.jdbc.JdbcStatementBuilder;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.DeserializationFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.CheckpointingMode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.function.SerializableSupplier;

import javax.sql.XADataSource;
import java.math.BigDecimal;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * fmhost's own DataStream job: JSON messages from JetStream subjects into a MariaDB/MySQL table
 * through the JDBC connector's exactly-once sink (XA transactions, one per checkpoint and subtask,
 * committed when the checkpoint completes). Each JSON message is one row; the listed columns take
 * the fields of the same name (a missing field or JSON null is NULL; nested objects and arrays are
 * written as JSON text; numbers keep every digit).
 *
 * <pre>
 *   --servers nats://127.0.0.1:4222 --stream S --subjects a;b --table t --columns id,name,amount
 *   --jdbc-url jdbc:mysql://127.0.0.1:3306/db --user u --password p
 *   [--bounded unbounded|latest] [--parallelism n] [--checkpoint-ms 2000] [--batch-size 500]
 *   [--job-name name]
 * </pre>
 *
 * The XA data source is mysql-connector-j's {@code MysqlXADataSource} (on the cluster's classpath
 * with the JDBC connector), with {@code pinGlobalTxToPhysicalConnection}: MySQL and MariaDB allow
 * one XA transaction per connection, so the sink opens a connection per transaction
 * ({@code transactionPerConnection}), and commits each on the connection that prepared it.
 */
public final class JetStreamToJdbcJob {
    private JetStreamToJdbcJob() {}

    static final String USAGE = "usage: --servers URL --stream NAME --subjects A;B --table T --columns C1,C2 "
            + "--jdbc-url jdbc:mysql://HOST:PORT/DB --user U --password P [--bounded unbounded|latest] "
            + "[--parallelism N] [--checkpoint-ms MS] [--batch-size N] [--job-name NAME]";

    static Map<String, String> parse(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("JetStreamToJdbcJob: '" + a + "' is not --name value; " + USAGE);
            }
            m.put(a.substring(2), args[++i]);
        }
        List<String> known = List.of("servers", "stream", "subjects", "table", "columns", "jdbc-url", "user",
                "password", "bounded", "parallelism", "checkpoint-ms", "batch-size", "job-name");
        for (String k : m.keySet()) {
            if (!known.contains(k)) {
                throw new IllegalArgumentException("JetStreamToJdbcJob: unknown argument --" + k + "; " + USAGE);
            }
        }
        for (String k : List.of("servers", "stream", "subjects", "table", "columns", "jdbc-url", "user")) {
            if (!m.containsKey(k)) {
                throw new IllegalArgumentException("JetStreamToJdbcJob: --" + k + " is required; " + USAGE);
            }
        }
        return m;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = parse(args);
        List<String> columns = Arrays.stream(a.get("columns").split(",")).map(String::trim)
                .filter(s -> !s.isEmpty()).collect(Collectors.toList());
        for (String c : columns) {
            if (!c.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                throw new IllegalArgumentException("JetStreamToJdbcJob: '" + c + "' is not a plain column name");
            }
        }
        String table = a.get("table");
        if (!table.matches("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?")) {
            throw new IllegalArgumentException("JetStreamToJdbcJob: '" + table + "' is not a plain table name");
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        long checkpointMs = Long.parseLong(a.getOrDefault("checkpoint-ms", "2000"));
        env.enableCheckpointing(checkpointMs, CheckpointingMode.EXACTLY_ONCE);
        if (a.containsKey("parallelism")) {
            env.setParallelism(Integer.parseInt(a.get("parallelism")));
        }
        JetStreamSourceBuilder<String> sb = JetStreamSource.<String>builder()
                .connection(JetStreamConnectionConfig.builder().servers(a.get("servers")).build())
                .stream(a.get("stream"))
                .subjects(Arrays.asList(a.get("subjects").split(";")))
                .deserializer(new SimpleStringSchema());
        String bounded = a.getOrDefault("bounded", "unbounded");
        if (bounded.equals("latest")) {
            sb.bounded(BoundedMode.LATEST);
        } else if (!bounded.equals("unbounded")) {
            throw new IllegalArgumentException("JetStreamToJdbcJob: --bounded is unbounded or latest, not " + bounded);
        }
        String sql = "INSERT INTO " + table + " (" + String.join(", ", columns) + ") VALUES ("
                + columns.stream().map(c -> "?").collect(Collectors.joining(", ")) + ")";
        String url = a.get("jdbc-url");
        String user = a.get("user");
        String password = a.getOrDefault("password", "");
        SerializableSupplier<XADataSource> xa = () -> {
            try {
                com.mysql.cj.jdbc.MysqlXADataSource ds = new com.mysql.cj.jdbc.MysqlXADataSource();
                ds.setUrl(url);
                ds.setUser(user);
                ds.setPassword(password);
                ds.setPinGlobalTxToPhysicalConnection(true);
                return ds;
            } catch (SQLException e) {
                throw new IllegalStateException("JetStreamToJdbcJob: XA data source for " + url + ": " + e.getMessage(), e);
            }
        };
        env.fromSource(sb.build(), WatermarkStrategy.noWatermarks(), "jetstream " + a.get("stream"))
                .uid("jetstream-source")
                .addSink(JdbcSink.exactlyOnceSink(sql, new JsonRow(columns),
                        JdbcExecutionOptions.builder()
                                .withBatchSize(Integer.parseInt(a.getOrDefault("batch-size", "500")))
                                .withMaxRetries(0) // the XA sink refuses retries: they could duplicate rows
                                .build(),
                        JdbcExactlyOnceOptions.builder().withTransactionPerConnection(true).build(),
                        xa))
                .name("jdbc exactly-once " + table)
                .uid("jdbc-xa-sink");
        env.execute(a.getOrDefault("job-name", "jetstream-to-jdbc " + a.get("stream") + " -> " + table));
    }

    /** Sets the statement's parameters from one JSON object's fields. */
    static final class JsonRow implements JdbcStatementBuilder<String> {
        private static final long serialVersionUID = 1L;
        private static final ObjectMapper JSON = new ObjectMapper()
                .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS);
        private final ArrayList<String> columns;

        JsonRow(List<String> columns) {
            this.columns = new ArrayList<>(columns);
        }

        @Override
        public void accept(PreparedStatement ps, String message) throws SQLException {
            JsonNode row;
            try {
                row = JSON.readTree(message);
            } catch (Exception e) {
                throw new SQLException("JetStreamToJdbcJob: a message is not JSON: " + e.getMessage(), e);
            }
            if (row == null || !row.isObject()) {
                throw new SQLException("JetStreamToJdbcJob: a message is not a JSON object: "
                        + (message.length() > 200 ? message.substring(0, 200) + "..." : message));
            }
            Map<String, JsonNode> fields = new HashMap<>();
            row.fields().forEachRemaining(e -> fields.put(e.getKey(), e.getValue()));
            for (int i = 0; i < columns.size(); i++) {
                JsonNode v = fields.get(columns.get(i));
                int p = i + 1;
                if (v == null || v.isNull()) {
                    ps.setNull(p, java.sql.Types.NULL);
                } else if (v.isBoolean()) {
                    ps.setBoolean(p, v.booleanValue());
                } else if (v.isIntegralNumber()) {
                    ps.setBigDecimal(p, new BigDecimal(v.bigIntegerValue()));
                } else if (v.isNumber()) {
                    ps.setBigDecimal(p, v.decimalValue());
                } else if (v.isTextual()) {
                    ps.setString(p, v.textValue());
                } else {
                    ps.setString(p, v.toString());
                }
            }
        }
    }
}
