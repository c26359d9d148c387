package io.qlora4j.memory;

/** A domain refusal the caller is expected to react to; {@link #message()} is the text to show a user. */
public sealed interface Refusal permits OutOfDeviceMemory, RecoveryMismatch {
    String message();
}
