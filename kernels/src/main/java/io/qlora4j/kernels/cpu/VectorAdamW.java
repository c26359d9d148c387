package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.AdamW;
import io.qlora4j.kernels.AdamWStep;
import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.Parallel;
import io.qlora4j.kernels.quant.BlockwiseKernels;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static io.qlora4j.kernels.cpu.VectorMath.D;
import static io.qlora4j.kernels.cpu.VectorMath.F;
import static io.qlora4j.kernels.cpu.VectorMath.LANES;

/**
 * {@link AdamW} with the Java Vector API, bit-identical to {@link ReferenceAdamW}: every lane performs the reference's
 * IEEE operations in the same order (no FMA contraction), absmax is an exact max, and non-finite gradients are handled
 * with lane blends instead of branches. Tricks: (1) chunks of {@value #CHUNK} elements (32-bit) or whole 256-blocks
 * (8-bit) are split over threads; (2) the 8-bit codes are decoded with a gather from the code table and encoded by a
 * branch-free binary search, eight gathers of the float32 midpoints per 16 elements, instead of a per-element search.
 * A partial last block and the 32-bit tail use the reference helpers. {@link #sumOfSquares} sums in 8 float64 lanes
 * (a different order than the reference, so only it is compared with a tolerance).
 */
public final class VectorAdamW implements AdamW {

    public static final VectorAdamW INSTANCE = new VectorAdamW();

    private static final int CHUNK = 1 << 12;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;

    private static final float[] SIGNED_VALUES = ReferenceAdamW.SIGNED.decodedValues();
    private static final float[] UNSIGNED_VALUES = ReferenceAdamW.UNSIGNED.decodedValues();
    /** The float32 midpoints (v[i] + v[i+1]) / 2 that {@code Codebook.encode} compares against (checked by a test). */
    static final float[] SIGNED_MIDPOINTS = midpoints(SIGNED_VALUES);
    static final float[] UNSIGNED_MIDPOINTS = midpoints(UNSIGNED_VALUES);

    private VectorAdamW() {
    }

    @Override
    public void adamw32bit(float[] param, int paramOff, float[] grad, int gradOff, float[] m, int mOff, float[] v,
                           int vOff, int n, AdamWStep step) {
        ReferenceAdamW.check32bit(param, paramOff, grad, gradOff, m, mOff, v, vOff, n, step);
        ReferenceAdamW.Factors f = ReferenceAdamW.Factors.of(step);
        float decay = f.decay() ? f.decayFactor() : 1f;   // p·1 == p exactly, so "no decay" needs no branch
        int body = n - n % LANES;
        Parallel.forRange(Math.ceilDiv(body, CHUNK), 1, (from, to) -> {
            int end = Math.min(body, to * CHUNK);
            for (int i = from * CHUNK; i < end; i += LANES) {
                FloatVector g = FloatVector.fromArray(F, grad, gradOff + i).mul(f.gradScale());
                FloatVector mi = FloatVector.fromArray(F, m, mOff + i).mul(f.beta1()).add(g.mul(f.oneMinusBeta1()));
                FloatVector vi = FloatVector.fromArray(F, v, vOff + i).mul(f.beta2()).add(g.mul(g).mul(f.oneMinusBeta2()));
                FloatVector update = mi.div(vi.sqrt().add(f.epsC2())).mul(f.stepSize());
                FloatVector.fromArray(F, param, paramOff + i).add(update).mul(decay).intoArray(param, paramOff + i);
                mi.intoArray(m, mOff + i);
                vi.intoArray(v, vOff + i);
            }
        });
        ReferenceAdamW.update32bit(param, paramOff, grad, gradOff, m, mOff, v, vOff, body, n, f);
    }

    @Override
    public void adamw8bit(float[] param, int paramOff, float[] grad, int gradOff, byte[] m, int mOff, byte[] v, int vOff,
                          float[] absmaxM, float[] absmaxV, int absmaxOff, int n, AdamWStep step) {
        ReferenceAdamW.check8bit(param, paramOff, grad, gradOff, m, mOff, v, vOff, absmaxM, absmaxV, absmaxOff, n, step);
        ReferenceAdamW.Factors f = ReferenceAdamW.Factors.of(step);
        int fullBlocks = n / BLOCK_SIZE_8BIT;
        Parallel.forRange(fullBlocks, 1, (from, to) -> {
            float[] mBlock = new float[BLOCK_SIZE_8BIT];
            float[] vBlock = new float[BLOCK_SIZE_8BIT];
            int[] index = new int[LANES];
            for (int b = from; b < to; b++) {
                int e = b * BLOCK_SIZE_8BIT;
                int ab = absmaxOff + b;
                updateMoments(grad, gradOff + e, m, mOff + e, v, vOff + e, absmaxM, absmaxV, ab, f, mBlock, vBlock, index);
                updateParams(param, paramOff + e, grad, gradOff + e, mBlock, vBlock, f);
                encode(m, mOff + e, v, vOff + e, absmaxM[ab], absmaxV[ab], mBlock, vBlock, index);
            }
        });
        int e = fullBlocks * BLOCK_SIZE_8BIT;
        if (e < n) {
            float[] mBlock = new float[BLOCK_SIZE_8BIT];
            float[] vBlock = new float[BLOCK_SIZE_8BIT];
            int ab = absmaxOff + fullBlocks;
            ReferenceAdamW.updateMoments8bit(grad, gradOff + e, m, mOff + e, v, vOff + e, absmaxM, absmaxV, ab, n - e, f,
                    mBlock, vBlock);
            ReferenceAdamW.updateParams8bit(param, paramOff + e, grad, gradOff + e, mBlock, vBlock, 0, n - e, f);
            ReferenceAdamW.encode8bit(m, mOff + e, v, vOff + e, absmaxM[ab], absmaxV[ab], mBlock, vBlock, 0, n - e);
        }
    }

    @Override
    public double sumOfSquares(float[] x, int off, int n) {
        Checks.checkNonNegative("sumOfSquares", "n", n);
        Checks.checkSlice("sumOfSquares", "x", x, off, n);
        DoubleVector acc = DoubleVector.zero(D);
        int i = 0;
        for (; i + F8.length() <= n; i += F8.length()) {
            DoubleVector xd = (DoubleVector) FloatVector.fromArray(F8, x, off + i).convertShape(VectorOperators.F2D, D, 0);
            acc = xd.fma(xd, acc);   // the fp32 square is exact in float64, so this FMA equals square-then-add
        }
        return VectorMath.sum(acc) + ReferenceAdamW.sumOfSquaresRange(x, off + i, off + n);
    }

    /** Pass 1 of a full block: {@link ReferenceAdamW#updateMoments8bit} lane by lane. */
    private static void updateMoments(float[] g, int go, byte[] mCodes, int mo, byte[] vCodes, int vo, float[] absmaxM,
                                      float[] absmaxV, int ab, ReferenceAdamW.Factors f, float[] mBlock, float[] vBlock,
                                      int[] index) {
        float oldM = absmaxM[ab], oldV = absmaxV[ab];
        FloatVector maxM = FloatVector.zero(F);
        FloatVector maxV = FloatVector.zero(F);
        for (int i = 0; i < BLOCK_SIZE_8BIT; i += LANES) {
            FloatVector gi = FloatVector.fromArray(F, g, go + i);
            VectorMask<Float> skip = gi.test(VectorOperators.IS_FINITE).not();
            gi = gi.mul(f.gradScale());
            FloatVector vi = decode(vCodes, vo + i, UNSIGNED_VALUES, index).mul(oldV);
            vi = vi.mul(f.beta2()).add(gi.mul(f.oneMinusBeta2()).mul(gi)).blend(0f, skip);
            FloatVector mi = decode(mCodes, mo + i, SIGNED_VALUES, index).mul(oldM);
            mi = mi.mul(f.beta1()).add(gi.mul(f.oneMinusBeta1())).blend(0f, skip);
            mi.intoArray(mBlock, i);
            vi.intoArray(vBlock, i);
            maxM = maxM.max(mi.abs());
            maxV = maxV.max(vi.abs());
        }
        // MAX is exact and order-free, so its lane reduction is deterministic
        absmaxM[ab] = maxM.reduceLanes(VectorOperators.MAX);
        absmaxV[ab] = maxV.reduceLanes(VectorOperators.MAX);
    }

    /** Pass 2 of a full block: the parameter update, kept unchanged in lanes whose gradient is not finite. */
    private static void updateParams(float[] p, int po, float[] g, int go, float[] mBlock, float[] vBlock,
                                     ReferenceAdamW.Factors f) {
        float decay = f.decay() ? f.decayFactor() : 1f;
        for (int i = 0; i < BLOCK_SIZE_8BIT; i += LANES) {
            VectorMask<Float> skip = FloatVector.fromArray(F, g, go + i).test(VectorOperators.IS_FINITE).not();
            FloatVector old = FloatVector.fromArray(F, p, po + i);
            FloatVector mi = FloatVector.fromArray(F, mBlock, i);
            FloatVector vi = FloatVector.fromArray(F, vBlock, i);
            FloatVector updated = old.add(mi.div(vi.sqrt().add(f.epsC2())).mul(f.stepSize())).mul(decay);
            updated.blend(old, skip).intoArray(p, po + i);
        }
    }

    /** Pass 3 of a full block: {@link ReferenceAdamW#encode8bit} lane by lane. */
    private static void encode(byte[] mCodes, int mo, byte[] vCodes, int vo, float absmaxM, float absmaxV,
                               float[] mBlock, float[] vBlock, int[] index) {
        float dm = Math.max(absmaxM, BlockwiseKernels.MIN_ABSMAX);
        float dv = Math.max(absmaxV, BlockwiseKernels.MIN_ABSMAX);
        for (int i = 0; i < BLOCK_SIZE_8BIT; i += LANES) {
            FloatVector mi = FloatVector.fromArray(F, mBlock, i);
            IntVector mc = countBelow(SIGNED_MIDPOINTS, mi.div(dm), index);
            // bnb's sign-keeping nudge: compare sign bits of the code's value and of m
            mc.intoArray(index, 0);
            VectorMask<Integer> codeNegative = FloatVector.fromArray(F, SIGNED_VALUES, 0, index, 0)
                    .reinterpretAsInts().compare(VectorOperators.LT, 0);
            VectorMask<Integer> mNegative = mi.reinterpretAsInts().compare(VectorOperators.LT, 0);
            VectorMask<Integer> differ = codeNegative.xor(mNegative).cast(I);
            IntVector towardsM = IntVector.broadcast(I, -1).blend(1, mi.compare(VectorOperators.GT, 0f).cast(I));
            mc.add(towardsM, differ).convertShape(VectorOperators.I2B, B16, 0).reinterpretAsBytes().intoArray(mCodes, mo + i);
            countBelow(UNSIGNED_MIDPOINTS, FloatVector.fromArray(F, vBlock, i).div(dv), index)
                    .convertShape(VectorOperators.I2B, B16, 0).reinterpretAsBytes().intoArray(vCodes, vo + i);
        }
    }

    /** The 16 table values of 16 unsigned byte codes, by a gather through {@code index}. */
    private static FloatVector decode(byte[] codes, int off, float[] table, int[] index) {
        ((IntVector) ByteVector.fromArray(B16, codes, off).convertShape(VectorOperators.B2I, I, 0)).and(0xFF)
                .intoArray(index, 0);
        return FloatVector.fromArray(F, table, 0, index, 0);
    }

    /**
     * Per lane, the number of the 255 sorted midpoints strictly below x ({@code Codebook.encode}'s bucketize rule),
     * by binary lifting: probe at idx + step − 1 for step = 128, 64, ..., 1. NaN counts 0, as in the scalar search.
     */
    private static IntVector countBelow(float[] midpoints, FloatVector x, int[] index) {
        IntVector idx = IntVector.zero(I);
        for (int step = 128; step >= 1; step >>= 1) {
            idx.add(step - 1).intoArray(index, 0);
            VectorMask<Integer> below = FloatVector.fromArray(F, midpoints, 0, index, 0).compare(VectorOperators.LT, x).cast(I);
            idx = idx.add(step, below);
        }
        return idx;
    }

    private static float[] midpoints(float[] sorted) {
        float[] m = new float[sorted.length - 1];
        for (int i = 0; i < m.length; i++) m[i] = (sorted[i] + sorted[i + 1]) / 2f;
        return m;
    }
}
