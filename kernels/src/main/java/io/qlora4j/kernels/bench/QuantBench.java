package io.qlora4j.kernels.bench;

import io.qlora4j.kernels.Parallel;
import io.qlora4j.kernels.quant.BlockwiseKernels;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.kernels.quant.ReferenceBlockwise;
import io.qlora4j.kernels.quant.VectorBlockwise;

import java.io.PrintStream;
import java.util.SplittableRandom;

/**
 * Quantize and dequantize throughput in GB/s of fp32 data (4 bytes per element, the size of the tensor being quantized
 * or produced), for 1 and 2 threads, next to a plain memory copy of the same fp32 bytes timed in the same run: the copy
 * is the bandwidth bound a dequantizer (which reads 1/8 of those bytes and writes all of them) can approach.
 */
public final class QuantBench {

    private QuantBench() {
    }

    public static void run(PrintStream out, int elements, int[] threadCounts, double secondsPerCase) {
        SplittableRandom rnd = new SplittableRandom(1);
        float[] src = new float[elements];
        for (int i = 0; i < elements; i++) src[i] = (float) (rnd.nextGaussian() * 0.02);
        float[] dst = new float[elements];
        double gb = elements * 4.0 / 1e9;
        out.printf("quantization throughput: %d fp32 elements (%.0f MB), blocksize 64; GB/s of fp32 data%n", elements, gb * 1e3);
        out.printf("kernels: %s%n", VectorBlockwise.isSupported() ? "Vector API (512-bit)" : "reference loops (no 512-bit vectors)");
        out.printf("%-34s %8s %12s %10s%n", "case", "threads", "GB/s", "vs copy");
        int original = Parallel.threads();
        try {
            for (int threads : threadCounts) {
                Parallel.setThreads(threads);
                double copy = gb / BenchTimer.medianSeconds(() -> copy(src, dst), 2, 5, secondsPerCase);
                out.printf("%-34s %8d %12.2f %10s%n", "memory copy (fp32 -> fp32)", threads, copy, "1.00");
                for (QuantType type : new QuantType[]{QuantType.NF4, QuantType.FP4, QuantType.INT4, QuantType.INT8}) {
                    for (boolean dq : type == QuantType.NF4 ? new boolean[]{false, true} : new boolean[]{false}) {
                        String name = type.cliName() + (dq ? "+dq" : "");
                        QuantizedTensor q = QuantizedTensor.quantize(src, new int[]{elements}, type, 64, dq);
                        double quant = gb / BenchTimer.medianSeconds(
                                () -> QuantizedTensor.quantize(src, new int[]{elements}, type, 64, dq), 1, 3, secondsPerCase);
                        double deq = gb / BenchTimer.medianSeconds(() -> dequantizeInto(q, dst), 2, 5, secondsPerCase);
                        out.printf("%-34s %8d %12.2f %10.2f%n", "quantize " + name, threads, quant, quant / copy);
                        out.printf("%-34s %8d %12.2f %10.2f%n", "dequantize " + name, threads, deq, deq / copy);
                    }
                }
                QuantizedTensor nf4 = QuantizedTensor.quantize(src, new int[]{elements}, QuantType.NF4, 64, false);
                double ref = gb / BenchTimer.medianSeconds(() -> referenceDequantize(nf4, dst), 1, 3, secondsPerCase);
                out.printf("%-34s %8d %12.2f %10.2f%n", "dequantize nf4 (reference loops)", threads, ref, ref / copy);
            }
        } finally {
            Parallel.setThreads(original);
        }
    }

    private static void copy(float[] src, float[] dst) {
        int chunk = 1 << 18;
        Parallel.forRange(Math.ceilDiv(src.length, chunk), 1, (from, to) -> {
            int begin = from * chunk;
            int end = Math.min(src.length, to * chunk);
            System.arraycopy(src, begin, dst, begin, end - begin);
        });
    }

    /** The same chunking as {@link QuantizedTensor#dequantize()} but into a preallocated array (no allocation timed). */
    private static void dequantizeInto(QuantizedTensor q, float[] dst) {
        int chunk = 1 << 18;
        Parallel.forRange(Math.ceilDiv(dst.length, chunk), 1, (from, to) -> {
            int begin = from * chunk;
            int end = Math.min(dst.length, to * chunk);
            q.dequantizeRange(begin, end - begin, dst, begin);
        });
    }

    private static void referenceDequantize(QuantizedTensor q, float[] dst) {
        BlockwiseKernels k = ReferenceBlockwise.INSTANCE;
        int chunk = 1 << 18;
        Parallel.forRange(Math.ceilDiv(dst.length, chunk), 1, (from, to) -> {
            int begin = from * chunk;
            int end = Math.min(dst.length, to * chunk);
            k.dequantize(q.type().codebook(), q.blocksize(), q.codes(), q.scales(), begin, end - begin, dst, begin);
        });
    }

    public static void main(String[] args) {
        run(System.out, args.length > 0 ? Integer.parseInt(args[0]) : 1 << 26, new int[]{1, 2}, 1.0);
    }
}
