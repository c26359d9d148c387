package io.qlora4j.model.tokenizer.hf;

import java.util.Arrays;

/**
 * BPE merges as an open-addressing hash table from a pair of ids {@code (left << 32 | right)} to
 * {@code (rank << 32 | merged id)}: the merge loop looks pairs up millions of times per megabyte of text, and boxed
 * {@code Map<Long, Long>} keys hash badly ({@code Long.hashCode} is {@code left ^ right}, so tens of thousands of
 * pairs share few hash codes). Keys are mixed with the SplitMix64 finalizer and probed linearly.
 */
final class PairRanks {
    private static final long EMPTY = -1; // keys are non-negative: both ids are

    private final long[] keys;   // (capacity) pair key or EMPTY
    private final long[] values; // (capacity) rank << 32 | merged id
    private final int mask;
    private int size;

    PairRanks(int expected) {
        int capacity = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        values = new long[capacity];
        Arrays.fill(keys, EMPTY);
        mask = capacity - 1;
    }

    static long pair(int left, int right) {
        return ((long) left << 32) | right;
    }

    /** Sets the value of {@code key}, replacing an earlier one (a repeated merge keeps its last rank). */
    void put(long key, long value) {
        int i = slot(key);
        while (keys[i] != EMPTY && keys[i] != key) {
            i = (i + 1) & mask;
        }
        if (keys[i] == EMPTY) {
            if (++size * 2 > keys.length) {
                throw new IllegalStateException("PairRanks sized for fewer entries than were put");
            }
            keys[i] = key;
        }
        values[i] = value;
    }

    /** The value of {@code key}, or -1. */
    long get(long key) {
        int i = slot(key);
        while (true) {
            long k = keys[i];
            if (k == key) {
                return values[i];
            }
            if (k == EMPTY) {
                return -1;
            }
            i = (i + 1) & mask;
        }
    }

    private int slot(long key) {
        long z = key + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (int) (z ^ (z >>> 31)) & mask;
    }
}
