package io.qlora4j.memory;

import io.qlora4j.memory.tier.ArenaDeviceTier;
import io.qlora4j.memory.tier.ChronicleHostTier;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.Executor;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Managers over the real tiers (off-heap arena, Chronicle Map file) for tests, and byte helpers. */
final class Fixture {
    static final int PAGE = 4096;

    private Fixture() {
    }

    /** A manager whose background page-in runs inline (deterministic). */
    static MemoryManager open(Path dir, PagingConfig config) {
        return open(dir, config, Runnable::run, NanoClock.SYSTEM);
    }

    static MemoryManager open(Path dir, PagingConfig config, Executor pageIn, NanoClock clock) {
        try {
            java.nio.file.Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return MemoryManager.create(config, new ArenaDeviceTier(config.deviceBudgetBytes(), config.pageBytes()),
                ChronicleHostTier.open(dir.resolve("host.cm"), config.pageBytes(), 256), clock, pageIn);
    }

    static PagingConfig config(int budgetPages) {
        return new PagingConfig((long) budgetPages * PAGE, PAGE, true, true);
    }

    static PagedBuffer register(MemoryManager m, String owner, long bytes, BufferPolicy policy) {
        return (PagedBuffer) m.register(owner, bytes, policy);
    }

    static Lease lease(MemoryManager m, Category c, long bytes) {
        return (Lease) m.allocate(c, bytes, c.jsonName());
    }

    /** Writes {@code bytes} at {@code offset} of the buffer through a write pin stamped {@code version}. */
    static void write(MemoryManager m, PagedBuffer b, long offset, byte[] bytes, long version) {
        Pin pin = (Pin) m.acquire(b, offset, bytes.length, Access.write(version));
        try {
            for (int done = 0; done < bytes.length; ) {
                long at = offset + done;
                int run = (int) Math.min(bytes.length - done, b.pageBytes() - pin.offsetInPage(at));
                MemorySegment.copy(MemorySegment.ofArray(bytes), done, pin.pageAt(at), pin.offsetInPage(at), run);
                done += run;
            }
        } finally {
            m.unpin(pin);
        }
    }

    static byte[] read(MemoryManager m, PagedBuffer b, long offset, int length) {
        byte[] out = new byte[length];
        Pin pin = (Pin) m.acquire(b, offset, length, Access.read());
        try {
            for (int done = 0; done < length; ) {
                long at = offset + done;
                int run = (int) Math.min(length - done, b.pageBytes() - pin.offsetInPage(at));
                MemorySegment.copy(pin.pageAt(at), pin.offsetInPage(at), MemorySegment.ofArray(out), done, run);
                done += run;
            }
        } finally {
            m.unpin(pin);
        }
        return out;
    }

    static byte[] pattern(long seed, int length) {
        byte[] b = new byte[length];
        long x = seed * 0x9E3779B97F4A7C15L + 1;
        for (int i = 0; i < length; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            b[i] = (byte) x;
        }
        return b;
    }

    /** Unregisters and releases everything given, then checks that nothing is left on the device: the leak check. */
    static void assertReleasesToZero(MemoryManager m, Iterable<PagedBuffer> buffers, Iterable<Lease> leases) {
        buffers.forEach(m::unregister);
        leases.forEach(m::release);
        MemorySnapshot s = m.snapshot();
        assertEquals(0, s.residentTotal(), "device bytes left after releasing everything: " + s);
        assertEquals(0, s.slotsInUse(), "device slots left: " + s);
    }
}
