package fmhost.flink.jetstream.source;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.util.Collector;

import java.io.IOException;
import java.io.Serializable;

/**
 * Turns a JetStream message into zero or more records. {@link #of(DeserializationSchema)} adapts
 * any Flink format (json, csv, raw, ...) that reads the payload alone; implement this interface to
 * see the subject, the sequence or the headers as well.
 */
public interface JetStreamDeserializationSchema<T> extends Serializable, ResultTypeQueryable<T> {

    default void open(DeserializationSchema.InitializationContext context) throws Exception {}

    /** Emits the records of one message; throwing marks the message as undecodable. */
    void deserialize(JetStreamMessage message, Collector<T> out) throws IOException;

    /** The payload through a Flink {@link DeserializationSchema}. */
    static <T> JetStreamDeserializationSchema<T> of(DeserializationSchema<T> schema) {
        return new PayloadDeserializationSchema<>(schema);
    }

    /** Adapter from a payload-only {@link DeserializationSchema}. */
    final class PayloadDeserializationSchema<T> implements JetStreamDeserializationSchema<T> {
        private static final long serialVersionUID = 1L;
        private final DeserializationSchema<T> schema;

        PayloadDeserializationSchema(DeserializationSchema<T> schema) {
            this.schema = schema;
        }

        @Override
        public void open(DeserializationSchema.InitializationContext context) throws Exception {
            schema.open(context);
        }

        @Override
        public void deserialize(JetStreamMessage message, Collector<T> out) throws IOException {
            schema.deserialize(message.data(), out);
        }

        @Override
        public TypeInformation<T> getProducedType() {
            return schema.getProducedType();
        }
    }
}
