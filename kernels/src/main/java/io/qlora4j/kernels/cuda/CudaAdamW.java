package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.AdamW;
import io.qlora4j.kernels.AdamWStep;
import io.qlora4j.kernels.cpu.ReferenceAdamW;

/**
 * {@link AdamW} with the 32-bit update on the GPU (kernel {@code adamw32bit}, bit-identical to the reference: the step's
 * scalars come from {@link ReferenceAdamW.Factors}, every elementwise operation is the reference's, unfused). The 8-bit
 * blockwise update and the sum of squares run on the {@code cpu} implementation given at construction, as the backend's
 * description says: they have no CUDA kernel yet.
 */
public final class CudaAdamW implements AdamW {

    private final CudaDevice device;
    private final AdamW cpu;

    /** @param cpu the implementation of {@link #adamw8bit} and {@link #sumOfSquares} (no CUDA kernels yet) */
    public CudaAdamW(CudaDevice device, AdamW cpu) {
        this.device = device;
        this.cpu = cpu;
    }

    @Override
    public void adamw32bit(float[] param, int paramOff, float[] grad, int gradOff, float[] m, int mOff, float[] v, int vOff,
                           int n, AdamWStep step) {
        ReferenceAdamW.check32bit(param, paramOff, grad, gradOff, m, mOff, v, vOff, n, step);
        if (n == 0) return;
        ReferenceAdamW.Factors f = ReferenceAdamW.Factors.of(step);
        device.makeCurrent();
        try (DeviceBuffer p = DeviceBuffer.of("param", param, paramOff, n);
             DeviceBuffer g = DeviceBuffer.of("grad", grad, gradOff, n);
             DeviceBuffer dm = DeviceBuffer.of("m", m, mOff, n);
             DeviceBuffer dv = DeviceBuffer.of("v", v, vOff, n)) {
            Launch.of(CudaKernel.ADAMW32BIT, "n=" + n + " step=" + step.step())
                    .buffer(p).buffer(g).buffer(dm).buffer(dv).i32(n)
                    .f32(f.beta1()).f32(f.oneMinusBeta1()).f32(f.beta2()).f32(f.oneMinusBeta2()).f32(f.stepSize())
                    .f32(f.epsC2()).i32(f.decay() ? 1 : 0).f32(f.decayFactor()).f32(f.gradScale())
                    .perElement(device, n);
            p.download(param, paramOff);
            dm.download(m, mOff);
            dv.download(v, vOff);
        }
    }

    @Override
    public void adamw8bit(float[] param, int paramOff, float[] grad, int gradOff, byte[] m, int mOff, byte[] v, int vOff,
                          float[] absmaxM, float[] absmaxV, int absmaxOff, int n, AdamWStep step) {
        cpu.adamw8bit(param, paramOff, grad, gradOff, m, mOff, v, vOff, absmaxM, absmaxV, absmaxOff, n, step);
    }

    @Override
    public double sumOfSquares(float[] x, int off, int n) {
        return cpu.sumOfSquares(x, off, n);
    }
}
