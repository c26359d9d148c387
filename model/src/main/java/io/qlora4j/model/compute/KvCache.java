package io.qlora4j.model.compute;

import io.qlora4j.kernels.AttentionShape;
import io.qlora4j.model.LlamaConfig;

/**
 * The keys and values of the positions processed so far, per layer, for one sequence: new tokens attend to all of them
 * without recomputing the prefix. Capacity is fixed at creation (the context limit, or less).
 */
final class KvCache implements KvStore {
    private final LlamaConfig c;
    private final int capacity;
    private final float[][] keys;     // L × (capacity, KV)
    private final float[][] values;   // L × (capacity, KV)
    private int start;                // position of the first row of the current call
    private int count;                // rows of the current call

    KvCache(LlamaConfig c, int capacity) {
        this.c = c;
        this.capacity = capacity;
        keys = new float[c.numLayers()][capacity * c.kvDim()];
        values = new float[c.numLayers()][capacity * c.kvDim()];
    }

    int capacity() {
        return capacity;
    }

    /** Declares the rows the next forward call adds: positions [start, start + count). */
    void begin(int start, int count) {
        if (start + count > capacity) {
            throw new IllegalArgumentException("sequence of " + (start + count) + " tokens exceeds the context of "
                    + capacity + " tokens");
        }
        this.start = start;
        this.count = count;
    }

    @Override
    public Attended store(int layer, float[] k, float[] v) {
        int kv = c.kvDim();
        System.arraycopy(k, 0, keys[layer], start * kv, count * kv);
        System.arraycopy(v, 0, values[layer], start * kv, count * kv);
        AttentionShape shape = new AttentionShape(1, count, capacity, start, c.numHeads(), c.numKvHeads(), c.headDim());
        return new Attended(keys[layer], values[layer], shape);
    }

    long bytes() {
        return 8L * c.numLayers() * capacity * c.kvDim();
    }
}
