package io.qlora4j.model.lora;

/**
 * Dropout on a LoRA adapter's input without storing a mask: whether element j of row (example, position) is kept is a
 * counter-based hash of (seed, optimizer step, example offset, position, layer, projection, j). The backward pass
 * recomputes the same mask; the result does not depend on how examples are batched or on the thread count, and a resumed
 * run draws the same masks as an uninterrupted one.
 */
public record DropoutMask(double probability, long seed) {

    /** No dropout (evaluation, or probability 0). */
    public static final DropoutMask NONE = new DropoutMask(0, 0);

    public boolean active() {
        return probability > 0;
    }

    /** The multiplier of a kept element: 1/(1−p) (inverted dropout, as torch.nn.Dropout). */
    public float keepScale() {
        return (float) (1.0 / (1.0 - probability));
    }

    /**
     * Fills {@code rowKey[row]}: the per-row part of the hash key, from the optimizer step, the row's example offset and
     * position, the layer and the projection.
     */
    public long rowKey(long step, long exampleOffset, int position, int layer, int projection) {
        long h = mix(seed ^ 0x5DEECE66DL);
        h = mix(h ^ step);
        h = mix(h ^ exampleOffset);
        h = mix(h ^ ((long) position << 20 ^ (long) layer << 8 ^ projection));
        return h;
    }

    /** Whether element {@code column} of the row with key {@code rowKey} is kept. */
    public boolean keep(long rowKey, int column) {
        return (mix(rowKey + column * 0x9E3779B97F4A7C15L) >>> 11) * 0x1.0p-53 >= probability;
    }

    /** SplitMix64's finalizer. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
