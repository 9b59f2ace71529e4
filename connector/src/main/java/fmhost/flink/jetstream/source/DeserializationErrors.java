package fmhost.flink.jetstream.source;

/** What a message the format cannot decode does. */
public enum DeserializationErrors {
    /** The job fails with an error naming the stream, the subject and the sequence of the message. */
    FAIL("fail"),
    /**
     * The message is skipped (its position still advances, so it is not read again), logged with
     * its subject and sequence, and counted in the reader's numRecordsInErrors metric.
     */
    SKIP("skip");

    private final String text;

    DeserializationErrors(String text) {
        this.text = text;
    }

    @Override
    public String toString() {
        return text;
    }
}
