package io.qlora4j.memory.optim;

import io.qlora4j.kernels.quant.Codebook;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The AdamW update exactly as bitsandbytes' CUDA kernels compute it, in float32 and in the kernels' order of operations
 * (QLORA-REFERENCE.md §4.3, §4.4; {@code csrc/kernels.cu}, case ADAM):
 * <pre>
 *   c1 = 1 − β1^t      c2 = √(1 − β2^t)      step_size = −lr·c2/c1
 *   m  = β1·m + (1−β1)·g
 *   v  = β2·v + (1−β2)·g²
 *   p  = p + step_size · m/(√v + ε·c2)
 *   p  = p·(1 − lr·wd)            if wd > 0: decoupled decay, after the Adam step
 * </pre>
 * 32-bit ({@code kOptimizer32bit2State}): m and v float32, g² computed as {@code (1−β2)·(g·g)}; NaN or Inf gradients
 * propagate. 8-bit blockwise ({@code kOptimizerStatic8bit2StateBlockwise}, blocks of {@value #BLOCK}): per block, m and
 * v are decoded from their codes ({@link Codebook#DYNAMIC_SIGNED} for m, {@link Codebook#DYNAMIC_UNSIGNED} for v) times
 * the block's absmax, updated (g² as {@code ((1−β2)·g)·g}), the new absmax is max|m| and max|v| over the block, p is
 * updated from the float m and v, and m/absmax, v/absmax are re-encoded with the kernel's own binary search
 * ({@link #quantize2D}); if m's code has the opposite sign of m it is nudged one code towards m. A NaN or Inf gradient
 * element zeroes that element's m and v and leaves its parameter alone.
 *
 * <p>Differences to the CUDA kernels, all at the ulp level: they use fast-math {@code __powf} and {@code __fdividef}
 * and may fuse multiply-adds; this class uses correctly rounded float operations and no FMA.
 *
 * <p>Not the trainer's AdamW kernel: the {@code kernels} module is getting one on another branch; this is the plain
 * reference the paged optimizer needs now, kept in one place so it can be deduplicated at merge.
 */
final class AdamWMath {
    /** Elements per 8-bit block: {@code BLOCKSIZE_2STATE} since bitsandbytes 0.44 (2048 before). */
    static final int BLOCK = 256;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final float[] CODE1 = Codebook.DYNAMIC_SIGNED.decodedValues();    // (256) m's code
    private static final float[] CODE2 = Codebook.DYNAMIC_UNSIGNED.decodedValues();  // (256) v's code
    /** Code of the padding lanes of a partial block: cub's BlockLoad default for state1 is 128 (state2: 0, g: 0). */
    private static final int PAD_CODE1 = 128;

    private AdamWMath() {
    }

    /** The per-launch scalars of step t, computed once per step as the kernels compute them once per launch. */
    record Scalars(float beta1, float beta2, float eps, float weightDecay, float lr, float correction2, float stepSize) {
        static Scalars of(AdamWOptions o, float lr, long step) {
            float correction1 = 1f - (float) Math.pow(o.beta1(), step);
            float correction2 = (float) Math.sqrt(1f - (float) Math.pow(o.beta2(), step));
            float stepSize = -lr * correction2 / correction1;
            return new Scalars(o.beta1(), o.beta2(), o.eps(), o.weightDecay(), lr, correction2, stepSize);
        }
    }

    /**
     * {@code kOptimizer32bit2State}, ADAM, on elements {@code [from, from + count)}.
     *
     * @param p  (n) parameters, updated in place
     * @param g  (n) gradients
     * @param m  holds {@code count} float32 first moments from byte {@code mOffset} (element {@code from})
     * @param v  holds {@code count} float32 second moments from byte {@code vOffset}
     */
    static void update32(Scalars s, float[] p, float[] g, int from, int count, MemorySegment m, long mOffset,
                         MemorySegment v, long vOffset) {
        float beta1 = s.beta1;
        float beta2 = s.beta2;
        float epsTerm = s.eps * s.correction2;
        float decay = 1f - s.lr * s.weightDecay;
        for (int j = 0; j < count; j++) {
            int i = from + j;
            long mAt = mOffset + 4L * j;
            long vAt = vOffset + 4L * j;
            float grad = g[i];
            float m1 = m.get(F32, mAt) * beta1 + ((1f - beta1) * grad);
            float v1 = v.get(F32, vAt) * beta2 + ((1f - beta2) * (grad * grad));
            float param = p[i] + (s.stepSize * (m1 / ((float) Math.sqrt(v1) + epsTerm)));
            if (s.weightDecay > 0f) param = param * decay;
            m.set(F32, mAt, m1);
            v.set(F32, vAt, v1);
            p[i] = param;
        }
    }

    /**
     * {@code kOptimizerStatic8bit2StateBlockwise}, ADAM, on one block: elements {@code [from, from + count)},
     * {@code count <= 256} ({@code < 256} only for a tensor's last block).
     *
     * @param codes1  {@code count} m codes from byte {@code c1Offset}
     * @param codes2  {@code count} v codes from byte {@code c2Offset}
     * @param absmax1 the block's float32 absmax of m at byte {@code a1Offset}
     * @param absmax2 the block's float32 absmax of v at byte {@code a2Offset}
     * @param m       (256) scratch for the block's new m
     * @param v       (256) scratch for the block's new v
     */
    static void update8Block(Scalars s, float[] p, float[] g, int from, int count,
                             MemorySegment codes1, long c1Offset, MemorySegment codes2, long c2Offset,
                             MemorySegment absmax1, long a1Offset, MemorySegment absmax2, long a2Offset,
                             float[] m, float[] v) {
        assert count > 0 && count <= BLOCK;
        float beta1 = s.beta1;
        float beta2 = s.beta2;
        float oldMax1 = absmax1.get(F32, a1Offset);
        float oldMax2 = absmax2.get(F32, a2Offset);
        float max1 = -Float.MAX_VALUE;
        float max2 = -Float.MAX_VALUE;
        for (int j = 0; j < count; j++) {
            float grad = g[from + j];
            if (Float.isFinite(grad)) {
                float v1 = CODE2[codes2.get(ValueLayout.JAVA_BYTE, c2Offset + j) & 0xFF] * oldMax2;
                v[j] = (v1 * beta2) + (((1f - beta2) * grad) * grad);
                float m1 = CODE1[codes1.get(ValueLayout.JAVA_BYTE, c1Offset + j) & 0xFF] * oldMax1;
                m[j] = (m1 * beta1) + ((1f - beta1) * grad);
            } else {
                m[j] = 0f;
                v[j] = 0f;
            }
            max1 = fmaxf(max1, Math.abs(m[j]));
            max2 = fmaxf(max2, Math.abs(v[j]));
        }
        if (count < BLOCK) {
            // The kernel runs whole blocks: padding lanes load g = 0 and codes 128 / 0 and take part in the max.
            float padM = ((CODE1[PAD_CODE1] * oldMax1) * beta1) + ((1f - beta1) * 0f);
            float padV = ((CODE2[0] * oldMax2) * beta2) + (((1f - beta2) * 0f) * 0f);
            max1 = fmaxf(max1, Math.abs(padM));
            max2 = fmaxf(max2, Math.abs(padV));
        }
        absmax1.set(F32, a1Offset, max1);
        absmax2.set(F32, a2Offset, max2);
        float epsTerm = s.correction2 * s.eps;
        float decay = 1f - s.lr * s.weightDecay;
        for (int j = 0; j < count; j++) {
            int i = from + j;
            if (Float.isFinite(g[i])) {
                float param = p[i] + (s.stepSize * (m[j] / ((float) Math.sqrt(v[j]) + epsTerm)));
                if (s.weightDecay > 0f) param = param * decay;
                p[i] = param;
            }
            int c1 = quantize2D(CODE1, m[j] / max1, true);
            int c2 = quantize2D(CODE2, v[j] / max2, false);
            if (signBit(CODE1[c1]) != signBit(m[j])) c1 = (m[j] > 0f ? c1 + 1 : c1 - 1) & 0xFF;   // unsigned char wrap, as in CUDA
            codes1.set(ValueLayout.JAVA_BYTE, c1Offset + j, (byte) c1);
            codes2.set(ValueLayout.JAVA_BYTE, c2Offset + j, (byte) c2);
        }
    }

    /**
     * The 8-bit optimizer's encoder, {@code quantize_2D<SIGNED>} of {@code csrc/kernels.cu}: a 7-level binary search
     * over the sorted code from index 127, then the nearer of the final value and the neighbour the search came from
     * (bounded by −1 or 0 below and 1.0 above). It is nearest-value rounding like {@link Codebook#encode}; at an exact
     * midpoint it keeps the value the search landed on, where {@code Codebook.encode} always takes the lower code. A
     * NaN (a block whose absmax is 0 divides 0 by 0) walks down to code 0, as on the GPU.
     */
    static int quantize2D(float[] code, float x, boolean signed) {
        int pivot = 127;
        int upperPivot = 255;
        int lowerPivot = 0;
        float lower = signed ? -1f : 0f;
        float upper = 1f;
        float val = code[pivot];
        for (int step = 64; step > 0; step >>= 1) {
            if (x > val) {
                lowerPivot = pivot;
                lower = val;
                pivot += step;
            } else {
                upperPivot = pivot;
                upper = val;
                pivot -= step;
            }
            val = code[pivot];
        }
        if (x > val) {
            float midpoint = (upper + val) * 0.5f;
            return x > midpoint ? upperPivot : pivot;
        }
        float midpoint = (lower + val) * 0.5f;
        return x < midpoint ? lowerPivot : pivot;
    }

    /** CUDA {@code fmaxf}: a NaN argument is ignored. */
    private static float fmaxf(float a, float b) {
        return b > a || Float.isNaN(a) ? b : a;
    }

    private static boolean signBit(float x) {
        return Float.floatToRawIntBits(x) < 0;
    }
}
