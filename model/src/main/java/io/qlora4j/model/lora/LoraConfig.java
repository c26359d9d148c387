package io.qlora4j.model.lora;

import io.qlora4j.model.LinearLayerName;

import java.util.EnumSet;
import java.util.Set;

/**
 * LoRA hyper-parameters (PEFT {@code LoraConfig}): rank r, alpha (the adapter's output is scaled by alpha/r), dropout on
 * the adapter's input, and the projections that get adapters. QLoRA's recipe: r = 64, alpha = 16, dropout 0.1 for
 * models up to 13B, every linear layer (the paper finds all of them necessary to match 16-bit fine-tuning).
 *
 * @param rank    r
 * @param alpha   lora_alpha
 * @param dropout probability of zeroing an input element of the adapter (training only)
 * @param targets projections with adapters
 */
public record LoraConfig(int rank, double alpha, double dropout, Set<LinearLayerName> targets) {

    public LoraConfig {
        if (rank < 1) throw new IllegalArgumentException("LoRA rank must be >= 1, got " + rank);
        if (!(alpha > 0)) throw new IllegalArgumentException("LoRA alpha must be positive, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + dropout);
        if (targets.isEmpty()) throw new IllegalArgumentException("LoRA needs at least one target module");
        targets = Set.copyOf(EnumSet.copyOf(targets));
    }

    /** The paper's defaults: r 64, alpha 16, dropout 0.1, all seven projections. */
    public static LoraConfig qlora() {
        return new LoraConfig(64, 16, 0.1, EnumSet.allOf(LinearLayerName.class));
    }

    /** PEFT's scaling of the adapter output: alpha / r (0.25 for QLoRA's 16/64). */
    public float scaling() {
        return (float) (alpha / rank);
    }
}
