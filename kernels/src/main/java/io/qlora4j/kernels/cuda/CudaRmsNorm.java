package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.RmsNorm;
import io.qlora4j.kernels.cpu.ReferenceRmsNorm;

/**
 * {@link RmsNorm} on the GPU: one block per row, the row's sums in float64 as the reference (in a tree order, so rstd and
 * the backward projection agree within the contract's few ulps); everything elementwise in the reference's fp32 order,
 * and dWeight summed over rows in ascending order, bit-identical. Operands are copied per call (see {@link CudaMatmul}).
 */
public final class CudaRmsNorm implements RmsNorm {

    private final CudaDevice device;

    public CudaRmsNorm(CudaDevice device) {
        this.device = device;
    }

    @Override
    public void rmsnormForward(float[] out, float[] rstd, float[] in, float[] weight, int rows, int channels, float eps) {
        ReferenceRmsNorm.checkForward(out, rstd, in, weight, rows, channels, eps);
        int n = rows * channels;
        device.makeCurrent();
        try (DeviceBuffer dOut = DeviceBuffer.floats("out", n);
             DeviceBuffer dRstd = DeviceBuffer.floats("rstd", rows);
             DeviceBuffer dIn = DeviceBuffer.of("in", in, 0, n);
             DeviceBuffer dW = DeviceBuffer.of("weight", weight, 0, channels)) {
            Launch.of(CudaKernel.RMSNORM_FORWARD, "rows=" + rows + " channels=" + channels)
                    .buffer(dOut).buffer(dRstd).buffer(dIn).buffer(dW).i32(rows).i32(channels).f32(eps)
                    .run(device, rows);
            dOut.download(out);
            if (rstd != null) dRstd.download(rstd);
        }
    }

    @Override
    public void rmsnormBackward(float[] dIn, float[] dWeight, float[] dOut, float[] in, float[] weight, float[] rstd,
                                int rows, int channels, boolean accumulate) {
        ReferenceRmsNorm.checkBackward(dIn, dWeight, dOut, in, weight, rstd, rows, channels);
        int n = rows * channels;
        String shape = "rows=" + rows + " channels=" + channels;
        device.makeCurrent();
        try (DeviceBuffer gIn = accumulate ? DeviceBuffer.of("dIn", dIn, 0, n) : DeviceBuffer.floats("dIn", n);
             DeviceBuffer gOut = DeviceBuffer.of("dOut", dOut, 0, n);
             DeviceBuffer x = DeviceBuffer.of("in", in, 0, n);
             DeviceBuffer w = DeviceBuffer.of("weight", weight, 0, channels);
             DeviceBuffer s = DeviceBuffer.of("rstd", rstd, 0, rows)) {
            Launch.of(CudaKernel.RMSNORM_BACKWARD_INPUT, shape).buffer(gIn).buffer(gOut).buffer(x).buffer(w).buffer(s)
                    .i32(rows).i32(channels).i32(accumulate ? 1 : 0).run(device, rows);
            gIn.download(dIn);
            if (dWeight != null) {
                try (DeviceBuffer gW = DeviceBuffer.of("dWeight", dWeight, 0, channels)) {
                    Launch.of(CudaKernel.RMSNORM_BACKWARD_WEIGHT, shape).buffer(gW).buffer(gOut).buffer(x).buffer(s)
                            .i32(rows).i32(channels).perElement(device, channels);
                    gW.download(dWeight);
                }
            }
        }
    }
}
