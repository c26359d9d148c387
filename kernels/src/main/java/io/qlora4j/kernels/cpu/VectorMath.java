package io.qlora4j.kernels.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector helpers whose results do not depend on the JIT. The Vector API's own {@code lanewise(EXP)} and
 * {@code reduceLanes(ADD)} are computed differently when interpreted (per-lane {@link Math#exp}, lanes summed in order)
 * and when compiled by C2 (SVML exp, a tree of adds): measured on this JDK, 742 of 65,536 exps and most float sums
 * differed in the last bit between {@code -Xint} and a warmed-up run. A kernel using them would change its results as
 * it warms up, so a resumed run would not reproduce an uninterrupted one. These replacements use only IEEE
 * add/mul/fma, lane shuffles and bit operations, which are exact in both modes.
 */
final class VectorMath {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    static final VectorSpecies<Double> D = DoubleVector.SPECIES_512;
    static final int LANES = 16;

    private static final VectorShuffle<Float> SWAP_8 = xorShuffle(F, 8);
    private static final VectorShuffle<Float> SWAP_4 = xorShuffle(F, 4);
    private static final VectorShuffle<Float> SWAP_2 = xorShuffle(F, 2);
    private static final VectorShuffle<Float> SWAP_1 = xorShuffle(F, 1);
    private static final VectorShuffle<Double> DSWAP_4 = xorShuffle(D, 4);
    private static final VectorShuffle<Double> DSWAP_2 = xorShuffle(D, 2);
    private static final VectorShuffle<Double> DSWAP_1 = xorShuffle(D, 1);

    // exp(x) = 2^n · exp(r), n = round(x·log2 e), r = x − n·ln 2 in two parts (Cody–Waite), exp(r) by the Cephes
    // expf polynomial 1 + r + r²·P(r). Error ≤ 2 ulp of Math.exp on [−87.3, 88.3] (checked by VectorMathTest).
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;
    /** Below this exp(x) is subnormal in fp32; the result is flushed to 0. */
    static final float EXP_MIN = -87.33654f;
    /**
     * Above this, n would reach 128 and 2^n overflow: the result is +Inf, although e^x stays finite up to 88.72 (the
     * kernels only take exp of x ≤ 0, or of −z in sigmoid where e^x ≥ 2^127 already makes the result 0 or z).
     */
    static final float EXP_MAX = 88.3762f;
    /** 1.5·2^23: adding and subtracting it rounds a float of magnitude below 2^22 to an integer, half to even. */
    private static final float ROUNDING_MAGIC = 12582912f;

    private VectorMath() {
    }

    /** e^x lane by lane: ≤ 2 ulp from {@link Math#exp}, 0 below {@link #EXP_MIN}, +Inf above {@link #EXP_MAX}, NaN for NaN. */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector n = xc.mul(LOG2E).add(ROUNDING_MAGIC).sub(ROUNDING_MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1);
        p = r.fma(p, FloatVector.broadcast(F, P2));
        p = r.fma(p, FloatVector.broadcast(F, P3));
        p = r.fma(p, FloatVector.broadcast(F, P4));
        p = r.fma(p, FloatVector.broadcast(F, P5));
        FloatVector er = p.fma(r.mul(r), r).add(1f);
        IntVector exponent = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        FloatVector scaled = er.mul(exponent.reinterpretAsFloats());
        return scaled.blend(0f, x.compare(VectorOperators.LT, EXP_MIN))
                .blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_MAX));
    }

    /** Σ of the 16 lanes in a fixed tree order (lane i with lane i^8, then i^4, i^2, i^1). */
    static float sum(FloatVector v) {
        v = v.add(v.rearrange(SWAP_8));
        v = v.add(v.rearrange(SWAP_4));
        v = v.add(v.rearrange(SWAP_2));
        v = v.add(v.rearrange(SWAP_1));
        return v.lane(0);
    }

    /** Σ of the 8 lanes in a fixed tree order. */
    static double sum(DoubleVector v) {
        v = v.add(v.rearrange(DSWAP_4));
        v = v.add(v.rearrange(DSWAP_2));
        v = v.add(v.rearrange(DSWAP_1));
        return v.lane(0);
    }

    private static <E> VectorShuffle<E> xorShuffle(VectorSpecies<E> species, int bit) {
        int[] idx = new int[species.length()];
        for (int i = 0; i < idx.length; i++) idx[i] = i ^ bit;
        return VectorShuffle.fromArray(species, idx, 0);
    }
}
