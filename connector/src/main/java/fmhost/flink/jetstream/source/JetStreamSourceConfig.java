package fmhost.flink.jetstream.source;

import fmhost.flink.jetstream.JetStreamConnectionConfig;

import java.io.Serializable;
import java.time.Duration;
import java.util.List;

/** Everything the enumerator and the readers of one source need; built by {@link JetStreamSourceBuilder}. */
public final class JetStreamSourceConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    final JetStreamConnectionConfig connection;
    final String stream;
    final List<String> subjects;
    final int batchSize;
    final Duration fetchTimeout;
    final AckPolicy ackPolicy;
    final Duration ackWait;
    final StartMode startMode;
    final long startSequence;
    final BoundedMode boundedMode;
    final long maxMessages;
    final DeserializationErrors deserializationErrors;
    final Duration inactiveThreshold;

    JetStreamSourceConfig(JetStreamConnectionConfig connection, String stream, List<String> subjects, int batchSize,
                          Duration fetchTimeout, AckPolicy ackPolicy, Duration ackWait, StartMode startMode,
                          long startSequence, BoundedMode boundedMode, long maxMessages,
                          DeserializationErrors deserializationErrors, Duration inactiveThreshold) {
        this.connection = connection;
        this.stream = stream;
        this.subjects = List.copyOf(subjects);
        this.batchSize = batchSize;
        this.fetchTimeout = fetchTimeout;
        this.ackPolicy = ackPolicy;
        this.ackWait = ackWait;
        this.startMode = startMode;
        this.startSequence = startSequence;
        this.boundedMode = boundedMode;
        this.maxMessages = maxMessages;
        this.deserializationErrors = deserializationErrors;
        this.inactiveThreshold = inactiveThreshold;
    }

    public JetStreamConnectionConfig connection() {
        return connection;
    }

    public String stream() {
        return stream;
    }

    public List<String> subjects() {
        return subjects;
    }

    public BoundedMode boundedMode() {
        return boundedMode;
    }

    public AckPolicy ackPolicy() {
        return ackPolicy;
    }

    @Override
    public String toString() {
        return "stream=" + stream + ", subjects=" + subjects + ", " + connection + ", batch=" + batchSize
                + ", fetch-timeout=" + fetchTimeout + ", ack=" + ackPolicy + ", start=" + startMode
                + ", bounded=" + boundedMode;
    }
}
