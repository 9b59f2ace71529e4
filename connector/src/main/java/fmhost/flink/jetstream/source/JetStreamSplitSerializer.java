package fmhost.flink.jetstream.source;

import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

import java.io.IOException;

/** Version 1: subject (UTF), next sequence, stop sequence, message limit, consumed count. */
public final class JetStreamSplitSerializer implements SimpleVersionedSerializer<JetStreamSplit> {
    public static final JetStreamSplitSerializer INSTANCE = new JetStreamSplitSerializer();
    private static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(JetStreamSplit split) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(64);
        write(split, out);
        return out.getCopyOfBuffer();
    }

    static void write(JetStreamSplit split, DataOutputSerializer out) throws IOException {
        out.writeUTF(split.subject());
        out.writeLong(split.nextSequence());
        out.writeLong(split.stopSequence());
        out.writeLong(split.maxMessages());
        out.writeLong(split.consumed());
    }

    static JetStreamSplit read(DataInputDeserializer in) throws IOException {
        String subject = in.readUTF();
        long next = in.readLong();
        long stop = in.readLong();
        long max = in.readLong();
        long consumed = in.readLong();
        return new JetStreamSplit(subject, next, stop, max, consumed);
    }

    @Override
    public JetStreamSplit deserialize(int version, byte[] serialized) throws IOException {
        if (version != VERSION) {
            throw new IOException("nats-jetstream: unknown split serializer version " + version);
        }
        return read(new DataInputDeserializer(serialized));
    }
}
