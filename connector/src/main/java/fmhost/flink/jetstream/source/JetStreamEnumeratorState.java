package fmhost.flink.jetstream.source;

import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The enumerator's checkpoint: the splits no reader owns yet (an assigned split's position is in
 * its reader's state), and whether the splits were computed at all.
 */
public final class JetStreamEnumeratorState {
    private final boolean initialized;
    private final List<JetStreamSplit> unassigned;

    public JetStreamEnumeratorState(boolean initialized, List<JetStreamSplit> unassigned) {
        this.initialized = initialized;
        this.unassigned = List.copyOf(unassigned);
    }

    public boolean initialized() {
        return initialized;
    }

    public List<JetStreamSplit> unassigned() {
        return unassigned;
    }

    /** Version 1: initialized flag, count, then each split as {@link JetStreamSplitSerializer} writes it. */
    public static final class Serializer implements SimpleVersionedSerializer<JetStreamEnumeratorState> {
        public static final Serializer INSTANCE = new Serializer();
        private static final int VERSION = 1;

        @Override
        public int getVersion() {
            return VERSION;
        }

        @Override
        public byte[] serialize(JetStreamEnumeratorState state) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(128);
            out.writeBoolean(state.initialized);
            out.writeInt(state.unassigned.size());
            for (JetStreamSplit s : state.unassigned) {
                JetStreamSplitSerializer.write(s, out);
            }
            return out.getCopyOfBuffer();
        }

        @Override
        public JetStreamEnumeratorState deserialize(int version, byte[] serialized) throws IOException {
            if (version != VERSION) {
                throw new IOException("nats-jetstream: unknown enumerator state version " + version);
            }
            DataInputDeserializer in = new DataInputDeserializer(serialized);
            boolean init = in.readBoolean();
            int n = in.readInt();
            List<JetStreamSplit> splits = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                splits.add(JetStreamSplitSerializer.read(in));
            }
            return new JetStreamEnumeratorState(init, splits);
        }
    }
}
