package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Backend;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The JIT-independent vector helpers: the polynomial exp is within 2 ulp of {@link Math#exp} over its range and exact
 * at the edges; the lane sum follows its documented tree; and, the reason they exist, both give the same bits before and
 * after C2 compiles them (the Vector API's own EXP and ADD reduction do not).
 */
class VectorMathTest {

    @BeforeAll
    static void needs512BitVectors() {
        assumeTrue(Backend.vectorSupported(), "skipped: no 512-bit vectors on this CPU");
    }

    @Test
    void expIsWithinTwoUlpOfMathExp() {
        SplittableRandom rnd = new SplittableRandom(1);
        float[] x = new float[1 << 20];
        for (int i = 0; i < x.length; i++) x[i] = (float) (VectorMath.EXP_MIN + rnd.nextDouble() * (VectorMath.EXP_MAX - VectorMath.EXP_MIN));
        for (int i = 0; i < 4096; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);   // the softmax range near 0
        float[] y = exp(x);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            float expected = (float) Math.exp(x[i]);
            worst = Math.max(worst, Math.abs(y[i] - expected) / Math.ulp(expected));
        }
        System.out.printf("MEASURED polynomial exp vs Math.exp on [%.2f, %.2f]: max %.2f ulp%n", VectorMath.EXP_MIN, VectorMath.EXP_MAX, worst);
        assertTrue(worst <= 2, "max error " + worst + " ulp");
    }

    @Test
    void expEdges() {
        float[] x = {0f, -0f, Float.NEGATIVE_INFINITY, -1000f, -87.4f, Float.POSITIVE_INFINITY, 100f, Float.NaN, 1f, -1f,
                88f, -87f, 1e-30f, -1e-30f, 0.5f, 2f};
        float[] y = exp(x);
        assertEquals(1f, y[0]);
        assertEquals(1f, y[1]);
        assertEquals(0f, y[2]);
        assertEquals(0f, y[3]);
        assertEquals(0f, y[4]);
        assertEquals(Float.POSITIVE_INFINITY, y[5]);
        assertEquals(Float.POSITIVE_INFINITY, y[6]);
        assertTrue(Float.isNaN(y[7]));
        assertEquals((float) Math.E, y[8], Math.ulp((float) Math.E));
        assertEquals(1f, y[12]);
        assertEquals(1f, y[13]);
    }

    @Test
    void laneSumFollowsTheDocumentedTree() {
        float[] lanes = new float[16];
        SplittableRandom rnd = new SplittableRandom(2);
        for (int i = 0; i < 16; i++) lanes[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(8)));
        float[] a = new float[16];
        for (int i = 0; i < 16; i++) a[i] = lanes[i] + lanes[i ^ 8];
        float[] b = new float[16];
        for (int i = 0; i < 16; i++) b[i] = a[i] + a[i ^ 4];
        float[] c = new float[16];
        for (int i = 0; i < 16; i++) c[i] = b[i] + b[i ^ 2];
        float expected = c[0] + c[1];
        assertEquals(Float.floatToRawIntBits(expected),
                Float.floatToRawIntBits(VectorMath.sum(FloatVector.fromArray(VectorMath.F, lanes, 0))));
    }

    /** Same bits on the first (interpreted) call and after 20,000 calls (C2-compiled). */
    @Test
    void resultsDoNotChangeAsTheJitWarmsUp() {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] x = new float[1024];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 10);
        float[] firstExp = exp(x);
        float firstSum = sumAll(x);
        float[] lastExp = null;
        float lastSum = 0;
        for (int k = 0; k < 20_000; k++) {
            lastExp = exp(x);
            lastSum = sumAll(x);
        }
        assertArrayEquals(firstExp, lastExp);
        assertEquals(Float.floatToRawIntBits(firstSum), Float.floatToRawIntBits(lastSum));
    }

    private static float[] exp(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += 16) VectorMath.exp(FloatVector.fromArray(VectorMath.F, x, i)).intoArray(y, i);
        return y;
    }

    private static float sumAll(float[] x) {
        float s = 0;
        for (int i = 0; i < x.length; i += 16) s += VectorMath.sum(FloatVector.fromArray(VectorMath.F, x, i));
        return s;
    }
}
