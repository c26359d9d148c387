package io.qlora4j.model;

/**
 * Rotary position embedding parameters from config.json: the base {@code rope_theta} and an optional frequency scaling
 * ({@code rope_scaling} / transformers v5 {@code rope_parameters}). Types: {@code default} (none), {@code linear}
 * (positions divided by {@code factor}) and {@code llama3} (Llama 3.1 wavelength-dependent scaling,
 * transformers {@code _compute_llama3_parameters}).
 *
 * @param theta                     rope_theta (10000 for Llama 1/2, 500000 for Llama 3)
 * @param type                      scaling type
 * @param factor                    scaling factor (1 when none)
 * @param lowFreqFactor             llama3 only
 * @param highFreqFactor            llama3 only
 * @param originalMaxPositions      llama3 only: original_max_position_embeddings
 */
public record RopeConfig(double theta, Scaling type, double factor, double lowFreqFactor, double highFreqFactor,
                         int originalMaxPositions) {

    public enum Scaling {NONE, LINEAR, LLAMA3}

    public static RopeConfig unscaled(double theta) {
        return new RopeConfig(theta, Scaling.NONE, 1, 0, 0, 0);
    }
}
