package io.qlora4j.kernels.bench;

import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.Matmul;
import io.qlora4j.kernels.Parallel;
import io.qlora4j.kernels.QuantizedWeight;
import io.qlora4j.kernels.cpu.ReferenceMatmul;
import io.qlora4j.kernels.cpu.VectorMatmul;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;

import java.io.PrintStream;
import java.util.SplittableRandom;

/**
 * The linear-layer products over an NF4+DQ weight vs the same products over an fp32 weight, in the same run: GFLOP/s
 * for batched shapes (training, prompt processing) and, for a single row (generation), the time against the
 * memory-bandwidth bound of streaming each weight once (its bytes / copy bandwidth measured in the same run).
 */
public final class MatmulBench {

    private MatmulBench() {
    }

    public static void run(PrintStream out, int[] threadCounts, double secondsPerCase) {
        Matmul mm = VectorMatmul.isSupported() ? VectorMatmul.INSTANCE : ReferenceMatmul.INSTANCE;
        out.printf("matmul kernels: %s%n", mm.getClass().getSimpleName());
        int[][] shapes = {{512, 288, 768}, {512, 768, 288}, {512, 4096, 4096}, {1, 4096, 4096}, {1, 288, 768}};
        int original = Parallel.threads();
        try {
            for (int threads : threadCounts) {
                Parallel.setThreads(threads);
                double copyGbs = copyBandwidth(secondsPerCase);
                out.printf("%nthreads=%d  memory copy %.2f GB/s%n", threads, copyGbs);
                out.printf("%-28s %-14s %10s %10s %12s%n", "shape (M x K -> N)", "product", "fp32", "nf4+dq", "nf4/fp32");
                for (int[] s : shapes) {
                    int m = s[0], k = s[1], n = s[2];
                    SplittableRandom rnd = new SplittableRandom(3);
                    float[] w = gaussian(rnd, n * k);
                    float[] x = gaussian(rnd, m * k);
                    float[] dOut = gaussian(rnd, m * n);
                    LinearWeight dense = new DenseWeight(w, n, k);
                    LinearWeight nf4 = new QuantizedWeight(QuantizedTensor.quantize(w, new int[]{n, k}, QuantType.NF4, 64, true));
                    String shape = m + " x " + k + " -> " + n;
                    float[] y = new float[m * n];
                    float[] dX = new float[m * k];
                    double flops = 2.0 * m * n * k;
                    double fwdD = BenchTimer.medianSeconds(() -> mm.forward(y, x, dense, m, false), 2, 3, secondsPerCase);
                    double fwdQ = BenchTimer.medianSeconds(() -> mm.forward(y, x, nf4, m, false), 2, 3, secondsPerCase);
                    if (m == 1) {
                        double boundD = dense.storageBytes() / (copyGbs * 1e9);
                        double boundQ = nf4.storageBytes() / (copyGbs * 1e9);
                        out.printf("%-28s %-14s %8.1fus %8.1fus %12.2f   (bandwidth bound: fp32 %.1fus, nf4 %.1fus; nf4 at %.0f%% of bound)%n",
                                shape, "forward", fwdD * 1e6, fwdQ * 1e6, fwdD / fwdQ, boundD * 1e6, boundQ * 1e6, 100 * boundQ / fwdQ);
                        continue;
                    }
                    double bwdD = BenchTimer.medianSeconds(() -> mm.backwardInput(dX, dOut, dense, m, false), 2, 3, secondsPerCase);
                    double bwdQ = BenchTimer.medianSeconds(() -> mm.backwardInput(dX, dOut, nf4, m, false), 2, 3, secondsPerCase);
                    out.printf("%-28s %-14s %7.1fGF %7.1fGF %12.2f%n", shape, "forward", flops / fwdD / 1e9, flops / fwdQ / 1e9, fwdD / fwdQ);
                    out.printf("%-28s %-14s %7.1fGF %7.1fGF %12.2f%n", shape, "backwardInput", flops / bwdD / 1e9, flops / bwdQ / 1e9, bwdD / bwdQ);
                }
            }
        } finally {
            Parallel.setThreads(original);
        }
    }

    /** Memory-copy bandwidth in GB/s (a large array copy over all threads): the baseline of bandwidth-bound cases. */
    public static double copyBandwidth(double seconds) {
        int n = 1 << 25;
        float[] a = new float[n];
        float[] b = new float[n];
        int chunk = 1 << 18;
        double t = BenchTimer.medianSeconds(() -> Parallel.forRange(n / chunk, 1,
                (from, to) -> System.arraycopy(a, from * chunk, b, from * chunk, (to - from) * chunk)), 2, 5, seconds);
        return n * 4.0 / t / 1e9;
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * 0.02);
        return v;
    }

    public static void main(String[] args) {
        run(System.out, new int[]{1, 2}, 1.0);
    }
}
