package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.AdamW;
import io.qlora4j.kernels.AdamWStep;
import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.quant.BlockwiseKernels;
import io.qlora4j.kernels.quant.Codebook;

/**
 * {@link AdamW} in plain single-threaded loops, element by element in bitsandbytes' operation order (csrc/kernels.cu
 * {@code kOptimizer32bit2State} case ADAM and {@code kOptimizerStatic8bit2StateBlockwise}): the readable spec and the
 * test oracle. The range and block helpers are shared with {@link VectorAdamW}.
 */
public final class ReferenceAdamW implements AdamW {

    public static final ReferenceAdamW INSTANCE = new ReferenceAdamW();

    static final Codebook SIGNED = Codebook.DYNAMIC_SIGNED;
    static final Codebook UNSIGNED = Codebook.DYNAMIC_UNSIGNED;

    private ReferenceAdamW() {
    }

    /** The per-step scalars, computed once per call in float32 as the CUDA kernel computes them once per launch. */
    public record Factors(float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float stepSize, float epsC2,
                   boolean decay, float decayFactor, float gradScale) {
        public static Factors of(AdamWStep s) {
            return new Factors(s.beta1(), 1f - s.beta1(), s.beta2(), 1f - s.beta2(), s.stepSize(),
                    s.eps() * s.correction2(), s.weightDecay() > 0f, s.decayFactor(), s.gradScale());
        }
    }

    @Override
    public void adamw32bit(float[] param, int paramOff, float[] grad, int gradOff, float[] m, int mOff, float[] v,
                           int vOff, int n, AdamWStep step) {
        check32bit(param, paramOff, grad, gradOff, m, mOff, v, vOff, n, step);
        update32bit(param, paramOff, grad, gradOff, m, mOff, v, vOff, 0, n, Factors.of(step));
    }

    @Override
    public void adamw8bit(float[] param, int paramOff, float[] grad, int gradOff, byte[] m, int mOff, byte[] v, int vOff,
                          float[] absmaxM, float[] absmaxV, int absmaxOff, int n, AdamWStep step) {
        check8bit(param, paramOff, grad, gradOff, m, mOff, v, vOff, absmaxM, absmaxV, absmaxOff, n, step);
        Factors f = Factors.of(step);
        float[] mBlock = new float[BLOCK_SIZE_8BIT];
        float[] vBlock = new float[BLOCK_SIZE_8BIT];
        for (int b = 0; b < BlockwiseKernels.blockCount(n, BLOCK_SIZE_8BIT); b++) {
            int from = b * BLOCK_SIZE_8BIT;
            int len = Math.min(BLOCK_SIZE_8BIT, n - from);
            updateMoments8bit(grad, gradOff + from, m, mOff + from, v, vOff + from, absmaxM, absmaxV, absmaxOff + b,
                    len, f, mBlock, vBlock);
            updateParams8bit(param, paramOff + from, grad, gradOff + from, mBlock, vBlock, 0, len, f);
            encode8bit(m, mOff + from, v, vOff + from, absmaxM[absmaxOff + b], absmaxV[absmaxOff + b], mBlock, vBlock,
                    0, len);
        }
    }

    @Override
    public double sumOfSquares(float[] x, int off, int n) {
        Checks.checkNonNegative("sumOfSquares", "n", n);
        Checks.checkSlice("sumOfSquares", "x", x, off, n);
        return sumOfSquaresRange(x, off, off + n);
    }

    static double sumOfSquaresRange(float[] x, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) s += (double) x[i] * x[i];
        return s;
    }

    /** The 32-bit update of elements [from, to) of the slices. */
    static void update32bit(float[] p, int po, float[] g, int go, float[] m, int mo, float[] v, int vo, int from, int to,
                            Factors f) {
        for (int i = from; i < to; i++) {
            float gi = f.gradScale() * g[go + i];
            float mi = m[mo + i] * f.beta1() + f.oneMinusBeta1() * gi;
            float vi = v[vo + i] * f.beta2() + f.oneMinusBeta2() * (gi * gi);
            float pi = p[po + i] + f.stepSize() * (mi / ((float) Math.sqrt(vi) + f.epsC2()));
            if (f.decay()) pi = pi * f.decayFactor();
            m[mo + i] = mi;
            v[vo + i] = vi;
            p[po + i] = pi;
        }
    }

    /**
     * Pass 1 of an 8-bit block of {@code len} elements: dequantizes m and v, applies the EMA updates (or zeroes both for
     * a non-finite gradient) into mBlock/vBlock[0, len), and stores the block's new absmax values at {@code ab}.
     */
    static void updateMoments8bit(float[] g, int go, byte[] mCodes, int mo, byte[] vCodes, int vo, float[] absmaxM,
                                  float[] absmaxV, int ab, int len, Factors f, float[] mBlock, float[] vBlock) {
        float oldM = absmaxM[ab], oldV = absmaxV[ab];
        float maxM = 0f, maxV = 0f;
        for (int i = 0; i < len; i++) {
            float gi = g[go + i];
            float mi = 0f, vi = 0f;
            if (Float.isFinite(gi)) {
                gi = gi * f.gradScale();
                vi = UNSIGNED.value(vCodes[vo + i] & 0xFF) * oldV;
                vi = vi * f.beta2() + f.oneMinusBeta2() * gi * gi;
                mi = SIGNED.value(mCodes[mo + i] & 0xFF) * oldM;
                mi = mi * f.beta1() + f.oneMinusBeta1() * gi;
            }
            mBlock[i] = mi;
            vBlock[i] = vi;
            maxM = Math.max(maxM, Math.abs(mi));
            maxV = Math.max(maxV, Math.abs(vi));
        }
        absmaxM[ab] = maxM;
        absmaxV[ab] = maxV;
    }

    /** Pass 2: the parameter update of block elements [from, to) (skipped where the gradient is not finite). */
    static void updateParams8bit(float[] p, int po, float[] g, int go, float[] mBlock, float[] vBlock, int from, int to,
                                 Factors f) {
        for (int i = from; i < to; i++) {
            if (!Float.isFinite(g[go + i])) continue;
            float pi = p[po + i] + f.stepSize() * (mBlock[i] / ((float) Math.sqrt(vBlock[i]) + f.epsC2()));
            if (f.decay()) pi = pi * f.decayFactor();
            p[po + i] = pi;
        }
    }

    /** Pass 3: re-encodes block elements [from, to) of m and v against the new absmax values. */
    static void encode8bit(byte[] mCodes, int mo, byte[] vCodes, int vo, float absmaxM, float absmaxV, float[] mBlock,
                           float[] vBlock, int from, int to) {
        float dm = Math.max(absmaxM, BlockwiseKernels.MIN_ABSMAX);
        float dv = Math.max(absmaxV, BlockwiseKernels.MIN_ABSMAX);
        for (int i = from; i < to; i++) {
            mCodes[mo + i] = (byte) keepSign(SIGNED.encode(mBlock[i] / dm), mBlock[i]);
            vCodes[vo + i] = (byte) UNSIGNED.encode(vBlock[i] / dv);
        }
    }

    /** bnb's nudge: a signed code whose value's sign bit differs from m's moves one code towards m's sign. */
    static int keepSign(int code, float m) {
        boolean codeNegative = Float.floatToRawIntBits(SIGNED.value(code)) < 0;
        boolean mNegative = Float.floatToRawIntBits(m) < 0;
        if (codeNegative == mNegative) return code;
        return m > 0f ? code + 1 : code - 1;
    }

    public static void check32bit(float[] param, int paramOff, float[] grad, int gradOff, float[] m, int mOff, float[] v,
                           int vOff, int n, AdamWStep step) {
        String k = "adamw32bit";
        Checks.checkNonNegative(k, "n", n);
        if (step == null) throw new NullPointerException(k + ": step is null");
        Checks.checkSlice(k, "param", param, paramOff, n);
        Checks.checkSlice(k, "grad", grad, gradOff, n);
        Checks.checkSlice(k, "m", m, mOff, n);
        Checks.checkSlice(k, "v", v, vOff, n);
    }

    public static void check8bit(float[] param, int paramOff, float[] grad, int gradOff, byte[] m, int mOff, byte[] v, int vOff,
                          float[] absmaxM, float[] absmaxV, int absmaxOff, int n, AdamWStep step) {
        String k = "adamw8bit";
        Checks.checkNonNegative(k, "n", n);
        if (step == null) throw new NullPointerException(k + ": step is null");
        Checks.checkSlice(k, "param", param, paramOff, n);
        Checks.checkSlice(k, "grad", grad, gradOff, n);
        Checks.checkSlice(k, "m", m, mOff, n);
        Checks.checkSlice(k, "v", v, vOff, n);
        int blocks = BlockwiseKernels.blockCount(n, BLOCK_SIZE_8BIT);
        Checks.checkSlice(k, "absmaxM", absmaxM, absmaxOff, blocks);
        Checks.checkSlice(k, "absmaxV", absmaxV, absmaxOff, blocks);
    }
}
