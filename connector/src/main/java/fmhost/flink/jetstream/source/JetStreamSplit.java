package fmhost.flink.jetstream.source;

import org.apache.flink.api.connector.source.SourceSplit;

import java.util.Objects;

/**
 * One subject of the stream: the unit of parallelism. Exactly one reader owns a split at a time.
 *
 * <p>Its position is {@code nextSequence}, the stream sequence of the first message not yet
 * emitted; the checkpoint keeps it, and a restored reader asks the server for messages from there
 * on, so nothing is replayed twice and nothing is skipped. A bounded split ends at
 * {@code stopSequence} (the subject's last message when the job started) or after
 * {@code maxMessages} messages.
 */
public final class JetStreamSplit implements SourceSplit {
    /** No stop sequence: the split is unbounded (unless it has a message limit). */
    public static final long NO_STOP = Long.MAX_VALUE;

    private final String subject;
    private final long nextSequence;
    private final long stopSequence;
    private final long maxMessages;
    private final long consumed;
    /** The reply subject of the last emitted message, for acks; not part of the checkpoint. */
    private final transient String lastReplyTo;

    public JetStreamSplit(String subject, long nextSequence, long stopSequence, long maxMessages, long consumed) {
        this(subject, nextSequence, stopSequence, maxMessages, consumed, null);
    }

    JetStreamSplit(String subject, long nextSequence, long stopSequence, long maxMessages, long consumed,
                   String lastReplyTo) {
        this.subject = Objects.requireNonNull(subject);
        this.nextSequence = Math.max(1, nextSequence);
        this.stopSequence = stopSequence;
        this.maxMessages = maxMessages;
        this.consumed = consumed;
        this.lastReplyTo = lastReplyTo;
    }

    @Override
    public String splitId() {
        return subject;
    }

    public String subject() {
        return subject;
    }

    public long nextSequence() {
        return nextSequence;
    }

    public long stopSequence() {
        return stopSequence;
    }

    /** The message limit of a bounded split, or -1. */
    public long maxMessages() {
        return maxMessages;
    }

    /** Messages consumed (emitted or skipped as undecodable) so far. */
    public long consumed() {
        return consumed;
    }

    String lastReplyTo() {
        return lastReplyTo;
    }

    /** True when nothing is left to read: past its stop sequence or its message limit. */
    public boolean isFinished() {
        return (stopSequence != NO_STOP && nextSequence > stopSequence)
                || (maxMessages >= 0 && consumed >= maxMessages);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof JetStreamSplit)) {
            return false;
        }
        JetStreamSplit s = (JetStreamSplit) o;
        return subject.equals(s.subject) && nextSequence == s.nextSequence && stopSequence == s.stopSequence
                && maxMessages == s.maxMessages && consumed == s.consumed;
    }

    @Override
    public int hashCode() {
        return Objects.hash(subject, nextSequence, stopSequence, maxMessages, consumed);
    }

    @Override
    public String toString() {
        return "JetStreamSplit{subject=" + subject + ", next=" + nextSequence
                + (stopSequence == NO_STOP ? "" : ", stop=" + stopSequence)
                + (maxMessages < 0 ? "" : ", max=" + maxMessages + ", consumed=" + consumed) + "}";
    }
}
