package io.qlora4j.sim;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * What one simulated optimizer step did.
 *
 * @param step          1-based step number
 * @param lengths       T of each micro-batch
 * @param refusal       the out-of-memory message if the step could not run (the trainer would stop here)
 * @param atPeak        device bytes per component at the step's largest micro-batch: resident bytes (optimizer state as
 *                      the pages on the device then), or for a refused step what it asked for with all state resident
 * @param peakBytes     highest total resident bytes the memory manager measured during the step
 * @param pagedOutBytes optimizer bytes written to the host
 * @param pagedInBytes  optimizer bytes read back
 * @param stallNanos    time the device waited for the link
 * @param computeNanos  time the device computed
 */
public record StepRecord(int step, int[] lengths, Optional<String> refusal, Map<Component, Long> atPeak, long peakBytes,
                         long pagedOutBytes, long pagedInBytes, long stallNanos, long computeNanos) {

    public StepRecord {
        lengths = lengths.clone();
        EnumMap<Component, Long> copy = new EnumMap<>(Component.class);
        copy.putAll(atPeak);
        atPeak = Collections.unmodifiableMap(copy);
    }

    @Override
    public int[] lengths() {
        return lengths.clone();
    }

    public boolean outOfMemory() {
        return refusal.isPresent();
    }

    public int maxLength() {
        int max = 0;
        for (int t : lengths) max = Math.max(max, t);
        return max;
    }

    public long pagedBytes() {
        return pagedOutBytes + pagedInBytes;
    }

    /** Device bytes at the peak, all components. */
    public long atPeakTotal() {
        return atPeak.values().stream().mapToLong(Long::longValue).sum();
    }
}
