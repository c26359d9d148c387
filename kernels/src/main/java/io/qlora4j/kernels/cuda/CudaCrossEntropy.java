package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.CrossEntropy;
import io.qlora4j.kernels.cpu.ReferenceCrossEntropy;

/**
 * {@link CrossEntropy} on the GPU: the forward pass one block per row (max, Σ of fp32 exponentials in float64, lse in
 * float64), the backward pass elementwise; CUDA's {@code expf} and a tree-ordered sum make it agree with the reference
 * within the contract's fp32 tolerance. The summed loss adds the rows' float64 losses in row order, as the reference.
 * In-place backward ({@code dLogits == logits}) works: the logits are copied to the device first.
 * Operands are copied per call (see {@link CudaMatmul}).
 */
public final class CudaCrossEntropy implements CrossEntropy {

    private final CudaDevice device;

    public CudaCrossEntropy(CudaDevice device) {
        this.device = device;
    }

    @Override
    public double crossEntropyForward(float[] losses, float[] logSumExp, float[] logits, int[] targets, int rows, int vocab) {
        ReferenceCrossEntropy.checkForward(losses, logSumExp, logits, targets, rows, vocab);
        double[] rowLoss = new double[rows];
        device.makeCurrent();
        try (DeviceBuffer dLosses = DeviceBuffer.floats("losses", rows);
             DeviceBuffer dLse = DeviceBuffer.floats("logSumExp", rows);
             DeviceBuffer dRowLoss = DeviceBuffer.doubles("row losses", rows);
             DeviceBuffer dLogits = DeviceBuffer.of("logits", logits, 0, rows * vocab);
             DeviceBuffer dTargets = DeviceBuffer.of("targets", targets, rows)) {
            Launch.of(CudaKernel.CROSS_ENTROPY_FORWARD, "rows=" + rows + " vocab=" + vocab)
                    .buffer(dLosses).buffer(dLse).buffer(dRowLoss).buffer(dLogits).buffer(dTargets).i32(rows).i32(vocab)
                    .run(device, rows);
            dLosses.download(losses);
            dLse.download(logSumExp);
            dRowLoss.download(rowLoss);
        }
        double total = 0;
        for (double loss : rowLoss) total += loss;
        return total;
    }

    @Override
    public void crossEntropyBackward(float[] dLogits, float[] logits, float[] logSumExp, int[] targets, int rows, int vocab,
                                     float scale) {
        ReferenceCrossEntropy.checkBackward(dLogits, logits, logSumExp, targets, rows, vocab, scale);
        int n = rows * vocab;
        device.makeCurrent();
        try (DeviceBuffer x = DeviceBuffer.of("logits", logits, 0, n);
             DeviceBuffer dLse = DeviceBuffer.of("logSumExp", logSumExp, 0, rows);
             DeviceBuffer dTargets = DeviceBuffer.of("targets", targets, rows)) {
            // in place on the device: each thread reads only the logit it overwrites
            Launch.of(CudaKernel.CROSS_ENTROPY_BACKWARD, "rows=" + rows + " vocab=" + vocab)
                    .buffer(x).buffer(x).buffer(dLse).buffer(dTargets).i32(rows).i32(vocab).f32(scale)
                    .perElement(device, n);
            x.download(dLogits);
        }
    }
}
