package fmhost.flink.jetstream.source;

import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * One message read from a JetStream stream, as the split reader hands it to the emitter and the
 * deserializer: the payload with where it came from. No jnats type leaks out of the connector.
 */
public final class JetStreamMessage {
    private final String stream;
    private final String subject;
    private final long streamSequence;
    private final long consumerSequence;
    private final long timestampMillis;
    private final long pending;
    private final String replyTo;
    private final Map<String, List<String>> headers;
    private final byte[] data;

    public JetStreamMessage(String stream, String subject, long streamSequence, long consumerSequence,
                            long timestampMillis, long pending, String replyTo,
                            Map<String, List<String>> headers, byte[] data) {
        this.stream = stream;
        this.subject = subject;
        this.streamSequence = streamSequence;
        this.consumerSequence = consumerSequence;
        this.timestampMillis = timestampMillis;
        this.pending = pending;
        this.replyTo = replyTo;
        this.headers = headers == null ? Collections.emptyMap() : headers;
        this.data = data == null ? new byte[0] : data;
    }

    public String stream() {
        return stream;
    }

    /** The subject the message was published to. */
    public String subject() {
        return subject;
    }

    /** Its sequence number in the stream (what the checkpoint keeps). */
    public long streamSequence() {
        return streamSequence;
    }

    long consumerSequence() {
        return consumerSequence;
    }

    /** When the server stored it, in milliseconds since the epoch. */
    public long timestampMillis() {
        return timestampMillis;
    }

    /** Messages of the split's subject after this one when it was delivered. */
    public long pending() {
        return pending;
    }

    String replyTo() {
        return replyTo;
    }

    /** The headers (empty when none); {@code Nats-Msg-Id} among them when it was published with one. */
    public Map<String, List<String>> headers() {
        return headers;
    }

    /** The first value of a header, or null. */
    public String header(String name) {
        List<String> v = headers.get(name);
        return v == null || v.isEmpty() ? null : v.get(0);
    }

    public byte[] data() {
        return data;
    }

    @Override
    public String toString() {
        return "stream " + stream + ", subject " + subject + ", sequence " + streamSequence;
    }
}
