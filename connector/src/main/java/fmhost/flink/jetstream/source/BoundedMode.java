package fmhost.flink.jetstream.source;

/** When a split ends. */
public enum BoundedMode {
    /** Never: the source runs until the job is cancelled. */
    UNBOUNDED("unbounded"),
    /** At the subject's last message as of the job's start (messages published later are not read). */
    LATEST("latest"),
    /** After a number of messages per subject. */
    MAX_MESSAGES("max-messages");

    private final String text;

    BoundedMode(String text) {
        this.text = text;
    }

    @Override
    public String toString() {
        return text;
    }
}
