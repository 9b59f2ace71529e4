package fmhost.flink.jetstream.source;

/** Where a split starts when no checkpoint says otherwise. */
public enum StartMode {
    /** The first message the stream holds for the subject. */
    EARLIEST("earliest"),
    /** After the subject's last message when the job started: only new messages. */
    LATEST("latest"),
    /** At a given stream sequence. */
    SEQUENCE("sequence");

    private final String text;

    StartMode(String text) {
        this.text = text;
    }

    @Override
    public String toString() {
        return text;
    }
}
