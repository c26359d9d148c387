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
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Rope} and {@link RopeTable} conformance, run against every backend and both layouts: forward against a
 * float64 rotation; backward against finite differences; HF's half-split layout on HF-permuted columns equals the
 * interleaved layout on the Meta columns (bit for bit); llama3 and linear scaling against values derived by hand;
 * rows at an offset (KV-cache generation) equal the same rows of a full-sequence call; position errors.
 */
class RopeConformanceTest {

    static Stream<Arguments> backendsAndLayouts() {
        List<Arguments> cases = new ArrayList<>();
        Backends.namedWithCuda().forEach(b -> {
            for (RopeLayout layout : RopeLayout.values()) cases.add(Arguments.of(b.get()[0], b.get()[1], layout));
        });
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("backendsAndLayouts")
    void forwardMatchesFloat64Rotation(String name, Backend backend, RopeLayout layout) {
        Backends.assumePresent(backend);
        int rows = 12, heads = 3, hs = 16;
        RopeTable table = RopeTable.build(hs, 10000f, RopeScaling.NONE, layout, 64);
        SplittableRandom rnd = new SplittableRandom(1);
        float[] x = Backends.gaussian(rnd, rows * heads * hs, 1.0);
        int[] positions = randomPositions(rnd, rows, 40);
        float[] y = x.clone();
        backend.rope().ropeForward(y, positions, rows, heads, table);
        double[] expected = naiveRope(Backends.toDouble(x), positions, rows, heads, hs, 10000, layout, 1);
        // the fp32 angle fl(pos · inv_freq) is HF's; it differs from the float64 angle by up to pos·2^-24 rad
        Tolerance.assertClose(name + " " + layout, expected, y, 1e-5, 1e-5);
        Measured.report("rope forward vs float64 " + name + " " + layout, expected, y);
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("backendsAndLayouts")
    void backwardMatchesFiniteDifferences(String name, Backend backend, RopeLayout layout) {
        Backends.assumePresent(backend);
        int rows = 4, heads = 2, hs = 8;
        RopeTable table = RopeTable.build(hs, 10000f, RopeScaling.NONE, layout, 32);
        SplittableRandom rnd = new SplittableRandom(2);
        float[] x = Backends.gaussian(rnd, rows * heads * hs, 1.0);
        float[] dOut = Backends.gaussian(rnd, rows * heads * hs, 1.0);
        int[] positions = randomPositions(rnd, rows, 32);
        float[] dX = dOut.clone();
        backend.rope().ropeBackward(dX, positions, rows, heads, table);
        double[] numeric = GradCheck.numeric(Backends.toDouble(x),
                xv -> GradCheck.dot(dOut, naiveRope(xv, positions, rows, heads, hs, 10000, layout, 1)));
        Tolerance.assertClose(name + " dX " + layout, numeric, dX, 1e-5, 1e-5);
        Measured.report("rope dX vs finite differences " + name + " " + layout, numeric, dX);
    }

    /** HF's checkpoint converter permutes q/k rows per head so that rotate_half on its output equals Meta's pairs. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void halfSplitOnPermutedColumnsEqualsInterleavedOnOriginal(String name, Backend backend) {
        Backends.assumePresent(backend);
        int rows = 6, heads = 4, hs = 64;
        RopeTable interleaved = RopeTable.build(hs, 500000f, RopeScaling.NONE, RopeLayout.INTERLEAVED, 128);
        RopeTable halfSplit = RopeTable.build(hs, 500000f, RopeScaling.NONE, RopeLayout.HALF_SPLIT, 128);
        SplittableRandom rnd = new SplittableRandom(3);
        float[] meta = Backends.gaussian(rnd, rows * heads * hs, 1.0);
        int[] positions = randomPositions(rnd, rows, 128);
        float[] hf = permuteToHf(meta, rows, heads, hs);
        backend.rope().ropeForward(meta, positions, rows, heads, interleaved);
        backend.rope().ropeForward(hf, positions, rows, heads, halfSplit);
        assertArrayEquals(permuteToHf(meta, rows, heads, hs), hf);
    }

    /**
     * Derived by hand from §8.3 for HS 8, theta 10000 (inv_freq = 1, 0.1, 0.01, 0.001; wavelengths 2π·{1, 10, 100,
     * 1000}) with factor 8, low 1, high 4, original length 1024 (so low-frequency wavelength 1024, high 256):
     * j=0 (6.28) and j=1 (62.8) are below 256 and kept; j=3 (6283) is above 1024 and becomes 0.001/8 = 1.25e-4;
     * j=2 (628.3) is in between: s = (1024/628.3185 − 1)/(4 − 1) = 0.2099155, giving
     * (1 − s)·0.01/8 + s·0.01 = 0.00308676.
     */
    @Test
    void llama3ScalingMatchesHandDerivedFrequencies() {
        float[] inv = RopeTable.inverseFrequencies(8, 10000f, new RopeScaling.Llama3(8f, 1f, 4f, 1024));
        Tolerance.assertClose("llama3 inv_freq", new double[]{1, 0.1, 0.003086760967011274, 0.000125}, inv, 0, 1e-6);
        float[] linear = RopeTable.inverseFrequencies(8, 10000f, new RopeScaling.Linear(4f));
        Tolerance.assertClose("linear inv_freq", new double[]{0.25, 0.025, 0.0025, 0.00025}, linear, 0, 1e-6);
        float[] plain = RopeTable.inverseFrequencies(8, 10000f, RopeScaling.NONE);
        Tolerance.assertClose("default inv_freq", new double[]{1, 0.1, 0.01, 0.001}, plain, 0, 1e-6);
        RopeTable table = RopeTable.build(8, 10000f, new RopeScaling.Llama3(8f, 1f, 4f, 1024), RopeLayout.HALF_SPLIT, 300);
        assertEquals((float) Math.cos(299 * inv[2]), table.cos(299, 2), "cos of the fp32 angle fl(299·inv_freq)");
        assertEquals((float) Math.sin(299 * inv[3]), table.sin(299, 3));
    }

    /** Generation: new rows rotated at positions cached..cached+n−1 equal the same rows of the full sequence. */
    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("backendsAndLayouts")
    void rowsAtAnOffsetEqualTheFullSequence(String name, Backend backend, RopeLayout layout) {
        Backends.assumePresent(backend);
        int batch = 2, length = 9, cached = 6, heads = 2, hs = 16, width = heads * hs;
        RopeTable table = RopeTable.build(hs, 10000f, RopeScaling.NONE, layout, 16);
        float[] full = Backends.gaussian(new SplittableRandom(4), batch * length * width, 1.0);
        float[] tail = new float[batch * (length - cached) * width];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(full, (b * length + cached) * width, tail, b * (length - cached) * width, (length - cached) * width);
        }
        backend.rope().ropeForward(full, RopeTable.sequentialPositions(batch, length, 0), batch * length, heads, table);
        backend.rope().ropeForward(tail, RopeTable.sequentialPositions(batch, length - cached, cached),
                batch * (length - cached), heads, table);
        for (int b = 0; b < batch; b++) {
            assertArrayEquals(Arrays.copyOfRange(full, (b * length + cached) * width, (b + 1) * length * width),
                    Arrays.copyOfRange(tail, b * (length - cached) * width, (b + 1) * (length - cached) * width), "sequence " + b);
        }
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("backendsAndLayouts")
    void backwardUndoesForward(String name, Backend backend, RopeLayout layout) {
        Backends.assumePresent(backend);
        RopeTable table = RopeTable.build(32, 10000f, RopeScaling.NONE, layout, 2048);
        float[] x = Backends.gaussian(new SplittableRandom(5), 5 * 2 * 32, 1.0);
        int[] positions = {0, 1, 100, 1000, 2047};
        float[] y = x.clone();
        backend.rope().ropeForward(y, positions, 5, 2, table);
        backend.rope().ropeBackward(y, positions, 5, 2, table);
        Tolerance.assertClose(name + " round trip", x, y, 1e-6, 1e-6);
    }

    @Test
    void rejectsPositionsOutsideTheTableAndOddHeadSizes() {
        RopeTable table = RopeTable.build(8, 10000f, RopeScaling.NONE, RopeLayout.HALF_SPLIT, 16);
        var e = assertThrows(IllegalArgumentException.class,
                () -> Backend.cpu().rope().ropeForward(new float[16], new int[]{3, 16}, 2, 1, table));
        assertTrue(e.getMessage().contains("positions[1] = 16 is outside the rope table's [0, 16)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> RopeTable.inverseFrequencies(7, 10000f, RopeScaling.NONE));
        assertTrue(e.getMessage().contains("headSize must be even"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new RopeScaling.Llama3(8f, 4f, 1f, 8192));
    }

    /** HF column c·HS/2 + j of each head is Meta column 2j + c (convert_llama_weights_to_hf.py permute). */
    static float[] permuteToHf(float[] meta, int rows, int heads, int hs) {
        float[] hf = new float[meta.length];
        for (int r = 0; r < rows * heads; r++) {
            for (int j = 0; j < hs / 2; j++) {
                for (int c = 0; c < 2; c++) hf[r * hs + c * hs / 2 + j] = meta[r * hs + 2 * j + c];
            }
        }
        return hf;
    }

    /** Float64 RoPE: pair j of each head rotated by direction·pos/theta^(2j/HS). */
    static double[] naiveRope(double[] x, int[] positions, int rows, int heads, int hs, double theta, RopeLayout layout,
                              int direction) {
        double[] y = x.clone();
        for (int r = 0; r < rows; r++) {
            for (int h = 0; h < heads; h++) {
                for (int j = 0; j < hs / 2; j++) {
                    double angle = direction * positions[r] / Math.pow(theta, 2.0 * j / hs);
                    int a = (r * heads + h) * hs + layout.first(j, hs);
                    int b = (r * heads + h) * hs + layout.second(j, hs);
                    y[a] = x[a] * Math.cos(angle) - x[b] * Math.sin(angle);
                    y[b] = x[a] * Math.sin(angle) + x[b] * Math.cos(angle);
                }
            }
        }
        return y;
    }

    private static int[] randomPositions(SplittableRandom rnd, int rows, int max) {
        int[] p = new int[rows];
        for (int i = 0; i < rows; i++) p[i] = rnd.nextInt(max);
        return p;
    }
}
