package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.Matmul;
import io.qlora4j.kernels.QuantizedWeight;
import io.qlora4j.kernels.quant.QuantizedTensor;

/**
 * {@link Matmul} on the GPU, bit-identical to {@link io.qlora4j.kernels.cpu.ReferenceMatmul} (the rounding contract:
 * one fmaf per product in ascending order of the summed index). A quantized weight is decoded inside the product
 * (kernels {@code matmul_*_quantized}), never materialized.
 *
 * <p>What it is not, yet: fast. One thread per output element in fp32, and every call copies its operands to the device
 * and the result back (the weight included), because the {@code Matmul} contract is over host arrays. The bf16
 * tensor-core product and device-resident weights and activations are the next steps of issue 8.
 * Dimension letters: M rows of activations, K in features, N out features.
 */
public final class CudaMatmul implements Matmul {

    private final CudaDevice device;

    public CudaMatmul(CudaDevice device) {
        this.device = device;
    }

    @Override
    public void forward(float[] out, float[] in, LinearWeight weight, int m, boolean accumulate) {
        int n = weight.rows(), k = weight.cols();
        check("forward", "in", in, m, k);
        check("forward", "out", out, m, n);
        device.makeCurrent();
        try (DeviceBuffer dOut = accumulate ? DeviceBuffer.of("out", out, 0, m * n) : DeviceBuffer.floats("out", (long) m * n);
             DeviceBuffer dIn = DeviceBuffer.of("in", in, 0, m * k);
             OnDevice w = OnDevice.of(weight)) {
            Launch launch = Launch.of(w.quantized() == null ? CudaKernel.MATMUL_FORWARD_DENSE : CudaKernel.MATMUL_FORWARD_QUANTIZED,
                    shape(m, n, k, weight)).buffer(dOut).buffer(dIn).i32(m).i32(n).i32(k).i32(accumulate ? 1 : 0);
            w.appendTo(launch).perElement(device, (long) m * n);
            dOut.download(out);
        }
    }

    @Override
    public void backwardInput(float[] dIn, float[] dOut, LinearWeight weight, int m, boolean accumulate) {
        int n = weight.rows(), k = weight.cols();
        check("backwardInput", "dOut", dOut, m, n);
        check("backwardInput", "dIn", dIn, m, k);
        device.makeCurrent();
        try (DeviceBuffer gIn = accumulate ? DeviceBuffer.of("dIn", dIn, 0, m * k) : DeviceBuffer.floats("dIn", (long) m * k);
             DeviceBuffer gOut = DeviceBuffer.of("dOut", dOut, 0, m * n);
             OnDevice w = OnDevice.of(weight)) {
            Launch launch = Launch.of(w.quantized() == null ? CudaKernel.MATMUL_BACKWARD_INPUT_DENSE
                            : CudaKernel.MATMUL_BACKWARD_INPUT_QUANTIZED, shape(m, n, k, weight))
                    .buffer(gIn).buffer(gOut).i32(m).i32(n).i32(k).i32(accumulate ? 1 : 0);
            w.appendTo(launch).perElement(device, (long) m * k);
            gIn.download(dIn);
        }
    }

    @Override
    public void backwardWeight(float[] dWeight, float[] dOut, float[] in, int m, int n, int k) {
        check("backwardWeight", "dOut", dOut, m, n);
        check("backwardWeight", "in", in, m, k);
        check("backwardWeight", "dWeight", dWeight, n, k);
        device.makeCurrent();
        try (DeviceBuffer gW = DeviceBuffer.of("dWeight", dWeight, 0, n * k);
             DeviceBuffer gOut = DeviceBuffer.of("dOut", dOut, 0, m * n);
             DeviceBuffer x = DeviceBuffer.of("in", in, 0, m * k)) {
            Launch.of(CudaKernel.MATMUL_BACKWARD_WEIGHT, "M=" + m + " N=" + n + " K=" + k)
                    .buffer(gW).buffer(gOut).buffer(x).i32(m).i32(n).i32(k).perElement(device, (long) n * k);
            gW.download(dWeight);
        }
    }

    private static String shape(int m, int n, int k, LinearWeight weight) {
        return "M=" + m + " N=" + n + " K=" + k + " weight " + weight.getClass().getSimpleName();
    }

    /** array holds at least rows·cols elements (the contract is over Java arrays, so rows·cols fits an int). */
    private static void check(String method, String name, float[] array, int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("CudaMatmul." + method + ": " + name + " is (" + rows + ", " + cols
                    + "); dimensions must be >= 0");
        }
        long needed = (long) rows * cols;
        if (array.length < needed) {
            throw new IllegalArgumentException("CudaMatmul." + method + ": " + name + " has " + array.length
                    + " elements, needs at least " + needed + " (" + rows + ", " + cols + ") row-major");
        }
    }

    /** The weight's device copy: one dense buffer, or a {@link DeviceQuantized}. */
    private record OnDevice(DeviceBuffer dense, DeviceQuantized quantized) implements AutoCloseable {

        static OnDevice of(LinearWeight weight) {
            return switch (weight) {
                case DenseWeight d -> new OnDevice(DeviceBuffer.of("weight", d.data()), null);
                case QuantizedWeight q -> {
                    QuantizedTensor t = q.tensor();
                    yield new OnDevice(null, new DeviceQuantized(t.type().codebook(), t.blocksize(), t.codes(), t.scales()));
                }
                default -> throw new IllegalArgumentException("CudaMatmul supports DenseWeight and QuantizedWeight, got "
                        + weight.getClass().getName());
            };
        }

        /** Appends the weight's parameters: the dense pointer, or {@code QUANTIZED_PARAMS}. */
        Launch appendTo(Launch launch) {
            return quantized != null ? quantized.appendTo(launch) : launch.buffer(dense);
        }

        @Override
        public void close() {
            if (dense != null) dense.close();
            if (quantized != null) quantized.close();
        }
    }
}
