package io.qlora4j.memory;

/** Reply to {@link MemoryManager#evict}: pages moved off the device and the bytes written to the host tier for them (clean pages cost no write). */
public record Evicted(int pages, long bytesWritten) {
}
