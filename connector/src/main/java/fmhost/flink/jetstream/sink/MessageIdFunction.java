package fmhost.flink.jetstream.sink;

import java.io.Serializable;

/**
 * The {@code Nats-Msg-Id} of a record: the same record must always get the same id, so that the
 * stream's duplicate window drops what a restarted job publishes again. Null publishes without an id.
 */
@FunctionalInterface
public interface MessageIdFunction<T> extends Serializable {
    String messageId(T record);
}
