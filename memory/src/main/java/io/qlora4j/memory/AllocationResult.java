package io.qlora4j.memory;

/** Reply to {@link MemoryManager#allocate}: a {@link Lease} or an {@link OutOfDeviceMemory} refusal. */
public sealed interface AllocationResult permits Lease, OutOfDeviceMemory {
}
