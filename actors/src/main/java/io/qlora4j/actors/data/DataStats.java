package io.qlora4j.actors.data;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Counters of what a data pipeline did with the records it read. Updated from stream stages (any thread), read by the
 * actor that owns the pipeline; {@link #snapshot()} gives an immutable copy for replies and logs.
 */
public final class DataStats {
    private final AtomicLong examples = new AtomicLong();
    private final AtomicLong malformedSkipped = new AtomicLong();
    private final AtomicLong truncated = new AtomicLong();
    private final AtomicLong noTargetDropped = new AtomicLong();

    /**
     * @param examples         tokenized examples the source handed on
     * @param malformedSkipped records skipped under {@link MalformedPolicy#SKIP}
     * @param truncated        examples cut to the max length
     * @param noTargetDropped  examples dropped because no token was a target (nothing to learn from)
     */
    public record Snapshot(long examples, long malformedSkipped, long truncated, long noTargetDropped) {
    }

    void example() {
        examples.incrementAndGet();
    }

    void malformedSkipped() {
        malformedSkipped.incrementAndGet();
    }

    void truncated() {
        truncated.incrementAndGet();
    }

    void noTargetDropped() {
        noTargetDropped.incrementAndGet();
    }

    public Snapshot snapshot() {
        return new Snapshot(examples.get(), malformedSkipped.get(), truncated.get(), noTargetDropped.get());
    }
}
