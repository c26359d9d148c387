package io.qlora4j.model.data;

/**
 * A deterministic train/eval split by record offset: a record is held out when a seeded hash of its offset falls below
 * the eval fraction. It needs no pass over the data, so it works on streams, shards and resumed runs alike, and every
 * node of a cluster agrees on it.
 */
public record EvalSplit(double evalFraction, long seed) {

    public EvalSplit {
        if (!(evalFraction >= 0 && evalFraction < 1)) {
            throw new IllegalArgumentException("eval fraction must be in [0, 1), got " + evalFraction);
        }
    }

    public boolean isEval(long offset) {
        return unit(mix(offset ^ (seed * 0x9E3779B97F4A7C15L))) < evalFraction;
    }

    /** SplitMix64's finalizer: a well-mixed 64-bit hash. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static double unit(long h) {
        return (h >>> 11) * 0x1.0p-53;
    }
}
