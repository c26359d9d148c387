package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.Matmul;
import io.qlora4j.kernels.Parallel;
import io.qlora4j.kernels.QuantizedWeight;
import io.qlora4j.kernels.cuda.CudaDevice;
import io.qlora4j.kernels.cuda.CudaMatmul;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * {@link Matmul} implementations against a float64 naive product (tolerance) and against {@link ReferenceMatmul}
 * (bit for bit, the rounding contract), for dense and NF4 weights, awkward shapes (tails of every tile size),
 * with and without accumulation, and at 1 and 2 threads.
 */
class MatmulConformanceTest {

    static List<Matmul> implementations() {
        List<Matmul> all = new ArrayList<>(List.of(ReferenceMatmul.INSTANCE));
        if (VectorMatmul.isSupported()) all.add(VectorMatmul.INSTANCE);
        if (CudaDevice.probe().available()) all.add(new CudaMatmul(CudaDevice.get()));   // CudaKernelsTest says when not
        return all;
    }

    static Stream<Arguments> shapes() {
        List<Arguments> s = new ArrayList<>();
        int[][] shapes = {{1, 8, 8}, {1, 64, 172}, {5, 64, 64}, {6, 32, 33}, {7, 172, 64}, {13, 100, 31},
                {100, 288, 768}, {37, 300, 1}, {2, 1, 5}, {64, 512, 64}};
        for (int[] shape : shapes) {
            for (boolean quantized : new boolean[]{false, true}) s.add(Arguments.of(shape[0], shape[1], shape[2], quantized));
        }
        return s.stream();
    }

    @ParameterizedTest(name = "M={0} K={1} N={2} quantized={3}")
    @MethodSource("shapes")
    void allProductsMatchReferenceBitForBitAndFloat64WithinTolerance(int m, int k, int n, boolean quantized) {
        SplittableRandom rnd = new SplittableRandom(m * 1_000_003L + k * 1009L + n);
        float[] x = random(rnd, m * k);
        float[] w = random(rnd, n * k);
        LinearWeight weight = quantized
                ? new QuantizedWeight(QuantizedTensor.quantize(w, new int[]{n, k}, QuantType.NF4, 64, true))
                : new DenseWeight(w, n, k);
        float[] wDecoded = new float[n * k];
        for (int j = 0; j < n; j++) weight.decode(j, 0, k, wDecoded, j * k);
        float[] dOut = random(rnd, m * n);
        float[] initial = random(rnd, Math.max(m * n, Math.max(m * k, n * k)));

        for (int threads : new int[]{1, 2}) {
            Parallel.setThreads(threads);
            float[] refOut = forward(ReferenceMatmul.INSTANCE, x, weight, m, n, initial);
            float[] refDIn = backwardInput(ReferenceMatmul.INSTANCE, dOut, weight, m, k, initial);
            float[] refDW = backwardWeight(ReferenceMatmul.INSTANCE, dOut, x, m, n, k, initial);
            // fp32 sums of L products of N(0,1) values: an absolute budget of 1e-6·L (observed errors are ~20× smaller)
            Tolerance.assertClose("forward vs float64", naiveForward(x, wDecoded, m, k, n, initial), refOut, 1e-6 * k, 1e-5);
            Tolerance.assertClose("dIn vs float64", naiveBackwardInput(dOut, wDecoded, m, k, n, initial), refDIn, 1e-6 * n, 1e-5);
            Tolerance.assertClose("dW vs float64", naiveBackwardWeight(dOut, x, m, k, n, initial), refDW, 1e-6 * m, 1e-5);
            for (Matmul impl : implementations()) {
                String name = impl.getClass().getSimpleName() + " threads=" + threads;
                assertArrayEquals(refOut, forward(impl, x, weight, m, n, initial), name + " forward");
                assertArrayEquals(refDIn, backwardInput(impl, dOut, weight, m, k, initial), name + " backwardInput");
                assertArrayEquals(refDW, backwardWeight(impl, dOut, x, m, n, k, initial), name + " backwardWeight");
            }
        }
        Parallel.setThreads(Runtime.getRuntime().availableProcessors());
    }

    /** The fused 4-bit product equals the dense product over the dequantized weight, exactly. */
    @Test
    void quantizedProductEqualsDenseProductOverDequantizedWeight() {
        SplittableRandom rnd = new SplittableRandom(99);
        int m = 23, k = 288, n = 96;
        float[] x = random(rnd, m * k);
        QuantizedTensor q = QuantizedTensor.quantize(random(rnd, n * k), new int[]{n, k}, QuantType.NF4, 64, true);
        for (Matmul impl : implementations()) {
            float[] a = new float[m * n];
            float[] b = new float[m * n];
            impl.forward(a, x, new QuantizedWeight(q), m, false);
            impl.forward(b, x, new DenseWeight(q.dequantize(), n, k), m, false);
            assertArrayEquals(b, a);
        }
    }

    /** Rows are independent: a row's output does not depend on the rows batched with it. */
    @Test
    void resultsDoNotDependOnBatching() {
        SplittableRandom rnd = new SplittableRandom(5);
        int m = 20, k = 130, n = 70;
        float[] x = random(rnd, m * k);
        DenseWeight w = new DenseWeight(random(rnd, n * k), n, k);
        for (Matmul impl : implementations()) {
            float[] all = new float[m * n];
            impl.forward(all, x, w, m, false);
            for (int r = 0; r < m; r++) {
                float[] one = new float[n];
                impl.forward(one, java.util.Arrays.copyOfRange(x, r * k, (r + 1) * k), w, 1, false);
                assertArrayEquals(java.util.Arrays.copyOfRange(all, r * n, (r + 1) * n), one, "row " + r);
            }
        }
    }

    private static float[] forward(Matmul impl, float[] x, LinearWeight w, int m, int n, float[] initial) {
        float[] out = java.util.Arrays.copyOf(initial, m * n);
        impl.forward(out, x, w, m, true);
        return out;
    }

    private static float[] backwardInput(Matmul impl, float[] dOut, LinearWeight w, int m, int k, float[] initial) {
        float[] fresh = new float[m * k];
        impl.backwardInput(fresh, dOut, w, m, false);
        float[] acc = java.util.Arrays.copyOf(initial, m * k);
        impl.backwardInput(acc, dOut, w, m, true);
        float[] both = new float[2 * m * k];
        System.arraycopy(fresh, 0, both, 0, m * k);
        System.arraycopy(acc, 0, both, m * k, m * k);
        return both;
    }

    private static float[] backwardWeight(Matmul impl, float[] dOut, float[] x, int m, int n, int k, float[] initial) {
        float[] dW = java.util.Arrays.copyOf(initial, n * k);
        impl.backwardWeight(dW, dOut, x, m, n, k);
        return dW;
    }

    private static double[] naiveForward(float[] x, float[] w, int m, int k, int n, float[] initial) {
        double[] out = new double[m * n];
        for (int r = 0; r < m; r++)
            for (int j = 0; j < n; j++) {
                double s = initial[r * n + j];
                for (int l = 0; l < k; l++) s += (double) x[r * k + l] * w[j * k + l];
                out[r * n + j] = s;
            }
        return out;
    }

    private static double[] naiveBackwardInput(float[] dOut, float[] w, int m, int k, int n, float[] initial) {
        double[] both = new double[2 * m * k];
        for (int r = 0; r < m; r++)
            for (int c = 0; c < k; c++) {
                double s = 0;
                for (int j = 0; j < n; j++) s += (double) dOut[r * n + j] * w[j * k + c];
                both[r * k + c] = s;
                both[m * k + r * k + c] = s + initial[r * k + c];
            }
        return both;
    }

    private static double[] naiveBackwardWeight(float[] dOut, float[] x, int m, int k, int n, float[] initial) {
        double[] dW = new double[n * k];
        for (int j = 0; j < n; j++)
            for (int c = 0; c < k; c++) {
                double s = initial[j * k + c];
                for (int r = 0; r < m; r++) s += (double) dOut[r * n + j] * x[r * k + c];
                dW[j * k + c] = s;
            }
        return dW;
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian();
        return v;
    }
}
