package fmhost.flink.jetstream.sink;

import fmhost.flink.jetstream.JetStreamConnectionConfig;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

import java.io.IOException;
import java.time.Duration;
import java.util.Objects;

/**
 * A Sink V2 sink publishing each record to one JetStream subject, asynchronously, with a
 * {@code Nats-Msg-Id} from the record's key. Before each checkpoint the writer waits until the
 * server acknowledged everything it published (retrying a failed publish with the same id), so a
 * completed checkpoint means every record before it is in the stream: at least once, and once
 * exactly as long as a replay stays within the stream's duplicate window.
 */
public final class JetStreamSink<T> implements Sink<T> {
    private static final long serialVersionUID = 1L;

    final JetStreamConnectionConfig connection;
    final String stream;
    final String subject;
    final SerializationSchema<T> serializer;
    final MessageIdFunction<T> messageId;
    final int maxInFlight;
    final int maxRetries;

    private JetStreamSink(Builder<T> b) {
        this.connection = b.connection;
        this.stream = b.stream;
        this.subject = b.subject;
        this.serializer = b.serializer;
        this.messageId = b.messageId;
        this.maxInFlight = b.maxInFlight;
        this.maxRetries = b.maxRetries;
    }

    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    @Override
    @Deprecated
    public SinkWriter<T> createWriter(InitContext context) throws IOException {
        return new JetStreamSinkWriter<>(this, context.metricGroup(), context.asSerializationSchemaInitializationContext(),
                context.getSubtaskId());
    }

    @Override
    public SinkWriter<T> createWriter(WriterInitContext context) throws IOException {
        return new JetStreamSinkWriter<>(this, context.metricGroup(), context.asSerializationSchemaInitializationContext(),
                context.getSubtaskId());
    }

    /** Builder: connection, subject and serializer are required. */
    public static final class Builder<T> {
        private JetStreamConnectionConfig connection;
        private String stream;
        private String subject;
        private SerializationSchema<T> serializer;
        private MessageIdFunction<T> messageId;
        private int maxInFlight = 1000;
        private int maxRetries = 3;

        public Builder<T> connection(JetStreamConnectionConfig c) {
            this.connection = Objects.requireNonNull(c);
            return this;
        }

        /** When given, a publish the server stores in another stream fails (expected-stream check). */
        public Builder<T> stream(String s) {
            this.stream = s;
            return this;
        }

        public Builder<T> subject(String s) {
            this.subject = s;
            return this;
        }

        public Builder<T> serializer(SerializationSchema<T> s) {
            this.serializer = Objects.requireNonNull(s);
            return this;
        }

        public Builder<T> messageId(MessageIdFunction<T> f) {
            this.messageId = f;
            return this;
        }

        /** Publishes awaiting their ack before write blocks (default 1000). */
        public Builder<T> maxInFlight(int n) {
            this.maxInFlight = n;
            return this;
        }

        /** Synchronous retries of a publish that failed (default 3), each after the connection's backoff. */
        public Builder<T> maxRetries(int n) {
            this.maxRetries = n;
            return this;
        }

        public JetStreamSink<T> build() {
            if (connection == null) {
                throw new IllegalArgumentException("nats-jetstream: no connection (servers) given");
            }
            if (subject == null || subject.isBlank() || subject.contains("*") || subject.contains(">")
                    || subject.matches(".*\\s.*")) {
                throw new IllegalArgumentException("nats-jetstream: the sink needs one subject without wildcards, got '"
                        + subject + "'");
            }
            if (serializer == null) {
                throw new IllegalArgumentException("nats-jetstream: no serializer given");
            }
            if (maxInFlight < 1) {
                throw new IllegalArgumentException("nats-jetstream: max in-flight publishes must be >= 1, got " + maxInFlight);
            }
            if (maxRetries < 0) {
                throw new IllegalArgumentException("nats-jetstream: max retries must be >= 0, got " + maxRetries);
            }
            return new JetStreamSink<>(this);
        }
    }

    Duration requestTimeout() {
        return connection.requestTimeout();
    }
}
