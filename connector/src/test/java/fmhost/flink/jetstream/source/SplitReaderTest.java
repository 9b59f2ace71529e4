package fmhost.flink.jetstream.source;

import fmhost.flink.jetstream.NatsServer;
import io.nats.client.Connection;
import io.nats.client.FetchConsumer;
import io.nats.client.api.RetentionPolicy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.testutils.source.reader.TestingReaderContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The split reader driven directly, one fetch at a time, against a real nats-server: messages its
 * consumer delivered to some other pull (what nats-server 2.9 now and then does to a pull that had
 * already ended) must still reach the reader, where no later message would show the gap.
 */
class SplitReaderTest {
    static NatsServer nats;

    @BeforeAll
    static void up() throws Exception {
        nats = NatsServer.start();
    }

    @AfterAll
    static void down() throws Exception {
        nats.close();
    }

    static List<String> bodies(String prefix, int from, int n) {
        return IntStream.range(from, from + n).mapToObj(i -> prefix + "-" + i).collect(Collectors.toList());
    }

    static JetStreamSplitReader reader(ConnectionHolder conn, String stream, String subject) {
        JetStreamSourceConfig cfg = config(stream, subject);
        JetStreamSplitReader r = new JetStreamSplitReader(cfg, conn,
                new JetStreamReaderMetrics(new TestingReaderContext().metricGroup()));
        r.handleSplitsChanges(new SplitsAddition<>(List.of(new JetStreamSplit(subject, 1, JetStreamSplit.NO_STOP, -1, 0))));
        return r;
    }

    static JetStreamSourceConfig config(String stream, String subject) {
        return JetStreamSource.<String>builder().connection(nats.config()).stream(stream).subjects(subject)
                .deserializer(new SimpleStringSchema()).batchSize(100).fetchTimeout(Duration.ofSeconds(1))
                .buildConfig();
    }

    /** Fetches until got holds n records or the time is up. */
    static void drain(JetStreamSplitReader r, List<String> got, int n, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (got.size() < n && System.nanoTime() < deadline) {
            RecordsWithSplitIds<JetStreamMessage> rs = r.fetch();
            while (rs.nextSplit() != null) {
                JetStreamMessage m;
                while ((m = rs.nextRecordFromSplit()) != null) {
                    got.add(new String(m.data(), StandardCharsets.UTF_8));
                }
            }
            rs.recycle();
        }
    }

    /** want == got, reported by the first record that differs, not the whole lists. */
    static void assertRecords(List<String> want, List<String> got) {
        int i = 0;
        while (i < want.size() && i < got.size() && want.get(i).equals(got.get(i))) {
            i++;
        }
        if (i < want.size() || i < got.size()) {
            throw new AssertionError(String.format("%d records read, %d expected; first difference at %d: %s instead of %s",
                    got.size(), want.size(), i, i < got.size() ? got.get(i) : "nothing",
                    i < want.size() ? want.get(i) : "nothing"));
        }
    }

    /** Pulls n messages from the stream's only consumer, past the reader. */
    static void steal(Connection c, String stream, int n) throws Exception {
        List<String> names = c.jetStreamManagement().getConsumerNames(stream);
        assertEquals(1, names.size(), "one consumer per split: " + names);
        int stolen = 0;
        try (FetchConsumer fc = c.getStreamContext(stream).getConsumerContext(names.get(0)).fetchMessages(n)) {
            while (fc.nextMessage() != null) {
                stolen++;
            }
        }
        assertEquals(n, stolen, "messages pulled past the reader");
    }

    @Test
    void messagesDeliveredElsewhereAtTheEndOfTheStreamAreReadFromTheStream() throws Exception {
        nats.createStream("TAIL", RetentionPolicy.Limits, "tail.a");
        List<String> all = new ArrayList<>(bodies("tail", 0, 500));
        nats.publish("tail.a", all, "tail");
        List<String> got = new ArrayList<>();
        try (Connection c = nats.connect();
             ConnectionHolder conn = new ConnectionHolder(config("TAIL", "tail.a").connection, "split-reader-test")) {
            JetStreamSplitReader r = reader(conn, "TAIL", "tail.a");
            try {
                drain(r, got, all.size(), Duration.ofSeconds(30));
                assertRecords(all, got);
                List<String> more = bodies("tail", 500, 3);
                nats.publish("tail.a", more, "tail-more"); // other message ids: no duplicates
                all.addAll(more);
                steal(c, "TAIL", 3); // the last three messages: nothing after them shows a gap
                drain(r, got, all.size(), Duration.ofSeconds(10));
            } finally {
                r.close();
            }
        }
        assertRecords(all, got);
    }

    @Test
    void messagesDeliveredElsewhereBeforeANewConsumersFirstMessageAreReadFromTheStream() throws Exception {
        nats.createStream("FIRST", RetentionPolicy.Limits, "first.a");
        List<String> all = new ArrayList<>(bodies("first", 0, 200));
        nats.publish("first.a", all, "first");
        List<String> got = new ArrayList<>();
        try (Connection c = nats.connect();
             ConnectionHolder conn = new ConnectionHolder(config("FIRST", "first.a").connection, "split-reader-test")) {
            JetStreamSplitReader r = reader(conn, "FIRST", "first.a");
            try {
                drain(r, got, all.size(), Duration.ofSeconds(30));
                // the consumer disappears (as after an outage); the reader makes a new one at
                // sequence 201, which has delivered nothing yet
                for (String n : c.jetStreamManagement().getConsumerNames("FIRST")) {
                    c.jetStreamManagement().deleteConsumer("FIRST", n);
                }
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (c.jetStreamManagement().getConsumerNames("FIRST").isEmpty() && System.nanoTime() < deadline) {
                    drain(r, got, all.size() + 1, Duration.ofMillis(1));
                }
                assertRecords(all, got); // nothing new before the new consumer exists
                List<String> more = bodies("first", 200, 5);
                nats.publish("first.a", more, "first-more");
                all.addAll(more);
                steal(c, "FIRST", 3); // the new consumer's sequences 1-3; the reader first sees 4
                drain(r, got, all.size(), Duration.ofSeconds(10));
            } finally {
                r.close();
            }
        }
        assertRecords(all, got);
    }
}
