package io.qlora4j.memory.optim;

/**
 * AdamW hyperparameters that stay fixed for a run (the learning rate is passed to every step: it follows the trainer's
 * schedule).
 *
 * @param beta1       first-moment decay, in [0, 1)
 * @param beta2       second-moment decay, in [0, 1)
 * @param eps         denominator term, positive
 * @param weightDecay decoupled weight decay, applied after the Adam step as bitsandbytes' CUDA kernels do; {@code >= 0}
 * @param format      how m and v are stored
 * @param paged       whether the state may be paged out ({@code false}: it stays resident, as {@code adamw_32bit})
 */
public record AdamWOptions(float beta1, float beta2, float eps, float weightDecay, StateFormat format, boolean paged) {

    public AdamWOptions {
        if (!(beta1 >= 0f && beta1 < 1f)) throw new IllegalArgumentException("beta1 " + beta1 + " is outside [0, 1)");
        if (!(beta2 >= 0f && beta2 < 1f)) throw new IllegalArgumentException("beta2 " + beta2 + " is outside [0, 1)");
        if (!(eps > 0f) || !Float.isFinite(eps)) throw new IllegalArgumentException("eps " + eps + " must be positive and finite");
        if (!(weightDecay >= 0f) || !Float.isFinite(weightDecay)) {
            throw new IllegalArgumentException("weight decay " + weightDecay + " must be >= 0 and finite");
        }
        if (format == null) throw new IllegalArgumentException("state format is null");
    }

    /**
     * qlora.py's values: betas (0.9, 0.999), eps 1e-8, weight decay 0 (QLORA-SPEC §8, §9). bitsandbytes' own AdamW
     * class default for weight decay is 1e-2, but the HF Trainer passes {@code weight_decay=0.0}.
     */
    public static AdamWOptions defaults(StateFormat format, boolean paged) {
        return new AdamWOptions(0.9f, 0.999f, 1e-8f, 0f, format, paged);
    }

    public AdamWOptions withWeightDecay(float decay) {
        return new AdamWOptions(beta1, beta2, eps, decay, format, paged);
    }
}
