package io.qlora4j.kernels;

import io.qlora4j.kernels.cuda.CudaBackend;
import io.qlora4j.kernels.cuda.CudaDevice;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.provider.Arguments;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * What every conformance suite runs against: {@link Backend#reference()} and {@link Backend#cpu()} (the Vector API
 * kernels on a 512-bit CPU, the reference set again elsewhere), plus, for the families {@link CudaBackend} runs on the
 * GPU, the CUDA backend (skipped with the probe's reason where there is no device); and small helpers for test data and
 * thread counts.
 */
final class Backends {

    private Backends() {
    }

    static List<Backend> all() {
        return List.of(Backend.reference(), Backend.cpu());
    }

    /** ("reference" | "cpu", backend) pairs for {@code @MethodSource}. */
    static Stream<Arguments> named() {
        return Stream.of(Arguments.of("reference", Backend.reference()), Arguments.of("cpu", Backend.cpu()));
    }

    /**
     * {@link #named()} plus ("cuda", the CUDA backend, or null without a usable device): for the suites of the families
     * CudaBackend runs on the GPU (rmsnorm, rope, attention, swiglu, cross-entropy, adamw; matmul:
     * MatmulConformanceTest, CudaKernelsTest).
     * Each such test starts with {@link #assumePresent}.
     */
    static Stream<Arguments> namedWithCuda() {
        Backend cuda = CudaDevice.probe().available() ? CudaBackend.create(CudaDevice.get()) : null;
        return Stream.concat(named(), Stream.of(Arguments.of("cuda", cuda)));
    }

    /** Skips the "cuda" case of {@link #namedWithCuda()} where there is no device, saying why. */
    static void assumePresent(Backend backend) {
        Assumptions.assumeTrue(backend != null, () -> "skipped: no CUDA device: " + CudaDevice.probe().reason());
    }

    static float[] gaussian(SplittableRandom rnd, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * scale);
        return x;
    }

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }

    /** Runs {@code body} with the kernel pool at {@code threads}, restoring the previous size afterwards. */
    static void withThreads(int threads, Runnable body) {
        int before = Parallel.threads();
        Parallel.setThreads(threads);
        try {
            body.run();
        } finally {
            Parallel.setThreads(before);
        }
    }

    /** Runs {@code body} at 1 and at 2 threads; {@code body} receives the thread count. */
    static void atOneAndTwoThreads(Consumer<Integer> body) {
        for (int threads : new int[]{1, 2}) withThreads(threads, () -> body.accept(threads));
    }
}
