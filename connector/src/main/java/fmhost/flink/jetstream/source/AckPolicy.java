package fmhost.flink.jetstream.source;

/** Whether and when the source acknowledges what it read. */
public enum AckPolicy {
    /** No acks: a consumer with AckPolicy none; the position lives in Flink's checkpoints only. */
    NONE("none"),
    /**
     * A consumer with AckPolicy all: when a checkpoint completes, each split acks the last message
     * the checkpoint covers (and so everything before it on that consumer). Useful with work-queue
     * or interest retention, where acked messages leave the stream. The position still comes from
     * the checkpoint; a redelivery the server makes after the ack wait is recognised by its
     * sequence and dropped.
     */
    ALL("all");

    private final String text;

    AckPolicy(String text) {
        this.text = text;
    }

    @Override
    public String toString() {
        return text;
    }
}
