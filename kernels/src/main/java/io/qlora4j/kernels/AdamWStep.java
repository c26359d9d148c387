package io.qlora4j.kernels;

/**
 * The hyper-parameters of one AdamW update (bitsandbytes {@code Optimizer2State("adam")} arguments; defaults in
 * QLORA-REFERENCE.md §4.2: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2; qlora.py uses weight decay 0).
 * The scalar factors the kernels need are derived here once per step, in float32 as bitsandbytes' kernels do.
 *
 * @param step        t, the 1-based update count (bnb increments it before each update, so the first update is t=1)
 * @param lr          learning rate of this step (after the schedule)
 * @param beta1       first-moment decay
 * @param beta2       second-moment decay
 * @param eps         added to sqrt(v̂)
 * @param weightDecay decoupled weight decay (0 = none)
 * @param gradScale   multiplies every gradient first: bnb's {@code gnorm_scale}, min(1, maxNorm / globalNorm) for
 *                    global-norm clipping, 1 for none
 */
public record AdamWStep(int step, float lr, float beta1, float beta2, float eps, float weightDecay, float gradScale) {

    public AdamWStep {
        Checks.checkPositive("AdamWStep", "step", step);
        requireFinite("lr", lr, 0f);
        requireFinite("eps", eps, 0f);
        requireFinite("weightDecay", weightDecay, 0f);
        requireFinite("gradScale", gradScale, 0f);
        if (!(beta1 >= 0f && beta1 < 1f)) throw new IllegalArgumentException("AdamWStep: beta1 must be in [0, 1), got " + beta1);
        if (!(beta2 >= 0f && beta2 < 1f)) throw new IllegalArgumentException("AdamWStep: beta2 must be in [0, 1), got " + beta2);
    }

    /** bnb {@code correction1 = 1 − β1^t} (float32). */
    public float correction1() {
        return 1f - (float) Math.pow(beta1, step);
    }

    /** bnb {@code correction2 = sqrt(1 − β2^t)} (float32). */
    public float correction2() {
        return (float) Math.sqrt(1f - (float) Math.pow(beta2, step));
    }

    /** bnb {@code step_size = −lr · correction2 / correction1}: the update is {@code p += step_size · m / (sqrt(v) + eps·correction2)}. */
    public float stepSize() {
        return -lr * correction2() / correction1();
    }

    /** {@code 1 − lr·wd}, the decoupled decay factor applied after the Adam step (only when wd > 0). */
    public float decayFactor() {
        return 1f - lr * weightDecay;
    }

    private static void requireFinite(String name, float value, float min) {
        if (!(value >= min) || Float.isInfinite(value)) {
            throw new IllegalArgumentException("AdamWStep: " + name + " must be finite and >= " + min + ", got " + value);
        }
    }
}
