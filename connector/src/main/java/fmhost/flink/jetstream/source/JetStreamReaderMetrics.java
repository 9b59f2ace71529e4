package fmhost.flink.jetstream.source;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.SourceReaderMetricGroup;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A reader's metrics besides Flink's own numRecordsIn: {@code fetches}, {@code fetchTimeMsTotal},
 * {@code lastFetchTimeMs} and {@code lastFetchRecords} of the pulls, {@code pendingRecords} (the
 * standard gauge: messages waiting in the stream for all of this reader's splits) and, per split,
 * {@code subject.<subject>.pendingMessages} (dots in the subject become underscores), and
 * {@code gapMessagesRead}: messages a consumer delivered that never arrived, read from the stream
 * directly. Undecodable messages skipped count in the standard {@code numRecordsInErrors}.
 */
final class JetStreamReaderMetrics {
    private final MetricGroup group;
    private final Map<String, AtomicLong> pending = new ConcurrentHashMap<>();
    private final Counter fetches;
    private final Counter fetchTimeMs;
    private final Counter errors;
    private final Counter gapMessages;
    private volatile long lastFetchMs;
    private volatile long lastFetchRecords;

    JetStreamReaderMetrics(SourceReaderMetricGroup group) {
        this.group = group;
        this.fetches = group.counter("fetches");
        this.fetchTimeMs = group.counter("fetchTimeMsTotal");
        this.errors = group.getNumRecordsInErrorsCounter();
        this.gapMessages = group.counter("gapMessagesRead");
        group.gauge("lastFetchTimeMs", (Gauge<Long>) () -> lastFetchMs);
        group.gauge("lastFetchRecords", (Gauge<Long>) () -> lastFetchRecords);
        group.setPendingRecordsGauge(() -> {
            long sum = 0;
            for (AtomicLong v : pending.values()) {
                sum += Math.max(0, v.get());
            }
            return sum;
        });
    }

    void register(String subject) {
        pending.computeIfAbsent(subject, s -> {
            AtomicLong v = new AtomicLong(-1);
            group.addGroup("subject", s.replace('.', '_')).gauge("pendingMessages", (Gauge<Long>) v::get);
            return v;
        });
    }

    void pending(String subject, long n) {
        AtomicLong v = pending.get(subject);
        if (v != null) {
            v.set(n);
        }
    }

    void fetched(long records, long ms) {
        fetches.inc();
        fetchTimeMs.inc(ms);
        lastFetchMs = ms;
        lastFetchRecords = records;
    }

    void gapRead(long n) {
        gapMessages.inc(n);
    }

    void undecodable() {
        errors.inc();
    }
}
