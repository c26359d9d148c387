package io.qlora4j.kernels;

import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link SwiGlu} conformance, run against every backend: forward against float64 silu(g)·u, including gates far in
 * both tails (±100, where e^−g overflows or vanishes); backward against finite differences; in-place use (outputs over
 * inputs) equals out-of-place; the fast backend against the reference; identical bits at 1 and 2 threads.
 */
class SwiGluConformanceTest {

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void forwardMatchesFloat64(String name, Backend backend) {
        Backends.assumePresent(backend);
        int rows = 7, hidden = 173;
        SplittableRandom rnd = new SplittableRandom(1);
        float[] gate = Backends.gaussian(rnd, rows * hidden, 4.0);
        float[] up = Backends.gaussian(rnd, rows * hidden, 1.0);
        gate[0] = 100f;
        gate[1] = -100f;
        gate[2] = 0f;
        gate[rows * hidden - 1] = -90f;
        float[] out = new float[rows * hidden];
        backend.swiglu().swigluForward(out, gate, up, rows, hidden);
        double[] expected = naiveForward(Backends.toDouble(gate), Backends.toDouble(up));
        Tolerance.assertClose(name, expected, out, 1e-7, 1e-6);
        Measured.report("swiglu forward vs float64 " + name, expected, out);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void backwardMatchesFiniteDifferences(String name, Backend backend) {
        Backends.assumePresent(backend);
        int rows = 3, hidden = 21;
        SplittableRandom rnd = new SplittableRandom(2);
        float[] gate = Backends.gaussian(rnd, rows * hidden, 3.0);
        float[] up = Backends.gaussian(rnd, rows * hidden, 1.0);
        float[] dOut = Backends.gaussian(rnd, rows * hidden, 1.0);
        float[] dGate = new float[rows * hidden];
        float[] dUp = new float[rows * hidden];
        backend.swiglu().swigluBackward(dGate, dUp, dOut, gate, up, rows, hidden);
        double[] g = Backends.toDouble(gate), u = Backends.toDouble(up);
        double[] numGate = GradCheck.numeric(g, x -> GradCheck.dot(dOut, naiveForward(x, u)));
        double[] numUp = GradCheck.numeric(u, x -> GradCheck.dot(dOut, naiveForward(g, x)));
        Tolerance.assertClose(name + " dGate", numGate, dGate, 1e-6, 1e-5);
        Tolerance.assertClose(name + " dUp", numUp, dUp, 1e-6, 1e-5);
        Measured.report("swiglu dGate vs finite differences " + name, numGate, dGate);
        Measured.report("swiglu dUp vs finite differences " + name, numUp, dUp);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void inPlaceEqualsOutOfPlace(String name, Backend backend) {
        Backends.assumePresent(backend);
        int rows = 5, hidden = 100;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] gate = Backends.gaussian(rnd, rows * hidden, 2.0);
        float[] up = Backends.gaussian(rnd, rows * hidden, 1.0);
        float[] dOut = Backends.gaussian(rnd, rows * hidden, 1.0);
        float[] out = new float[rows * hidden];
        float[] dGate = new float[rows * hidden];
        float[] dUp = new float[rows * hidden];
        backend.swiglu().swigluForward(out, gate, up, rows, hidden);
        backend.swiglu().swigluBackward(dGate, dUp, dOut, gate, up, rows, hidden);
        float[] g = gate.clone(), u = up.clone();
        backend.swiglu().swigluBackward(g, u, dOut, g, u, rows, hidden);
        assertArrayEquals(dGate, g, "dGate written over gate");
        assertArrayEquals(dUp, u, "dUp written over up");
        float[] inPlace = gate.clone();
        backend.swiglu().swigluForward(inPlace, inPlace, up, rows, hidden);
        assertArrayEquals(out, inPlace, "out written over gate");
    }

    @Test
    void fastBackendMatchesReference() {
        int rows = 33, hidden = 1000 + 3;
        SplittableRandom rnd = new SplittableRandom(4);
        float[] gate = Backends.gaussian(rnd, rows * hidden, 5.0);
        float[] up = Backends.gaussian(rnd, rows * hidden, 1.0);
        float[] dOut = Backends.gaussian(rnd, rows * hidden, 1.0);
        float[][] r = run(Backend.reference().swiglu(), gate, up, dOut, rows, hidden);
        float[][] f = run(Backend.cpu().swiglu(), gate, up, dOut, rows, hidden);
        String[] names = {"out", "dGate", "dUp"};
        for (int i = 0; i < 3; i++) {
            // only e^−g differs (polynomial ≤ 2 ulp vs Math.exp), a few ulps after the divisions
            Tolerance.assertClose("fast vs reference " + names[i], r[i], f[i], 1e-7, 2e-6);
            Measured.report("swiglu fast vs reference " + names[i], r[i], f[i]);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void identicalBitsAtOneAndTwoThreads(String name, Backend backend) {
        Backends.assumePresent(backend);
        int rows = 16, hidden = 5000 + 9;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] gate = Backends.gaussian(rnd, rows * hidden, 3.0);
        float[] up = Backends.gaussian(rnd, rows * hidden, 1.0);
        float[] dOut = Backends.gaussian(rnd, rows * hidden, 1.0);
        float[][][] results = new float[2][][];
        Backends.atOneAndTwoThreads(t -> results[t - 1] = run(backend.swiglu(), gate, up, dOut, rows, hidden));
        for (int i = 0; i < 3; i++) assertArrayEquals(results[0][i], results[1][i], name + " output " + i);
    }

    @Test
    void rejectsShortArraysAndAliasedGradients() {
        SwiGlu k = Backend.cpu().swiglu();
        assertThrows(IllegalArgumentException.class, () -> k.swigluForward(new float[6], new float[5], new float[6], 2, 3));
        float[] same = new float[6];
        assertThrows(IllegalArgumentException.class,
                () -> k.swigluBackward(same, same, new float[6], new float[6], new float[6], 2, 3));
    }

    private static float[][] run(SwiGlu k, float[] gate, float[] up, float[] dOut, int rows, int hidden) {
        float[] out = new float[gate.length], dGate = new float[gate.length], dUp = new float[gate.length];
        k.swigluForward(out, gate, up, rows, hidden);
        k.swigluBackward(dGate, dUp, dOut, gate, up, rows, hidden);
        return new float[][]{out, dGate, dUp};
    }

    static double[] naiveForward(double[] gate, double[] up) {
        double[] out = new double[gate.length];
        for (int i = 0; i < out.length; i++) out[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
        return out;
    }
}
