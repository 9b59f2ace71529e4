package fmhost.flink.jetstream.source;

import io.nats.client.Connection;
import io.nats.client.ConsumerContext;
import io.nats.client.FetchConsumeOptions;
import io.nats.client.FetchConsumer;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamOptions;
import io.nats.client.Message;
import io.nats.client.StreamContext;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.DeliverPolicy;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.ReplayPolicy;
import io.nats.client.impl.Headers;
import io.nats.client.impl.NatsJetStreamMetaData;
import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Pulls batches from one consumer per split, on the reader's fetcher thread. Each consumer starts
 * at the split's next sequence and filters its subject; it is recreated at the next sequence not
 * yet handed out whenever something goes wrong (a fetch error, the consumer gone after an outage),
 * so the stream order and the exact position survive reconnects. A gap in the consumer sequence
 * (the server counted a message delivered that the pull never handed over; against nats-server 2.9
 * several times a minute, most likely a delivery to a no-wait pull after it was answered) is read
 * from the stream directly, message by message on the split's subject, and the consumer kept; only
 * when that fails is it recreated. Such a gap at the stream's end shows in no later message: when
 * a pull waited and brought nothing, the consumer's delivered count is compared with the last
 * message received.
 * Failures back off exponentially; after the configured number of attempts in a row the fetch
 * fails and Flink restarts the task from its checkpoint.
 */
final class JetStreamSplitReader implements SplitReader<JetStreamMessage, JetStreamSplit> {
    private static final Logger LOG = LoggerFactory.getLogger(JetStreamSplitReader.class);
    /** Server error: consumer not found. */
    private static final int CONSUMER_NOT_FOUND = 10014;

    private final JetStreamSourceConfig config;
    private final ConnectionHolder connection;
    private final JetStreamReaderMetrics metrics;
    private final Map<String, Cursor> cursors = new LinkedHashMap<>();
    private final Deque<String> order = new ArrayDeque<>();
    /** Consumers of finished splits with acks still to come; deleted on close. */
    private final List<String> retired = new ArrayList<>();
    private int failures;
    private volatile boolean wakeup;
    private volatile FetchConsumer current;

    JetStreamSplitReader(JetStreamSourceConfig config, ConnectionHolder connection, JetStreamReaderMetrics metrics) {
        this.config = config;
        this.connection = connection;
        this.metrics = metrics;
    }

    /** A split's read position on this reader. */
    private final class Cursor {
        final JetStreamSplit split;
        long nextSequence;
        long consumed;
        long lastConsumerSequence;
        String consumerName;
        ConsumerContext consumer;
        boolean done;

        Cursor(JetStreamSplit split) {
            this.split = split;
            this.nextSequence = split.nextSequence();
            this.consumed = split.consumed();
            this.done = split.isFinished();
        }

        boolean limitReached() {
            return (split.stopSequence() != JetStreamSplit.NO_STOP && nextSequence > split.stopSequence())
                    || (split.maxMessages() >= 0 && consumed >= split.maxMessages());
        }

        void create(Connection conn) throws IOException, JetStreamApiException {
            StreamContext sc = conn.getStreamContext(config.stream,
                    JetStreamOptions.builder().requestTimeout(config.connection.requestTimeout()).build());
            String name = "fmhost_" + split.subject().replaceAll("[^A-Za-z0-9_-]", "_") + "_"
                    + UUID.randomUUID().toString().substring(0, 8);
            ConsumerConfiguration.Builder b = ConsumerConfiguration.builder()
                    .name(name)
                    .filterSubject(split.subject())
                    .deliverPolicy(DeliverPolicy.ByStartSequence)
                    .startSequence(nextSequence)
                    .replayPolicy(ReplayPolicy.Instant)
                    .inactiveThreshold(config.inactiveThreshold);
            if (config.ackPolicy == AckPolicy.ALL) {
                b.ackPolicy(io.nats.client.api.AckPolicy.All).ackWait(config.ackWait).maxAckPending(-1);
            } else {
                b.ackPolicy(io.nats.client.api.AckPolicy.None);
            }
            try {
                consumer = sc.createOrUpdateConsumer(b.build());
            } catch (JetStreamApiException e) {
                // the server refuses the consumer: a setting, not an outage; retrying cannot help
                throw new FatalReadException(String.format(
                        "nats-jetstream: the server refuses a consumer on subject '%s' of stream '%s': %s",
                        split.subject(), config.stream, e.getMessage()), e);
            }
            consumerName = name;
            lastConsumerSequence = 0;
            ConsumerInfo ci = consumer.getCachedConsumerInfo();
            if (ci != null) {
                metrics.pending(split.subject(), ci.getNumPending());
                if (split.stopSequence() != JetStreamSplit.NO_STOP && ci.getNumPending() == 0) {
                    done = true; // bounded: nothing at or before the stop sequence is left
                }
            }
            LOG.debug("nats-jetstream: consumer {} reads {} from sequence {}", name, split.subject(), nextSequence);
        }

        /** Forget the consumer (it is recreated at the next sequence on the next fetch). */
        void drop() {
            if (consumerName != null) {
                deleteConsumer(consumerName);
            }
            consumer = null;
            consumerName = null;
        }
    }

    @Override
    public RecordsWithSplitIds<JetStreamMessage> fetch() throws IOException {
        wakeup = false;
        RecordsBySplits.Builder<JetStreamMessage> out = new RecordsBySplits.Builder<>();
        for (Cursor c : new ArrayList<>(cursors.values())) {
            if (c.done) {
                finish(c, out);
            }
        }
        if (order.isEmpty()) {
            return out.build();
        }
        // with several splits, each gets a pull that returns at once with what is there; only when
        // a whole round found nothing does one pull wait (up to the fetch timeout) for new messages
        int rounds = order.size() == 1 ? 0 : order.size();
        for (int i = 0; i <= rounds; i++) {
            boolean wait = i == rounds;
            String id = order.pollFirst();
            order.addLast(id);
            Cursor c = cursors.get(id);
            int n = fetchSafely(c, out, wait);
            if (c.done) {
                finish(c, out);
            }
            if (n != 0 || wakeup || c.done || order.isEmpty()) {
                break;
            }
        }
        return out.build();
    }

    /** One pull for c; the records it added (-1 after a failure, which it backs off from). */
    private int fetchSafely(Cursor c, RecordsBySplits.Builder<JetStreamMessage> out, boolean wait) throws IOException {
        try {
            int n = fetchInto(c, out, wait);
            failures = 0;
            return n;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        } catch (FatalReadException e) {
            throw e;
        } catch (Exception e) {
            failures++;
            c.consumer = null; // recreated at the next fetch (the old one times out on the server)
            c.consumerName = null;
            int max = config.connection.maxReconnects();
            if (max >= 0 && failures > max) {
                throw new IOException(String.format(
                        "nats-jetstream: reading subject '%s' of stream '%s' failed %d times in a row: %s",
                        c.split.subject(), config.stream, failures, e.getMessage()), e);
            }
            long ms = config.connection.backoff(failures).toMillis();
            LOG.warn("nats-jetstream: reading subject '{}' of stream '{}' failed (attempt {}): {}; retrying at sequence {} in {} ms",
                    c.split.subject(), config.stream, failures, e.toString(), c.nextSequence, ms);
            pause(ms);
            return -1;
        }
    }

    private int fetchInto(Cursor c, RecordsBySplits.Builder<JetStreamMessage> out, boolean wait)
            throws Exception {
        if (c.done) {
            return 0;
        }
        Connection conn;
        try {
            conn = connection.get();
        } catch (IOException e) {
            // connect() backed off through all its attempts already
            throw new FatalReadException(e.getMessage(), e);
        }
        if (c.consumer == null) {
            c.create(conn);
            if (c.done) {
                return 0;
            }
        }
        long t0 = System.nanoTime();
        int n = 0;
        FetchConsumeOptions.Builder fb = FetchConsumeOptions.builder().maxMessages(config.batchSize);
        FetchConsumeOptions fo = wait ? fb.noWaitExpiresIn(config.fetchTimeout.toMillis()).build() : fb.noWait().build();
        try (FetchConsumer fc = c.consumer.fetch(fo)) {
            current = fc;
            Message m;
            while (!wakeup && (m = fc.nextMessage()) != null) {
                if (!m.isJetStream()) {
                    continue;
                }
                NatsJetStreamMetaData md = m.metaData();
                long cseq = md.consumerSequence();
                // a fresh consumer starts at consumer sequence 1: a gap before the first message
                // that arrives is a gap too
                if (cseq != c.lastConsumerSequence + 1) {
                    long missing = cseq - c.lastConsumerSequence - 1;
                    int got = missing > 0 ? readGap(c, out, md.streamSequence(), missing) : -1;
                    if (got < 0) {
                        LOG.warn("nats-jetstream: subject '{}': consumer sequence jumped from {} to {} (messages "
                                + "lost in transit); reading again from stream sequence {}", c.split.subject(),
                                c.lastConsumerSequence, cseq, c.nextSequence);
                        c.drop();
                        break;
                    }
                    n += got;
                }
                c.lastConsumerSequence = cseq;
                long seq = md.streamSequence();
                long pending = md.pendingCount();
                metrics.pending(c.split.subject(), pending);
                if (seq < c.nextSequence) {
                    continue; // a redelivery of what this reader handed out already
                }
                if (seq > c.split.stopSequence()) {
                    c.done = true;
                    break;
                }
                out.add(c.split.splitId(), toMessage(m, md));
                c.nextSequence = seq + 1;
                c.consumed++;
                n++;
                if (c.limitReached() || (c.split.stopSequence() != JetStreamSplit.NO_STOP && pending == 0)) {
                    c.done = true;
                    break;
                }
            }
        } finally {
            current = null;
        }
        metrics.fetched(n, (System.nanoTime() - t0) / 1_000_000);
        if (n == 0 && wait && !c.done && c.consumer != null && !wakeup) {
            // nothing came: is the consumer still there (an outage may have removed it), and is a
            // bounded split already at its end?
            try {
                ConsumerInfo ci = c.consumer.getConsumerInfo();
                metrics.pending(c.split.subject(), ci.getNumPending());
                n += readTail(c, out, ci);
                if (c.consumer != null && c.split.stopSequence() != JetStreamSplit.NO_STOP && ci.getNumPending() == 0) {
                    c.done = true;
                }
            } catch (JetStreamApiException e) {
                if (e.getApiErrorCode() != CONSUMER_NOT_FOUND) {
                    throw e;
                }
                LOG.info("nats-jetstream: consumer of subject '{}' is gone; reading again from stream sequence {}",
                        c.split.subject(), c.nextSequence);
                c.consumer = null;
                c.consumerName = null;
            }
        }
        return n;
    }

    /**
     * A gap no later message shows: the consumer counts messages delivered past the last one this
     * reader received (to a pull that had already ended), and nothing follows them yet. They are
     * read from the stream like any gap (up to the consumer's delivered stream sequence); when
     * that fails the consumer is recreated at the next sequence. Returns the records added.
     */
    private int readTail(Cursor c, RecordsBySplits.Builder<JetStreamMessage> out, ConsumerInfo ci) {
        if (ci.getDelivered() == null) {
            return 0;
        }
        long delivered = ci.getDelivered().getConsumerSequence();
        if (delivered <= c.lastConsumerSequence) {
            return 0;
        }
        int got = readGap(c, out, ci.getDelivered().getStreamSequence() + 1, delivered - c.lastConsumerSequence);
        if (got < 0) {
            LOG.warn("nats-jetstream: subject '{}': the consumer delivered up to consumer sequence {}, this reader "
                    + "received {}; reading again from stream sequence {}", c.split.subject(), delivered,
                    c.lastConsumerSequence, c.nextSequence);
            c.drop();
            return 0;
        }
        c.lastConsumerSequence = delivered;
        return got;
    }

    /**
     * The messages of c's subject the consumer delivered but the pull never handed over: the
     * stream's next messages on that subject from c.nextSequence, read one by one, expected to be
     * exactly {@code missing} and all below {@code upTo} (the sequence of the message that showed the
     * gap). Returns how many it added, or -1 (nothing added) when the stream does not hold them so,
     * when the split has an end to watch, or on any error: the caller then recreates the consumer.
     */
    private int readGap(Cursor c, RecordsBySplits.Builder<JetStreamMessage> out, long upTo, long missing) {
        if (c.split.stopSequence() != JetStreamSplit.NO_STOP || c.split.maxMessages() >= 0 || missing > 1000) {
            return -1;
        }
        List<MessageInfo> gap = new ArrayList<>();
        try {
            Connection conn = connection.get();
            JetStreamManagement jsm = conn.jetStreamManagement(
                    JetStreamOptions.builder().requestTimeout(config.connection.requestTimeout()).build());
            long seq = c.nextSequence;
            while (gap.size() < missing) {
                MessageInfo mi = jsm.getNextMessage(config.stream, seq, c.split.subject());
                if (mi == null || !mi.isMessage() || mi.getSeq() >= upTo) {
                    return -1;
                }
                gap.add(mi);
                seq = mi.getSeq() + 1;
            }
        } catch (Exception e) {
            LOG.debug("nats-jetstream: reading a gap of subject '{}' directly failed: {}", c.split.subject(),
                    e.toString());
            return -1;
        }
        for (MessageInfo mi : gap) {
            out.add(c.split.splitId(), toMessage(mi));
            c.nextSequence = mi.getSeq() + 1;
            c.consumed++;
        }
        metrics.gapRead(gap.size());
        LOG.info("nats-jetstream: subject '{}': {} message(s) the consumer delivered never arrived; read them from "
                + "the stream (sequences {}..{})", c.split.subject(), gap.size(), gap.get(0).getSeq(),
                gap.get(gap.size() - 1).getSeq());
        return gap.size();
    }

    private JetStreamMessage toMessage(MessageInfo mi) {
        // no consumer sequence and no reply subject: with acks, the next delivered message's ack covers it
        return new JetStreamMessage(config.stream, mi.getSubject(), mi.getSeq(), 0,
                mi.getTime().toInstant().toEpochMilli(), 0, null, copyHeaders(mi.getHeaders()), mi.getData());
    }

    /** A message's headers as an immutable-valued map, or null when it has none. */
    private static Map<String, List<String>> copyHeaders(Headers h) {
        if (h == null || h.isEmpty()) {
            return null;
        }
        Map<String, List<String>> headers = new HashMap<>();
        for (String k : h.keySet()) {
            headers.put(k, List.copyOf(h.get(k)));
        }
        return headers;
    }

    /** An error retrying cannot mend. */
    static final class FatalReadException extends IOException {
        private static final long serialVersionUID = 1L;

        FatalReadException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private JetStreamMessage toMessage(Message m, NatsJetStreamMetaData md) {
        String reply = config.ackPolicy == AckPolicy.ALL ? m.getReplyTo() : null;
        return new JetStreamMessage(config.stream, m.getSubject(), md.streamSequence(), md.consumerSequence(),
                md.timestamp().toInstant().toEpochMilli(), md.pendingCount(), reply, copyHeaders(m.getHeaders()),
                m.getData());
    }

    private void finish(Cursor c, RecordsBySplits.Builder<JetStreamMessage> out) {
        out.addFinishedSplit(c.split.splitId());
        cursors.remove(c.split.splitId());
        order.remove(c.split.splitId());
        metrics.pending(c.split.subject(), 0);
        if (c.consumerName != null) {
            if (config.ackPolicy == AckPolicy.ALL) {
                retired.add(c.consumerName); // the checkpoint that covers its last message still acks it
            } else {
                deleteConsumer(c.consumerName);
            }
        }
        LOG.info("nats-jetstream: subject '{}' of stream '{}' done at sequence {} ({} messages)",
                c.split.subject(), config.stream, c.nextSequence - 1, c.consumed);
    }

    private void deleteConsumer(String name) {
        Connection conn = connection.current();
        if (conn == null) {
            return; // the server drops it after the inactive threshold
        }
        try {
            JetStreamManagement jsm = conn.jetStreamManagement(
                    JetStreamOptions.builder().requestTimeout(config.connection.requestTimeout()).build());
            jsm.deleteConsumer(config.stream, name);
        } catch (Exception e) {
            LOG.debug("nats-jetstream: deleting consumer {} failed: {}", name, e.toString());
        }
    }

    private void pause(long ms) {
        long end = System.currentTimeMillis() + ms;
        while (!wakeup && System.currentTimeMillis() < end) {
            try {
                Thread.sleep(Math.min(50, Math.max(1, end - System.currentTimeMillis())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void handleSplitsChanges(SplitsChange<JetStreamSplit> change) {
        if (!(change instanceof SplitsAddition)) {
            throw new UnsupportedOperationException("nats-jetstream: splits are never removed, got " + change);
        }
        for (JetStreamSplit s : change.splits()) {
            cursors.put(s.splitId(), new Cursor(s));
            order.addLast(s.splitId());
            metrics.register(s.subject());
            LOG.info("nats-jetstream: reading {} of stream {}", s, config.stream);
        }
    }

    @Override
    public void wakeUp() {
        wakeup = true;
        FetchConsumer fc = current;
        if (fc != null) {
            try {
                fc.stop();
            } catch (RuntimeException e) {
                LOG.debug("nats-jetstream: stopping a fetch: {}", e.toString());
            }
        }
    }

    @Override
    public void close() throws Exception {
        for (Cursor c : cursors.values()) {
            if (c.consumerName != null) {
                deleteConsumer(c.consumerName);
            }
        }
        for (String name : retired) {
            deleteConsumer(name);
        }
        cursors.clear();
        retired.clear();
    }
}
