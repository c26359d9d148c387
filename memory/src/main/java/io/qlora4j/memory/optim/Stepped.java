package io.qlora4j.memory.optim;

/** The update was applied; {@code step} is the step count t it used (1 for the first update). */
public record Stepped(long step) implements StepResult {
}
