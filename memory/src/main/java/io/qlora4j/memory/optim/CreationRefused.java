package io.qlora4j.memory.optim;

import io.qlora4j.memory.Refusal;

/**
 * The optimizer's state could not be registered: it must stay resident and does not fit
 * ({@link io.qlora4j.memory.OutOfDeviceMemory}), or the host tier holds state of this owner that is not a consistent
 * snapshot ({@link io.qlora4j.memory.RecoveryMismatch}).
 */
public record CreationRefused(Refusal reason) implements OptimizerCreation {
}
