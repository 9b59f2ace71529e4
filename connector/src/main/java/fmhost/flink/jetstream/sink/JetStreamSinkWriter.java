package fmhost.flink.jetstream.sink;

import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamOptions;
import io.nats.client.PublishOptions;
import io.nats.client.api.PublishAck;
import io.nats.client.impl.Headers;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Publishes asynchronously, keeps at most maxInFlight unacknowledged, and waits for all on flush. */
final class JetStreamSinkWriter<T> implements SinkWriter<T> {
    private static final Logger LOG = LoggerFactory.getLogger(JetStreamSinkWriter.class);

    private final JetStreamSink<T> sink;
    private final Connection connection;
    private final JetStream js;
    private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
    private final Counter sent;
    private final Counter bytesSent;
    private final Counter duplicates;

    private static final class InFlight {
        final String msgId;
        final byte[] data;
        final CompletableFuture<PublishAck> ack;

        InFlight(String msgId, byte[] data, CompletableFuture<PublishAck> ack) {
            this.msgId = msgId;
            this.data = data;
            this.ack = ack;
        }
    }

    JetStreamSinkWriter(JetStreamSink<T> sink, SinkWriterMetricGroup metrics,
                        SerializationSchema.InitializationContext init, int subtask) throws IOException {
        this.sink = sink;
        try {
            sink.serializer.open(init);
        } catch (Exception e) {
            throw new IOException("nats-jetstream: opening the serializer failed: " + e.getMessage(), e);
        }
        this.connection = sink.connection.connect("fmhost-writer-" + sink.subject + "-" + subtask);
        this.js = connection.jetStream(JetStreamOptions.builder().requestTimeout(sink.requestTimeout()).build());
        this.sent = metrics.getNumRecordsSendCounter();
        this.bytesSent = metrics.getNumBytesSendCounter();
        this.duplicates = metrics.counter("duplicatesDropped");
    }

    private PublishOptions options(String msgId) {
        PublishOptions.Builder b = PublishOptions.builder().streamTimeout(sink.requestTimeout());
        if (sink.stream != null) {
            b.expectedStream(sink.stream);
        }
        if (msgId != null) {
            b.messageId(msgId);
        }
        return b.build();
    }

    @Override
    public void write(T element, Context context) throws IOException, InterruptedException {
        byte[] data = sink.serializer.serialize(element);
        String id = sink.messageId == null ? null : sink.messageId.messageId(element);
        CompletableFuture<PublishAck> f = js.publishAsync(sink.subject, (Headers) null, data, options(id));
        inFlight.addLast(new InFlight(id, data, f));
        while (inFlight.size() >= sink.maxInFlight) {
            complete(inFlight.pollFirst());
        }
    }

    private void complete(InFlight p) throws IOException, InterruptedException {
        long timeoutMs = sink.requestTimeout().toMillis();
        Exception last;
        try {
            done(p, p.ack.get(timeoutMs, TimeUnit.MILLISECONDS));
            return;
        } catch (ExecutionException e) {
            last = e.getCause() instanceof Exception ? (Exception) e.getCause() : e;
        } catch (TimeoutException e) {
            last = e;
        }
        // the same id again: the stream drops it if the first one did arrive
        for (int attempt = 1; attempt <= sink.maxRetries; attempt++) {
            long ms = sink.connection.backoff(attempt).toMillis();
            LOG.warn("nats-jetstream: publishing to '{}' (id {}) failed: {}; retry {} in {} ms", sink.subject, p.msgId,
                    last.toString(), attempt, ms);
            Thread.sleep(ms);
            try {
                done(p, js.publish(sink.subject, null, p.data, options(p.msgId)));
                return;
            } catch (Exception e) {
                last = e;
            }
        }
        throw new IOException(String.format("nats-jetstream: publishing to subject '%s'%s failed%s: %s", sink.subject,
                sink.stream == null ? "" : " of stream '" + sink.stream + "'",
                sink.maxRetries > 0 ? " after " + sink.maxRetries + " retries" : "", describe(last)), last);
    }

    private static String describe(Exception e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        if (m.contains("503") || m.toLowerCase().contains("no responders")) {
            return m + " (no stream stores that subject)";
        }
        return m;
    }

    private void done(InFlight p, PublishAck ack) {
        if (ack.isDuplicate()) {
            duplicates.inc();
        }
        sent.inc();
        bytesSent.inc(p.data.length);
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        while (!inFlight.isEmpty()) {
            complete(inFlight.pollFirst());
        }
    }

    @Override
    public void close() throws Exception {
        inFlight.clear();
        connection.close();
    }
}
