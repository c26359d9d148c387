package io.qlora4j.memory;

/** Reply to {@link MemoryManager#prefetch}: how many pages were off the device when the background page-in was asked for. */
public record PrefetchScheduled(int pagesOffDevice) {
}
