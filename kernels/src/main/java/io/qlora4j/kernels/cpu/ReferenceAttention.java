package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Attention;
import io.qlora4j.kernels.AttentionShape;
import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.Parallel;

import java.util.Arrays;

/**
 * {@link Attention} in plain loops: the readable spec and the test oracle. Dot products are sequential FMAs over the
 * head dimension, softmax uses {@link Math#exp} and sums in order, the weighted sums of value rows accumulate key by
 * key with one FMA per product. Work is split over (sequence, KV head) pairs, each pair handling its NH/NKV query heads
 * and owning its dk/dv rows, so the result never depends on the thread count. Row primitives come from {@link Rows};
 * the attention-specific helpers here are shared with {@link VectorAttention}.
 *
 * <p>Dimension letters: B sequences, Tq query rows and Tk key rows per sequence, NH query heads, NKV KV heads,
 * HS head size, G = NH/NKV query heads per KV head.
 */
public final class ReferenceAttention implements Attention {

    public static final ReferenceAttention INSTANCE = new ReferenceAttention();

    private ReferenceAttention() {
    }

    @Override
    public void attentionForward(float[] out, float[] probs, float[] q, float[] k, float[] v, AttentionShape shape) {
        checkForward(out, probs, q, k, v, shape);
        int B = shape.batch(), Tq = shape.queryLength(), Tk = shape.keyLength(), NH = shape.heads();
        int NKV = shape.kvHeads(), HS = shape.headSize(), G = NH / NKV, offset = shape.queryOffset();
        float scale = scale(HS);
        Parallel.forRange(B * NKV, 1, (from, to) -> {
            float[] scratch = probs == null ? new float[Tk] : null;   // one probability row when none is kept
            for (int task = from; task < to; task++) {
                int b = task / NKV, kh = task % NKV;
                for (int h = kh * G; h < (kh + 1) * G; h++) {
                    for (int t = 0; t < Tq; t++) {
                        int n = offset + t + 1;                       // keys 0..offset+t are visible
                        int qo = ((b * Tq + t) * NH + h) * HS;
                        float[] row = probs == null ? scratch : probs;
                        int ro = probs == null ? 0 : ((b * NH + h) * Tq + t) * Tk;
                        for (int s = 0; s < n; s++) {
                            row[ro + s] = Rows.dot(q, qo, k, ((b * Tk + s) * NKV + kh) * HS, HS) * scale;
                        }
                        float max = Rows.max(row, ro, ro + n);
                        Rows.scale(row, ro, ro + n, 1f / Rows.expShiftSum(row, ro, ro + n, max));
                        if (probs != null) Arrays.fill(probs, ro + n, ro + Tk, 0f);
                        Arrays.fill(out, qo, qo + HS, 0f);
                        for (int s = 0; s < n; s++) Rows.axpy(row[ro + s], v, ((b * Tk + s) * NKV + kh) * HS, out, qo, HS);
                    }
                }
            }
        });
    }

    @Override
    public void attentionBackward(float[] dq, float[] dk, float[] dv, float[] dOut, float[] q, float[] k, float[] v,
                                  float[] probs, AttentionShape shape) {
        checkBackward(dq, dk, dv, dOut, q, k, v, probs, shape);
        int B = shape.batch(), Tq = shape.queryLength(), Tk = shape.keyLength(), NH = shape.heads();
        int NKV = shape.kvHeads(), HS = shape.headSize(), G = NH / NKV, offset = shape.queryOffset();
        float scale = scale(HS);
        Parallel.forRange(B * NKV, 1, (from, to) -> {
            float[] dp = new float[Tk];
            for (int task = from; task < to; task++) {
                int b = task / NKV, kh = task % NKV;
                clearKeyRows(dk, dv, b, kh, shape);
                for (int h = kh * G; h < (kh + 1) * G; h++) {
                    for (int t = 0; t < Tq; t++) {
                        int n = offset + t + 1;
                        int qo = ((b * Tq + t) * NH + h) * HS;
                        int po = ((b * NH + h) * Tq + t) * Tk;
                        for (int s = 0; s < n; s++) {
                            int vo = ((b * Tk + s) * NKV + kh) * HS;
                            dp[s] = Rows.dot(dOut, qo, v, vo, HS);
                            Rows.axpy(probs[po + s], dOut, qo, dv, vo, HS);
                        }
                        float pdp = 0f;
                        for (int s = 0; s < n; s++) pdp = Math.fma(probs[po + s], dp[s], pdp);
                        Arrays.fill(dq, qo, qo + HS, 0f);
                        for (int s = 0; s < n; s++) {
                            int ko = ((b * Tk + s) * NKV + kh) * HS;
                            float ds = scoreGradient(probs[po + s], dp[s], pdp, scale);
                            Rows.axpy(ds, k, ko, dq, qo, HS);
                            Rows.axpy(ds, q, qo, dk, ko, HS);
                        }
                    }
                }
            }
        });
    }

    /** fl32(1/sqrt(HS)): HF multiplies the fp32 scores by {@code head_dim ** -0.5} cast to fp32. */
    public static float scale(int headSize) {
        return (float) (1.0 / Math.sqrt(headSize));
    }

    /** dS = P·(dP − Σ P·dP), times the score scale (the gradient of q·k before scaling). */
    static float scoreGradient(float p, float dp, float pdp, float scale) {
        return p * (dp - pdp) * scale;
    }

    /** Zeroes the dk and dv rows of KV head kh of sequence b (all Tk rows; rows never attended stay 0). */
    static void clearKeyRows(float[] dk, float[] dv, int b, int kh, AttentionShape shape) {
        int Tk = shape.keyLength(), NKV = shape.kvHeads(), HS = shape.headSize();
        for (int s = 0; s < Tk; s++) {
            int o = ((b * Tk + s) * NKV + kh) * HS;
            Arrays.fill(dk, o, o + HS, 0f);
            Arrays.fill(dv, o, o + HS, 0f);
        }
    }

    public static void checkForward(float[] out, float[] probs, float[] q, float[] k, float[] v, AttentionShape shape) {
        String kernel = "attentionForward";
        if (shape == null) throw new NullPointerException(kernel + ": shape is null");
        Checks.checkLength(kernel, "q", q, shape.querySize(), "(B·Tq, NH·HS) row-major");
        Checks.checkLength(kernel, "k", k, shape.keySize(), "(B·Tk, NKV·HS) row-major");
        Checks.checkLength(kernel, "v", v, shape.keySize(), "(B·Tk, NKV·HS) row-major");
        Checks.checkLength(kernel, "out", out, shape.querySize(), "(B·Tq, NH·HS) row-major");
        if (probs != null) Checks.checkLength(kernel, "probs", probs, shape.probsSize(), "(B, NH, Tq, Tk) row-major");
        if (out == q || out == k || out == v) throw new IllegalArgumentException(kernel + ": out must not alias q, k or v");
    }

    public static void checkBackward(float[] dq, float[] dk, float[] dv, float[] dOut, float[] q, float[] k, float[] v,
                              float[] probs, AttentionShape shape) {
        String kernel = "attentionBackward";
        if (shape == null) throw new NullPointerException(kernel + ": shape is null");
        Checks.checkLength(kernel, "dOut", dOut, shape.querySize(), "(B·Tq, NH·HS) row-major");
        Checks.checkLength(kernel, "q", q, shape.querySize(), "(B·Tq, NH·HS) row-major");
        Checks.checkLength(kernel, "k", k, shape.keySize(), "(B·Tk, NKV·HS) row-major");
        Checks.checkLength(kernel, "v", v, shape.keySize(), "(B·Tk, NKV·HS) row-major");
        Checks.checkLength(kernel, "probs", probs, shape.probsSize(), "(B, NH, Tq, Tk) row-major, from attentionForward");
        Checks.checkLength(kernel, "dq", dq, shape.querySize(), "(B·Tq, NH·HS) row-major");
        Checks.checkLength(kernel, "dk", dk, shape.keySize(), "(B·Tk, NKV·HS) row-major");
        Checks.checkLength(kernel, "dv", dv, shape.keySize(), "(B·Tk, NKV·HS) row-major");
        float[][] all = {dq, dk, dv, dOut, q, k, v, probs};
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < all.length; j++) {
                if (i != j && all[i] == all[j]) {
                    throw new IllegalArgumentException(kernel + ": dq, dk and dv must be distinct from each other and from the inputs");
                }
            }
        }
    }
}
