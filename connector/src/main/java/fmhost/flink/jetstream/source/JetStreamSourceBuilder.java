package fmhost.flink.jetstream.source;

import fmhost.flink.jetstream.JetStreamConnectionConfig;
import org.apache.flink.api.common.serialization.DeserializationSchema;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Builds a {@link JetStreamSource}:
 *
 * <pre>{@code
 * JetStreamSource<String> source = JetStreamSource.<String>builder()
 *     .connection(JetStreamConnectionConfig.builder().servers("nats://127.0.0.1:4222").build())
 *     .stream("ORDERS").subjects("orders.eu", "orders.us")
 *     .deserializer(new SimpleStringSchema())
 *     .bounded(BoundedMode.LATEST)
 *     .build();
 * env.fromSource(source, WatermarkStrategy.noWatermarks(), "orders");
 * }</pre>
 *
 * Each subject is one split; a subject may hold wildcards, and then all it matches is one split.
 */
public final class JetStreamSourceBuilder<T> {
    private JetStreamConnectionConfig connection;
    private String stream;
    private final List<String> subjects = new ArrayList<>();
    private JetStreamDeserializationSchema<T> deserializer;
    private int batchSize = 500;
    private Duration fetchTimeout = Duration.ofSeconds(1);
    private AckPolicy ackPolicy = AckPolicy.NONE;
    private Duration ackWait = Duration.ofMinutes(5);
    private StartMode startMode = StartMode.EARLIEST;
    private long startSequence = -1;
    private BoundedMode boundedMode = BoundedMode.UNBOUNDED;
    private long maxMessages = -1;
    private DeserializationErrors deserializationErrors = DeserializationErrors.FAIL;
    private Duration inactiveThreshold = Duration.ofMinutes(5);

    JetStreamSourceBuilder() {}

    public JetStreamSourceBuilder<T> connection(JetStreamConnectionConfig c) {
        this.connection = Objects.requireNonNull(c);
        return this;
    }

    public JetStreamSourceBuilder<T> stream(String name) {
        this.stream = name;
        return this;
    }

    public JetStreamSourceBuilder<T> subjects(String... s) {
        subjects.addAll(List.of(s));
        return this;
    }

    public JetStreamSourceBuilder<T> subjects(List<String> s) {
        subjects.addAll(s);
        return this;
    }

    public JetStreamSourceBuilder<T> deserializer(DeserializationSchema<T> schema) {
        this.deserializer = JetStreamDeserializationSchema.of(schema);
        return this;
    }

    public JetStreamSourceBuilder<T> deserializer(JetStreamDeserializationSchema<T> schema) {
        this.deserializer = Objects.requireNonNull(schema);
        return this;
    }

    /** Messages asked for per pull request (default 500). */
    public JetStreamSourceBuilder<T> batchSize(int n) {
        this.batchSize = n;
        return this;
    }

    /** How long one pull waits for a first message (default 1 s). */
    public JetStreamSourceBuilder<T> fetchTimeout(Duration d) {
        this.fetchTimeout = Objects.requireNonNull(d);
        return this;
    }

    public JetStreamSourceBuilder<T> ackPolicy(AckPolicy p) {
        this.ackPolicy = Objects.requireNonNull(p);
        return this;
    }

    /** The consumers' ack wait with {@link AckPolicy#ALL} (default 5 min): longer than a checkpoint takes. */
    public JetStreamSourceBuilder<T> ackWait(Duration d) {
        this.ackWait = Objects.requireNonNull(d);
        return this;
    }

    public JetStreamSourceBuilder<T> startFrom(StartMode mode) {
        this.startMode = Objects.requireNonNull(mode);
        return this;
    }

    public JetStreamSourceBuilder<T> startAtSequence(long sequence) {
        this.startMode = StartMode.SEQUENCE;
        this.startSequence = sequence;
        return this;
    }

    public JetStreamSourceBuilder<T> bounded(BoundedMode mode) {
        this.boundedMode = Objects.requireNonNull(mode);
        return this;
    }

    /** Bounded: each subject ends after n messages. */
    public JetStreamSourceBuilder<T> maxMessages(long n) {
        this.boundedMode = BoundedMode.MAX_MESSAGES;
        this.maxMessages = n;
        return this;
    }

    public JetStreamSourceBuilder<T> deserializationErrors(DeserializationErrors policy) {
        this.deserializationErrors = Objects.requireNonNull(policy);
        return this;
    }

    /** How long the server keeps a consumer no reader pulls from (default 5 min). */
    public JetStreamSourceBuilder<T> inactiveThreshold(Duration d) {
        this.inactiveThreshold = Objects.requireNonNull(d);
        return this;
    }

    public JetStreamSource<T> build() {
        JetStreamSourceConfig config = buildConfig();
        if (deserializer == null) {
            throw new IllegalArgumentException("nats-jetstream: no deserializer given");
        }
        return new JetStreamSource<>(config, deserializer);
    }

    /** The checked settings without a deserializer (the SQL connector adds the format's later). */
    public JetStreamSourceConfig buildConfig() {
        if (connection == null) {
            throw new IllegalArgumentException("nats-jetstream: no connection (servers) given");
        }
        if (stream == null || stream.isBlank()) {
            throw new IllegalArgumentException("nats-jetstream: no stream given");
        }
        if (!stream.matches("[^\\s.*>]+")) {
            throw new IllegalArgumentException("nats-jetstream: '" + stream
                    + "' is not a stream name (no spaces, '.', '*' or '>')");
        }
        if (subjects.isEmpty()) {
            throw new IllegalArgumentException("nats-jetstream: no subject given; each subject is one split");
        }
        Set<String> seen = new LinkedHashSet<>();
        for (String s : subjects) {
            checkSubject(s);
            if (!seen.add(s)) {
                throw new IllegalArgumentException("nats-jetstream: subject '" + s + "' is given twice");
            }
        }
        if (batchSize < 1 || batchSize > 100_000) {
            throw new IllegalArgumentException("nats-jetstream: the batch size must be within 1..100000, got " + batchSize);
        }
        if (fetchTimeout.toMillis() < 1000) {
            throw new IllegalArgumentException("nats-jetstream: the fetch timeout must be at least 1 s, got " + fetchTimeout);
        }
        if (ackWait.toMillis() < 1000) {
            throw new IllegalArgumentException("nats-jetstream: the ack wait must be at least 1 s, got " + ackWait);
        }
        if (inactiveThreshold.toMillis() < 1000) {
            throw new IllegalArgumentException("nats-jetstream: the inactive threshold must be at least 1 s, got "
                    + inactiveThreshold);
        }
        if (startMode == StartMode.SEQUENCE && startSequence < 1) {
            throw new IllegalArgumentException("nats-jetstream: start mode 'sequence' needs a start sequence >= 1");
        }
        if (startMode != StartMode.SEQUENCE && startSequence >= 0) {
            throw new IllegalArgumentException("nats-jetstream: a start sequence needs start mode 'sequence', not '"
                    + startMode + "'");
        }
        if (boundedMode == BoundedMode.MAX_MESSAGES && maxMessages < 1) {
            throw new IllegalArgumentException("nats-jetstream: bounded mode 'max-messages' needs a message count >= 1");
        }
        if (boundedMode != BoundedMode.MAX_MESSAGES && maxMessages >= 0) {
            throw new IllegalArgumentException("nats-jetstream: a message count needs bounded mode 'max-messages', not '"
                    + boundedMode + "'");
        }
        return new JetStreamSourceConfig(connection, stream, subjects, batchSize, fetchTimeout, ackPolicy, ackWait,
                startMode, startSequence, boundedMode, maxMessages, deserializationErrors, inactiveThreshold);
    }

    static void checkSubject(String s) {
        if (s == null || s.isBlank() || s.matches(".*\\s.*") || s.startsWith(".") || s.endsWith(".")
                || s.contains("..")) {
            throw new IllegalArgumentException("nats-jetstream: '" + s + "' is not a NATS subject");
        }
        String[] tokens = s.split("\\.");
        for (int i = 0; i < tokens.length; i++) {
            String t = tokens[i];
            if ((t.contains("*") && !t.equals("*")) || (t.contains(">") && !t.equals(">"))
                    || (t.equals(">") && i != tokens.length - 1)) {
                throw new IllegalArgumentException("nats-jetstream: '" + s
                        + "' is not a NATS subject ('*' and '>' stand for whole tokens, '>' only last)");
            }
        }
    }
}
