package io.qlora4j.kernels;

/**
 * The SwiGLU gate of the LLaMA MLP, {@code out = silu(gate) ⊙ up} with {@code silu(z) = z·sigmoid(z) = z / (1 + e^−z)}
 * (HF {@code LlamaMLP}: {@code down_proj(act_fn(gate_proj(x)) * up_proj(x))}; QLORA-REFERENCE.md §8.3), forward and
 * backward. Not the three projections around it.
 *
 * <p>Backward, with {@code σ = sigmoid(g)}: {@code dUp = dOut ⊙ silu(g)},
 * {@code dGate = dOut ⊙ up ⊙ σ·(1 + g·(1 − σ))}.
 *
 * <p>All arrays are (rows, hidden) row-major (hidden = H, the MLP width); the op is elementwise, so every output element
 * may alias any input array at the same index (each element is read before it is written): e.g. {@code out} over
 * {@code gate} at inference, or {@code dGate} over {@code gate} and {@code dUp} over {@code up} in training.
 *
 * <p>Rounding: implementations may use different exp routines (Vector API vs {@link Math#exp}), so they agree within a
 * few fp32 ulps, not bit for bit.
 */
public interface SwiGlu {

    /**
     * @param out  (rows, hidden) row-major, written
     * @param gate (rows, hidden) row-major, gate_proj output
     * @param up   (rows, hidden) row-major, up_proj output
     */
    void swigluForward(float[] out, float[] gate, float[] up, int rows, int hidden);

    /**
     * @param dGate (rows, hidden) row-major, written
     * @param dUp   (rows, hidden) row-major, written
     * @param dOut  (rows, hidden) row-major, gradient of out
     * @param gate  (rows, hidden), up (rows, hidden): the forward inputs
     */
    void swigluBackward(float[] dGate, float[] dUp, float[] dOut, float[] gate, float[] up, int rows, int hidden);
}
