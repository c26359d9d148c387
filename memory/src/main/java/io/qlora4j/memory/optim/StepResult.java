package io.qlora4j.memory.optim;

/** Reply to {@link PagedAdamW#step}: {@link Stepped}, or {@link StepRefused} with nothing changed. */
public sealed interface StepResult permits Stepped, StepRefused {
}
