package io.qlora4j.kernels;

/**
 * The arithmetic of the AdamW update as bitsandbytes' CUDA kernels compute it, 32-bit and 8-bit blockwise state, plus
 * the gradient sum of squares for global-norm clipping. Only the math: state allocation, paging and the parameter loop
 * live in the optimizer (module memory). Every kernel works on a slice (array, offset, length) so that state can live
 * in fixed-size pages; parameter, gradient and each state buffer have their own offsets.
 *
 * <p><b>32-bit</b> (bnb {@code kOptimizer32bit2State}, case ADAM; QLORA-REFERENCE.md §4.3), per element, float32:
 * <pre>
 *   g = gradScale·g
 *   m = m·β1 + (1−β1)·g
 *   v = v·β2 + (1−β2)·(g·g)
 *   p = p + stepSize · (m / (sqrt(v) + eps·c2))      stepSize = −lr·c2/c1, c1 = 1−β1^t, c2 = sqrt(1−β2^t)
 *   if wd &gt; 0: p = p·(1 − lr·wd)                   decoupled decay AFTER the Adam step, as the CUDA kernel
 * </pre>
 * (PyTorch's AdamW and bnb's CPU backend decay first; identical for QLoRA's wd = 0, and within lr·wd·|update| otherwise.)
 *
 * <p><b>8-bit blockwise</b> (bnb ≥ 0.44 {@code kOptimizerStatic8bit2StateBlockwise}; §4.4): m is stored as codes of
 * the signed dynamic map ({@code Codebook.DYNAMIC_SIGNED}), v as codes of the unsigned one
 * ({@code Codebook.DYNAMIC_UNSIGNED}), each block of {@link #BLOCK_SIZE_8BIT} elements with one fp32 absmax per moment.
 * Per block: dequantize {@code m = code·absmax}; if g is finite, the EMA updates as above (v's new term is
 * {@code ((1−β2)·g)·g}, bnb's order), else m = v = 0 and the element's update is skipped; the new absmax is
 * max|m| (max v) over the block; the parameter update as above; then m/absmax and v/absmax are re-encoded to the nearest
 * code, ties to the lower code ({@code Codebook.encode}; bnb's {@code quantize_2D} breaks exact ties either way), and an
 * m code whose value has the opposite sign to m is moved one code towards m's sign (bnb's sign-keeping nudge). A block
 * whose absmax is 0 encodes as the codes of 0. Fresh state is all-zero bytes with absmax 0 (bnb's {@code torch.zeros}),
 * which decodes to m = v = 0.
 *
 * <p>Rounding: implementations are bit-identical (all elementwise IEEE operations in a fixed order; absmax is an exact
 * max), except {@link #sumOfSquares}, whose float64 summation order may differ. The scalar factors use {@link Math#pow}
 * where CUDA uses fast-math {@code __powf}, so agreement with bnb is within ulps (§4.3).
 */
public interface AdamW {

    /** Elements per absmax block of 8-bit state: bnb ≥ 0.44 (commit aa57bd89; 2048 up to 0.43). */
    int BLOCK_SIZE_8BIT = 256;

    /**
     * bnb's {@code min_8bit_size}: tensors with fewer elements keep 32-bit state even under an 8-bit optimizer. The
     * caller (the optimizer) decides; the kernels do not check it.
     */
    int MIN_8BIT_SIZE = 4096;

    /**
     * One 32-bit AdamW update of n elements.
     *
     * @param param (paramOff + n) parameters, updated in place
     * @param grad  (gradOff + n) gradients, read only (the gradScale is applied on the fly)
     * @param m     (mOff + n) first moment, fp32, updated
     * @param v     (vOff + n) second moment, fp32, updated
     */
    void adamw32bit(float[] param, int paramOff, float[] grad, int gradOff, float[] m, int mOff, float[] v, int vOff,
                    int n, AdamWStep step);

    /**
     * One 8-bit blockwise AdamW update of n elements. The slice starts a block: element i uses absmax index
     * {@code absmaxOff + i / BLOCK_SIZE_8BIT}; the last block may be partial (n need not be a multiple of 256).
     *
     * @param param   (paramOff + n) parameters, updated in place
     * @param grad    (gradOff + n) gradients; NaN/Inf elements zero their state and skip their update
     * @param m       (mOff + n) codes of the signed dynamic map, updated
     * @param v       (vOff + n) codes of the unsigned dynamic map, updated
     * @param absmaxM (absmaxOff + ceil(n/256)) per-block absmax of m, updated
     * @param absmaxV (absmaxOff + ceil(n/256)) per-block absmax of v, updated
     */
    void adamw8bit(float[] param, int paramOff, float[] grad, int gradOff, byte[] m, int mOff, byte[] v, int vOff,
                   float[] absmaxM, float[] absmaxV, int absmaxOff, int n, AdamWStep step);

    /**
     * Σ x² over {@code x[off, off + n)}, accumulated in float64 (each fp32 square is exact in float64): the global
     * gradient norm is sqrt of the sum over all trainable tensors' slices.
     */
    double sumOfSquares(float[] x, int off, int n);

    /** Bytes of 32-bit state for n elements: two fp32 moments. */
    static long stateBytes32bit(long n) {
        return 8 * n;
    }

    /** Bytes of 8-bit blockwise state for n elements: two code bytes per element plus two fp32 absmax per block. */
    static long stateBytes8bit(long n) {
        return 2 * n + 8 * ((n + BLOCK_SIZE_8BIT - 1) / BLOCK_SIZE_8BIT);
    }
}
