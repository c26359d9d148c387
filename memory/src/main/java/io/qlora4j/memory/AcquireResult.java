package io.qlora4j.memory;

/** Reply to {@link MemoryManager#acquire}: a {@link Pin} or an {@link OutOfDeviceMemory} refusal. */
public sealed interface AcquireResult permits Pin, OutOfDeviceMemory {
}
