package fmhost.flink.jetstream;

import fmhost.flink.jetstream.source.AckPolicy;
import fmhost.flink.jetstream.source.BoundedMode;
import fmhost.flink.jetstream.source.JetStreamSource;
import fmhost.flink.jetstream.source.JetStreamSourceBuilder;
import fmhost.flink.jetstream.source.JetStreamSplit;
import io.nats.client.api.RetentionPolicy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.connector.testutils.source.reader.TestingReaderContext;
import org.apache.flink.connector.testutils.source.reader.TestingReaderOutput;
import org.apache.flink.connector.testutils.source.reader.TestingSplitEnumeratorContext;
import org.apache.flink.core.io.InputStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The source reader against a real nats-server: positions, restore, acks, outages. */
class SourceReaderTest {
    static NatsServer nats;

    @BeforeAll
    static void up() throws Exception {
        nats = NatsServer.start();
    }

    @AfterAll
    static void down() throws Exception {
        nats.close();
    }

    static List<String> bodies(String prefix, int n) {
        return IntStream.range(0, n).mapToObj(i -> prefix + "-" + i).collect(Collectors.toList());
    }

    static JetStreamSourceBuilder<String> source(String stream, String... subjects) {
        return JetStreamSource.<String>builder().connection(nats.config()).stream(stream).subjects(subjects)
                .deserializer(new SimpleStringSchema()).batchSize(100);
    }

    /** The splits a fresh enumerator hands to reader 0 of 1. */
    static List<JetStreamSplit> splits(JetStreamSource<String> src) throws Exception {
        TestingSplitEnumeratorContext<JetStreamSplit> ctx = new TestingSplitEnumeratorContext<>(1);
        try (SplitEnumerator<JetStreamSplit, ?> e = src.createEnumerator(ctx)) {
            e.start();
            ctx.registerReader(0, "localhost");
            e.addReader(0);
            return new ArrayList<>(ctx.getSplitAssignments().get(0).getAssignedSplits());
        }
    }

    /** Polls until n records were emitted in all, or the input ended; fails after timeout. */
    static InputStatus poll(SourceReader<String, JetStreamSplit> r, TestingReaderOutput<String> out, int n,
                            Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        InputStatus st = InputStatus.NOTHING_AVAILABLE;
        while (out.getEmittedRecords().size() < n) {
            st = r.pollNext(out);
            if (st == InputStatus.END_OF_INPUT) {
                return st;
            }
            if (st == InputStatus.NOTHING_AVAILABLE) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("only " + out.getEmittedRecords().size() + " of " + n + " records in "
                            + timeout);
                }
                try {
                    r.isAvailable().get(left, TimeUnit.NANOSECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new AssertionError("only " + out.getEmittedRecords().size() + " of " + n + " records in "
                            + timeout);
                }
            }
        }
        return st;
    }

    @Test
    void boundedReadStopsAtTheLastMessageAsOfTheStartAndReadsEachOnce() throws Exception {
        nats.createStream("BOUNDED", RetentionPolicy.Limits, "b.*");
        List<String> expect = new ArrayList<>();
        for (String s : List.of("b.x", "b.y", "b.z")) {
            List<String> b = bodies(s, 700);
            nats.publish(s, b, s);
            expect.addAll(b);
        }
        JetStreamSource<String> src = source("BOUNDED", "b.x", "b.y", "b.z").bounded(BoundedMode.LATEST).build();
        List<JetStreamSplit> splits = splits(src);
        assertEquals(3, splits.size());
        // published after the job's start: not read
        nats.publish("b.x", bodies("late", 50), "late");
        TestingReaderOutput<String> out = new TestingReaderOutput<>();
        try (SourceReader<String, JetStreamSplit> r = src.createReader(new TestingReaderContext())) {
            r.start();
            r.addSplits(splits);
            r.notifyNoMoreSplits();
            InputStatus st = poll(r, out, Integer.MAX_VALUE, Duration.ofSeconds(60));
            assertEquals(InputStatus.END_OF_INPUT, st);
        }
        List<String> got = out.getEmittedRecords();
        assertEquals(expect.size(), got.size(), "records read");
        assertEquals(new HashSet<>(expect), new HashSet<>(got));
    }

    @Test
    void boundedByCountReadsExactlyThatManyPerSubject() throws Exception {
        nats.createStream("COUNTED", RetentionPolicy.Limits, "c.*");
        nats.publish("c.a", bodies("a", 300), "a");
        nats.publish("c.b", bodies("b", 300), "b");
        JetStreamSource<String> src = source("COUNTED", "c.a", "c.b").maxMessages(120).build();
        TestingReaderOutput<String> out = new TestingReaderOutput<>();
        try (SourceReader<String, JetStreamSplit> r = src.createReader(new TestingReaderContext())) {
            r.start();
            r.addSplits(splits(src));
            r.notifyNoMoreSplits();
            assertEquals(InputStatus.END_OF_INPUT, poll(r, out, Integer.MAX_VALUE, Duration.ofSeconds(60)));
        }
        List<String> expect = new ArrayList<>(bodies("a", 120));
        expect.addAll(bodies("b", 120));
        assertEquals(new HashSet<>(expect), new HashSet<>(out.getEmittedRecords()));
        assertEquals(240, out.getEmittedRecords().size());
    }

    @Test
    void aRestoredReaderResumesRightAfterTheCheckpointedSequence() throws Exception {
        nats.createStream("RESTORE", RetentionPolicy.Limits, "r.*");
        List<String> all = new ArrayList<>();
        for (String s : List.of("r.a", "r.b")) {
            List<String> b = bodies(s, 1500);
            nats.publish(s, b, s);
            all.addAll(b);
        }
        JetStreamSource<String> src = source("RESTORE", "r.a", "r.b").build(); // unbounded
        List<JetStreamSplit> state;
        List<String> beforeCheckpoint;
        TestingReaderOutput<String> out1 = new TestingReaderOutput<>();
        try (SourceReader<String, JetStreamSplit> r = src.createReader(new TestingReaderContext())) {
            r.start();
            r.addSplits(splits(src));
            poll(r, out1, 1100, Duration.ofSeconds(60));
            state = r.snapshotState(1);
            beforeCheckpoint = new ArrayList<>(out1.getEmittedRecords());
            // what the reader emits after the checkpoint is lost with it (the job fails)
            poll(r, out1, beforeCheckpoint.size() + 700, Duration.ofSeconds(60));
        }
        assertEquals(2, state.size());
        TestingReaderOutput<String> out2 = new TestingReaderOutput<>();
        try (SourceReader<String, JetStreamSplit> r = src.createReader(new TestingReaderContext())) {
            r.start();
            r.addSplits(state);
            poll(r, out2, all.size() - beforeCheckpoint.size(), Duration.ofSeconds(60));
            Thread.sleep(300); // nothing more may come
            r.pollNext(out2);
        }
        List<String> union = new ArrayList<>(beforeCheckpoint);
        union.addAll(out2.getEmittedRecords());
        assertEquals(all.size(), union.size(), "every message once: none doubled");
        assertEquals(new HashSet<>(all), new HashSet<>(union), "none lost");
        // and in stream order per subject
        for (String s : List.of("r.a", "r.b")) {
            List<String> mine = union.stream().filter(x -> x.startsWith(s + "-")).collect(Collectors.toList());
            assertEquals(bodies(s, 1500), mine);
        }
    }

    @Test
    void ackAllAcksWhatACheckpointCoversOnlyWhenItCompletes() throws Exception {
        nats.createStream("ACKED", RetentionPolicy.Limits, "k.a");
        nats.publish("k.a", bodies("k", 400), "k");
        JetStreamSource<String> src = source("ACKED", "k.a").ackPolicy(AckPolicy.ALL).build();
        TestingReaderOutput<String> out = new TestingReaderOutput<>();
        try (SourceReader<String, JetStreamSplit> r = src.createReader(new TestingReaderContext());
             io.nats.client.Connection c = nats.connect()) {
            r.start();
            r.addSplits(splits(src));
            poll(r, out, 250, Duration.ofSeconds(60));
            r.snapshotState(7);
            int covered = out.getEmittedRecords().size();
            poll(r, out, 400, Duration.ofSeconds(60));
            io.nats.client.JetStreamManagement jsm = c.jetStreamManagement();
            String name = jsm.getConsumerNames("ACKED").get(0);
            Thread.sleep(300);
            assertEquals(0, jsm.getConsumerInfo("ACKED", name).getAckFloor().getStreamSequence(),
                    "nothing is acked before the checkpoint completes");
            r.notifyCheckpointComplete(7);
            long deadline = System.currentTimeMillis() + 10_000;
            while (jsm.getConsumerInfo("ACKED", name).getAckFloor().getStreamSequence() == 0
                    && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(covered, jsm.getConsumerInfo("ACKED", name).getAckFloor().getStreamSequence(),
                    "the completed checkpoint acked exactly up to the last message it covers");
        }
        assertEquals(bodies("k", 400), out.getEmittedRecords());
    }

    @Test
    void aWorkQueueStreamIsRefusedWithTheReason() throws Exception {
        nats.createStream("WORKQ", RetentionPolicy.WorkQueue, "q.a");
        JetStreamSource<String> src = source("WORKQ", "q.a").build();
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> splits(src));
        assertTrue(e.getMessage().contains("stream 'WORKQ' has work-queue retention"), e.getMessage());
    }

    @Test
    void aMissingStreamOrSubjectIsNamed() throws Exception {
        nats.createStream("HAS", RetentionPolicy.Limits, "has.*");
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
                () -> splits(source("NOPE", "x").build()));
        assertTrue(e.getMessage().contains("stream 'NOPE' does not exist on " + nats.url()), e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
                () -> splits(source("HAS", "has.a.b").build()));
        assertTrue(e.getMessage().contains("subject 'has.a.b' is not in stream 'HAS' (its subjects: has.*)"),
                e.getMessage());
    }

    @Test
    void metricsShowPendingPerSplitAndAnIdleSplitWaitsInsteadOfSpinning() throws Exception {
        nats.createStream("METRICS", RetentionPolicy.Limits, "m.*");
        nats.publish("m.a", bodies("a", 1000), "a");
        JetStreamSource<String> src = source("METRICS", "m.a", "m.idle").batchSize(100).build();
        org.apache.flink.metrics.testutils.MetricListener listener = new org.apache.flink.metrics.testutils.MetricListener();
        TestingReaderContext ctx = new TestingReaderContext(new org.apache.flink.configuration.Configuration(),
                org.apache.flink.runtime.metrics.groups.InternalSourceReaderMetricGroup.mock(listener.getMetricGroup()));
        TestingReaderOutput<String> out = new TestingReaderOutput<>();
        try (SourceReader<String, JetStreamSplit> r = src.createReader(ctx)) {
            r.start();
            r.addSplits(splits(src));
            poll(r, out, 150, Duration.ofSeconds(60));
            long pending = listener.<Long>getGauge("subject", "m_a", "pendingMessages").orElseThrow().getValue();
            assertTrue(pending > 0 && pending <= 850, "pending after 150+ of 1000: " + pending);
            poll(r, out, 1000, Duration.ofSeconds(60));
            Thread.sleep(200);
            r.pollNext(out);
            long f0 = listener.getCounter("fetches").orElseThrow().getCount();
            Thread.sleep(3000);
            long f1 = listener.getCounter("fetches").orElseThrow().getCount();
            // idle, a round is one immediate pull per split and one pull that waits the fetch timeout
            // (1 s): at most 3 pulls a second for 2 splits; a reader that spins makes hundreds
            assertTrue(f1 - f0 <= 12, "pulls in 3 s with nothing to read: " + (f1 - f0));
            assertEquals(0L, listener.<Long>getGauge("subject", "m_a", "pendingMessages").orElseThrow().getValue());
        }
        assertEquals(1000, out.getEmittedRecords().size());
    }

    @Test
    void aServerRestartMidStreamLosesAndDoublesNothing() throws Exception {
        nats.createStream("OUTAGE", RetentionPolicy.Limits, "o.a");
        List<String> all = bodies("o", 4000);
        nats.publish("o.a", all, "o");
        JetStreamSource<String> src = source("OUTAGE", "o.a").build();
        TestingReaderOutput<String> out = new TestingReaderOutput<>();
        try (SourceReader<String, JetStreamSplit> r = src.createReader(new TestingReaderContext())) {
            r.start();
            r.addSplits(splits(src));
            poll(r, out, 1000, Duration.ofSeconds(60));
            nats.restart();
            poll(r, out, all.size(), Duration.ofSeconds(90));
            Thread.sleep(300);
            r.pollNext(out);
        }
        assertEquals(all, out.getEmittedRecords());
    }

    @Test
    void aServerThatNeverAnswersFailsTheReaderNamingItAfterTheBackoff() throws Exception {
        int port;
        try (java.net.ServerSocket ss = new java.net.ServerSocket(0)) {
            port = ss.getLocalPort();
        }
        JetStreamSource<String> src = JetStreamSource.<String>builder()
                .connection(JetStreamConnectionConfig.builder().servers("nats://127.0.0.1:" + port).maxReconnects(2)
                        .backoff(Duration.ofMillis(20), Duration.ofMillis(40)).build())
                .stream("S").subjects("s.a").deserializer(new SimpleStringSchema()).build();
        TestingReaderOutput<String> out = new TestingReaderOutput<>();
        long t0 = System.nanoTime();
        Throwable e;
        try (SourceReader<String, JetStreamSplit> r = src.createReader(new TestingReaderContext())) {
            r.start();
            r.addSplits(List.of(new JetStreamSplit("s.a", 1, JetStreamSplit.NO_STOP, -1, 0)));
            e = org.junit.jupiter.api.Assertions.assertThrows(Throwable.class,
                    () -> poll(r, out, 1, Duration.ofSeconds(60)));
        }
        String text = org.apache.flink.util.ExceptionUtils.stringifyException(e);
        assertTrue(text.contains("cannot connect to nats://127.0.0.1:" + port + " after 3 attempt(s)"), text);
        assertTrue(System.nanoTime() - t0 < 30_000_000_000L, "gave up within the backoff, not after a minute");
    }

    @Test
    void aDeletedConsumerIsRecreatedAtTheNextSequence() throws Exception {
        nats.createStream("GONE", RetentionPolicy.Limits, "g.a");
        List<String> all = bodies("g", 2000);
        nats.publish("g.a", all, "g");
        JetStreamSource<String> src = source("GONE", "g.a").build();
        TestingReaderOutput<String> out = new TestingReaderOutput<>();
        try (SourceReader<String, JetStreamSplit> r = src.createReader(new TestingReaderContext());
             io.nats.client.Connection c = nats.connect()) {
            r.start();
            r.addSplits(splits(src));
            poll(r, out, 500, Duration.ofSeconds(60));
            Set<String> names = new HashSet<>(c.jetStreamManagement().getConsumerNames("GONE"));
            assertEquals(1, names.size(), "one consumer per split");
            for (String n : names) {
                c.jetStreamManagement().deleteConsumer("GONE", n);
            }
            poll(r, out, all.size(), Duration.ofSeconds(60));
        }
        assertEquals(all, out.getEmittedRecords());
    }
    @Test
    void messagesAConsumerDeliveredElsewhereAreReadFromTheStreamWithTheSameConsumer() throws Exception {
        // what nats-server 2.9 does now and then to a no-wait pull (a message delivered after the
        // pull was answered), done on purpose: another client pulls three messages from the
        // reader's own consumer, so its consumer sequence jumps past them
        nats.createStream("GAP", RetentionPolicy.Limits, "gap.a");
        List<String> all = bodies("gap", 2000);
        nats.publish("gap.a", all, "gap");
        JetStreamSource<String> src = source("GAP", "gap.a").build();
        TestingReaderOutput<String> out = new TestingReaderOutput<>();
        Set<String> names;
        try (SourceReader<String, JetStreamSplit> r = src.createReader(new TestingReaderContext());
             io.nats.client.Connection c = nats.connect()) {
            r.start();
            r.addSplits(splits(src));
            poll(r, out, 500, Duration.ofSeconds(60));
            names = new HashSet<>(c.jetStreamManagement().getConsumerNames("GAP"));
            assertEquals(1, names.size(), "one consumer per split");
            String name = names.iterator().next();
            int stolen = 0;
            try (io.nats.client.FetchConsumer fc = c.getStreamContext("GAP").getConsumerContext(name)
                    .fetchMessages(3)) {
                while (fc.nextMessage() != null) {
                    stolen++;
                }
            }
            assertEquals(3, stolen, "three messages pulled past the reader");
            poll(r, out, all.size(), Duration.ofSeconds(60));
            assertEquals(names, new HashSet<>(c.jetStreamManagement().getConsumerNames("GAP")),
                    "the consumer was kept");
        }
        assertEquals(all, out.getEmittedRecords());
    }
}
