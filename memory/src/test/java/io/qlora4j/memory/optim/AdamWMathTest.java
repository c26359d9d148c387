package io.qlora4j.memory.optim;

import io.qlora4j.kernels.quant.Codebook;
import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The float32 AdamW kernels against the float64 formulas, and the 8-bit scheme's details. */
class AdamWMathTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final AdamWOptions OPTIONS = AdamWOptions.defaults(StateFormat.FP32, true);
    private static final float[] CODE1 = Codebook.DYNAMIC_SIGNED.decodedValues();

    @Test
    void theFirstStepMovesEachParameterByLrTimesTheSignOfItsGradient() {
        // t = 1 from zero state: m = (1−β1)g, v = (1−β2)g², c1 = 1−β1, c2 = √(1−β2), so
        // p − lr·c2/c1 · (1−β1)g / (√(1−β2)|g| + ε·c2) = p − lr·g/(|g| + ε).
        float[] p = {1f, 1f, -2f};
        float[] g = {0.5f, -3f, 1e-3f};
        MemorySegment m = MemorySegment.ofArray(new byte[12]);
        MemorySegment v = MemorySegment.ofArray(new byte[12]);
        AdamWMath.update32(AdamWMath.Scalars.of(OPTIONS, 0.01f, 1), p, g, 0, 3, m, 0, v, 0);
        double[] expected = {1 - 0.01 * 0.5 / (0.5 + 1e-8), 1 + 0.01 * 3 / (3 + 1e-8), -2 - 0.01 * 1e-3 / (1e-3 + 1e-8)};
        Tolerance.assertClose("p after step 1", expected, p, 0, 2e-7);
        Tolerance.assertClose("m after step 1", new double[]{0.05, -0.3, 1e-4}, new float[]{m.get(F32, 0), m.get(F32, 4), m.get(F32, 8)}, 0, 1e-6);
    }

    @Test
    void the32BitUpdateTracksTheFloat64FormulasOverManySteps() {
        SplittableRandom rnd = new SplittableRandom(7);
        int n = 1000;
        float[] p = new float[n];
        double[] pd = new double[n];
        for (int i = 0; i < n; i++) pd[i] = p[i] = (float) rnd.nextGaussian();
        MemorySegment m = MemorySegment.ofArray(new byte[4 * n]);
        MemorySegment v = MemorySegment.ofArray(new byte[4 * n]);
        double[] md = new double[n];
        double[] vd = new double[n];
        AdamWOptions decayed = OPTIONS.withWeightDecay(0.01f);
        for (int t = 1; t <= 50; t++) {
            float lr = 1e-3f * (1 + t % 3);   // the schedule may change lr every step
            float[] g = new float[n];
            double[] gd = new double[n];
            for (int i = 0; i < n; i++) gd[i] = g[i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian()));
            AdamWMath.update32(AdamWMath.Scalars.of(decayed, lr, t), p, g, 0, n, m, 0, v, 0);
            AdamWReference.step32(pd, gd, md, vd, lr, decayed.beta1(), decayed.beta2(), decayed.eps(), decayed.weightDecay(), t);
        }
        Tolerance.assertClose("p after 50 steps", pd, p, 1e-6, 1e-5);
        float[] mf = new float[n];
        float[] vf = new float[n];
        MemorySegment.copy(m, F32, 0, mf, 0, n);
        MemorySegment.copy(v, F32, 0, vf, 0, n);
        Tolerance.assertClose("m after 50 steps", md, mf, 1e-7, 1e-5);
        Tolerance.assertClose("v after 50 steps", vd, vf, 1e-9, 1e-5);
    }

    @Test
    void weightDecayIsAppliedAfterTheAdamStep() {
        float[] p = {10f};
        AdamWMath.update32(AdamWMath.Scalars.of(OPTIONS.withWeightDecay(0.5f), 0.1f, 1), p, new float[]{1f}, 0, 1,
                MemorySegment.ofArray(new byte[4]), 0, MemorySegment.ofArray(new byte[4]), 0);
        double adam = 10 - 0.1 / (1 + 1e-8);
        assertEquals(adam * (1 - 0.05), p[0], 1e-5, "decay after the step (bitsandbytes CUDA)");
        assertTrue(Math.abs(10 * (1 - 0.05) - 0.1 - p[0]) > 1e-3, "not decay first (PyTorch AdamW)");
    }

    @Test
    void theKernelEncoderIsNearestValueLikeTheCodebook() {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] code2 = Codebook.DYNAMIC_UNSIGNED.decodedValues();
        for (int k = 0; k < 200_000; k++) {
            float x = (float) (rnd.nextDouble() * 2 - 1) * (float) Math.pow(10, -rnd.nextInt(7));
            assertEquals(Codebook.DYNAMIC_SIGNED.encode(x), AdamWMath.quantize2D(CODE1, x, true), "signed code of " + x);
            float u = Math.abs(x);
            assertEquals(Codebook.DYNAMIC_UNSIGNED.encode(u), AdamWMath.quantize2D(code2, u, false), "unsigned code of " + u);
        }
        for (int c = 0; c < 255; c++) {
            float mid = (CODE1[c] + CODE1[c + 1]) * 0.5f;
            int q = AdamWMath.quantize2D(CODE1, mid, true);
            assertTrue(q == c || q == c + 1, "a midpoint goes to one of its two codes");
        }
        assertEquals(0, AdamWMath.quantize2D(CODE1, Float.NaN, true), "0/0 walks down to code 0, as on the GPU");
        assertEquals(255, AdamWMath.quantize2D(CODE1, 1f, true));
        assertEquals(0, AdamWMath.quantize2D(CODE1, -1f, true));
    }

    @Test
    void the8BitBlockUpdateTracksAFloat64ReimplementationOfTheScheme() {
        SplittableRandom rnd = new SplittableRandom(11);
        int mismatched = 0;
        int total = 0;
        for (int trial = 0; trial < 40; trial++) {
            int n = trial % 4 == 3 ? 1 + rnd.nextInt(255) : 256;   // every fourth block is a tensor's partial last block
            long t = 1 + rnd.nextInt(500);
            float lr = (float) (1e-4 * (1 + rnd.nextInt(10)));
            float wd = trial % 2 == 0 ? 0f : 0.01f;
            Block b = Block.random(rnd, n);
            double[] pd = toDouble(b.p);
            double[] gd = toDouble(b.g);
            int[] c1 = b.codes(0);
            int[] c2 = b.codes(1);
            double[] absmax = {b.absmax(0), b.absmax(1)};
            AdamWReference.step8Block(pd, gd, c1, c2, absmax, lr, OPTIONS.beta1(), OPTIONS.beta2(), OPTIONS.eps(), wd, t);
            b.step(AdamWMath.Scalars.of(OPTIONS.withWeightDecay(wd), lr, t));
            Tolerance.assertClose("p of block " + trial, pd, b.p, 1e-7, 2e-6);
            assertEquals(absmax[0], b.absmax(0), 1e-6 * absmax[0], "absmax1 of block " + trial);
            assertEquals(absmax[1], b.absmax(1), 1e-6 * absmax[1], "absmax2 of block " + trial);
            int[] k1 = b.codes(0);
            int[] k2 = b.codes(1);
            for (int i = 0; i < n; i++) {
                assertTrue(Math.abs(k1[i] - c1[i]) <= 1 && Math.abs(k2[i] - c2[i]) <= 1, "codes differ by more than a rounding step at " + i);
                if (k1[i] != c1[i]) mismatched++;
                if (k2[i] != c2[i]) mismatched++;
                total += 2;
            }
        }
        assertTrue(mismatched <= total / 1000, mismatched + " of " + total + " codes differ from float64 rounding");
    }

    @Test
    void aNonFiniteGradientZeroesThatElementsStateAndSkipsItsUpdate() {
        Block b = Block.random(new SplittableRandom(5), 256);
        b.g[3] = Float.NaN;
        b.g[9] = Float.POSITIVE_INFINITY;
        float p3 = b.p[3];
        float p9 = b.p[9];
        float p4 = b.p[4];
        b.step(AdamWMath.Scalars.of(OPTIONS, 1e-3f, 10));
        assertEquals(p3, b.p[3]);
        assertEquals(p9, b.p[9]);
        assertTrue(p4 != b.p[4], "other elements are updated");
        assertEquals(0f, CODE1[b.codes(0)[3]] * b.absmax(0), "m zeroed");
        assertEquals(0, b.codes(1)[9], "v zeroed");
    }

    @Test
    void aTinyNegativeMomentKeepsItsSignThroughTheNudge() {
        Block b = new Block(2);
        b.g[0] = 1f;        // m = 0.1: sets absmax1
        b.g[1] = -1e-6f;    // m = −1e-7: rounds to code 127 (+0.0), nudged to 126 (negative)
        b.p[0] = b.p[1] = 0f;
        b.step(AdamWMath.Scalars.of(OPTIONS, 1e-3f, 1));
        assertEquals(126, b.codes(0)[1]);
        assertTrue(CODE1[126] < 0);
    }

    @Test
    void thePaddingLanesOfAPartialBlockTakePartInTheAbsmaxAsInTheKernel() {
        Block b = new Block(10);   // all codes 0 would decode to −0.99·absmax: set them to the zero code
        for (int i = 0; i < 10; i++) b.setCode(0, i, 127);
        b.setAbsmax(0, 1f);
        b.step(AdamWMath.Scalars.of(OPTIONS, 1e-3f, 2));   // g = 0 everywhere: every valid m is 0
        assertEquals(Math.abs(CODE1[128] * 1f * 0.9f + (1f - 0.9f) * 0f), b.absmax(0),
                "absmax1 is the padding lanes' β1·code1[128]·absmax, not 0");
    }

    /** One block of 8-bit state in heap segments, little-endian like the pages. */
    private static final class Block {
        final int n;
        final float[] p;
        final float[] g;
        final MemorySegment codes1;
        final MemorySegment codes2;
        final MemorySegment absmax = MemorySegment.ofArray(new byte[8]);

        Block(int n) {
            this.n = n;
            p = new float[n];
            g = new float[n];
            codes1 = MemorySegment.ofArray(new byte[n]);
            codes2 = MemorySegment.ofArray(new byte[n]);
        }

        static Block random(SplittableRandom rnd, int n) {
            Block b = new Block(n);
            for (int i = 0; i < n; i++) {
                b.p[i] = (float) rnd.nextGaussian();
                b.g[i] = (float) (rnd.nextGaussian() * 0.01);
                b.setCode(0, i, rnd.nextInt(256));
                b.setCode(1, i, rnd.nextInt(256));
            }
            b.setAbsmax(0, (float) (0.01 * rnd.nextDouble()));
            b.setAbsmax(1, (float) (1e-4 * rnd.nextDouble()));
            return b;
        }

        void step(AdamWMath.Scalars s) {
            AdamWMath.update8Block(s, p, g, 0, n, codes1, 0, codes2, 0, absmax, 0, absmax, 4, new float[256], new float[256]);
        }

        int[] codes(int which) {
            MemorySegment c = which == 0 ? codes1 : codes2;
            int[] out = new int[n];
            for (int i = 0; i < n; i++) out[i] = c.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
            return out;
        }

        void setCode(int which, int i, int code) {
            (which == 0 ? codes1 : codes2).set(ValueLayout.JAVA_BYTE, i, (byte) code);
        }

        float absmax(int which) {
            return absmax.get(F32, 4L * which);
        }

        void setAbsmax(int which, float value) {
            absmax.set(F32, 4L * which, value);
        }
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}
