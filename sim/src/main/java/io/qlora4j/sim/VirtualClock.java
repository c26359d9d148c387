package io.qlora4j.sim;

import io.qlora4j.memory.NanoClock;

/**
 * Simulated time of the device's compute stream, in nanoseconds. It moves forward by computing ({@link #compute}) or by
 * waiting for a transfer to finish ({@link #waitUntil}); waiting is counted as stall. Handed to the memory manager as its
 * {@link NanoClock}. Single-threaded: the simulation runs the manager's page-in inline.
 */
public final class VirtualClock implements NanoClock {
    private long now;
    private long computeNanos;
    private long stallNanos;

    @Override
    public long nanoTime() {
        return now;
    }

    /** The device computes for {@code nanos}. */
    public void compute(long nanos) {
        if (nanos < 0) throw new IllegalArgumentException("negative compute time " + nanos);
        now += nanos;
        computeNanos += nanos;
    }

    /** The compute stream needs something that is ready at {@code time}: it stalls until then if that is later. */
    public void waitUntil(long time) {
        if (time > now) {
            stallNanos += time - now;
            now = time;
        }
    }

    public long computeNanos() {
        return computeNanos;
    }

    public long stallNanos() {
        return stallNanos;
    }
}
