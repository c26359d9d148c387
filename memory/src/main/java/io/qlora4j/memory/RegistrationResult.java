package io.qlora4j.memory;

/**
 * Reply to {@link MemoryManager#register}: the {@link PagedBuffer}, or a refusal: {@link OutOfDeviceMemory} for a
 * resident buffer that does not fit, {@link RecoveryMismatch} when the host tier holds pages of that owner that do not
 * form a complete, consistent buffer.
 */
public sealed interface RegistrationResult permits PagedBuffer, OutOfDeviceMemory, RecoveryMismatch {
}
