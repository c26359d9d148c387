package io.qlora4j.memory;

/**
 * Device memory granted for a non-paged allocation. A lease is accounting: on CPU the bytes behind it are the caller's
 * (heap arrays); on CUDA the caller allocates them with the CUDA backend after the grant. Give it back with
 * {@link MemoryManager#release(Lease)}.
 */
public record Lease(long id, Category category, long bytes, String label) implements AllocationResult {
}
