package fmhost.flink.jetstream.table;

import fmhost.flink.jetstream.source.AckPolicy;
import fmhost.flink.jetstream.source.BoundedMode;
import fmhost.flink.jetstream.source.DeserializationErrors;
import fmhost.flink.jetstream.source.StartMode;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

import java.time.Duration;
import java.util.List;

/** The options of {@code 'connector' = 'nats-jetstream'}. */
public final class JetStreamConnectorOptions {
    private JetStreamConnectorOptions() {}

    public static final ConfigOption<String> SERVERS = ConfigOptions.key("servers").stringType().noDefaultValue()
            .withDescription("NATS server URLs, comma-separated, e.g. nats://127.0.0.1:4222");
    public static final ConfigOption<String> STREAM = ConfigOptions.key("stream").stringType().noDefaultValue()
            .withDescription("The JetStream stream read from (and, for the sink, the stream the subject must land in).");
    public static final ConfigOption<List<String>> SUBJECTS = ConfigOptions.key("subjects").stringType().asList()
            .noDefaultValue()
            .withDescription("Source: the subjects to read, separated by ';'. Each subject is one split.");
    public static final ConfigOption<String> USERNAME = ConfigOptions.key("username").stringType().noDefaultValue();
    public static final ConfigOption<String> PASSWORD = ConfigOptions.key("password").stringType().noDefaultValue();
    public static final ConfigOption<String> TOKEN = ConfigOptions.key("token").stringType().noDefaultValue();
    public static final ConfigOption<Duration> CONNECT_TIMEOUT = ConfigOptions.key("connect.timeout").durationType()
            .defaultValue(Duration.ofSeconds(5));
    public static final ConfigOption<Duration> REQUEST_TIMEOUT = ConfigOptions.key("request.timeout").durationType()
            .defaultValue(Duration.ofSeconds(10))
            .withDescription("Timeout of JetStream API requests and of publish acknowledgements.");
    public static final ConfigOption<Integer> RECONNECT_MAX_ATTEMPTS = ConfigOptions.key("reconnect.max-attempts")
            .intType().defaultValue(60)
            .withDescription("Reconnect (and fetch retry) attempts per outage before the task fails; -1: no limit.");
    public static final ConfigOption<Duration> RECONNECT_BACKOFF_INITIAL = ConfigOptions.key("reconnect.backoff.initial")
            .durationType().defaultValue(Duration.ofMillis(100));
    public static final ConfigOption<Duration> RECONNECT_BACKOFF_MAX = ConfigOptions.key("reconnect.backoff.max")
            .durationType().defaultValue(Duration.ofSeconds(5));

    public static final ConfigOption<Integer> SCAN_BATCH_SIZE = ConfigOptions.key("scan.batch-size").intType()
            .defaultValue(500).withDescription("Messages per pull request.");
    public static final ConfigOption<Duration> SCAN_FETCH_TIMEOUT = ConfigOptions.key("scan.fetch-timeout")
            .durationType().defaultValue(Duration.ofSeconds(1))
            .withDescription("How long a pull waits for its first message (at least 1 s).");
    public static final ConfigOption<AckPolicy> SCAN_ACK_POLICY = ConfigOptions.key("scan.ack-policy")
            .enumType(AckPolicy.class).defaultValue(AckPolicy.NONE);
    public static final ConfigOption<Duration> SCAN_ACK_WAIT = ConfigOptions.key("scan.ack-wait").durationType()
            .defaultValue(Duration.ofMinutes(5));
    public static final ConfigOption<StartMode> SCAN_STARTUP_MODE = ConfigOptions.key("scan.startup.mode")
            .enumType(StartMode.class).defaultValue(StartMode.EARLIEST);
    public static final ConfigOption<Long> SCAN_STARTUP_SEQUENCE = ConfigOptions.key("scan.startup.sequence")
            .longType().noDefaultValue();
    public static final ConfigOption<BoundedMode> SCAN_BOUNDED_MODE = ConfigOptions.key("scan.bounded.mode")
            .enumType(BoundedMode.class).defaultValue(BoundedMode.UNBOUNDED);
    public static final ConfigOption<Long> SCAN_BOUNDED_MAX_MESSAGES = ConfigOptions.key("scan.bounded.max-messages")
            .longType().noDefaultValue().withDescription("Bounded mode max-messages: messages per subject.");
    public static final ConfigOption<DeserializationErrors> SCAN_DESERIALIZATION_ERRORS = ConfigOptions
            .key("scan.deserialization-errors").enumType(DeserializationErrors.class)
            .defaultValue(DeserializationErrors.FAIL);
    public static final ConfigOption<Duration> SCAN_CONSUMER_INACTIVE_THRESHOLD = ConfigOptions
            .key("scan.consumer.inactive-threshold").durationType().defaultValue(Duration.ofMinutes(5));
    public static final ConfigOption<Integer> SCAN_PARALLELISM = ConfigOptions.key("scan.parallelism").intType()
            .noDefaultValue();

    public static final ConfigOption<String> SINK_SUBJECT = ConfigOptions.key("sink.subject").stringType()
            .noDefaultValue().withDescription("Sink: the subject every row is published to.");
    public static final ConfigOption<Integer> SINK_MAX_IN_FLIGHT = ConfigOptions.key("sink.max-in-flight").intType()
            .defaultValue(1000);
    public static final ConfigOption<Integer> SINK_MAX_RETRIES = ConfigOptions.key("sink.max-retries").intType()
            .defaultValue(3);
    public static final ConfigOption<Integer> SINK_PARALLELISM = ConfigOptions.key("sink.parallelism").intType()
            .noDefaultValue();
}
