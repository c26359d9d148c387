package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.AdamW;
import io.qlora4j.kernels.AdamWStep;
import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.cpu.ReferenceAdamW;
import io.qlora4j.kernels.quant.BlockwiseKernels;
import io.qlora4j.kernels.quant.Codebook;

/**
 * {@link AdamW} on the GPU. The 32-bit and 8-bit blockwise updates are bit-identical to {@link ReferenceAdamW}: the
 * step's scalars come from {@link ReferenceAdamW.Factors}, every elementwise operation is the reference's (unfused), the
 * 8-bit block maxima are exact, and the dynamic code tables and their encoding boundaries are uploaded from
 * {@link io.qlora4j.kernels.quant.Codebook}. The sum of squares adds per-block float64 partial sums in block order
 * (deterministic; its order differs from the reference's, as the contract allows).
 * Operands are copied per call (see {@link CudaMatmul}).
 */
public final class CudaAdamW implements AdamW {

    /** Elements per block of the sum of squares: 16 per thread. */
    private static final int SUM_CHUNK = 16 * Launch.THREADS;

    private final CudaDevice device;

    public CudaAdamW(CudaDevice device) {
        this.device = device;
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
            factors(Launch.of(CudaKernel.ADAMW32BIT, "n=" + n + " step=" + step.step())
                    .buffer(p).buffer(g).buffer(dm).buffer(dv).i32(n), f)
                    .perElement(device, n);
            p.download(param, paramOff);
            dm.download(m, mOff);
            dv.download(v, vOff);
        }
    }

    @Override
    public void adamw8bit(float[] param, int paramOff, float[] grad, int gradOff, byte[] m, int mOff, byte[] v, int vOff,
                          float[] absmaxM, float[] absmaxV, int absmaxOff, int n, AdamWStep step) {
        ReferenceAdamW.check8bit(param, paramOff, grad, gradOff, m, mOff, v, vOff, absmaxM, absmaxV, absmaxOff, n, step);
        if (n == 0) return;
        int blocks = BlockwiseKernels.blockCount(n, BLOCK_SIZE_8BIT);
        ReferenceAdamW.Factors f = ReferenceAdamW.Factors.of(step);
        device.makeCurrent();
        try (DeviceBuffer p = DeviceBuffer.of("param", param, paramOff, n);
             DeviceBuffer g = DeviceBuffer.of("grad", grad, gradOff, n);
             DeviceBuffer dm = DeviceBuffer.of("m codes", m, mOff, n);
             DeviceBuffer dv = DeviceBuffer.of("v codes", v, vOff, n);
             DeviceBuffer am = DeviceBuffer.of("absmaxM", absmaxM, absmaxOff, blocks);
             DeviceBuffer av = DeviceBuffer.of("absmaxV", absmaxV, absmaxOff, blocks);
             DeviceBuffer signedTable = DeviceBuffer.of("signed table", Codebook.DYNAMIC_SIGNED.decodedValues());
             DeviceBuffer signedBounds = DeviceBuffer.of("signed boundaries", Codebook.DYNAMIC_SIGNED.encodingBoundaries());
             DeviceBuffer unsignedTable = DeviceBuffer.of("unsigned table", Codebook.DYNAMIC_UNSIGNED.decodedValues());
             DeviceBuffer unsignedBounds = DeviceBuffer.of("unsigned boundaries", Codebook.DYNAMIC_UNSIGNED.encodingBoundaries())) {
            // one block of THREADS = BLOCK_SIZE_8BIT threads per state block
            factors(Launch.of(CudaKernel.ADAMW8BIT, "n=" + n + " step=" + step.step())
                    .buffer(p).buffer(g).buffer(dm).buffer(dv).buffer(am).buffer(av).i32(n)
                    .buffer(signedTable).buffer(signedBounds).buffer(unsignedTable).buffer(unsignedBounds)
                    .f32(BlockwiseKernels.MIN_ABSMAX), f)
                    .run(device, blocks);
            p.download(param, paramOff);
            dm.download(m, mOff);
            dv.download(v, vOff);
            am.download(absmaxM, absmaxOff);
            av.download(absmaxV, absmaxOff);
        }
    }

    @Override
    public double sumOfSquares(float[] x, int off, int n) {
        Checks.checkNonNegative("sumOfSquares", "n", n);
        Checks.checkSlice("sumOfSquares", "x", x, off, n);
        if (n == 0) return 0;
        int blocks = Math.ceilDiv(n, SUM_CHUNK);
        double[] partial = new double[blocks];
        device.makeCurrent();
        try (DeviceBuffer dx = DeviceBuffer.of("x", x, off, n);
             DeviceBuffer dPartial = DeviceBuffer.doubles("partial sums", blocks)) {
            Launch.of(CudaKernel.SUM_OF_SQUARES, "n=" + n).buffer(dPartial).buffer(dx).i32(n).i32(SUM_CHUNK)
                    .run(device, blocks);
            dPartial.download(partial);
        }
        double sum = 0;
        for (double s : partial) sum += s;
        return sum;
    }

    /** Appends the step's scalars in the kernels' order: β1, 1−β1, β2, 1−β2, step size, eps·c2, decay, factor, scale. */
    private static Launch factors(Launch launch, ReferenceAdamW.Factors f) {
        return launch.f32(f.beta1()).f32(f.oneMinusBeta1()).f32(f.beta2()).f32(f.oneMinusBeta2()).f32(f.stepSize())
                .f32(f.epsC2()).i32(f.decay() ? 1 : 0).f32(f.decayFactor()).f32(f.gradScale());
    }
}
