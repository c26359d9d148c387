package io.qlora4j.memory.optim;

/** Reply to {@link PagedAdamW#create}: the optimizer, or {@link CreationRefused}. */
public sealed interface OptimizerCreation permits PagedAdamW, CreationRefused {
}
