package io.qlora4j.kernels;

/**
 * The {@code rope_scaling} of a model config (QLORA-REFERENCE.md §8.3): how the inverse frequencies are stretched for
 * contexts longer than the model was trained on. Applied by {@link RopeTable} when it builds its tables.
 */
public sealed interface RopeScaling {

    /** No scaling ({@code rope_scaling: null} or {@code rope_type: "default"}). */
    RopeScaling NONE = new None();

    /** The {@code "default"} rope type. */
    record None() implements RopeScaling {
    }

    /**
     * {@code rope_type: "linear"}: every inverse frequency divided by {@code factor}, as transformers'
     * {@code _compute_linear_scaling_rope_parameters} does ({@code inv_freq /= factor}); the older
     * {@code LlamaLinearScalingRotaryEmbedding} divided the positions instead, which is the same up to fp32 rounding.
     */
    record Linear(float factor) implements RopeScaling {
        public Linear {
            if (!(factor >= 1f) || Float.isInfinite(factor)) {
                throw new IllegalArgumentException("linear rope scaling factor must be finite and >= 1, got " + factor);
            }
        }
    }

    /**
     * {@code rope_type: "llama3"} (Llama 3.1+, transformers {@code _compute_llama3_parameters}): frequencies whose
     * wavelength is shorter than {@code originalMaxPositions/highFreqFactor} are kept, those longer than
     * {@code originalMaxPositions/lowFreqFactor} are divided by {@code factor}, and those in between are blended.
     * Llama 3.1 uses (8, 1, 4, 8192).
     */
    record Llama3(float factor, float lowFreqFactor, float highFreqFactor, int originalMaxPositions)
            implements RopeScaling {
        public Llama3 {
            if (!(factor >= 1f) || Float.isInfinite(factor)) {
                throw new IllegalArgumentException("llama3 rope scaling factor must be finite and >= 1, got " + factor);
            }
            if (!(lowFreqFactor > 0f) || !(highFreqFactor > lowFreqFactor) || Float.isInfinite(highFreqFactor)) {
                throw new IllegalArgumentException("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor, got "
                        + lowFreqFactor + " and " + highFreqFactor);
            }
            if (originalMaxPositions <= 0) {
                throw new IllegalArgumentException("llama3 original_max_position_embeddings must be > 0, got "
                        + originalMaxPositions);
            }
        }
    }
}
