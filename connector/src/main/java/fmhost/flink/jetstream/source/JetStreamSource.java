package fmhost.flink.jetstream.source;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.core.io.SimpleVersionedSerializer;

import java.util.List;

/**
 * A FLIP-27 source reading subjects of one JetStream stream. One split per subject; the enumerator
 * gives split i to reader i mod parallelism; each reader pulls batches from a consumer of its own
 * per split, and its checkpoint holds each split's next stream sequence.
 */
public final class JetStreamSource<T>
        implements Source<T, JetStreamSplit, JetStreamEnumeratorState>, ResultTypeQueryable<T> {
    private static final long serialVersionUID = 1L;

    private final JetStreamSourceConfig config;
    private final JetStreamDeserializationSchema<T> deserializer;

    JetStreamSource(JetStreamSourceConfig config, JetStreamDeserializationSchema<T> deserializer) {
        this.config = config;
        this.deserializer = deserializer;
    }

    /** A source from checked settings ({@link JetStreamSourceBuilder#buildConfig()}) and a deserializer. */
    public static <T> JetStreamSource<T> of(JetStreamSourceConfig config, JetStreamDeserializationSchema<T> deserializer) {
        return new JetStreamSource<>(java.util.Objects.requireNonNull(config),
                java.util.Objects.requireNonNull(deserializer));
    }

    public static <T> JetStreamSourceBuilder<T> builder() {
        return new JetStreamSourceBuilder<>();
    }

    public JetStreamSourceConfig config() {
        return config;
    }

    @Override
    public Boundedness getBoundedness() {
        return config.boundedMode == BoundedMode.UNBOUNDED ? Boundedness.CONTINUOUS_UNBOUNDED : Boundedness.BOUNDED;
    }

    @Override
    public SourceReader<T, JetStreamSplit> createReader(SourceReaderContext readerContext) throws Exception {
        return new JetStreamSourceReader<>(config, deserializer, readerContext);
    }

    @Override
    public SplitEnumerator<JetStreamSplit, JetStreamEnumeratorState> createEnumerator(
            SplitEnumeratorContext<JetStreamSplit> enumContext) {
        return new JetStreamEnumerator(config, enumContext, new JetStreamEnumeratorState(false, List.of()));
    }

    @Override
    public SplitEnumerator<JetStreamSplit, JetStreamEnumeratorState> restoreEnumerator(
            SplitEnumeratorContext<JetStreamSplit> enumContext, JetStreamEnumeratorState checkpoint) {
        return new JetStreamEnumerator(config, enumContext, checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<JetStreamSplit> getSplitSerializer() {
        return JetStreamSplitSerializer.INSTANCE;
    }

    @Override
    public SimpleVersionedSerializer<JetStreamEnumeratorState> getEnumeratorCheckpointSerializer() {
        return JetStreamEnumeratorState.Serializer.INSTANCE;
    }

    @Override
    public TypeInformation<T> getProducedType() {
        return deserializer.getProducedType();
    }
}
