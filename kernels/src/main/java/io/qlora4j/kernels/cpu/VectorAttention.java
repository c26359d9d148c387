package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Attention;
import io.qlora4j.kernels.AttentionShape;
import io.qlora4j.kernels.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

import static io.qlora4j.kernels.cpu.VectorMath.F;
import static io.qlora4j.kernels.cpu.VectorMath.LANES;

/**
 * {@link Attention} with the Java Vector API, shaped like {@link ReferenceAttention} (same task split over
 * (sequence, KV head) pairs, same loops). Two tricks:
 * <ol>
 *   <li>Keys (forward) and values (backward) of a KV head are transposed once per task into a (HS, keys) scratch, by
 *       16-lane gathers down each column, so the dot products q·k_j (and dOut·v_j) of 64 consecutive keys are 4 vector
 *       accumulators fed by one broadcast of q[d] per head dimension: no lane reductions, any HS (including 8), and
 *       each lane sums its products in the reference's order with one FMA each, so the scores are bit-identical to the
 *       reference's;
 *   <li>softmax uses {@link VectorMath#exp} (a polynomial, ≤ 2 ulp from {@link Math#exp}) and a lane-parallel sum, the
 *       only steps that differ from the reference (with the backward's Σ P·dP), which is why the two are compared with
 *       a tolerance.
 * </ol>
 * The probability-weighted sums of value (and key) rows keep 4 vector accumulators over 64 head dimensions and add the
 * keys in ascending order, like the reference's per-key FMAs; the backward accumulates a task's dk/dv rows in private
 * contiguous buffers (same order) and copies them out at the end, so no cache line is written by two threads. Row
 * tails shorter than a vector use the scalar {@link Rows} primitives of the reference. Every query row takes the same
 * path whatever Tq is, so a sequence processed at once equals the same sequence fed token by token, bit for bit.
 * Temporaries come from per-thread {@link Scratch} buffers. Dimension letters as in {@link ReferenceAttention};
 * U = keys visible to the last query row.
 */
public final class VectorAttention implements Attention {

    public static final VectorAttention INSTANCE = new VectorAttention();

    /** Keys per score step and head dimensions per weighted-sum step: four vectors. */
    private static final int BLOCK = 4 * LANES;

    private VectorAttention() {
    }

    @Override
    public void attentionForward(float[] out, float[] probs, float[] q, float[] k, float[] v, AttentionShape shape) {
        ReferenceAttention.checkForward(out, probs, q, k, v, shape);
        int B = shape.batch(), Tq = shape.queryLength(), Tk = shape.keyLength(), NH = shape.heads();
        int NKV = shape.kvHeads(), HS = shape.headSize(), G = NH / NKV, offset = shape.queryOffset();
        int U = offset + Tq;
        int stride = roundUp(U, BLOCK);
        float scale = ReferenceAttention.scale(HS);
        int[] rows = rowOffsets(shape);
        Parallel.forRange(B * NKV, 1, (from, to) -> {
            float[] kT = Scratch.floats(Scratch.Slot.TRANSPOSED, HS * stride);   // (HS, stride): column j = key j
            float[] row = Scratch.floats(Scratch.Slot.ROW, stride);   // scores, then probabilities, of one query row
            for (int task = from; task < to; task++) {
                int b = task / NKV, kh = task % NKV;
                transpose(k, b, kh, U, shape, kT, stride, rows);
                for (int h = kh * G; h < (kh + 1) * G; h++) {
                    for (int t = 0; t < Tq; t++) {
                        int n = offset + t + 1;
                        int qo = ((b * Tq + t) * NH + h) * HS;
                        dots(q, qo, kT, stride, HS, n, scale, row);
                        softmax(row, n);
                        if (probs != null) {
                            int ro = ((b * NH + h) * Tq + t) * Tk;
                            System.arraycopy(row, 0, probs, ro, n);
                            Arrays.fill(probs, ro + n, ro + Tk, 0f);
                        }
                        weightedSum(row, 0, n, v, (b * Tk * NKV + kh) * HS, NKV * HS, out, qo, HS);
                    }
                }
            }
        });
    }

    @Override
    public void attentionBackward(float[] dq, float[] dk, float[] dv, float[] dOut, float[] q, float[] k, float[] v,
                                  float[] probs, AttentionShape shape) {
        ReferenceAttention.checkBackward(dq, dk, dv, dOut, q, k, v, probs, shape);
        int B = shape.batch(), Tq = shape.queryLength(), Tk = shape.keyLength(), NH = shape.heads();
        int NKV = shape.kvHeads(), HS = shape.headSize(), G = NH / NKV, offset = shape.queryOffset();
        int U = offset + Tq;
        int stride = roundUp(U, BLOCK);
        float scale = ReferenceAttention.scale(HS);
        int[] rows = rowOffsets(shape);
        Parallel.forRange(B * NKV, 1, (from, to) -> {
            float[] vT = Scratch.floats(Scratch.Slot.TRANSPOSED, HS * stride);   // (HS, stride): column j = value j
            float[] dp = Scratch.floats(Scratch.Slot.ROW, stride);    // dP of one query row, then dS in place
            float[] dkLocal = Scratch.floats(Scratch.Slot.KEY_GRADIENT, U * HS);     // (U, HS): this head's dk rows
            float[] dvLocal = Scratch.floats(Scratch.Slot.VALUE_GRADIENT, U * HS);   // (U, HS): its dv rows
            for (int task = from; task < to; task++) {
                int b = task / NKV, kh = task % NKV;
                int kvBase = (b * Tk * NKV + kh) * HS;
                Arrays.fill(dkLocal, 0, U * HS, 0f);
                Arrays.fill(dvLocal, 0, U * HS, 0f);
                transpose(v, b, kh, U, shape, vT, stride, rows);
                for (int h = kh * G; h < (kh + 1) * G; h++) {
                    for (int t = 0; t < Tq; t++) {
                        int n = offset + t + 1;
                        int qo = ((b * Tq + t) * NH + h) * HS;
                        int po = ((b * NH + h) * Tq + t) * Tk;
                        dots(dOut, qo, vT, stride, HS, n, 1f, dp);
                        for (int s = 0; s < n; s++) axpy(probs[po + s], dOut, qo, dvLocal, s * HS, HS);
                        float pdp = dot(probs, po, dp, 0, n);
                        scoreGradients(probs, po, dp, n, pdp, scale);
                        weightedSum(dp, 0, n, k, kvBase, NKV * HS, dq, qo, HS);
                        for (int s = 0; s < n; s++) axpy(dp[s], q, qo, dkLocal, s * HS, HS);
                    }
                }
                ReferenceAttention.clearKeyRows(dk, dv, b, kh, shape);
                for (int s = 0; s < U; s++) {
                    System.arraycopy(dkLocal, s * HS, dk, kvBase + s * NKV * HS, HS);
                    System.arraycopy(dvLocal, s * HS, dv, kvBase + s * NKV * HS, HS);
                }
            }
        });
    }

    /**
     * xT[d·stride + j] = x row j of KV head kh of sequence b, for the first U keys: per 16 keys, one 16-lane gather
     * down each column d (the rows are NKV·HS apart), stored contiguously; the last U mod 16 keys element by element.
     */
    private static void transpose(float[] x, int b, int kh, int U, AttentionShape shape, float[] xT, int stride,
                                  int[] rowOffsets) {
        int Tk = shape.keyLength(), NKV = shape.kvHeads(), HS = shape.headSize();
        int j0 = 0;
        for (; j0 + LANES <= U; j0 += LANES) {
            int base = ((b * Tk + j0) * NKV + kh) * HS;
            for (int d = 0; d < HS; d++) FloatVector.fromArray(F, x, base + d, rowOffsets, 0).intoArray(xT, d * stride + j0);
        }
        for (int j = j0; j < U; j++) {
            for (int d = 0; d < HS; d++) xT[d * stride + j] = x[((b * Tk + j) * NKV + kh) * HS + d];
        }
    }

    /** {0, NKV·HS, 2·NKV·HS, ...}: the offsets of 16 consecutive key rows of one KV head. */
    private static int[] rowOffsets(AttentionShape shape) {
        int[] offsets = new int[LANES];
        for (int j = 0; j < LANES; j++) offsets[j] = j * shape.kvHeads() * shape.headSize();
        return offsets;
    }

    /**
     * out[j] = (a_row · x_j) · scale for keys j in [0, roundUp(n, 64)), from the transposed xT; lanes past n read
     * later keys or stale scratch and are never used (each lane is independent). Each lane accumulates over d in ascending order with one FMA: the reference's dot.
     */
    private static void dots(float[] a, int aOff, float[] xT, int stride, int HS, int n, float scale, float[] out) {
        for (int j = 0; j < n; j += BLOCK) {
            FloatVector acc0 = FloatVector.zero(F);
            FloatVector acc1 = FloatVector.zero(F);
            FloatVector acc2 = FloatVector.zero(F);
            FloatVector acc3 = FloatVector.zero(F);
            for (int d = 0; d < HS; d++) {
                FloatVector ad = FloatVector.broadcast(F, a[aOff + d]);
                int o = d * stride + j;
                acc0 = ad.fma(FloatVector.fromArray(F, xT, o), acc0);
                acc1 = ad.fma(FloatVector.fromArray(F, xT, o + LANES), acc1);
                acc2 = ad.fma(FloatVector.fromArray(F, xT, o + 2 * LANES), acc2);
                acc3 = ad.fma(FloatVector.fromArray(F, xT, o + 3 * LANES), acc3);
            }
            acc0.mul(scale).intoArray(out, j);
            acc1.mul(scale).intoArray(out, j + LANES);
            acc2.mul(scale).intoArray(out, j + 2 * LANES);
            acc3.mul(scale).intoArray(out, j + 3 * LANES);
        }
    }

    /** In-place softmax of row[0, n): max subtracted, polynomial exp, fixed-order lane sum, scaled by 1/sum. */
    private static void softmax(float[] row, int n) {
        int body = n - n % LANES;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < body; i += LANES) mv = mv.max(FloatVector.fromArray(F, row, i));
        // MAX is exact and order-free, so its lane reduction is deterministic (unlike ADD)
        float max = Math.max(mv.reduceLanes(VectorOperators.MAX), Rows.max(row, body, n));
        FloatVector sv = FloatVector.zero(F);
        for (int i = 0; i < body; i += LANES) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(F, row, i).sub(max));
            e.intoArray(row, i);
            sv = sv.add(e);
        }
        float sum = VectorMath.sum(sv) + Rows.expShiftSum(row, body, n, max);
        float inv = 1f / sum;
        for (int i = 0; i < body; i += LANES) FloatVector.fromArray(F, row, i).mul(inv).intoArray(row, i);
        Rows.scale(row, body, n, inv);
    }

    /**
     * out[oOff + d] = Σ_{j<n} p[pOff + j] · x[xBase + j·xStride + d] for d in [0, HS), keys in ascending order with one
     * FMA each (the reference's zero-fill then per-key axpy). Four vector accumulators per 64 head dimensions.
     */
    private static void weightedSum(float[] p, int pOff, int n, float[] x, int xBase, int xStride, float[] out,
                                    int oOff, int HS) {
        int d = 0;
        for (; d + BLOCK <= HS; d += BLOCK) {
            FloatVector acc0 = FloatVector.zero(F);
            FloatVector acc1 = FloatVector.zero(F);
            FloatVector acc2 = FloatVector.zero(F);
            FloatVector acc3 = FloatVector.zero(F);
            for (int j = 0; j < n; j++) {
                FloatVector pj = FloatVector.broadcast(F, p[pOff + j]);
                int o = xBase + j * xStride + d;
                acc0 = pj.fma(FloatVector.fromArray(F, x, o), acc0);
                acc1 = pj.fma(FloatVector.fromArray(F, x, o + LANES), acc1);
                acc2 = pj.fma(FloatVector.fromArray(F, x, o + 2 * LANES), acc2);
                acc3 = pj.fma(FloatVector.fromArray(F, x, o + 3 * LANES), acc3);
            }
            acc0.intoArray(out, oOff + d);
            acc1.intoArray(out, oOff + d + LANES);
            acc2.intoArray(out, oOff + d + 2 * LANES);
            acc3.intoArray(out, oOff + d + 3 * LANES);
        }
        for (; d + LANES <= HS; d += LANES) {
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < n; j++) {
                acc = FloatVector.broadcast(F, p[pOff + j]).fma(FloatVector.fromArray(F, x, xBase + j * xStride + d), acc);
            }
            acc.intoArray(out, oOff + d);
        }
        if (d < HS) {
            Arrays.fill(out, oOff + d, oOff + HS, 0f);
            for (int j = 0; j < n; j++) Rows.axpy(p[pOff + j], x, xBase + j * xStride + d, out, oOff + d, HS - d);
        }
    }

    /** dp[j] = P_j · (dp[j] − pdp) · scale for j in [0, n): the score gradients, in place. */
    private static void scoreGradients(float[] probs, int po, float[] dp, int n, float pdp, float scale) {
        int j = 0;
        for (; j + LANES <= n; j += LANES) {
            FloatVector p = FloatVector.fromArray(F, probs, po + j);
            p.mul(FloatVector.fromArray(F, dp, j).sub(pdp)).mul(scale).intoArray(dp, j);
        }
        for (; j < n; j++) dp[j] = ReferenceAttention.scoreGradient(probs[po + j], dp[j], pdp, scale);
    }

    /** Σ a·b over n elements: 16 FMA lanes summed by a fixed tree, the tail by the reference dot. */
    private static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + LANES <= n; i += LANES) acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        return VectorMath.sum(acc) + Rows.dot(a, aOff + i, b, bOff + i, n - i);
    }

    /** y += alpha·x over n elements, one FMA each (bit-identical to the reference axpy). */
    private static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector a = FloatVector.broadcast(F, alpha);
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            a.fma(FloatVector.fromArray(F, x, xOff + i), FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        Rows.axpy(alpha, x, xOff + i, y, yOff + i, n - i);
    }

    private static int roundUp(int n, int multiple) {
        return Math.ceilDiv(n, multiple) * multiple;
    }
}
