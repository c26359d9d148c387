package io.qlora4j.kernels;

/**
 * Rotary position embedding applied in place to the query or key activations, forward and backward (HF
 * {@code apply_rotary_pos_emb}, llama2.c {@code run.c}; QLORA-REFERENCE.md §8.3). Each head vector's pair j (which two
 * elements, see {@link RopeLayout}) at position p is rotated by the angle {@code p · inv_freq[j]}:
 * {@code (a, b) → (a·cos − b·sin, a·sin + b·cos)}, exactly HF's {@code q·cos + rotate_half(q)·sin} in float32.
 *
 * <p>Positions are given per row, so one kernel serves training (positions 0..T−1 of each sequence), batched prompts
 * and generation with a KV cache (new rows at positions cached..cached+n−1); see
 * {@link RopeTable#sequentialPositions}. Call it once for q (heads = NH) and once for k (heads = NKV).
 *
 * <p>Backward is the transpose, the rotation by −angle, applied in place to the gradient. RoPE has no parameters.
 * Implementations are bit-identical (every element is two products and one sum in a fixed order).
 */
public interface Rope {

    /**
     * @param x         (rows, heads · HS) row-major, rotated in place; HS = {@code table.headSize()}
     * @param positions (rows): the absolute position of each row, in [0, table.maxPositions())
     * @param rows      number of rows (B·T)
     * @param heads     heads per row (NH for q, NKV for k)
     */
    void ropeForward(float[] x, int[] positions, int rows, int heads, RopeTable table);

    /**
     * @param dX (rows, heads · HS) row-major: the gradient of the rotated output on entry, of the input on return
     */
    void ropeBackward(float[] dX, int[] positions, int rows, int heads, RopeTable table);
}
