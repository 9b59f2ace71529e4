package fmhost.flink.jetstream.source;

import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * Decodes each message on the task thread and advances its split's position, so the position a
 * checkpoint takes is exactly that of the last message emitted before the barrier.
 */
final class JetStreamRecordEmitter<T> implements RecordEmitter<JetStreamMessage, T, JetStreamSplitState> {
    private static final Logger LOG = LoggerFactory.getLogger(JetStreamRecordEmitter.class);

    private final JetStreamDeserializationSchema<T> deserializer;
    private final DeserializationErrors onError;
    private final JetStreamReaderMetrics metrics;
    private final OutputCollector<T> collector = new OutputCollector<>();

    JetStreamRecordEmitter(JetStreamDeserializationSchema<T> deserializer, DeserializationErrors onError,
                           JetStreamReaderMetrics metrics) {
        this.deserializer = deserializer;
        this.onError = onError;
        this.metrics = metrics;
    }

    @Override
    public void emitRecord(JetStreamMessage message, SourceOutput<T> output, JetStreamSplitState state)
            throws Exception {
        collector.output = output;
        collector.timestamp = message.timestampMillis();
        try {
            deserializer.deserialize(message, collector);
        } catch (Exception e) {
            String what = String.format("nats-jetstream: cannot decode the message at sequence %d of stream '%s' "
                    + "(subject '%s'): %s", message.streamSequence(), message.stream(), message.subject(),
                    rootMessage(e));
            if (onError == DeserializationErrors.FAIL) {
                throw new IOException(what, e);
            }
            metrics.undecodable();
            LOG.warn("{}; skipped", what);
        }
        state.consumed(message);
    }

    /** The error's message and its root cause's, each cut to 300 characters, on one line. */
    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String top = String.valueOf(e.getMessage() == null ? e.toString() : e.getMessage());
        String text = cut(top);
        if (root != e && root.getMessage() != null && !top.contains(root.getMessage())) {
            text += ": " + cut(root.getMessage());
        }
        return text.replace('\n', ' ').replace('\r', ' ');
    }

    private static String cut(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }

    private static final class OutputCollector<T> implements Collector<T> {
        SourceOutput<T> output;
        long timestamp;

        @Override
        public void collect(T record) {
            output.collect(record, timestamp);
        }

        @Override
        public void close() {}
    }
}
