package fmhost.flink.jetstream;

import fmhost.flink.jetstream.sink.JetStreamSink;
import io.nats.client.api.RetentionPolicy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 'connector' = 'nats-jetstream' and the DataStream sink in a MiniCluster against a real nats-server. */
class SqlConnectorTest {
    @RegisterExtension
    static final MiniClusterExtension MINI = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());

    static NatsServer nats;

    @BeforeAll
    static void up() throws Exception {
        nats = NatsServer.start();
    }

    @AfterAll
    static void down() throws Exception {
        nats.close();
    }

    static StreamTableEnvironment tableEnv(int parallelism) {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        env.getConfig().setRestartStrategy(org.apache.flink.api.common.restartstrategy.RestartStrategies.noRestart());
        return StreamTableEnvironment.create(env);
    }

    String with(String stream, String extra) {
        return "'connector' = 'nats-jetstream', 'servers' = '" + nats.url() + "', 'stream' = '" + stream + "', "
                + "'format' = 'json'" + (extra.isEmpty() ? "" : ", " + extra);
    }

    static List<String> json(String subject, int n) {
        return IntStream.range(0, n).mapToObj(i -> String.format("{\"id\": %d, \"name\": \"%s-%d\"}",
                (long) subject.hashCode() * 100000L + i, subject, i)).collect(Collectors.toList());
    }

    static Set<String> rows(TableResult r) throws Exception {
        Set<String> out = new TreeSet<>();
        List<String> all = new ArrayList<>();
        try (CloseableIterator<Row> it = r.collect()) {
            while (it.hasNext()) {
                Row row = it.next();
                all.add(row.getField(0) + "|" + row.getField(1));
            }
        }
        out.addAll(all);
        assertEquals(all.size(), out.size(), "no row twice");
        return out;
    }

    static Set<String> expected(String subject, int n) {
        Set<String> out = new TreeSet<>();
        for (int i = 0; i < n; i++) {
            out.add(((long) subject.hashCode() * 100000L + i) + "|" + subject + "-" + i);
        }
        return out;
    }

    @Test
    void aBoundedSqlReadOfFourSubjectsAtParallelismFourReturnsEveryRowOnce() throws Exception {
        nats.createStream("SQLREAD", RetentionPolicy.Limits, "s.*");
        Set<String> expect = new TreeSet<>();
        for (String s : List.of("s.a", "s.b", "s.c", "s.d")) {
            nats.publish(s, json(s, 2500), s);
            expect.addAll(expected(s, 2500));
        }
        StreamTableEnvironment t = tableEnv(4);
        t.executeSql("CREATE TABLE src (id BIGINT, name STRING) WITH ("
                + with("SQLREAD", "'subjects' = 's.a;s.b;s.c;s.d', 'scan.bounded.mode' = 'latest'") + ")");
        assertEquals(expect, rows(t.executeSql("SELECT id, name FROM src")));
    }

    @Test
    void theSqlSinkPublishesWithTheKeyAsMessageIdSoTheStreamDropsRepeats() throws Exception {
        nats.createStream("SQLSINK", RetentionPolicy.Limits, "out.>");
        StreamTableEnvironment t = tableEnv(2);
        t.executeSql("CREATE TABLE snk (id BIGINT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ("
                + with("SQLSINK", "'sink.subject' = 'out.rows', 'subjects' = 'out.rows'") + ")");
        t.executeSql("INSERT INTO snk VALUES (1, 'one'), (2, 'two'), (3, 'three')").await();
        // the same keys again, as a job restarted from a checkpoint would publish them
        t.executeSql("INSERT INTO snk VALUES (1, 'one'), (2, 'two'), (4, 'four')").await();
        assertEquals(4, nats.messages("SQLSINK"), "keys 1 and 2 were dropped the second time");
        StreamTableEnvironment r = tableEnv(1);
        r.executeSql("CREATE TABLE back (id BIGINT, name STRING) WITH ("
                + with("SQLSINK", "'subjects' = 'out.rows', 'scan.bounded.mode' = 'latest'") + ")");
        assertEquals(new TreeSet<>(List.of("1|one", "2|two", "3|three", "4|four")),
                rows(r.executeSql("SELECT id, name FROM back")));
    }

    @Test
    void aMisspelledOptionIsNamedByFlinksValidation() {
        StreamTableEnvironment t = tableEnv(1);
        t.executeSql("CREATE TABLE typo (id BIGINT, name STRING) WITH ("
                + with("ANY", "'subjcts' = 'a.b'") + ")");
        Exception e = assertThrows(Exception.class, () -> t.executeSql("SELECT * FROM typo"));
        String text = ExceptionUtils.stringifyException(e);
        assertTrue(text.contains("Unsupported options found for 'nats-jetstream'"), text);
        assertTrue(text.contains("subjcts"), text);
        assertTrue(text.contains("subjects"), "the supported options are listed: " + text);
    }

    @Test
    void anUnknownAckPolicyAndAStartSequenceWithoutItsModeAreRefused() {
        StreamTableEnvironment t = tableEnv(1);
        t.executeSql("CREATE TABLE badack (id BIGINT) WITH ("
                + with("ANY", "'subjects' = 'a', 'scan.ack-policy' = 'explicit'") + ")");
        String text = ExceptionUtils.stringifyException(assertThrows(Exception.class,
                () -> t.executeSql("SELECT * FROM badack")));
        assertTrue(text.contains("scan.ack-policy") && text.contains("none") && text.contains("all"), text);
        t.executeSql("CREATE TABLE badseq (id BIGINT) WITH ("
                + with("ANY", "'subjects' = 'a', 'scan.startup.sequence' = '5'") + ")");
        text = ExceptionUtils.stringifyException(assertThrows(Exception.class,
                () -> t.executeSql("SELECT * FROM badseq")));
        assertTrue(text.contains("'scan.startup.sequence' needs 'scan.startup.mode' = 'sequence'"), text);
        t.executeSql("CREATE TABLE nosubj (id BIGINT) WITH (" + with("ANY", "") + ")");
        text = ExceptionUtils.stringifyException(assertThrows(Exception.class,
                () -> t.executeSql("SELECT * FROM nosubj")));
        assertTrue(text.contains("needs the option 'subjects'"), text);
    }

    @Test
    void aPoisonMessageFailsTheJobNamingItsSubjectAndSequenceOrIsSkippedAndCounted() throws Exception {
        nats.createStream("POISON", RetentionPolicy.Limits, "p.a");
        nats.publish("p.a", List.of("{\"id\": 1, \"name\": \"ok\"}"), "x");
        List<Long> seq = nats.publish("p.a", List.of("{\"id\": 2, \"name\": "), "y");
        nats.publish("p.a", List.of("{\"id\": 3, \"name\": \"ok too\"}"), "z");
        StreamTableEnvironment t = tableEnv(1);
        t.executeSql("CREATE TABLE strict (id BIGINT, name STRING) WITH ("
                + with("POISON", "'subjects' = 'p.a', 'scan.bounded.mode' = 'latest'") + ")");
        Exception e = assertThrows(Exception.class, () -> rows(t.executeSql("SELECT id, name FROM strict")));
        String text = ExceptionUtils.stringifyException(e);
        assertTrue(text.contains("cannot decode the message at sequence " + seq.get(0)
                + " of stream 'POISON' (subject 'p.a')"), text);
        t.executeSql("CREATE TABLE lenient (id BIGINT, name STRING) WITH ("
                + with("POISON", "'subjects' = 'p.a', 'scan.bounded.mode' = 'latest', "
                + "'scan.deserialization-errors' = 'skip'") + ")");
        assertEquals(new TreeSet<>(List.of("1|ok", "3|ok too")), rows(t.executeSql("SELECT id, name FROM lenient")));
    }

    @Test
    void theDataStreamSinkDeduplicatesByMessageIdAndNamesAMissingStream() throws Exception {
        nats.createStream("DSSINK", RetentionPolicy.Limits, "ds.out");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        List<String> input = new ArrayList<>();
        for (int i = 0; i < 600; i++) {
            input.add("v" + (i % 200)); // every value three times
        }
        env.fromData(input).sinkTo(JetStreamSink.<String>builder().connection(nats.config()).stream("DSSINK")
                .subject("ds.out").serializer(new SimpleStringSchema()).messageId(v -> v).build());
        env.execute("sink dedup");
        assertEquals(200, nats.messages("DSSINK"));

        StreamExecutionEnvironment env2 = StreamExecutionEnvironment.getExecutionEnvironment();
        env2.setParallelism(1);
        env2.getConfig().setRestartStrategy(org.apache.flink.api.common.restartstrategy.RestartStrategies.noRestart());
        env2.fromData("x").sinkTo(JetStreamSink.<String>builder()
                .connection(fmhost.flink.jetstream.JetStreamConnectionConfig.builder().servers(nats.url())
                        .requestTimeout(java.time.Duration.ofSeconds(2)).build())
                .subject("nowhere.at.all").serializer(new SimpleStringSchema()).maxRetries(0).build());
        String text = ExceptionUtils.stringifyException(assertThrows(Exception.class, () -> env2.execute("no stream")));
        assertTrue(text.contains("publishing to subject 'nowhere.at.all' failed"), text);
        assertTrue(text.contains("no stream stores that subject"), text);
    }
}
