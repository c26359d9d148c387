package io.qlora4j.sim;

import io.qlora4j.memory.Category;

/**
 * One term of the memory model, with the {@link Category} the trainer accounts it under. The persistent terms are leased
 * once per run; the rest make up one micro-batch's activation lease.
 */
public enum Component {
    /** The seven linear projections of every block, as stored (quantized or 16/32-bit). */
    BASE_WEIGHTS("base weights", Category.WEIGHTS, true),
    /** Token embedding, lm_head (unless tied), RMSNorm weights and biases: never quantized. */
    EMBEDDINGS_AND_NORMS("embeddings, lm_head, norms", Category.WEIGHTS, true),
    /** LoRA A and B matrices. */
    LORA_PARAMETERS("LoRA parameters", Category.WEIGHTS, true),
    /** Gradients of the trainable parameters. */
    GRADIENTS("gradients", Category.GRADIENTS, true),
    /** AdamW m and v (and 8-bit absmax), whole pages. */
    OPTIMIZER_STATE("optimizer state", Category.OPTIMIZER_STATE, true),
    /** Tensors kept from forward to backward: each block's input under checkpointing, else every block's activations. */
    SAVED_ACTIVATIONS("saved activations", Category.ACTIVATIONS, false),
    /** Under checkpointing: one block's activations, recomputed inside backward. */
    RECOMPUTED_BLOCK("recomputed block", Category.ACTIVATIONS, false),
    /** Attention probabilities kept for backward, and one block's score temporaries. */
    ATTENTION_SCORES("attention scores", Category.ACTIVATIONS, false),
    /** Each adapter's (dropped-out) input and A·x: the paper's "LoRA input gradients". */
    LORA_ACTIVATIONS("LoRA inputs", Category.ACTIVATIONS, false),
    /** Final norm, logits and the cross-entropy's buffers. */
    LOGITS_AND_LOSS("logits and loss", Category.ACTIVATIONS, false),
    /** Gradient buffers of one block's backward. */
    BACKWARD_SCRATCH("backward scratch", Category.ACTIVATIONS, false),
    /** A quantized projection dequantized to 16-bit for one matmul. */
    DEQUANT_TEMPORARIES("dequantized weight", Category.ACTIVATIONS, false);

    private final String label;
    private final Category category;
    private final boolean persistent;

    Component(String label, Category category, boolean persistent) {
        this.label = label;
        this.category = category;
        this.persistent = persistent;
    }

    public String label() {
        return label;
    }

    public Category category() {
        return category;
    }

    /** Leased once for the run (weights, gradients, optimizer state) rather than per micro-batch. */
    public boolean persistent() {
        return persistent;
    }
}
