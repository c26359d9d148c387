package io.qlora4j.kernels;

import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link RmsNorm} conformance, run against every backend: forward against a float64 HF {@code LlamaRMSNorm}; backward
 * (dIn with and without accumulation, dWeight accumulated or null) against central finite differences of that float64
 * forward; the fast backend against the reference on larger shapes; identical bits at 1 and 2 threads; argument errors.
 */
class RmsNormConformanceTest {

    private static final float EPS = 1e-5f;

    static Stream<Arguments> backendsAndShapes() {
        List<Arguments> cases = new ArrayList<>();
        int[][] shapes = {{1, 8}, {3, 16}, {5, 37}, {4, 288}, {2, 1000}};
        Backends.namedWithCuda().forEach(b -> {
            for (int[] s : shapes) cases.add(Arguments.of(b.get()[0], b.get()[1], s[0], s[1]));
        });
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} rows={2} channels={3}")
    @MethodSource("backendsAndShapes")
    void forwardMatchesFloat64(String name, Backend backend, int rows, int channels) {
        Backends.assumePresent(backend);
        SplittableRandom rnd = new SplittableRandom(rows * 31L + channels);
        float[] x = Backends.gaussian(rnd, rows * channels, 2.0);
        float[] w = Backends.gaussian(rnd, channels, 1.0);
        float[] out = new float[rows * channels];
        float[] rstd = new float[rows];
        backend.rmsnorm().rmsnormForward(out, rstd, x, w, rows, channels, EPS);
        double[] expectedRstd = new double[rows];
        double[] expected = naiveForward(Backends.toDouble(x), Backends.toDouble(w), rows, channels, expectedRstd);
        // fp32: rstd within a few ulps, each output two roundings more
        Tolerance.assertClose(name + " out", expected, out, 1e-6, 1e-6);
        Tolerance.assertClose(name + " rstd", expectedRstd, rstd, 0, 1e-6);
        Measured.report("rmsnorm forward vs float64 " + name + " " + rows + "x" + channels, expected, out);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void backwardMatchesFiniteDifferences(String name, Backend backend) {
        Backends.assumePresent(backend);
        for (int[] s : new int[][]{{3, 8}, {2, 19}, {2, 40}}) {
            int rows = s[0], channels = s[1];
            SplittableRandom rnd = new SplittableRandom(channels);
            float[] x = Backends.gaussian(rnd, rows * channels, 1.5);
            float[] w = Backends.gaussian(rnd, channels, 1.0);
            float[] dOut = Backends.gaussian(rnd, rows * channels, 1.0);
            float[] out = new float[rows * channels];
            float[] rstd = new float[rows];
            backend.rmsnorm().rmsnormForward(out, rstd, x, w, rows, channels, EPS);

            float[] initialDIn = Backends.gaussian(rnd, rows * channels, 1.0);
            float[] initialDW = Backends.gaussian(rnd, channels, 1.0);
            float[] dIn = new float[rows * channels];
            float[] dInAcc = initialDIn.clone();
            float[] dW = initialDW.clone();
            backend.rmsnorm().rmsnormBackward(dIn, null, dOut, x, w, rstd, rows, channels, false);
            backend.rmsnorm().rmsnormBackward(dInAcc, dW, dOut, x, w, rstd, rows, channels, true);

            double[] wd = Backends.toDouble(w);
            double[] xd = Backends.toDouble(x);
            double[] numDIn = GradCheck.numeric(xd, xv -> GradCheck.dot(dOut, naiveForward(xv, wd, rows, channels, null)));
            double[] numDW = GradCheck.numeric(wd, wv -> GradCheck.dot(dOut, naiveForward(xd, wv, rows, channels, null)));
            String what = name + " " + rows + "x" + channels;
            Tolerance.assertClose(what + " dIn", numDIn, dIn, 1e-5, 1e-4);
            Tolerance.assertClose(what + " dWeight", plus(numDW, initialDW), dW, 1e-5, 1e-4);
            Tolerance.assertClose(what + " dIn accumulated", plus(numDIn, initialDIn), dInAcc, 1e-5, 1e-4);
            Measured.report("rmsnorm dIn vs finite differences " + what, numDIn, dIn);
        }
    }

    /** Forward on the same input; backward on the same input and saved rstd (the reference's), as in a real pass. */
    @Test
    void fastBackendMatchesReference() {
        RmsNorm ref = Backend.reference().rmsnorm();
        RmsNorm fast = Backend.cpu().rmsnorm();
        int rows = 64, channels = 4096 + 7;
        SplittableRandom rnd = new SplittableRandom(7);
        float[] x = Backends.gaussian(rnd, rows * channels, 3.0);
        float[] w = Backends.gaussian(rnd, channels, 1.0);
        float[] dOut = Backends.gaussian(rnd, rows * channels, 1.0);
        float[][] r = run(ref, x, w, dOut, rows, channels);
        float[] out = new float[rows * channels];
        float[] rstd = new float[rows];
        fast.rmsnormForward(out, rstd, x, w, rows, channels, EPS);
        Tolerance.assertClose("fast vs reference out", r[0], out, 1e-6, 1e-6);
        Tolerance.assertClose("fast vs reference rstd", r[1], rstd, 0, 1e-6);
        Measured.report("rmsnorm fast vs reference out", r[0], out);
        float[] dIn = new float[rows * channels];
        float[] dW = new float[channels];
        fast.rmsnormBackward(dIn, dW, dOut, x, w, r[1], rows, channels, false);
        // dIn differs only through the row projection Σ dn·n (float64 in order vs 16 fp32 lanes)
        Tolerance.assertClose("fast vs reference dIn", r[2], dIn, 1e-6, 1e-5);
        Measured.report("rmsnorm fast vs reference dIn", r[2], dIn);
        assertArrayEquals(r[3], dW, "dWeight: same elementwise operations in the same row order");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void identicalBitsAtOneAndTwoThreads(String name, Backend backend) {
        Backends.assumePresent(backend);
        int rows = 40, channels = 300;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] x = Backends.gaussian(rnd, rows * channels, 1.0);
        float[] w = Backends.gaussian(rnd, channels, 1.0);
        float[] dOut = Backends.gaussian(rnd, rows * channels, 1.0);
        float[][][] results = new float[2][][];
        Backends.atOneAndTwoThreads(t -> results[t - 1] = run(backend.rmsnorm(), x, w, dOut, rows, channels));
        for (int i = 0; i < results[0].length; i++) assertArrayEquals(results[0][i], results[1][i], name + " output " + i);
    }

    @Test
    void rejectsBadArguments() {
        RmsNorm k = Backend.cpu().rmsnorm();
        float[] x = new float[10];
        var e = assertThrows(IllegalArgumentException.class,
                () -> k.rmsnormForward(new float[12], null, x, new float[4], 3, 4, EPS));
        assertTrue(e.getMessage().contains("rmsnormForward: in has 10 elements, needs at least 12"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> k.rmsnormForward(x, null, x, new float[5], 2, 5, EPS));
        assertTrue(e.getMessage().contains("alias"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> k.rmsnormBackward(new float[8], null, new float[8], new float[8], new float[4], new float[1], 2, 4, false));
        assertTrue(e.getMessage().contains("rstd has 1 elements, needs at least 2"), e.getMessage());
    }

    /** {out, rstd, dIn, dWeight} of one forward and backward pass. */
    private static float[][] run(RmsNorm k, float[] x, float[] w, float[] dOut, int rows, int channels) {
        float[] out = new float[rows * channels];
        float[] rstd = new float[rows];
        float[] dIn = new float[rows * channels];
        float[] dW = new float[channels];
        k.rmsnormForward(out, rstd, x, w, rows, channels, EPS);
        k.rmsnormBackward(dIn, dW, dOut, x, w, rstd, rows, channels, false);
        return new float[][]{out, rstd, dIn, dW};
    }

    /** HF LlamaRMSNorm in float64: w · x / sqrt(mean(x²) + eps); fills rstd when given. */
    static double[] naiveForward(double[] x, double[] w, int rows, int channels, double[] rstd) {
        double[] out = new double[rows * channels];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < channels; i++) ss += x[r * channels + i] * x[r * channels + i];
            double s = 1 / Math.sqrt(ss / channels + EPS);
            if (rstd != null) rstd[r] = s;
            for (int i = 0; i < channels; i++) out[r * channels + i] = w[i] * x[r * channels + i] * s;
        }
        return out;
    }

    private static double[] plus(double[] a, float[] b) {
        double[] c = Arrays.copyOf(a, a.length);
        for (int i = 0; i < c.length; i++) c[i] += b[i];
        return c;
    }
}
