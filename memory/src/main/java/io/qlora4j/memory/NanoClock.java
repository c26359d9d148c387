package io.qlora4j.memory;

/** The time source for stall statistics; a simulator injects a virtual clock. */
@FunctionalInterface
public interface NanoClock {
    NanoClock SYSTEM = System::nanoTime;

    /** Monotonic nanoseconds. */
    long nanoTime();
}
