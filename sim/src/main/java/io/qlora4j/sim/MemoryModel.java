package io.qlora4j.sim;

import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.optim.PagedAdamW;

/**
 * The analytic memory model of a fine-tuning run: what is held for the whole run ({@link #persistent()}: weights,
 * LoRA parameters, gradients, optimizer state) and what one micro-batch of B sequences of T positions adds
 * ({@link #activations}), per {@link Component}. Two profiles: {@link GpuMemoryModel} (a bf16 PyTorch + bitsandbytes run,
 * the setting of the paper's figures) and {@link CpuMemoryModel} (exactly our CPU trainer's buffers). Each
 * implementation documents its formulas.
 *
 * <p>Optimizer state is the same for both: the size of the real {@link PagedAdamW} buffer for the run's trainable
 * tensors ({@link PagedAdamW#bufferBytes}: 8 bytes per parameter for 32-bit state; for 8-bit state 2 bytes per
 * parameter plus two fp32 absmax per block of 256, tensors under 4096 elements staying 32-bit, as bitsandbytes'
 * {@code Optimizer2State}), rounded up to whole pages because the memory manager accounts whole page slots.
 */
public sealed interface MemoryModel permits GpuMemoryModel, CpuMemoryModel {
    /**
     * Optimizer page size: the trainer's ({@link PagingConfig#DEFAULT_PAGE_BYTES}), for both profiles, so that the
     * simulated memory manager pages exactly as ours does. At 256 KiB a LoRA tensor's state wastes almost nothing to page
     * rounding (bitsandbytes allocates each tensor's state separately and wastes nothing).
     */
    int PAGE_BYTES = PagingConfig.DEFAULT_PAGE_BYTES;

    static MemoryModel of(TrainingSetup setup) {
        return switch (setup.profile()) {
            case GPU -> new GpuMemoryModel(setup);
            case QLORA4J_CPU -> new CpuMemoryModel(setup);
        };
    }

    TrainingSetup setup();

    /** Weights, LoRA parameters, gradients and optimizer state: leased once, before the first step. */
    Footprint persistent();

    /** What one training micro-batch of {@code batch} sequences of {@code length} positions leases. */
    Footprint activations(int batch, int length);

    /** What a forward-only evaluation pass over {@code batch} × {@code length} holds (no gradients are kept). */
    Footprint evalActivations(int batch, int length);

    /** Bytes of the optimizer's paged buffer before page rounding: what the trainer registers. */
    long optimizerBufferBytes();

    /** The buffer size of the real paged AdamW layout for this setup's trainable tensors. */
    static long optimizerBufferBytes(TrainingSetup s) {
        return PagedAdamW.bufferBytes(ParameterCounts.trainables(s), s.optimizer().options().format(), PAGE_BYTES);
    }

    /** Whole pages of {@code bytes}: what the memory manager accounts for a buffer. */
    static long pageRounded(long bytes) {
        return Math.ceilDiv(bytes, PAGE_BYTES) * (long) PAGE_BYTES;
    }
}
