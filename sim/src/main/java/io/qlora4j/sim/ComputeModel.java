package io.qlora4j.sim;

import io.qlora4j.model.LlamaConfig;

/**
 * How long the device computes: the time axis against which paging transfers overlap or stall. A micro-batch costs
 * {@link #trainFlops} at {@code effectiveFlops}; the optimizer update of one state page reads and writes it once at the
 * device's memory bandwidth.
 *
 * <p>FLOPs count 2 per multiply-accumulate (Kaplan et al. 2020: forward 2N per token, backward 4N). With
 * frozen base weights backward computes only input gradients (same cost as the forward), trainable weights also
 * weight gradients (same again); gradient checkpointing runs the blocks' forward twice. With R = B·T rows,
 * W = L·Σ_p in_p·out_p block weights, V·C lm_head weights, A = L·Σ_p r·(in_p + out_p) adapter weights, and eager
 * attention's 2·T·Q multiply-accumulates per row and block (QK^T and PV over the whole T×T square):
 * <pre>
 * FLOPs = 2·R·[ W·(2 + full + ckpt) + V·C·(2 + full) + A·(3 + ckpt) + 2·L·T·Q·(3 + ckpt) ]
 * </pre>
 * (full, ckpt ∈ {0, 1}). Dequantization and elementwise work are not counted; {@link #MODEL_FLOPS_UTILIZATION} stands
 * for them.
 *
 * @param effectiveFlops       achieved FLOP/s
 * @param memoryBytesPerSecond device memory bandwidth
 */
public record ComputeModel(double effectiveFlops, double memoryBytesPerSecond) {
    /**
     * Achieved fraction of the peak tensor throughput, 40%: what a well-fed single-GPU bf16 fine-tune reaches. Real
     * QLoRA runs are slower (dequantization), which makes paging look cheaper, never dearer, than this model says.
     */
    public static final double MODEL_FLOPS_UTILIZATION = 0.4;

    public ComputeModel {
        if (!(effectiveFlops > 0) || !(memoryBytesPerSecond > 0)) {
            throw new SimulationException("compute speed and memory bandwidth must be positive, got " + effectiveFlops
                    + " FLOP/s and " + memoryBytesPerSecond + " B/s");
        }
    }

    /** The GPU at {@link #MODEL_FLOPS_UTILIZATION} of its peak. */
    public static ComputeModel of(GpuSpec gpu) {
        return new ComputeModel(gpu.peakFlops() * MODEL_FLOPS_UTILIZATION, gpu.memoryBytesPerSecond());
    }

    /** The class formula for one micro-batch of {@code batch} sequences of {@code length} positions. */
    public static double trainFlops(TrainingSetup s, int batch, int length) {
        LlamaConfig c = s.model();
        double rows = (double) batch * length;
        int full = s.fullFinetune() ? 1 : 0;
        int ckpt = s.checkpointing() ? 1 : 0;
        double adapters = s.fullFinetune() ? 0 : ParameterCounts.lora(c, s.rank(), s.targets());
        double head = (double) c.vocabSize() * c.hiddenSize();
        double attention = 2.0 * c.numLayers() * length * c.qDim();
        return 2 * rows * (ParameterCounts.linear(c) * (2 + full + ckpt) + head * (2 + full) + adapters * (3 + ckpt)
                + attention * (3 + ckpt));
    }

    public long microBatchNanos(TrainingSetup s, int batch, int length) {
        return Math.round(trainFlops(s, batch, length) / effectiveFlops * 1e9);
    }

    /** The AdamW update of one page of state: read and written once. */
    public long optimizerPageNanos(int pageBytes) {
        return Math.round(2.0 * pageBytes / memoryBytesPerSecond * 1e9);
    }
}
