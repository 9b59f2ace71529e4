package fmhost.flink.jetstream.table;

import fmhost.flink.jetstream.JetStreamConnectionConfig;
import fmhost.flink.jetstream.sink.JetStreamSink;
import fmhost.flink.jetstream.sink.MessageIdFunction;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.types.RowKind;

import java.util.List;

/**
 * The table sink: inserts only (an update or delete has no meaning for a message log, and the
 * planner refuses such a query with its own message). With a PRIMARY KEY, each message's
 * {@code Nats-Msg-Id} is the key's values joined by ':'.
 */
final class JetStreamDynamicSink implements DynamicTableSink {
    private final DataType physicalType;
    private final EncodingFormat<SerializationSchema<RowData>> format;
    private final JetStreamConnectionConfig connection;
    private final String stream;
    private final String subject;
    private final int[] key;
    private final int maxInFlight;
    private final int maxRetries;
    private final Integer parallelism;

    JetStreamDynamicSink(DataType physicalType, EncodingFormat<SerializationSchema<RowData>> format,
                         JetStreamConnectionConfig connection, String stream, String subject, int[] key,
                         int maxInFlight, int maxRetries, Integer parallelism) {
        this.physicalType = physicalType;
        this.format = format;
        this.connection = connection;
        this.stream = stream;
        this.subject = subject;
        this.key = key;
        this.maxInFlight = maxInFlight;
        this.maxRetries = maxRetries;
        this.parallelism = parallelism;
        // check the settings now, so a bad one fails CREATE/INSERT, not the job
        JetStreamSink.<RowData>builder().connection(connection).subject(subject).serializer(r -> new byte[0])
                .maxInFlight(maxInFlight).maxRetries(maxRetries).build();
    }

    @Override
    public ChangelogMode getChangelogMode(ChangelogMode requested) {
        return ChangelogMode.insertOnly();
    }

    @Override
    public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
        SerializationSchema<RowData> encoder = format.createRuntimeEncoder(context, physicalType);
        JetStreamSink<RowData> sink = JetStreamSink.<RowData>builder()
                .connection(connection).stream(stream).subject(subject).serializer(encoder)
                .messageId(key.length == 0 ? null : new KeyMessageId(physicalType, key))
                .maxInFlight(maxInFlight).maxRetries(maxRetries)
                .build();
        return SinkV2Provider.of(sink, parallelism);
    }

    /** The row's primary key values, as text, joined by ':'. */
    static final class KeyMessageId implements MessageIdFunction<RowData> {
        private static final long serialVersionUID = 1L;
        private final RowData.FieldGetter[] getters;

        KeyMessageId(DataType physicalType, int[] key) {
            List<LogicalType> types = physicalType.getLogicalType().getChildren();
            getters = new RowData.FieldGetter[key.length];
            for (int i = 0; i < key.length; i++) {
                getters[i] = RowData.createFieldGetter(types.get(key[i]), key[i]);
            }
        }

        @Override
        public String messageId(RowData row) {
            if (row.getRowKind() != RowKind.INSERT && row.getRowKind() != RowKind.UPDATE_AFTER) {
                return null;
            }
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < getters.length; i++) {
                if (i > 0) {
                    sb.append(':');
                }
                sb.append(getters[i].getFieldOrNull(row));
            }
            return sb.toString();
        }
    }

    @Override
    public DynamicTableSink copy() {
        return new JetStreamDynamicSink(physicalType, format, connection, stream, subject, key, maxInFlight,
                maxRetries, parallelism);
    }

    @Override
    public String asSummaryString() {
        return "nats-jetstream(" + stream + ": " + subject + ")";
    }
}
