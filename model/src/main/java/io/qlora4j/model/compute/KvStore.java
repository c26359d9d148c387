package io.qlora4j.model.compute;

import io.qlora4j.kernels.AttentionShape;

/**
 * Where a layer's keys and values go and what its attention reads: in training the block's own K/V of the whole
 * sequence (causal), in generation a cache that keeps the K/V of earlier positions ({@link KvCache}).
 */
interface KvStore {

    /** The K/V arrays attention reads for layer {@code layer}, after storing the new rows, and the attention shape. */
    Attended store(int layer, float[] k, float[] v);

    record Attended(float[] k, float[] v, AttentionShape shape) {
    }
}
