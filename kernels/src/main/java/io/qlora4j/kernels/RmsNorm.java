package io.qlora4j.kernels;

/**
 * RMSNorm over the last dimension of row-major activations, forward and backward: HF {@code LlamaRMSNorm} in fp32
 * (QLORA-REFERENCE.md §8.3), {@code out = w ⊙ (x · rsqrt(mean(x²) + eps))}, i.e. {@code normed = x·rstd} rounded to
 * fp32 first, then multiplied by the weight, as HF does. Not a LayerNorm: no mean subtraction, no bias.
 *
 * <p>Rounding: rstd depends on how an implementation sums x² (reference: float64, in order; Vector API: fp32 lanes),
 * so implementations agree within a few fp32 ulps, not bit for bit. Everything after rstd is elementwise and identical.
 * Results never depend on the thread count.
 *
 * <p>Backward, with {@code n = x·rstd} and {@code dn = dOut ⊙ w}:
 * {@code dx = rstd · (dn − n · mean(dn ⊙ n))}, {@code dw += Σ_rows dOut ⊙ n}.
 */
public interface RmsNorm {

    /**
     * @param out      (rows, channels) row-major, written; must not alias {@code in} (backward needs x)
     * @param rstd     (rows) written: 1/sqrt(mean(x²) + eps) per row, saved for backward; null when no backward follows
     * @param in       (rows, channels) row-major
     * @param weight   (channels)
     * @param rows     B·T
     * @param channels C, the normalized dimension
     * @param eps      {@code rms_norm_eps} of the model config
     */
    void rmsnormForward(float[] out, float[] rstd, float[] in, float[] weight, int rows, int channels, float eps);

    /**
     * @param dIn        (rows, channels) row-major: written, or added to when {@code accumulate} (the residual stream)
     * @param dWeight    (channels): Σ over rows added to it; null when the weight is frozen (QLoRA)
     * @param dOut       (rows, channels) row-major, gradient of the output
     * @param in         (rows, channels) row-major, the forward input
     * @param weight     (channels)
     * @param rstd       (rows), as saved by {@link #rmsnormForward}
     * @param accumulate add into {@code dIn} instead of overwriting it
     */
    void rmsnormBackward(float[] dIn, float[] dWeight, float[] dOut, float[] in, float[] weight, float[] rstd,
                         int rows, int channels, boolean accumulate);
}
