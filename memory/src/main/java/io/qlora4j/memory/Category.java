package io.qlora4j.memory;

import java.util.Locale;

/**
 * What a block of device memory is for. The device budget is accounted per category, the out-of-memory message and
 * the per-step statistics break resident bytes down by it, and it decides two policies: only
 * {@link #OPTIMIZER_STATE} is ever paged out, and releasing {@link #isTransient() transient} activation memory is what
 * starts the background page-in.
 */
public enum Category {
    /** Frozen base weights (NF4 codes and their constants) and the LoRA adapter weights. */
    WEIGHTS,
    /** Gradients of the trainable parameters. */
    GRADIENTS,
    /** Activations saved by the forward pass for backward. */
    ACTIVATIONS,
    /** Buffers of gradient checkpointing's recomputation. */
    RECOMPUTATION,
    /** Short-lived scratch: attention scores, dequantized tiles, reduction buffers. */
    TEMPORARIES,
    /** Optimizer state pages (Adam m and v); registered as paged buffers, never leased. */
    OPTIMIZER_STATE;

    /** Activations, recomputation buffers and temporaries: the memory that spikes with sequence length. */
    public boolean isTransient() {
        return this == ACTIVATIONS || this == RECOMPUTATION || this == TEMPORARIES;
    }

    /** Lower-case name used in {@code paging.jsonl}. */
    public String jsonName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
