package io.qlora4j.memory.optim;

import io.qlora4j.memory.OutOfDeviceMemory;

/** The update could not run because a group of state pages does not fit on the device; parameters and state are unchanged. */
public record StepRefused(OutOfDeviceMemory reason) implements StepResult {
}
