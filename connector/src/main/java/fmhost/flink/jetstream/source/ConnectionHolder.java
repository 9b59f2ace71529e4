package fmhost.flink.jetstream.source;

import fmhost.flink.jetstream.JetStreamConnectionConfig;
import io.nats.client.Connection;

import java.io.IOException;

/**
 * One reader's NATS connection, opened on first use (by the fetcher thread) and shared with the
 * reader's checkpoint acks. A closed connection (reconnect attempts exhausted) is opened anew.
 */
final class ConnectionHolder implements AutoCloseable {
    private final JetStreamConnectionConfig config;
    private final String name;
    private volatile Connection connection;
    private boolean closed;

    ConnectionHolder(JetStreamConnectionConfig config, String name) {
        this.config = config;
        this.name = name;
    }

    synchronized Connection get() throws IOException {
        if (closed) {
            throw new IOException("nats-jetstream: the reader is closed");
        }
        if (connection != null && connection.getStatus() == Connection.Status.CLOSED) {
            connection = null;
        }
        if (connection == null) {
            connection = config.connect(name);
        }
        return connection;
    }

    /** The open connection, or null (never connects). */
    Connection current() {
        Connection c = connection;
        return c != null && c.getStatus() == Connection.Status.CONNECTED ? c : null;
    }

    @Override
    public synchronized void close() throws InterruptedException {
        closed = true;
        if (connection != null) {
            connection.close();
            connection = null;
        }
    }
}
