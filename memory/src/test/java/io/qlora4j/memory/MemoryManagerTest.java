package io.qlora4j.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static io.qlora4j.memory.Fixture.PAGE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryManagerTest {
    @TempDir
    Path dir;

    @Test
    void withPagingOffASpikeIsRefusedClearlyAndNothingIsLost() {
        try (MemoryManager m = Fixture.open(dir, Fixture.config(16).withPaging(false))) {
            Lease weights = Fixture.lease(m, Category.WEIGHTS, 6 * PAGE);
            PagedBuffer state = Fixture.register(m, "adamw", 8 * PAGE, BufferPolicy.PAGEABLE);
            assertEquals(BufferPolicy.ALWAYS_RESIDENT, state.policy(), "paging off keeps every buffer resident");
            byte[] bytes = Fixture.pattern(1, 8 * PAGE);
            Fixture.write(m, state, 0, bytes, 1);
            MemorySnapshot before = m.snapshot();

            OutOfDeviceMemory refusal = assertInstanceOf(OutOfDeviceMemory.class, m.allocate(Category.ACTIVATIONS, 6 * PAGE, "layer 3 attention"));
            assertEquals(2 * PAGE, refusal.wouldFitBytes());
            assertEquals("out of device memory: activations 'layer 3 attention' needs 24.0 KiB (24576 bytes) but at most"
                    + " 8.0 KiB would fit (8.0 KiB free; paging is off (--no-paging), so optimizer state stays on the device)."
                    + " Device budget 64.0 KiB, resident 56.0 KiB: weights 24.0 KiB, optimizer_state 32.0 KiB. Raise the device"
                    + " budget (--device-memory) by at least 16.0 KiB or turn paging on, or lower the batch size or the sequence"
                    + " length.", refusal.message());
            assertEquals(before, m.snapshot(), "a refusal changes nothing");
            assertArrayEquals(bytes, Fixture.read(m, state, 0, bytes.length));
            assertEquals(1, m.endStep(1).refusals());
            Fixture.assertReleasesToZero(m, List.of(state), List.of(weights));
        }
    }

    @Test
    void withPagingOnTheSameSpikeEvictsOptimizerPagesAndTheyComeBackIntact() {
        try (MemoryManager m = Fixture.open(dir, Fixture.config(16))) {
            Lease weights = Fixture.lease(m, Category.WEIGHTS, 6 * PAGE);
            PagedBuffer state = Fixture.register(m, "adamw", 8 * PAGE, BufferPolicy.PAGEABLE);
            byte[] bytes = Fixture.pattern(2, 8 * PAGE);
            Fixture.write(m, state, 0, bytes, 1);
            m.endStep(0);

            Lease spike = assertInstanceOf(Lease.class, m.allocate(Category.ACTIVATIONS, 6 * PAGE, "layer 3 attention"));
            assertEquals(16L * PAGE, m.snapshot().residentTotal(), "the budget is used to the last byte");
            for (int p = 0; p < 8; p++) {
                assertEquals(p < 4 ? Residency.DEVICE : Residency.HOST, m.residency(state, p),
                        "the pages the update needs last (highest) leave first; page " + p);
            }
            OutOfDeviceMemory tooBig = assertInstanceOf(OutOfDeviceMemory.class, m.allocate(Category.TEMPORARIES, 5 * PAGE, "scores"));
            assertEquals(4 * PAGE, tooBig.wouldFitBytes(), "0 free + 4 evictable pages");
            assertTrue(tooBig.message().contains("0 B free + 16.0 KiB of optimizer pages that can be paged out"), tooBig.message());

            Released released = m.release(spike);
            assertTrue(released.prefetchStarted(), "releasing the last activations starts the page-in");
            assertEquals(8, m.snapshot().devicePages(), "the inline page-in brought every page back");
            assertArrayEquals(bytes, Fixture.read(m, state, 0, bytes.length));

            PagingStats stats = m.endStep(1);
            assertEquals(4, stats.evictions());
            assertEquals(4L * PAGE, stats.pagedOutBytes());
            assertEquals(4L * PAGE, stats.pagedInBytes());
            assertEquals(4, stats.prefetchedPages());
            assertEquals(0, stats.stallNanos(), "nothing waited: the pages were back before the acquire");
            assertEquals(16L * PAGE, stats.peakTotalBytes());
            assertEquals(6L * PAGE, stats.peakBytes().get(Category.ACTIVATIONS));
            assertEquals(1, stats.refusals());
            Fixture.assertReleasesToZero(m, List.of(state), List.of(weights));
        }
    }

    @Test
    void whileBackwardContinuesThePageInLeavesRoomForTheLargestTransientLease() {
        try (MemoryManager m = Fixture.open(dir, Fixture.config(12))) {
            PagedBuffer state = Fixture.register(m, "adamw", 10 * PAGE, BufferPolicy.PAGEABLE);
            Lease recompute = Fixture.lease(m, Category.RECOMPUTATION, 2 * PAGE);
            Lease layer2 = Fixture.lease(m, Category.ACTIVATIONS, 2 * PAGE);
            Lease layer1 = Fixture.lease(m, Category.ACTIVATIONS, 2 * PAGE);
            assertEquals(4, m.snapshot().hostPages(), "4 pages made room");
            m.release(layer1);
            assertEquals(4, m.snapshot().hostPages(), "the 2 free pages stay free for the next 2-page transient lease");
            m.release(layer2);
            assertEquals(2, m.snapshot().hostPages(), "2 of 4 free pages refilled");
            m.release(recompute);
            assertEquals(0, m.snapshot().hostPages(), "backward done: everything back");
            Fixture.assertReleasesToZero(m, List.of(state), List.of());
        }
    }

    @Test
    void evictionTakesThePageWhoseNextUseInTheSweepIsFurthest() {
        try (MemoryManager m = Fixture.open(dir, Fixture.config(8))) {
            PagedBuffer b = Fixture.register(m, "adamw", 6 * PAGE, BufferPolicy.PAGEABLE);
            m.unpin((Pin) m.acquire(b, 2L * PAGE, 1, Access.read()));   // the sweep is at page 2: pages 3, 4, 5, 0, 1 come next
            int[] expected = {2, 1, 0, 5, 4, 3};
            for (int victim : expected) {
                assertEquals(1, m.evict(1).pages());
                assertEquals(Residency.HOST, m.residency(b, victim), "expected page " + victim + " next");
            }
            m.prefetch();
            assertEquals(6, m.snapshot().devicePages());
        }
    }

    @Test
    void theUpdateWaitsOnlyForPagesNotYetBack() {
        ArrayDeque<Runnable> pending = new ArrayDeque<>();
        AtomicLong now = new AtomicLong();
        NanoClock clock = () -> now.addAndGet(1_000);   // every reading advances 1 µs
        try (MemoryManager m = Fixture.open(dir, Fixture.config(8), pending::add, clock)) {
            PagedBuffer b = Fixture.register(m, "adamw", 6 * PAGE, BufferPolicy.PAGEABLE);
            Fixture.write(m, b, 0, Fixture.pattern(3, 6 * PAGE), 1);
            assertEquals(6, m.evict(6 * PAGE).pages());
            m.endStep(0);
            assertEquals(6, m.prefetch().pagesOffDevice());
            assertEquals(1, pending.size(), "the page-in is handed to the executor");
            m.unpin((Pin) m.acquire(b, 0, 2 * PAGE, Access.write(2)));   // not prefetched yet: paged in synchronously
            pending.poll().run();                                          // the background page-in brings the rest
            m.unpin((Pin) m.acquire(b, 2L * PAGE, 4 * PAGE, Access.write(2)));
            PagingStats stats = m.endStep(1);
            assertEquals(6, stats.pagesIn());
            assertEquals(4, stats.prefetchedPages());
            assertEquals(1_000, stats.stallNanos(), "only the first acquire waited (one clock tick between its readings)");
            assertTrue(stats.toJson().contains("\"stall_ms\":0.001"), stats.toJson());
        }
    }

    @Test
    void aFlushedBufferIsAdoptedAfterRestartAndAnUnflushedOneIsRefused() {
        byte[] flushed = Fixture.pattern(4, 5 * PAGE + 100);
        try (MemoryManager m = Fixture.open(dir, Fixture.config(8))) {
            PagedBuffer a = Fixture.register(m, "a", flushed.length, BufferPolicy.PAGEABLE);
            PagedBuffer b = Fixture.register(m, "b", 3 * PAGE, BufferPolicy.PAGEABLE);
            Fixture.write(m, a, 0, flushed, 7);
            Fixture.write(m, b, 0, Fixture.pattern(5, 3 * PAGE), 7);
            Flushed f = m.flush();
            assertEquals(8, f.pages(), "every page that was only on the device, or never written");
            Fixture.write(m, b, 0, Fixture.pattern(6, PAGE), 8);   // b's page 0 moves on to version 8 and is lost in the crash
        }   // close without flush: the crash
        try (MemoryManager m = Fixture.open(dir, Fixture.config(8))) {
            assertEquals(java.util.Set.of("a", "b"), m.recoveredOwners());
            PagedBuffer a = assertInstanceOf(PagedBuffer.class, m.register("a", flushed.length, BufferPolicy.PAGEABLE));
            assertEquals(7, a.recoveredVersion().orElseThrow());
            assertArrayEquals(flushed, Fixture.read(m, a, 0, flushed.length));
            RecoveryMismatch mismatch = assertInstanceOf(RecoveryMismatch.class, m.register("b", 4 * PAGE, BufferPolicy.PAGEABLE));
            assertTrue(mismatch.message().contains("another model"), mismatch.message());
            assertEquals(3, m.discardRecovered("b"));
            PagedBuffer fresh = assertInstanceOf(PagedBuffer.class, m.register("b", 4 * PAGE, BufferPolicy.PAGEABLE));
            assertFalse(fresh.recoveredVersion().isPresent());
            assertArrayEquals(new byte[4 * PAGE], Fixture.read(m, fresh, 0, 4 * PAGE), "a fresh buffer is zeros");
        }
    }

    @Test
    void pagesFromDifferentStepsOrMissingPagesAreNotASnapshot() {
        try (MemoryManager m = Fixture.open(dir, Fixture.config(8))) {
            PagedBuffer mixed = Fixture.register(m, "mixed", 2 * PAGE, BufferPolicy.PAGEABLE);
            PagedBuffer partial = Fixture.register(m, "partial", 3 * PAGE, BufferPolicy.PAGEABLE);
            Fixture.write(m, mixed, 0, Fixture.pattern(7, 2 * PAGE), 1);
            Fixture.write(m, partial, 0, Fixture.pattern(8, 3 * PAGE), 1);
            m.flush();
            Fixture.write(m, mixed, 0, Fixture.pattern(9, 10), 2);
            Fixture.write(m, partial, 0, Fixture.pattern(9, 10), 2);
            m.evict(8 * PAGE);   // mixed page 0 and partial page 0 reach the host tier at version 2
        }
        try (MemoryManager m = Fixture.open(dir, Fixture.config(8))) {
            RecoveryMismatch mixed = assertInstanceOf(RecoveryMismatch.class, m.register("mixed", 2 * PAGE, BufferPolicy.PAGEABLE));
            assertTrue(mixed.detail().contains("versions 1 to 2"), mixed.detail());
        }
        try (MemoryManager m = Fixture.open(dir.resolve("other"), Fixture.config(8))) {
            PagedBuffer b = Fixture.register(m, "b", 3 * PAGE, BufferPolicy.PAGEABLE);
            Fixture.write(m, b, PAGE, Fixture.pattern(10, PAGE), 1);
            m.evict(PAGE);   // only page 1 (the last one used) reaches the host tier
        }
        try (MemoryManager m = Fixture.open(dir.resolve("other"), Fixture.config(8))) {
            RecoveryMismatch partial = assertInstanceOf(RecoveryMismatch.class, m.register("b", 3 * PAGE, BufferPolicy.PAGEABLE));
            assertTrue(partial.detail().startsWith("2 of 3 pages are missing (e.g. pages 0, 2)"), partial.detail());
        }
    }

    @Test
    void aDamagedPageIsRefusedAtRestartNamingFileAndPage() throws Exception {
        try (MemoryManager m = Fixture.open(dir, Fixture.config(8))) {
            PagedBuffer b = Fixture.register(m, "adamw", 3 * PAGE, BufferPolicy.PAGEABLE);
            Fixture.write(m, b, 0, Fixture.pattern(11, 3 * PAGE), 1);
            m.flush();
        }
        Path file = dir.resolve("host.cm");
        byte[] bytes = java.nio.file.Files.readAllBytes(file);
        byte[] page1 = Fixture.pattern(11, 3 * PAGE);
        int at = indexOf(bytes, java.util.Arrays.copyOfRange(page1, PAGE, PAGE + 64));
        assertTrue(at > 0);
        bytes[at + 3]++;
        java.nio.file.Files.write(file, bytes);
        PagingException e = assertThrows(PagingException.class, () -> Fixture.open(dir, Fixture.config(8)));
        assertEquals(1, e.pageId());
        assertTrue(e.getMessage().startsWith("host tier file " + file + ": page 1 is damaged"), e.getMessage());
    }

    @Test
    void statisticsRenderAsOneJsonLine() {
        PagingStats s = new PagingStats(3, 1000, 10, 20, 1, 2, 1, 1, 1_500_000, 0, 900,
                java.util.Map.of(Category.WEIGHTS, 500L, Category.OPTIMIZER_STATE, 400L));
        assertEquals("{\"step\":3,\"budget_bytes\":1000,\"paged_out_bytes\":10,\"paged_in_bytes\":20,\"pages_out\":1,"
                + "\"pages_in\":2,\"evictions\":1,\"prefetched_pages\":1,\"stall_ms\":1.500,\"refusals\":0,\"peak_total_bytes\":900,"
                + "\"peak_bytes\":{\"weights\":500,\"gradients\":0,\"activations\":0,\"recomputation\":0,\"temporaries\":0,"
                + "\"optimizer_state\":400}}", s.toJson());
    }

    @Test
    void misuseIsABugNotARefusal() {
        try (MemoryManager m = Fixture.open(dir, Fixture.config(8))) {
            Lease l = Fixture.lease(m, Category.TEMPORARIES, 100);
            m.release(l);
            assertThrows(IllegalStateException.class, () -> m.release(l), "double release");
            assertThrows(IllegalArgumentException.class, () -> m.allocate(Category.OPTIMIZER_STATE, 100, "x"));
            PagedBuffer b = Fixture.register(m, "x", PAGE, BufferPolicy.PAGEABLE);
            assertThrows(IllegalArgumentException.class, () -> m.register("x", PAGE, BufferPolicy.PAGEABLE), "owner twice");
            Pin pin = (Pin) m.acquire(b, 0, 10, Access.write(1));
            assertThrows(IllegalStateException.class, () -> m.unregister(b), "unregister while pinned");
            assertThrows(IllegalStateException.class, m::flush, "flush while pinned for writing");
            m.unpin(pin);
            assertThrows(IllegalStateException.class, () -> m.unpin(pin), "unpin twice");
            assertThrows(IllegalStateException.class, () -> pin.page(0), "page view after unpin");
            assertThrows(IndexOutOfBoundsException.class, () -> m.acquire(b, PAGE - 5, 10, Access.read()));
            assertThrows(IllegalArgumentException.class, () -> m.register("x".repeat(200), PAGE, BufferPolicy.PAGEABLE));
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) continue outer;
            }
            return i;
        }
        return -1;
    }
}
