package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.AdamW;
import io.qlora4j.kernels.AdamWStep;
import io.qlora4j.kernels.AttentionShape;
import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.Matmul;
import io.qlora4j.kernels.QuantizedWeight;
import io.qlora4j.kernels.Rope;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.kernels.RopeScaling;
import io.qlora4j.kernels.RopeTable;
import io.qlora4j.kernels.cpu.ReferenceAdamW;
import io.qlora4j.kernels.cpu.ReferenceAttention;
import io.qlora4j.kernels.cpu.ReferenceMatmul;
import io.qlora4j.kernels.cpu.ReferenceRope;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.kernels.quant.ReferenceBlockwise;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA kernels whose contract is bit-identity with the reference: dequantization (every 4- and 8-bit type, plain and
 * double-quantized constants, ranges starting and ending mid-block), the matrix products (dense and NF4, with and
 * without accumulation, shapes that are not multiples of the launch width), RoPE, the attention backward pass, and the
 * 32-bit and 8-bit AdamW updates. rmsnorm, swiglu, cross-entropy and the attention forward pass run in their conformance
 * suites (io.qlora4j.kernels). Skipped, with the probe's reason, without a CUDA device.
 */
@Tag("gpu")
class CudaKernelsTest {

    private CudaDevice device;

    /** Per test, not per class: surefire reports a class aborted in @BeforeAll as zero tests, not as skipped ones. */
    @BeforeEach
    void device() {
        CudaDevice.Probe p = CudaDevice.probe();
        assumeTrue(p.available(), "skipped: no CUDA device: " + p.reason());
        device = CudaDevice.get();
    }

    static Stream<Arguments> quantCases() {
        List<Arguments> cases = new ArrayList<>();
        for (QuantType type : QuantType.values()) {
            for (boolean doubleQuant : new boolean[]{false, true}) {
                for (int n : new int[]{1, 63, 64 * 300 + 17, 256 * 64 * 3 + 5}) cases.add(Arguments.of(type, doubleQuant, n));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} doubleQuant={1} n={2}")
    @MethodSource("quantCases")
    void dequantizeIsBitIdenticalToTheReference(QuantType type, boolean doubleQuant, int n) {
        SplittableRandom rnd = new SplittableRandom(n * 31L + type.ordinal());
        float[] x = gaussian(rnd, n);
        QuantizedTensor t = QuantizedTensor.quantize(x, new int[]{n}, type, 64, doubleQuant);
        CudaBlockwise cuda = new CudaBlockwise(device);
        for (long[] range : new long[][]{{0, n}, {n / 3, n - n / 3 - n / 5}, {n - 1, 1}}) {
            int len = (int) range[1];
            float[] expected = new float[len + 2];
            float[] actual = new float[len + 2];
            ReferenceBlockwise.INSTANCE.dequantize(type.codebook(), 64, t.codes(), t.scales(), range[0], len, expected, 2);
            cuda.dequantize(type.codebook(), 64, t.codes(), t.scales(), range[0], len, actual, 2);
            assertArrayEquals(expected, actual, type + " range " + range[0] + "+" + len);
        }
    }

    static Stream<Arguments> matmulShapes() {
        List<Arguments> s = new ArrayList<>();
        for (int[] shape : new int[][]{{1, 8, 8}, {5, 64, 64}, {6, 32, 33}, {13, 100, 31}, {100, 288, 768}, {2, 1, 5}, {3, 4160, 17}}) {
            for (boolean quantized : new boolean[]{false, true}) s.add(Arguments.of(shape[0], shape[1], shape[2], quantized));
        }
        return s.stream();
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} quantized={3}")
    @MethodSource("matmulShapes")
    void matmulIsBitIdenticalToTheReference(int m, int k, int n, boolean quantized) {
        SplittableRandom rnd = new SplittableRandom(m * 1_000_003L + k * 1009L + n);
        float[] x = gaussian(rnd, m * k);
        float[] w = gaussian(rnd, n * k);
        LinearWeight weight = quantized
                ? new QuantizedWeight(QuantizedTensor.quantize(w, new int[]{n, k}, QuantType.NF4, 64, true))
                : new DenseWeight(w, n, k);
        float[] dOut = gaussian(rnd, m * n);
        Matmul ref = ReferenceMatmul.INSTANCE, cuda = new CudaMatmul(device);
        for (boolean accumulate : new boolean[]{false, true}) {
            float[] initialOut = gaussian(rnd, m * n), initialDIn = gaussian(rnd, m * k);
            float[] refOut = initialOut.clone(), cudaOut = initialOut.clone();
            ref.forward(refOut, x, weight, m, accumulate);
            cuda.forward(cudaOut, x, weight, m, accumulate);
            assertArrayEquals(refOut, cudaOut, "forward accumulate=" + accumulate);
            float[] refDIn = initialDIn.clone(), cudaDIn = initialDIn.clone();
            ref.backwardInput(refDIn, dOut, weight, m, accumulate);
            cuda.backwardInput(cudaDIn, dOut, weight, m, accumulate);
            assertArrayEquals(refDIn, cudaDIn, "backwardInput accumulate=" + accumulate);
        }
        float[] refDW = gaussian(rnd, n * k), cudaDW = refDW.clone();
        ref.backwardWeight(refDW, dOut, x, m, n, k);
        cuda.backwardWeight(cudaDW, dOut, x, m, n, k);
        assertArrayEquals(refDW, cudaDW, "backwardWeight");
    }

    @Test
    void adamw32bitIsBitIdenticalToTheReferenceOnASlice() {
        int n = 10_000, off = 7;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] p = gaussian(rnd, n + off), g = gaussian(rnd, n + off), m = gaussian(rnd, n + off), v = new float[n + off];
        for (int i = 0; i < v.length; i++) v[i] = Math.abs(m[i]) * 0.01f;
        float[][] ref = {p.clone(), m.clone(), v.clone()}, cuda = {p.clone(), m.clone(), v.clone()};
        AdamW cudaAdamW = new CudaAdamW(device);
        for (int t = 1; t <= 3; t++) {
            AdamWStep step = new AdamWStep(t, 1e-3f, 0.9f, 0.999f, 1e-8f, t == 3 ? 0.01f : 0f, 0.5f);
            ReferenceAdamW.INSTANCE.adamw32bit(ref[0], off, g, off, ref[1], off, ref[2], off, n, step);
            cudaAdamW.adamw32bit(cuda[0], off, g, off, cuda[1], off, cuda[2], off, n, step);
        }
        assertArrayEquals(ref[0], cuda[0], "param");
        assertArrayEquals(ref[1], cuda[1], "m");
        assertArrayEquals(ref[2], cuda[2], "v");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(RopeLayout.class)
    void ropeIsBitIdenticalToTheReference(RopeLayout layout) {
        int rows = 37, heads = 5, hs = 64;
        RopeTable table = RopeTable.build(hs, 10000f, RopeScaling.NONE, layout, 512);
        int[] positions = RopeTable.sequentialPositions(1, rows, 300);
        float[] x = gaussian(new SplittableRandom(11), rows * heads * hs);
        float[] ref = x.clone(), cuda = x.clone();
        Rope gpu = new CudaRope(device);
        ReferenceRope.INSTANCE.ropeForward(ref, positions, rows, heads, table);
        gpu.ropeForward(cuda, positions, rows, heads, table);
        assertArrayEquals(ref, cuda, "forward");
        ReferenceRope.INSTANCE.ropeBackward(ref, positions, rows, heads, table);
        gpu.ropeBackward(cuda, positions, rows, heads, table);
        assertArrayEquals(ref, cuda, "backward");
    }

    /**
     * The backward pass, given the same probabilities, is bit-identical (sequential fmaf in the reference's order); the
     * forward pass is within tolerance (expf, float64 normaliser) and is checked in AttentionConformanceTest.
     */
    @Test
    void attentionBackwardIsBitIdenticalToTheReferenceGivenTheProbabilities() {
        for (AttentionShape s : new AttentionShape[]{AttentionShape.causal(2, 37, 4, 2, 16),
                new AttentionShape(1, 3, 40, 37, 8, 2, 32)}) {
            SplittableRandom rnd = new SplittableRandom(s.hashCode());
            float[] q = gaussian(rnd, s.querySize()), k = gaussian(rnd, s.keySize()), v = gaussian(rnd, s.keySize());
            float[] dOut = gaussian(rnd, s.querySize());
            float[] probs = new float[s.probsSize()];
            ReferenceAttention.INSTANCE.attentionForward(new float[s.querySize()], probs, q, k, v, s);
            float[][] ref = {new float[s.querySize()], new float[s.keySize()], new float[s.keySize()]};
            float[][] cuda = {new float[s.querySize()], new float[s.keySize()], new float[s.keySize()]};
            ReferenceAttention.INSTANCE.attentionBackward(ref[0], ref[1], ref[2], dOut, q, k, v, probs, s);
            new CudaAttention(device).attentionBackward(cuda[0], cuda[1], cuda[2], dOut, q, k, v, probs, s);
            assertArrayEquals(ref[0], cuda[0], s + " dq");
            assertArrayEquals(ref[1], cuda[1], s + " dk");
            assertArrayEquals(ref[2], cuda[2], s + " dv");
        }
    }

    /** Several steps over a slice with partial last block, non-finite gradients and weight decay, bit for bit. */
    @Test
    void adamw8bitIsBitIdenticalToTheReferenceOnASlice() {
        int n = 256 * 5 + 77, off = 256, absOff = 3;
        int blocks = (n + 255) / 256;
        SplittableRandom rnd = new SplittableRandom(8);
        float[] p = gaussian(rnd, off + n), g = gaussian(rnd, off + n);
        g[off + 5] = Float.NaN;
        g[off + 300] = Float.POSITIVE_INFINITY;
        byte[] m = new byte[off + n], v = new byte[off + n];
        float[] am = new float[absOff + blocks], av = new float[absOff + blocks];
        Object[] ref = {p.clone(), m.clone(), v.clone(), am.clone(), av.clone()};
        Object[] cuda = {p.clone(), m.clone(), v.clone(), am.clone(), av.clone()};
        AdamW cudaAdamW = new CudaAdamW(device);
        for (int t = 1; t <= 4; t++) {
            AdamWStep step = new AdamWStep(t, 1e-3f, 0.9f, 0.999f, 1e-8f, t >= 3 ? 0.01f : 0f, 0.7f);
            ReferenceAdamW.INSTANCE.adamw8bit((float[]) ref[0], off, g, off, (byte[]) ref[1], off, (byte[]) ref[2], off,
                    (float[]) ref[3], (float[]) ref[4], absOff, n, step);
            cudaAdamW.adamw8bit((float[]) cuda[0], off, g, off, (byte[]) cuda[1], off, (byte[]) cuda[2], off,
                    (float[]) cuda[3], (float[]) cuda[4], absOff, n, step);
        }
        assertArrayEquals((float[]) ref[0], (float[]) cuda[0], "param");
        assertArrayEquals((byte[]) ref[1], (byte[]) cuda[1], "m codes");
        assertArrayEquals((byte[]) ref[2], (byte[]) cuda[2], "v codes");
        assertArrayEquals((float[]) ref[3], (float[]) cuda[3], "absmax m");
        assertArrayEquals((float[]) ref[4], (float[]) cuda[4], "absmax v");
    }

    @Test
    void sumOfSquaresAgreesWithTheReferenceAndIsDeterministic() {
        SplittableRandom rnd = new SplittableRandom(9);
        float[] x = gaussian(rnd, 100_003);
        AdamW cuda = new CudaAdamW(device);
        double expected = ReferenceAdamW.INSTANCE.sumOfSquares(x, 3, 100_000);
        double actual = cuda.sumOfSquares(x, 3, 100_000);
        assertEquals(expected, actual, 1e-12 * expected);
        assertEquals(actual, cuda.sumOfSquares(x, 3, 100_000));
        assertEquals(0.0, cuda.sumOfSquares(x, 0, 0));
    }

    /** Arguments are validated on the host, before any device memory is touched. */
    @Test
    void matmulRejectsShortArraysBeforeTouchingTheDevice() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new CudaMatmul(device).forward(new float[3], new float[8], new DenseWeight(new float[8], 2, 4), 2, false));
        assertEquals("CudaMatmul.forward: out has 3 elements, needs at least 4 (2, 2) row-major", e.getMessage());
        assertTrue(device.memoryInfo().freeBytes() > 0);
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }
}
