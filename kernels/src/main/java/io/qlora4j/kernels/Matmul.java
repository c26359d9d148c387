package io.qlora4j.kernels;

/**
 * The matrix products of a linear layer y = x·Wᵀ and its backward pass, for W dense or quantized.
 * Dimensions: M rows of activations (batch × time), K = in features, N = out features; all arrays row-major.
 *
 * <p>Rounding contract (the spec every implementation meets bit for bit): each output element starts from its old value
 * (when accumulating) or 0 and adds the products of its dot product one at a time in ascending order of the summed
 * index, each with one fused multiply-add. So results do not depend on the thread count, on how rows are batched, or on
 * whether W is dense or decoded from 4 bits (a QLoRA linear equals a LoRA linear over dequant(W) exactly).
 */
public interface Matmul {

    /** out (M, N) = in (M, K) · Wᵀ, added to out when {@code accumulate}. */
    void forward(float[] out, float[] in, LinearWeight weight, int m, boolean accumulate);

    /** dIn (M, K) = dOut (M, N) · W, added to dIn when {@code accumulate}. */
    void backwardInput(float[] dIn, float[] dOut, LinearWeight weight, int m, boolean accumulate);

    /** dW (N, K) += dOutᵀ (N, M) · in (M, K): the weight gradient, always accumulated (micro-batches add up). */
    void backwardWeight(float[] dWeight, float[] dOut, float[] in, int m, int n, int k);
}
