package fmhost.flink.jetstream;

import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.Nats;
import io.nats.client.Options;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How to reach NATS: the servers, the credentials, and the reconnect policy. Serializable, so a
 * source or sink carries it to every TaskManager.
 *
 * <p>Both the first connect and every reconnect back off exponentially: {@code backoffInitial},
 * doubled per failed attempt up to {@code backoffMax}. {@code maxReconnects} bounds the attempts
 * of one outage (-1: unbounded); after that the connection closes and the reader or writer fails,
 * so Flink restarts the task from its last checkpoint.
 */
public final class JetStreamConnectionConfig implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(JetStreamConnectionConfig.class);

    private final List<String> servers;
    private final String username;
    private final String password;
    private final String token;
    private final Duration connectTimeout;
    private final Duration requestTimeout;
    private final int maxReconnects;
    private final Duration backoffInitial;
    private final Duration backoffMax;

    private JetStreamConnectionConfig(Builder b) {
        this.servers = List.copyOf(b.servers);
        this.username = b.username;
        this.password = b.password;
        this.token = b.token;
        this.connectTimeout = b.connectTimeout;
        this.requestTimeout = b.requestTimeout;
        this.maxReconnects = b.maxReconnects;
        this.backoffInitial = b.backoffInitial;
        this.backoffMax = b.backoffMax;
    }

    public static Builder builder() {
        return new Builder();
    }

    public List<String> servers() {
        return servers;
    }

    public Duration requestTimeout() {
        return requestTimeout;
    }

    public int maxReconnects() {
        return maxReconnects;
    }

    /** The delay before attempt number {@code attempt} (1-based) of a reconnect or retry. */
    public Duration backoff(long attempt) {
        long initial = Math.max(1, backoffInitial.toMillis());
        long max = Math.max(initial, backoffMax.toMillis());
        int shift = (int) Math.min(Math.max(0, attempt - 1), 30);
        long ms = initial << shift;
        return Duration.ofMillis(ms <= 0 || ms > max ? max : ms);
    }

    Options options(String name) {
        Options.Builder o = new Options.Builder()
                .servers(servers.toArray(new String[0]))
                .connectionName(name)
                .connectionTimeout(connectTimeout)
                .maxReconnects(maxReconnects)
                .reconnectDelayHandler(this::backoff)
                .noRandomize()
                .errorListener(new QuietErrorListener(name))
                .connectionListener(new LoggingConnectionListener(name));
        if (username != null && !username.isEmpty()) {
            o.userInfo(username, password == null ? "" : password);
        }
        if (token != null && !token.isEmpty()) {
            o.token(token.toCharArray());
        }
        return o.build();
    }

    /**
     * Connects, retrying with the backoff until {@code maxReconnects} attempts failed (-1: until
     * interrupted). The error names the servers and the last cause.
     */
    public Connection connect(String name) throws IOException {
        Options options = options(name);
        long attempt = 0;
        while (true) {
            attempt++;
            try {
                return Nats.connect(options);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("nats-jetstream: interrupted while connecting to " + servers, e);
            } catch (IOException | RuntimeException e) {
                if (maxReconnects >= 0 && attempt > maxReconnects) {
                    throw new IOException(String.format("nats-jetstream: cannot connect to %s after %d attempt(s): %s",
                            String.join(",", servers), attempt, e.getMessage()), e);
                }
                Duration d = backoff(attempt);
                LOG.warn("nats-jetstream: connecting to {} failed (attempt {}): {}; retrying in {} ms",
                        servers, attempt, e.toString(), d.toMillis());
                try {
                    Thread.sleep(d.toMillis());
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("nats-jetstream: interrupted while connecting to " + servers, ie);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "servers=" + servers + (username != null ? ", user=" + username : "");
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof JetStreamConnectionConfig)) {
            return false;
        }
        JetStreamConnectionConfig c = (JetStreamConnectionConfig) o;
        return servers.equals(c.servers) && Objects.equals(username, c.username)
                && Objects.equals(password, c.password) && Objects.equals(token, c.token)
                && connectTimeout.equals(c.connectTimeout) && requestTimeout.equals(c.requestTimeout)
                && maxReconnects == c.maxReconnects && backoffInitial.equals(c.backoffInitial)
                && backoffMax.equals(c.backoffMax);
    }

    @Override
    public int hashCode() {
        return Objects.hash(servers, username, connectTimeout, maxReconnects);
    }

    /** Builder; only the servers are required. */
    public static final class Builder {
        private final List<String> servers = new ArrayList<>();
        private String username;
        private String password;
        private String token;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration requestTimeout = Duration.ofSeconds(10);
        private int maxReconnects = 60;
        private Duration backoffInitial = Duration.ofMillis(100);
        private Duration backoffMax = Duration.ofSeconds(5);

        /** One or more server URLs, such as {@code nats://127.0.0.1:4222}. */
        public Builder servers(String... urls) {
            for (String u : urls) {
                for (String part : u.split(",")) {
                    if (!part.isBlank()) {
                        servers.add(part.trim());
                    }
                }
            }
            return this;
        }

        public Builder credentials(String user, String pass) {
            this.username = user;
            this.password = pass;
            return this;
        }

        public Builder token(String t) {
            this.token = t;
            return this;
        }

        public Builder connectTimeout(Duration d) {
            this.connectTimeout = Objects.requireNonNull(d);
            return this;
        }

        /** Timeout of JetStream API requests (stream info, consumer creation) and publish acks. */
        public Builder requestTimeout(Duration d) {
            this.requestTimeout = Objects.requireNonNull(d);
            return this;
        }

        /** Reconnect attempts per outage; -1 for no limit. */
        public Builder maxReconnects(int n) {
            this.maxReconnects = n;
            return this;
        }

        public Builder backoff(Duration initial, Duration max) {
            this.backoffInitial = Objects.requireNonNull(initial);
            this.backoffMax = Objects.requireNonNull(max);
            return this;
        }

        public JetStreamConnectionConfig build() {
            if (servers.isEmpty()) {
                throw new IllegalArgumentException("nats-jetstream: no NATS server given (servers)");
            }
            for (String s : servers) {
                if (!s.matches("^(nats|tls|ws|wss)://.+") && !s.matches("^[^:/]+:\\d+$")) {
                    throw new IllegalArgumentException("nats-jetstream: '" + s
                            + "' is not a NATS server URL such as nats://127.0.0.1:4222");
                }
            }
            if (maxReconnects < -1) {
                throw new IllegalArgumentException("nats-jetstream: reconnect attempts must be -1 (no limit) or >= 0, got "
                        + maxReconnects);
            }
            if (backoffInitial.isNegative() || backoffInitial.isZero() || backoffMax.compareTo(backoffInitial) < 0) {
                throw new IllegalArgumentException("nats-jetstream: the reconnect backoff needs 0 < initial <= max, got "
                        + backoffInitial + " and " + backoffMax);
            }
            return new JetStreamConnectionConfig(this);
        }
    }

    /** jnats reports slow consumers and socket errors here; they go to the log, once each. */
    private static final class QuietErrorListener implements ErrorListener {
        private final String name;

        QuietErrorListener(String name) {
            this.name = name;
        }

        @Override
        public void errorOccurred(Connection conn, String error) {
            LOG.warn("nats-jetstream {}: server error: {}", name, error);
        }

        @Override
        public void exceptionOccurred(Connection conn, Exception exp) {
            LOG.warn("nats-jetstream {}: connection error: {}", name, exp.toString());
        }
    }

    private static final class LoggingConnectionListener implements ConnectionListener {
        private final String name;

        LoggingConnectionListener(String name) {
            this.name = name;
        }

        @Override
        public void connectionEvent(Connection conn, Events type) {
            if (type == Events.DISCONNECTED || type == Events.RECONNECTED || type == Events.CLOSED) {
                LOG.info("nats-jetstream {}: {}", name, type);
            }
        }
    }
}
