package io.qlora4j.memory;

/** Reply to {@link MemoryManager#release(Lease)}. {@code prefetchStarted}: the release started a background page-in. */
public record Released(Lease lease, boolean prefetchStarted) {
}
