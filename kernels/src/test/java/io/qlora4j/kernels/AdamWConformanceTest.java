package io.qlora4j.kernels;

import io.qlora4j.kernels.quant.Codebook;
import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link AdamW} conformance, run against every backend: the 32-bit update against a float64 re-implementation of
 * bitsandbytes' formula over several steps, on slices at offsets; the decoupled-decay order on a hand example; the
 * 8-bit blockwise update against the 32-bit one within a measured budget; a single-block 8-bit example derived by hand
 * (state bytes, absmax, parameters, the sign-keeping nudge); NaN/Inf gradients; the state size; the fast backend
 * bit for bit against the reference; identical bits at 1 and 2 threads.
 */
class AdamWConformanceTest {

    private static final int BLOCK = AdamW.BLOCK_SIZE_8BIT;

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void update32bitMatchesFloat64BnbFormulaOverSteps(String name, Backend backend) {
        Backends.assumePresent(backend);
        int n = 1003, pOff = 3, gOff = 5, mOff = 7, vOff = 11;
        SplittableRandom rnd = new SplittableRandom(1);
        float[] p = Backends.gaussian(rnd, pOff + n, 1.0);
        float[] head = Arrays.copyOf(p, pOff);
        float[] m = new float[mOff + n], v = new float[vOff + n];
        double[] pd = new double[n], md = new double[n], vd = new double[n];
        for (int i = 0; i < n; i++) pd[i] = p[pOff + i];
        for (int t = 1; t <= 5; t++) {
            float[] g = Backends.gaussian(rnd, gOff + n, 0.1);
            AdamWStep step = new AdamWStep(t, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.7f);
            backend.adamw().adamw32bit(p, pOff, g, gOff, m, mOff, v, vOff, n, step);
            // float64 arithmetic on the same float32 hyper-parameters (β1 = 0.9f is 0.89999998 in float64)
            double b1 = 0.9f, b2 = 0.999f, lr = 1e-3f, eps = 1e-8f, wd = 0.01f, scale = 0.7f;
            double c1 = 1 - Math.pow(b1, t), c2 = Math.sqrt(1 - Math.pow(b2, t));
            for (int i = 0; i < n; i++) {
                double gi = scale * g[gOff + i];
                md[i] = b1 * md[i] + (1 - b1) * gi;
                vd[i] = b2 * vd[i] + (1 - b2) * gi * gi;
                pd[i] += -lr * c2 / c1 * md[i] / (Math.sqrt(vd[i]) + eps * c2);
                pd[i] *= 1 - lr * wd;
            }
        }
        Tolerance.assertClose(name + " param", pd, Arrays.copyOfRange(p, pOff, pOff + n), 1e-6, 1e-6);
        // m is a sum of terms of either sign: its absolute error scales with the gradients (0.07), not with m
        Tolerance.assertClose(name + " m", md, Arrays.copyOfRange(m, mOff, mOff + n), 1e-8, 1e-6);
        Tolerance.assertClose(name + " v", vd, Arrays.copyOfRange(v, vOff, vOff + n), 1e-13, 1e-6);
        Measured.report("adamw32bit m after 5 steps vs float64 " + name, md, Arrays.copyOfRange(m, mOff, mOff + n));
        Measured.report("adamw32bit param after 5 steps vs float64 " + name, pd, Arrays.copyOfRange(p, pOff, pOff + n));
        assertArrayEquals(head, Arrays.copyOf(p, pOff), "elements before the slice untouched");
    }

    /**
     * t=1, p=1, g=1, lr=0.1, wd=0.5, eps=0: m=0.1, v=0.001, c1=0.1, c2=sqrt(0.001), step size −0.1·c2/c1, update
     * −0.1·(c2/0.1)·(0.1/c2) = −0.1, so p = 0.9, then decay ×(1 − 0.05) = 0.855 (PyTorch's decay-first order would give
     * 0.95 − 0.1 = 0.85).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void weightDecayComesAfterTheAdamStep(String name, Backend backend) {
        Backends.assumePresent(backend);
        float[] p = {1f}, m = {0f}, v = {0f};
        backend.adamw().adamw32bit(p, 0, new float[]{1f}, 0, m, 0, v, 0, 1, new AdamWStep(1, 0.1f, 0.9f, 0.999f, 0f, 0.5f, 1f));
        assertEquals(0.855f, p[0], 1e-6f);
    }

    /**
     * 8-bit state follows 32-bit state closely: 30 steps of the same gradients (a per-element trend plus noise, so m
     * keeps a sign and v a scale) on 8 blocks. Budget, about twice the measured values: the 8-bit trajectory differs
     * from the 32-bit one by at most 8% of lr·steps anywhere and by 1.5% of it on average (measured 4.1% and 0.73%:
     * the dynamic code's spacing is 0.5% of absmax near 1 but about 8% of the value near 0.1·absmax, so small moments
     * carry a few percent of error that partly averages out over steps).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void update8bitTracksThe32bitUpdate(String name, Backend backend) {
        Backends.assumePresent(backend);
        int n = 8 * BLOCK, steps = 30;
        float lr = 1e-3f;
        SplittableRandom rnd = new SplittableRandom(2);
        float[] p0 = Backends.gaussian(rnd, n, 1.0);
        float[] trend = Backends.gaussian(rnd, n, 1.0);
        float[] p32 = p0.clone(), m32 = new float[n], v32 = new float[n];
        float[] p8 = p0.clone(), absM = new float[n / BLOCK], absV = new float[n / BLOCK];
        byte[] m8 = new byte[n], v8 = new byte[n];
        for (int t = 1; t <= steps; t++) {
            float[] g = new float[n];
            for (int i = 0; i < n; i++) g[i] = (float) (trend[i] * (1 + 0.1 * i / n) + rnd.nextGaussian()) * 1e-2f;
            AdamWStep step = new AdamWStep(t, lr, 0.9f, 0.999f, 1e-8f, 0f, 1f);
            backend.adamw().adamw32bit(p32, 0, g, 0, m32, 0, v32, 0, n, step);
            backend.adamw().adamw8bit(p8, 0, g, 0, m8, 0, v8, 0, absM, absV, 0, n, step);
        }
        double maxDiff = 0, sumDiff = 0;
        for (int i = 0; i < n; i++) {
            double d = Math.abs(p8[i] - p32[i]);
            maxDiff = Math.max(maxDiff, d);
            sumDiff += d;
        }
        double budget = lr * steps;
        System.out.printf("MEASURED adamw8bit vs 32bit after %d steps %s: max |Δp| %.3g%% of lr·steps, mean %.3g%%%n",
                steps, name, 100 * maxDiff / budget, 100 * sumDiff / n / budget);
        assertTrue(maxDiff <= 0.08 * budget, name + ": max |p8 − p32| = " + maxDiff);
        assertTrue(sumDiff / n <= 0.015 * budget, name + ": mean |p8 − p32| = " + sumDiff / n);
    }

    /**
     * One fresh block of four elements, t=1, lr 1e-3, betas (0.9, 0.999), eps 1e-8, g = (1, −0.5, 0, −1e-8):
     * <ul>
     *   <li>m = (1−β1)·g, absmax m = 0.1 (fl32(1 − 0.9f)·1 = 0.100000024), m/absmax = (1, −0.5, 0, −1e-8) exactly:
     *       signed codes 255 (1.0); 35 (−0.500781, nearer than −0.514844 at 34 and −0.486719 at 36); 127 (0.0); and
     *       −1e-8, whose nearest code is 127 (0.0; code 126 is −5.5e-7) but 0.0 has the wrong sign bit, so bnb's nudge
     *       moves it to 126;
     *   <li>v = (1−β2)·g², absmax v = fl32(1 − 0.999f) = 9.999871e-4, v/absmax = (1, 0.25, 0, 1e-16): unsigned codes
     *       255, 148 (0.251172; 0.244141 at 147, 0.258203 at 149), 0, 0 (1e-16 is below half the smallest code 3.25e-7);
     *   <li>step size −lr·sqrt(1−β2)/(1−β1) = −3.16228e-4; p += step·m/(sqrt(v) + eps·c2): −1e-3, +1e-3, 0, and for the
     *       last −3.16228e-4 · (−1e-9 / (3.16228e-10 + 3.16228e-10)) = +5e-4.
     * </ul>
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void singleBlockMatchesHandDerivedCodesAbsmaxAndParameters(String name, Backend backend) {
        Backends.assumePresent(backend);
        float[] p = {0.5f, 0.5f, 0.5f, 0.5f};
        float[] g = {1f, -0.5f, 0f, -1e-8f};
        byte[] m = new byte[4], v = new byte[4];
        float[] absM = {0f}, absV = {0f};
        backend.adamw().adamw8bit(p, 0, g, 0, m, 0, v, 0, absM, absV, 0, 4, new AdamWStep(1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1f));
        assertArrayEquals(new byte[]{(byte) 255, 35, 127, 126}, m, "m codes");
        assertArrayEquals(new byte[]{(byte) 255, (byte) 148, 0, 0}, v, "v codes");
        assertEquals(0.100000024f, absM[0]);
        assertEquals(9.999871e-4f, absV[0]);
        Tolerance.assertClose(name + " params", new double[]{0.499, 0.501, 0.5, 0.5005}, p, 1e-6, 0);
        assertEquals(-0.500781238f, Codebook.DYNAMIC_SIGNED.value(35));
        assertEquals(0.251171857f, Codebook.DYNAMIC_UNSIGNED.value(148));
    }

    /** A NaN or Inf gradient element zeroes its m and v (codes of 0.0) and leaves its parameter alone. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void nonFiniteGradientsZeroTheirStateAndSkipTheirUpdate(String name, Backend backend) {
        Backends.assumePresent(backend);
        int n = 2 * BLOCK;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] p = Backends.gaussian(rnd, n, 1.0);
        byte[] m = new byte[n], v = new byte[n];
        float[] absM = new float[2], absV = new float[2];
        backend.adamw().adamw8bit(p, 0, Backends.gaussian(rnd, n, 0.1), 0, m, 0, v, 0, absM, absV, 0, n,
                new AdamWStep(1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1f));
        float[] g = Backends.gaussian(rnd, n, 0.1);
        g[5] = Float.NaN;
        g[BLOCK + 9] = Float.POSITIVE_INFINITY;
        g[BLOCK + 10] = Float.NEGATIVE_INFINITY;
        float[] before = p.clone();
        backend.adamw().adamw8bit(p, 0, g, 0, m, 0, v, 0, absM, absV, 0, n, new AdamWStep(2, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, 1f));
        for (int i : new int[]{5, BLOCK + 9, BLOCK + 10}) {
            assertEquals(before[i], p[i], "parameter " + i + " unchanged");
            assertEquals(0f, Codebook.DYNAMIC_SIGNED.value(m[i] & 0xFF), "m " + i);
            assertEquals(0f, Codebook.DYNAMIC_UNSIGNED.value(v[i] & 0xFF), "v " + i);
        }
        int changed = 0;
        for (int i = 0; i < n; i++) {
            assertTrue(Float.isFinite(p[i]));
            if (p[i] != before[i]) changed++;
        }
        assertEquals(n - 3, changed);
        for (int b = 0; b < 2; b++) {
            float maxDecoded = 0f;
            for (int i = b * BLOCK; i < (b + 1) * BLOCK; i++) maxDecoded = Math.max(maxDecoded, Codebook.DYNAMIC_UNSIGNED.value(v[i] & 0xFF));
            assertEquals(1f, maxDecoded, "the block's largest v encodes as 1.0·absmax");
            assertTrue(Float.isFinite(absM[b]) && Float.isFinite(absV[b]));
        }
    }

    @Test
    void eightBitStateIsAboutFourTimesSmaller() {
        long n = 1 << 20;
        double ratio = (double) AdamW.stateBytes32bit(n) / AdamW.stateBytes8bit(n);
        assertTrue(ratio > 3.9 && ratio < 4.0, "ratio " + ratio);
        assertEquals(2L * 1000 + 8 * 4, AdamW.stateBytes8bit(1000), "1000 elements: 2 code bytes each + 4 blocks × 2 absmax");
        assertEquals(4096, AdamW.MIN_8BIT_SIZE);
        assertEquals(256, AdamW.BLOCK_SIZE_8BIT);
    }

    /** Same inputs, same bits: the fast backend performs the reference's operations lane by lane. */
    @Test
    void fastBackendMatchesReferenceBitForBit() {
        AdamW ref = Backend.reference().adamw(), fast = Backend.cpu().adamw();
        SplittableRandom rnd = new SplittableRandom(4);
        int n = 40 * BLOCK + 77, off = 13;
        float[] g = Backends.gaussian(rnd, off + n, 0.05);
        for (int i = 0; i < 40; i++) g[off + rnd.nextInt(n)] = i % 2 == 0 ? Float.NaN : Float.NEGATIVE_INFINITY;
        for (float wd : new float[]{0f, 0.01f}) {
            float[] p = Backends.gaussian(rnd, off + n, 1.0);
            float[][] p32 = {p.clone(), p.clone()}, m32 = new float[2][off + n], v32 = new float[2][off + n];
            float[][] p8 = {p.clone(), p.clone()}, absM = new float[2][1 + 41], absV = new float[2][1 + 41];
            byte[][] m8 = new byte[2][off + n], v8 = new byte[2][off + n];
            AdamW[] impl = {ref, fast};
            for (int t = 1; t <= 3; t++) {
                AdamWStep step = new AdamWStep(t, 2e-3f, 0.9f, 0.995f, 1e-6f, wd, 0.5f);
                for (int k = 0; k < 2; k++) {
                    impl[k].adamw32bit(p32[k], off, g, off, m32[k], off, v32[k], off, n - 40, step);
                    impl[k].adamw8bit(p8[k], off, g, off, m8[k], off, v8[k], off, absM[k], absV[k], 1, n, step);
                }
            }
            assertArrayEquals(p32[0], p32[1], "32-bit params wd=" + wd);
            assertArrayEquals(m32[0], m32[1], "32-bit m");
            assertArrayEquals(v32[0], v32[1], "32-bit v");
            assertArrayEquals(p8[0], p8[1], "8-bit params wd=" + wd);
            assertArrayEquals(m8[0], m8[1], "8-bit m codes");
            assertArrayEquals(v8[0], v8[1], "8-bit v codes");
            assertArrayEquals(absM[0], absM[1], "8-bit absmax m");
            assertArrayEquals(absV[0], absV[1], "8-bit absmax v");
        }
        float[] x = Backends.gaussian(rnd, 100_003, 1.0);
        double r = ref.sumOfSquares(x, 3, 100_000), f = fast.sumOfSquares(x, 3, 100_000);
        assertEquals(r, f, 1e-12 * r, "sum of squares (float64, different order)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void identicalBitsAtOneAndTwoThreads(String name, Backend backend) {
        Backends.assumePresent(backend);
        int n = 64 * BLOCK + 5;
        SplittableRandom rnd = new SplittableRandom(6);
        float[] g = Backends.gaussian(rnd, n, 0.1);
        float[] p = Backends.gaussian(rnd, n, 1.0);
        Object[][] results = new Object[2][];
        Backends.atOneAndTwoThreads(t -> {
            float[] p32 = p.clone(), m32 = new float[n], v32 = new float[n], p8 = p.clone();
            float[] absM = new float[65], absV = new float[65];
            byte[] m8 = new byte[n], v8 = new byte[n];
            AdamWStep step = new AdamWStep(1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1f);
            backend.adamw().adamw32bit(p32, 0, g, 0, m32, 0, v32, 0, n, step);
            backend.adamw().adamw8bit(p8, 0, g, 0, m8, 0, v8, 0, absM, absV, 0, n, step);
            results[t - 1] = new Object[]{p32, m32, v32, p8, absM, absV, m8, v8, backend.adamw().sumOfSquares(g, 0, n)};
        });
        for (int i = 0; i < 6; i++) assertArrayEquals((float[]) results[0][i], (float[]) results[1][i], name + " " + i);
        assertArrayEquals((byte[]) results[0][6], (byte[]) results[1][6]);
        assertArrayEquals((byte[]) results[0][7], (byte[]) results[1][7]);
        assertEquals(results[0][8], results[1][8]);
    }

    @Test
    void rejectsSlicesOutsideTheirArraysAndBadHyperParameters() {
        var e = assertThrows(IllegalArgumentException.class, () -> Backend.cpu().adamw()
                .adamw8bit(new float[300], 0, new float[300], 0, new byte[300], 0, new byte[300], 0, new float[1],
                        new float[2], 0, 300, new AdamWStep(1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1f)));
        assertTrue(e.getMessage().contains("adamw8bit: slice [0, 2) of absmaxM is outside the array of 1 elements"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AdamWStep(0, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1f));
        assertThrows(IllegalArgumentException.class, () -> new AdamWStep(1, 1e-3f, 1f, 0.999f, 1e-8f, 0f, 1f));
        assertThrows(IllegalArgumentException.class, () -> new AdamWStep(1, Float.NaN, 0.9f, 0.999f, 1e-8f, 0f, 1f));
    }
}
