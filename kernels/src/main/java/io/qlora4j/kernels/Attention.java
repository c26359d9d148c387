package io.qlora4j.kernels;

/**
 * Causal grouped-query scaled-dot-product attention, forward and backward: HF {@code LlamaAttention} /
 * {@code eager_attention_forward} between the RoPE'd q, k, v and {@code o_proj} (QLORA-REFERENCE.md §8.3). Not the
 * projections, not RoPE, no dropout (QLoRA uses 0), no padding mask (right padding needs none under a causal mask:
 * padded rows are never attended by earlier rows and their targets are ignored).
 *
 * <p>For query head h (KV head kh = h / (NH/NKV)) and query row t at position p = queryOffset + t:
 * {@code s_j = (q_t · k_j) · scale} for j ≤ p with {@code scale = fl32(1/sqrt(HS))};
 * {@code P_tj = exp(s_j − max s) / Σ exp(s − max s)} in fp32; {@code out_t = Σ_j P_tj v_j}.
 * Backward: {@code dv_j = Σ_t P_tj dOut_t}; {@code dP_tj = dOut_t · v_j};
 * {@code dS_tj = P_tj (dP_tj − Σ_j' P_tj' dP_tj')}; {@code dq_t = scale Σ_j dS_tj k_j};
 * {@code dk_j = scale Σ_t dS_tj q_t}, dk and dv summed over the NH/NKV query heads sharing the KV head.
 *
 * <p>Layouts: q, out, dq, dOut are (B·Tq, NH·HS) row-major; k, v, dk, dv are (B·Tk, NKV·HS) row-major (the
 * projections' output, heads side by side in a row). The probabilities are (B, NH, Tq, Tk) row-major with exact zeros
 * at masked positions: B·NH·Tq·Tk floats per layer, the largest activation that training keeps (B 4, NH 32, T 512:
 * 128 MB per layer), which is why it is optional when no backward follows.
 *
 * <p>Rounding: implementations sum dot products and softmax normalisers in different orders and may use a vector
 * {@code exp}, so they agree within fp32 tolerance, not bit for bit. Each is deterministic: results do not depend on
 * the thread count, and a query row's result does not depend on which other rows are in the same call (processing a
 * sequence at once equals processing it token by token against a growing KV cache).
 */
public interface Attention {

    /**
     * @param out   (B·Tq, NH·HS) row-major, written
     * @param probs (B, NH, Tq, Tk) row-major, written (zeros where masked) for the backward pass; null when none follows
     * @param q     (B·Tq, NH·HS) row-major, after RoPE
     * @param k     (B·Tk, NKV·HS) row-major, after RoPE; rows past the last attended position are not read
     * @param v     (B·Tk, NKV·HS) row-major
     */
    void attentionForward(float[] out, float[] probs, float[] q, float[] k, float[] v, AttentionShape shape);

    /**
     * Writes (does not accumulate) dq, dk, dv; dk and dv rows past the last attended position are set to 0.
     *
     * @param dq    (B·Tq, NH·HS) row-major, written
     * @param dk    (B·Tk, NKV·HS) row-major, written
     * @param dv    (B·Tk, NKV·HS) row-major, written
     * @param dOut  (B·Tq, NH·HS) row-major, gradient of {@code out}
     * @param q     (B·Tq, NH·HS), k and v (B·Tk, NKV·HS): the forward inputs
     * @param probs (B, NH, Tq, Tk), as written by {@link #attentionForward}
     */
    void attentionBackward(float[] dq, float[] dk, float[] dv, float[] dOut, float[] q, float[] k, float[] v,
                           float[] probs, AttentionShape shape);
}
