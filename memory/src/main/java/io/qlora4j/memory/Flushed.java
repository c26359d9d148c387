package io.qlora4j.memory;

/** Reply to {@link MemoryManager#flush}: pages written to the host tier, and their bytes. */
public record Flushed(int pages, long bytesWritten) {
}
