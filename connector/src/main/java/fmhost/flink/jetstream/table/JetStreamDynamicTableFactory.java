package fmhost.flink.jetstream.table;

import fmhost.flink.jetstream.JetStreamConnectionConfig;
import fmhost.flink.jetstream.source.BoundedMode;
import fmhost.flink.jetstream.source.JetStreamSource;
import fmhost.flink.jetstream.source.JetStreamSourceBuilder;
import fmhost.flink.jetstream.source.JetStreamSourceConfig;
import fmhost.flink.jetstream.source.StartMode;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;

import java.util.List;
import java.util.Set;

import static fmhost.flink.jetstream.table.JetStreamConnectorOptions.*;

/**
 * {@code 'connector' = 'nats-jetstream'}: a table over subjects of a JetStream stream. Reading
 * needs {@code subjects}, writing {@code sink.subject}; both need {@code servers}, {@code stream}
 * and a {@code format}. Flink's option validation names any option it does not know.
 */
public final class JetStreamDynamicTableFactory implements DynamicTableSourceFactory, DynamicTableSinkFactory {
    public static final String IDENTIFIER = "nats-jetstream";

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(SERVERS, STREAM, FactoryUtil.FORMAT);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of(SUBJECTS, USERNAME, PASSWORD, TOKEN, CONNECT_TIMEOUT, REQUEST_TIMEOUT, RECONNECT_MAX_ATTEMPTS,
                RECONNECT_BACKOFF_INITIAL, RECONNECT_BACKOFF_MAX, SCAN_BATCH_SIZE, SCAN_FETCH_TIMEOUT, SCAN_ACK_POLICY,
                SCAN_ACK_WAIT, SCAN_STARTUP_MODE, SCAN_STARTUP_SEQUENCE, SCAN_BOUNDED_MODE, SCAN_BOUNDED_MAX_MESSAGES,
                SCAN_DESERIALIZATION_ERRORS, SCAN_CONSUMER_INACTIVE_THRESHOLD, SCAN_PARALLELISM, SINK_SUBJECT,
                SINK_MAX_IN_FLIGHT, SINK_MAX_RETRIES, SINK_PARALLELISM);
    }

    @Override
    public Set<ConfigOption<?>> forwardOptions() {
        return Set.of();
    }

    static JetStreamConnectionConfig connection(ReadableConfig o) {
        JetStreamConnectionConfig.Builder b = JetStreamConnectionConfig.builder()
                .servers(o.get(SERVERS))
                .connectTimeout(o.get(CONNECT_TIMEOUT))
                .requestTimeout(o.get(REQUEST_TIMEOUT))
                .maxReconnects(o.get(RECONNECT_MAX_ATTEMPTS))
                .backoff(o.get(RECONNECT_BACKOFF_INITIAL), o.get(RECONNECT_BACKOFF_MAX));
        o.getOptional(USERNAME).ifPresent(u -> b.credentials(u, o.getOptional(PASSWORD).orElse("")));
        o.getOptional(TOKEN).ifPresent(b::token);
        return b.build();
    }

    @Override
    public DynamicTableSource createDynamicTableSource(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        DecodingFormat<DeserializationSchema<RowData>> format =
                helper.discoverDecodingFormat(DeserializationFormatFactory.class, FactoryUtil.FORMAT);
        helper.validate();
        ReadableConfig o = helper.getOptions();
        List<String> subjects = o.getOptional(SUBJECTS).orElseThrow(() -> new ValidationException(
                "nats-jetstream: table " + context.getObjectIdentifier().asSummaryString()
                        + " is read, so it needs the option 'subjects' (the subjects of stream '" + o.get(STREAM)
                        + "' to read, separated by ';')"));
        JetStreamSourceConfig config;
        try {
            JetStreamSourceBuilder<RowData> b = JetStreamSource.<RowData>builder()
                    .connection(connection(o))
                    .stream(o.get(STREAM))
                    .subjects(subjects)
                    .batchSize(o.get(SCAN_BATCH_SIZE))
                    .fetchTimeout(o.get(SCAN_FETCH_TIMEOUT))
                    .ackPolicy(o.get(SCAN_ACK_POLICY))
                    .ackWait(o.get(SCAN_ACK_WAIT))
                    .deserializationErrors(o.get(SCAN_DESERIALIZATION_ERRORS))
                    .inactiveThreshold(o.get(SCAN_CONSUMER_INACTIVE_THRESHOLD));
            StartMode start = o.get(SCAN_STARTUP_MODE);
            if (o.getOptional(SCAN_STARTUP_SEQUENCE).isPresent() && start != StartMode.SEQUENCE) {
                throw new IllegalArgumentException("nats-jetstream: 'scan.startup.sequence' needs 'scan.startup.mode' = "
                        + "'sequence', not '" + start + "'");
            }
            if (start == StartMode.SEQUENCE) {
                b.startAtSequence(o.getOptional(SCAN_STARTUP_SEQUENCE).orElseThrow(() -> new IllegalArgumentException(
                        "nats-jetstream: 'scan.startup.mode' = 'sequence' needs 'scan.startup.sequence'")));
            } else {
                b.startFrom(start);
            }
            BoundedMode bounded = o.get(SCAN_BOUNDED_MODE);
            if (o.getOptional(SCAN_BOUNDED_MAX_MESSAGES).isPresent() && bounded != BoundedMode.MAX_MESSAGES) {
                throw new IllegalArgumentException("nats-jetstream: 'scan.bounded.max-messages' needs "
                        + "'scan.bounded.mode' = 'max-messages', not '" + bounded + "'");
            }
            if (bounded == BoundedMode.MAX_MESSAGES) {
                b.maxMessages(o.getOptional(SCAN_BOUNDED_MAX_MESSAGES).orElseThrow(() -> new IllegalArgumentException(
                        "nats-jetstream: 'scan.bounded.mode' = 'max-messages' needs 'scan.bounded.max-messages'")));
            } else {
                b.bounded(bounded);
            }
            config = b.buildConfig();
        } catch (IllegalArgumentException e) {
            throw new ValidationException(e.getMessage() + " (table " + context.getObjectIdentifier().asSummaryString()
                    + ")", e);
        }
        Integer parallelism = o.getOptional(SCAN_PARALLELISM).orElse(null);
        return new JetStreamDynamicSource(context.getPhysicalRowDataType(), format, config, parallelism);
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        EncodingFormat<SerializationSchema<RowData>> format =
                helper.discoverEncodingFormat(SerializationFormatFactory.class, FactoryUtil.FORMAT);
        helper.validate();
        ReadableConfig o = helper.getOptions();
        String subject = o.getOptional(SINK_SUBJECT).orElseThrow(() -> new ValidationException(
                "nats-jetstream: table " + context.getObjectIdentifier().asSummaryString()
                        + " is written, so it needs the option 'sink.subject' (the subject every row is published to)"));
        ResolvedSchema schema = context.getCatalogTable().getResolvedSchema();
        int[] key = schema.getPrimaryKeyIndexes();
        try {
            return new JetStreamDynamicSink(context.getPhysicalRowDataType(), format, connection(o), o.get(STREAM),
                    subject, key, o.get(SINK_MAX_IN_FLIGHT), o.get(SINK_MAX_RETRIES),
                    o.getOptional(SINK_PARALLELISM).orElse(null));
        } catch (IllegalArgumentException e) {
            throw new ValidationException(e.getMessage() + " (table " + context.getObjectIdentifier().asSummaryString()
                    + ")", e);
        }
    }
}
