package fmhost.flink.jetstream.table;

import fmhost.flink.jetstream.source.BoundedMode;
import fmhost.flink.jetstream.source.JetStreamDeserializationSchema;
import fmhost.flink.jetstream.source.JetStreamSource;
import fmhost.flink.jetstream.source.JetStreamSourceConfig;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.SourceProvider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;

/** The table source: the format decodes each message's payload into a row. */
final class JetStreamDynamicSource implements ScanTableSource {
    private final DataType physicalType;
    private final DecodingFormat<DeserializationSchema<RowData>> format;
    private final JetStreamSourceConfig config;
    private final Integer parallelism;

    JetStreamDynamicSource(DataType physicalType, DecodingFormat<DeserializationSchema<RowData>> format,
                           JetStreamSourceConfig config, Integer parallelism) {
        this.physicalType = physicalType;
        this.format = format;
        this.config = config;
        this.parallelism = parallelism;
    }

    @Override
    public ChangelogMode getChangelogMode() {
        return format.getChangelogMode();
    }

    @Override
    public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
        DeserializationSchema<RowData> decoder = format.createRuntimeDecoder(context, physicalType);
        JetStreamSource<RowData> source = JetStreamSource.of(config, JetStreamDeserializationSchema.of(decoder));
        return new SourceProvider() {
            @Override
            public org.apache.flink.api.connector.source.Source<RowData, ?, ?> createSource() {
                return source;
            }

            @Override
            public boolean isBounded() {
                return config.boundedMode() != BoundedMode.UNBOUNDED;
            }

            @Override
            public java.util.Optional<Integer> getParallelism() {
                return java.util.Optional.ofNullable(parallelism);
            }
        };
    }

    @Override
    public DynamicTableSource copy() {
        return new JetStreamDynamicSource(physicalType, format, config, parallelism);
    }

    @Override
    public String asSummaryString() {
        return "nats-jetstream(" + config.stream() + ": " + String.join(";", config.subjects()) + ")";
    }
}
