package fmhost.flink.jetstream.source;

import io.nats.client.Connection;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.connector.base.source.reader.SingleThreadMultiplexSourceReaderBase;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.util.UserCodeClassLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One parallel instance of the source: a fetcher thread runs the {@link JetStreamSplitReader}, the
 * task thread emits and keeps each split's position. With {@link AckPolicy#ALL} a completed
 * checkpoint acks, per split, the last message it covers.
 */
final class JetStreamSourceReader<T>
        extends SingleThreadMultiplexSourceReaderBase<JetStreamMessage, T, JetStreamSplit, JetStreamSplitState> {
    private static final Logger LOG = LoggerFactory.getLogger(JetStreamSourceReader.class);
    private static final byte[] ACK = "+ACK".getBytes(StandardCharsets.US_ASCII);

    private final JetStreamSourceConfig config;
    private final JetStreamDeserializationSchema<T> deserializer;
    private final ConnectionHolder connection;
    /** With ack policy all: checkpoint id -> (subject -> reply subject of its last message). */
    private final TreeMap<Long, Map<String, String>> acks = new TreeMap<>();
    /** Reply subjects of splits finished since the last checkpoint. */
    private final Map<String, String> finishedAcks = new HashMap<>();

    JetStreamSourceReader(JetStreamSourceConfig config, JetStreamDeserializationSchema<T> deserializer,
                          SourceReaderContext context) {
        this(config, deserializer, context, new ConnectionHolder(config.connection,
                "fmhost-reader-" + config.stream + "-" + context.getIndexOfSubtask()),
                new JetStreamReaderMetrics(context.metricGroup()));
    }

    private JetStreamSourceReader(JetStreamSourceConfig config, JetStreamDeserializationSchema<T> deserializer,
                                  SourceReaderContext context, ConnectionHolder connection,
                                  JetStreamReaderMetrics metrics) {
        super(() -> new JetStreamSplitReader(config, connection, metrics),
                new JetStreamRecordEmitter<>(deserializer, config.deserializationErrors, metrics),
                context.getConfiguration(), context);
        this.config = config;
        this.deserializer = deserializer;
        this.connection = connection;
    }

    @Override
    public void start() {
        try {
            deserializer.open(new DeserializationSchema.InitializationContext() {
                @Override
                public MetricGroup getMetricGroup() {
                    return context.metricGroup().addGroup("deserializer");
                }

                @Override
                public UserCodeClassLoader getUserCodeClassLoader() {
                    return context.getUserCodeClassLoader();
                }
            });
        } catch (Exception e) {
            throw new IllegalStateException("nats-jetstream: opening the deserializer failed: " + e.getMessage(), e);
        }
        super.start();
    }

    @Override
    protected JetStreamSplitState initializedState(JetStreamSplit split) {
        return new JetStreamSplitState(split);
    }

    @Override
    protected JetStreamSplit toSplitType(String splitId, JetStreamSplitState state) {
        return state.toSplit();
    }

    @Override
    protected void onSplitFinished(Map<String, JetStreamSplitState> finished) {
        if (config.ackPolicy == AckPolicy.ALL) {
            finished.forEach((id, st) -> {
                String reply = st.toSplit().lastReplyTo();
                if (reply != null) {
                    finishedAcks.put(id, reply);
                }
            });
        }
    }

    @Override
    public List<JetStreamSplit> snapshotState(long checkpointId) {
        List<JetStreamSplit> splits = super.snapshotState(checkpointId);
        if (config.ackPolicy == AckPolicy.ALL) {
            Map<String, String> m = new HashMap<>(finishedAcks);
            finishedAcks.clear();
            for (JetStreamSplit s : splits) {
                if (s.lastReplyTo() != null) {
                    m.put(s.splitId(), s.lastReplyTo());
                }
            }
            acks.put(checkpointId, m);
        }
        return splits;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        super.notifyCheckpointComplete(checkpointId);
        if (config.ackPolicy != AckPolicy.ALL || acks.isEmpty()) {
            return;
        }
        // the newest covered checkpoint's reply per split acks everything before it too
        Connection conn = connection.current();
        if (conn == null) {
            LOG.warn("nats-jetstream: not connected; acks of checkpoint {} are left to the next one", checkpointId);
            return;
        }
        Map<String, String> last = new HashMap<>();
        Map<Long, Map<String, String>> done = acks.headMap(checkpointId, true);
        for (Map<String, String> m : done.values()) {
            last.putAll(m);
        }
        done.clear();
        List<String> failed = new ArrayList<>();
        for (Map.Entry<String, String> e : last.entrySet()) {
            try {
                conn.publish(e.getValue(), ACK);
            } catch (RuntimeException ex) {
                failed.add(e.getKey() + ": " + ex.getMessage());
            }
        }
        if (!failed.isEmpty()) {
            LOG.warn("nats-jetstream: acks of checkpoint {} failed: {}", checkpointId, failed);
        }
    }

    @Override
    public void close() throws Exception {
        try {
            super.close();
        } finally {
            connection.close();
        }
    }
}
