package fmhost.flink.jetstream.source;

import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamOptions;
import io.nats.client.api.StreamInfo;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.util.FlinkRuntimeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Computes the splits once, when the job starts without a checkpoint (one per subject, with its
 * start and, when bounded, its stop sequence), and assigns split i of the configured subjects to
 * reader i mod parallelism, so each split has exactly one reader. A split a failed reader held
 * comes back through {@link #addSplitsBack} and goes to the same reader when it registers again.
 */
final class JetStreamEnumerator implements SplitEnumerator<JetStreamSplit, JetStreamEnumeratorState> {
    private static final Logger LOG = LoggerFactory.getLogger(JetStreamEnumerator.class);

    /** Server error: the stream does not exist. */
    static final int STREAM_NOT_FOUND = 10059;
    /** Server error: no message found (a subject without messages). */
    static final int NO_MESSAGE_FOUND = 10037;

    private final JetStreamSourceConfig config;
    private final SplitEnumeratorContext<JetStreamSplit> context;
    private final Map<String, Integer> subjectIndex = new HashMap<>();
    /** Splits not yet assigned, by owner subtask. */
    private final Map<Integer, List<JetStreamSplit>> pending = new HashMap<>();
    private boolean initialized;

    JetStreamEnumerator(JetStreamSourceConfig config, SplitEnumeratorContext<JetStreamSplit> context,
                        JetStreamEnumeratorState state) {
        this.config = config;
        this.context = context;
        for (int i = 0; i < config.subjects.size(); i++) {
            subjectIndex.put(config.subjects.get(i), i);
        }
        this.initialized = state.initialized();
        for (JetStreamSplit s : state.unassigned()) {
            queue(s);
        }
    }

    private int owner(JetStreamSplit split) {
        Integer i = subjectIndex.get(split.subject());
        if (i == null) {
            throw new FlinkRuntimeException("nats-jetstream: the checkpoint holds subject '" + split.subject()
                    + "', which the source no longer reads (subjects " + config.subjects
                    + "); start the job without that state");
        }
        return i % context.currentParallelism();
    }

    private void queue(JetStreamSplit s) {
        pending.computeIfAbsent(owner(s), k -> new ArrayList<>()).add(s);
    }

    @Override
    public void start() {
        if (initialized) {
            return;
        }
        List<JetStreamSplit> splits;
        try (Connection conn = config.connection.connect("fmhost-enumerator-" + config.stream)) {
            splits = computeSplits(conn, config);
        } catch (IOException e) {
            throw new FlinkRuntimeException(e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FlinkRuntimeException("nats-jetstream: interrupted while reading stream " + config.stream, e);
        }
        for (JetStreamSplit s : splits) {
            queue(s);
        }
        initialized = true;
        LOG.info("nats-jetstream: stream {}: splits {}", config.stream, splits);
    }

    /** The splits of a fresh start, after checking that the stream exists and holds the subjects. */
    static List<JetStreamSplit> computeSplits(Connection conn, JetStreamSourceConfig config) throws IOException {
        String servers = String.join(",", config.connection.servers());
        try {
            JetStreamManagement jsm = conn.jetStreamManagement(
                    JetStreamOptions.builder().requestTimeout(config.connection.requestTimeout()).build());
            StreamInfo info;
            try {
                info = jsm.getStreamInfo(config.stream);
            } catch (JetStreamApiException e) {
                if (e.getApiErrorCode() == STREAM_NOT_FOUND) {
                    throw new IOException("nats-jetstream: stream '" + config.stream + "' does not exist on " + servers);
                }
                throw e;
            }
            if (info.getConfiguration().getRetentionPolicy() == io.nats.client.api.RetentionPolicy.WorkQueue) {
                throw new IOException("nats-jetstream: stream '" + config.stream + "' has work-queue retention, which "
                        + "needs a consumer acking each message explicitly; the connector acks none or all, so it "
                        + "does not read work-queue streams (use limits or interest retention)");
            }
            List<String> streamSubjects = info.getConfiguration().getSubjects();
            long streamLast = info.getStreamState().getLastSequence();
            List<JetStreamSplit> out = new ArrayList<>();
            for (String subject : config.subjects) {
                if (streamSubjects.stream().noneMatch(p -> subsetOf(subject, p))) {
                    throw new IOException("nats-jetstream: subject '" + subject + "' is not in stream '" + config.stream
                            + "' (its subjects: " + String.join(", ", streamSubjects) + ")");
                }
                long last = -1; // the subject's last sequence, computed only when needed
                if (config.startMode == StartMode.LATEST || config.boundedMode == BoundedMode.LATEST) {
                    last = lastSequence(jsm, config.stream, subject, streamLast);
                }
                long start;
                switch (config.startMode) {
                    case LATEST:
                        start = last + 1;
                        break;
                    case SEQUENCE:
                        start = config.startSequence;
                        break;
                    default:
                        start = 1;
                }
                long stop = config.boundedMode == BoundedMode.LATEST ? last : JetStreamSplit.NO_STOP;
                long max = config.boundedMode == BoundedMode.MAX_MESSAGES ? config.maxMessages : -1;
                out.add(new JetStreamSplit(subject, start, stop, max, 0));
            }
            return out;
        } catch (JetStreamApiException e) {
            throw new IOException("nats-jetstream: reading stream '" + config.stream + "' on " + servers
                    + " failed: " + e.getMessage(), e);
        }
    }

    /** The sequence of the last message on subject (0 when it has none). */
    private static long lastSequence(JetStreamManagement jsm, String stream, String subject, long streamLast)
            throws IOException, JetStreamApiException {
        try {
            return jsm.getLastMessage(stream, subject).getSeq();
        } catch (JetStreamApiException e) {
            if (e.getApiErrorCode() == NO_MESSAGE_FOUND) {
                return 0;
            }
            if (subject.contains("*") || subject.contains(">")) {
                // a server that cannot look a wildcard up: the stream's last sequence bounds it
                // too, and the reader ends the split when nothing before it is pending
                return streamLast;
            }
            throw e;
        }
    }

    /** True when every subject {@code filter} matches is matched by {@code pattern}. */
    static boolean subsetOf(String filter, String pattern) {
        String[] f = filter.split("\\.");
        String[] p = pattern.split("\\.");
        for (int i = 0; i < f.length; i++) {
            if (i >= p.length) {
                return false;
            }
            if (p[i].equals(">")) {
                return true;
            }
            if (f[i].equals(">")) {
                return false;
            }
            if (p[i].equals("*")) {
                continue;
            }
            if (f[i].equals("*") || !f[i].equals(p[i])) {
                return false;
            }
        }
        return f.length == p.length;
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        // splits are pushed when a reader registers
    }

    @Override
    public void addSplitsBack(List<JetStreamSplit> splits, int subtaskId) {
        for (JetStreamSplit s : splits) {
            queue(s);
        }
        if (context.registeredReaders().containsKey(subtaskId)) {
            assign(subtaskId);
        }
    }

    @Override
    public void addReader(int subtaskId) {
        assign(subtaskId);
    }

    private void assign(int subtaskId) {
        List<JetStreamSplit> mine = pending.remove(subtaskId);
        if (mine != null && !mine.isEmpty()) {
            Map<Integer, List<JetStreamSplit>> a = new HashMap<>();
            a.put(subtaskId, mine);
            context.assignSplits(new SplitsAssignment<>(a));
            LOG.info("nats-jetstream: reader {} reads {}", subtaskId, mine);
        }
        if (config.boundedMode != BoundedMode.UNBOUNDED) {
            // a bounded reader ends once its splits are done; an unbounded one without splits idles
            context.signalNoMoreSplits(subtaskId);
        }
    }

    @Override
    public JetStreamEnumeratorState snapshotState(long checkpointId) {
        List<JetStreamSplit> all = new ArrayList<>();
        pending.values().forEach(all::addAll);
        return new JetStreamEnumeratorState(initialized, all);
    }

    @Override
    public void close() {}
}
