package fmhost.flink.jetstream.source;

/** The mutable position of a split while a reader owns it; updated by the emitter only. */
final class JetStreamSplitState {
    private final JetStreamSplit split;
    private long nextSequence;
    private long consumed;
    private String lastReplyTo;

    JetStreamSplitState(JetStreamSplit split) {
        this.split = split;
        this.nextSequence = split.nextSequence();
        this.consumed = split.consumed();
    }

    void consumed(JetStreamMessage m) {
        nextSequence = m.streamSequence() + 1;
        consumed++;
        if (m.replyTo() != null) {
            lastReplyTo = m.replyTo();
        }
    }

    String subject() {
        return split.subject();
    }

    JetStreamSplit toSplit() {
        return new JetStreamSplit(split.subject(), nextSequence, split.stopSequence(), split.maxMessages(), consumed,
                lastReplyTo);
    }
}
