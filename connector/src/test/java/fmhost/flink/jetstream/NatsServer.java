package fmhost.flink.jetstream;

import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.PublishOptions;
import io.nats.client.api.PublishAck;
import io.nats.client.api.RetentionPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real nats-server (Debian's package) with JetStream, on 127.0.0.1 and a free port, its store in
 * a temporary directory; stop() ends it and removes the directory. restart() keeps the store and
 * the port, as a server that crashed and came back would.
 */
public final class NatsServer implements AutoCloseable {
    private final int port;
    private final Path store;
    private Process process;

    private NatsServer(int port, Path store) {
        this.port = port;
        this.store = store;
    }

    public static NatsServer start() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        NatsServer n = new NatsServer(port, Files.createTempDirectory("fmhost-nats-test"));
        n.launch();
        return n;
    }

    private void launch() throws Exception {
        File log = store.resolve("nats-server.log").toFile();
        ProcessBuilder pb = new ProcessBuilder(binary(), "-js", "-a", "127.0.0.1", "-p", String.valueOf(port),
                "-sd", store.resolve("js").toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log));
        process = pb.start();
        long deadline = System.currentTimeMillis() + 20_000;
        while (true) {
            if (!process.isAlive()) {
                throw new IOException("nats-server exited at start: " + Files.readString(log.toPath()));
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                if (Files.readString(log.toPath()).contains("Server is ready")) {
                    return;
                }
            } catch (IOException e) {
                // not yet
            }
            if (System.currentTimeMillis() > deadline) {
                throw new IOException("nats-server did not come up on port " + port);
            }
            Thread.sleep(50);
        }
    }

    private static String binary() {
        for (String p : new String[] {"/usr/sbin/nats-server", "/usr/bin/nats-server"}) {
            if (new File(p).canExecute()) {
                return p;
            }
        }
        return "nats-server"; // on PATH
    }

    public String url() {
        return "nats://127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    public JetStreamConnectionConfig config() {
        return JetStreamConnectionConfig.builder().servers(url()).maxReconnects(-1)
                .backoff(Duration.ofMillis(50), Duration.ofMillis(500)).build();
    }

    /** SIGKILL and start again on the same port and store. */
    public void restart() throws Exception {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
        launch();
    }

    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    public void startAgain() throws Exception {
        launch();
    }

    public Connection connect() throws Exception {
        return Nats.connect(new Options.Builder().server(url()).maxReconnects(-1).build());
    }

    public void createStream(String name, RetentionPolicy retention, String... subjects) throws Exception {
        try (Connection c = connect()) {
            JetStreamManagement jsm = c.jetStreamManagement();
            try {
                jsm.deleteStream(name);
            } catch (Exception e) {
                // absent
            }
            jsm.addStream(StreamConfiguration.builder().name(name).subjects(subjects).retentionPolicy(retention)
                    .storageType(StorageType.File).duplicateWindow(Duration.ofMinutes(10)).build());
        }
    }

    /** Publishes bodies.get(i) to subject with message id idPrefix + i; returns the stream sequences. */
    public List<Long> publish(String subject, List<String> bodies, String idPrefix) throws Exception {
        List<Long> seqs = new ArrayList<>();
        try (Connection c = connect()) {
            JetStream js = c.jetStream();
            List<CompletableFuture<PublishAck>> fs = new ArrayList<>();
            for (int i = 0; i < bodies.size(); i++) {
                fs.add(js.publishAsync(subject, bodies.get(i).getBytes(StandardCharsets.UTF_8),
                        PublishOptions.builder().messageId(idPrefix + i).build()));
            }
            for (CompletableFuture<PublishAck> f : fs) {
                seqs.add(f.get(30, TimeUnit.SECONDS).getSeqno());
            }
        }
        return seqs;
    }

    public long messages(String stream) throws Exception {
        try (Connection c = connect()) {
            return c.jetStreamManagement().getStreamInfo(stream).getStreamState().getMsgCount();
        }
    }

    @Override
    public void close() throws Exception {
        if (process != null) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
        try (Stream<Path> s = Files.walk(store)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
