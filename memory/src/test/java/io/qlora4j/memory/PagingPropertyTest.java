package io.qlora4j.memory;

import io.qlora4j.memory.tier.ArenaDeviceTier;
import io.qlora4j.memory.tier.ChronicleHostTier;
import io.qlora4j.memory.tier.PageRecord;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.LongStream;

import static io.qlora4j.memory.Fixture.PAGE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Random sequences of allocate / release / write / read / evict / prefetch / flush / register / unregister /
 * crash-and-reopen against a shadow model, with the real tiers and a real background page-in thread. Properties:
 * <ul>
 *   <li>a page always reads back as the bytes last written to it;</li>
 *   <li>after a crash (close without flush, or the objects abandoned), every page the host-tier file holds is exactly
 *       the bytes its version was written with (versions are unique per write); a buffer is adopted exactly when the
 *       file holds all its pages at one version, with those bytes, and otherwise refused as a mismatch; a buffer that
 *       was flushed and not written since is never lost (all its pages are in the file);</li>
 *   <li>the device budget is never exceeded (checked after every operation, and the peak of every step);</li>
 *   <li>releasing everything returns the budget to zero.</li>
 * </ul>
 * Seeds: {@code -Dqlora4j.paging.seeds=N} runs seeds 1..N (default 3); {@code -Dqlora4j.paging.seed=S} runs only S.
 */
class PagingPropertyTest {
    private static final int OPERATIONS = 400;

    @TempDir
    Path dir;

    static LongStream seeds() {
        Long only = Long.getLong("qlora4j.paging.seed");
        return only != null ? LongStream.of(only) : LongStream.rangeClosed(1, Integer.getInteger("qlora4j.paging.seeds", 3));
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void pagingNeverLosesOrChangesABytesAndNeverExceedsTheBudget(long seed) throws Exception {
        try {
            new Run(seed, dir.resolve("seed-" + seed)).execute();
        } catch (Throwable t) {
            throw new AssertionError("paging property failed for seed " + seed + " (rerun: -Dqlora4j.paging.seed=" + seed + ")", t);
        }
    }

    /** The shadow of one buffer: current bytes, and every page's bytes at every version written. */
    private static final class Shadow {
        final String owner;
        final int bytes;
        final BufferPolicy policy;
        PagedBuffer buffer;
        byte[] current;
        final List<Map<Long, byte[]>> history = new ArrayList<>();   // (page) version -> page bytes
        boolean cleanSinceFlush;
        Map<Integer, Long> filed = Map.of();   // after a crash: page -> version the file holds

        Shadow(String owner, int bytes, BufferPolicy policy) {
            this.owner = owner;
            this.bytes = bytes;
            this.policy = policy;
            reset();
        }

        void reset() {
            current = new byte[bytes];
            history.clear();
            for (int p = 0; p < pages(); p++) history.add(new HashMap<>(Map.of(0L, new byte[payload(p)])));
            cleanSinceFlush = false;
        }

        int pages() {
            return Math.ceilDiv(bytes, PAGE);
        }

        int payload(int page) {
            return Math.min(PAGE, bytes - page * PAGE);
        }

        byte[] page(int p) {
            return Arrays.copyOfRange(current, p * PAGE, p * PAGE + payload(p));
        }
    }

    private static final class Run {
        final long seed;
        final SplittableRandom rnd;
        final Path dir;
        final PagingConfig config;
        final ExecutorService pageIn = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "test-page-in");
            t.setDaemon(true);
            return t;
        });
        final Map<String, Shadow> shadows = new LinkedHashMap<>();
        final List<Lease> leases = new ArrayList<>();
        ArenaDeviceTier device;
        ChronicleHostTier host;
        MemoryManager m;
        long version;
        int buffersCreated;
        int crashes;

        Run(long seed, Path dir) throws Exception {
            this.seed = seed;
            this.rnd = new SplittableRandom(seed);
            this.dir = dir;
            java.nio.file.Files.createDirectories(dir);
            this.config = new PagingConfig((6 + rnd.nextInt(20)) * (long) PAGE, PAGE, true, rnd.nextBoolean());
        }

        void execute() throws Exception {
            try {
                open();
                for (int op = 0; op < OPERATIONS; op++) {
                    step(rnd.nextInt(100));
                    checkBudget();
                }
                leases.forEach(m::release);
                for (Shadow s : shadows.values()) assertArrayEquals(s.current, readAll(s), s.owner);
                Fixture.assertReleasesToZero(m, shadows.values().stream().map(s -> s.buffer).toList(), List.of());
                m.close();
                assertTrue(crashes > 0 || OPERATIONS < 100, "the sequence exercised crash-and-reopen");
            } finally {
                pageIn.shutdownNow();
            }
        }

        private void step(int dice) throws Exception {
            if (dice < 14) allocate();
            else if (dice < 26) releaseLease();
            else if (dice < 46) write();
            else if (dice < 58) read();
            else if (dice < 64) m.evict((1 + rnd.nextInt(4)) * (long) PAGE);
            else if (dice < 70) m.prefetch();
            else if (dice < 76) flush();
            else if (dice < 84) register();
            else if (dice < 88) unregister();
            else if (dice < 93) endStep();
            else crashAndReopen();
        }

        private void allocate() {
            Category c = Category.values()[rnd.nextInt(Category.values().length - 1)];   // not OPTIMIZER_STATE
            long bytes = 1 + rnd.nextLong(config.deviceBudgetBytes() / 2);
            MemorySnapshot before = m.snapshot();
            switch (m.allocate(c, bytes, "lease")) {
                case Lease l -> leases.add(l);
                case OutOfDeviceMemory refusal -> {
                    assertTrue(refusal.wouldFitBytes() < bytes, refusal.message());
                    assertTrue(before.budgetBytes() - before.residentTotal() + before.evictableBytes() < bytes
                            || before.pagesInFlight() > 0, "refused although it fit: " + refusal.message());
                }
            }
        }

        private void releaseLease() {
            if (!leases.isEmpty()) m.release(leases.remove(rnd.nextInt(leases.size())));
        }

        private Shadow pick() {
            if (shadows.isEmpty()) return null;
            return new ArrayList<>(shadows.values()).get(rnd.nextInt(shadows.size()));
        }

        private void write() {
            Shadow s = pick();
            if (s == null) return;
            int offset = rnd.nextInt(s.bytes);
            int length = 1 + rnd.nextInt(Math.min(s.bytes - offset, 3 * PAGE));
            long v = ++version;
            AcquireResult r = m.acquire(s.buffer, offset, length, Access.write(v));
            if (r instanceof OutOfDeviceMemory) return;   // the range does not fit next to the leases: nothing happened
            Pin pin = (Pin) r;
            byte[] data = Fixture.pattern(rnd.nextLong(), length);
            for (int done = 0; done < length; ) {
                long at = offset + done;
                int run = (int) Math.min(length - done, PAGE - pin.offsetInPage(at));
                MemorySegment.copy(MemorySegment.ofArray(data), done, pin.pageAt(at), pin.offsetInPage(at), run);
                done += run;
            }
            m.unpin(pin);
            System.arraycopy(data, 0, s.current, offset, length);
            for (int p = pin.firstPage(); p <= pin.lastPage(); p++) s.history.get(p).put(v, s.page(p));
            s.cleanSinceFlush = false;
        }

        private void read() {
            Shadow s = pick();
            if (s == null) return;
            int offset = rnd.nextInt(s.bytes);
            int length = 1 + rnd.nextInt(Math.min(s.bytes - offset, 3 * PAGE));
            AcquireResult r = m.acquire(s.buffer, offset, length, Access.read());
            if (r instanceof OutOfDeviceMemory) return;
            Pin pin = (Pin) r;
            byte[] got = new byte[length];
            for (int done = 0; done < length; ) {
                long at = offset + done;
                int run = (int) Math.min(length - done, PAGE - pin.offsetInPage(at));
                MemorySegment.copy(pin.pageAt(at), pin.offsetInPage(at), MemorySegment.ofArray(got), done, run);
                done += run;
            }
            m.unpin(pin);
            assertArrayEquals(Arrays.copyOfRange(s.current, offset, offset + length), got, s.owner + " [" + offset + ", +" + length + ")");
        }

        /** The whole buffer, one page at a time (a whole buffer may not fit next to the resident ones). */
        private byte[] readAll(Shadow s) {
            byte[] out = new byte[s.bytes];
            for (int p = 0; p < s.pages(); p++) {
                System.arraycopy(Fixture.read(m, s.buffer, (long) p * PAGE, s.payload(p)), 0, out, p * PAGE, s.payload(p));
            }
            return out;
        }

        private void flush() {
            m.flush();
            shadows.values().forEach(s -> s.cleanSinceFlush = true);
        }

        private void register() {
            if (shadows.size() >= 4) return;
            String owner = "buffer-" + buffersCreated++;
            BufferPolicy policy = rnd.nextInt(5) == 0 ? BufferPolicy.ALWAYS_RESIDENT : BufferPolicy.PAGEABLE;
            // Resident buffers stay under 1/8 of the budget each, so that pageable pages can always be pinned one at a time.
            int bytes = 1 + rnd.nextInt(policy == BufferPolicy.PAGEABLE ? 6 * PAGE : (int) (config.deviceBudgetBytes() / 8));
            switch (m.register(owner, bytes, policy)) {
                case PagedBuffer b -> {
                    Shadow s = new Shadow(owner, bytes, policy);
                    s.buffer = b;
                    shadows.put(owner, s);
                }
                case OutOfDeviceMemory refusal -> assertEquals(BufferPolicy.ALWAYS_RESIDENT, policy, refusal.message());
                case RecoveryMismatch mismatch -> fail("a new owner has no recovered pages: " + mismatch);
            }
        }

        private void unregister() {
            Shadow s = pick();
            if (s == null) return;
            m.unregister(s.buffer);
            shadows.remove(s.owner);
        }

        private void endStep() {
            PagingStats stats = m.endStep(version);
            assertTrue(stats.peakTotalBytes() <= config.deviceBudgetBytes(), stats.toJson());
        }

        private void checkBudget() {
            MemorySnapshot s = m.snapshot();
            assertTrue(s.residentTotal() <= s.budgetBytes(), "over budget: " + s);
            assertEquals(s.devicePages() + s.pagesInFlight(), s.slotsInUse(), "slots vs page table: " + s);
            assertEquals((long) s.slotsInUse() * PAGE, s.residentBytes().get(Category.OPTIMIZER_STATE), "optimizer bytes vs slots: " + s);
            assertTrue((long) device.slotsInUse() * PAGE <= config.deviceBudgetBytes(), "device tier over budget");
        }

        private void crashAndReopen() throws Exception {
            crashes++;
            if (rnd.nextBoolean()) {
                m.close();   // close without flush
            } else {
                pageIn.submit(() -> { }).get();   // abandon the manager once its page-in thread is idle (it may be mid-read otherwise)
                device.close();
                host.close();
            }
            leases.clear();
            verifyHostTierFile();
            open();
            for (Shadow s : new ArrayList<>(shadows.values())) {
                boolean complete = s.filed.size() == s.pages() && s.filed.values().stream().distinct().count() == 1;
                if (s.cleanSinceFlush) assertEquals(s.pages(), s.filed.size(), s.owner + " was flushed and not written since, yet pages are missing");
                switch (m.register(s.owner, s.bytes, s.policy)) {
                    case PagedBuffer b when b.recoveredVersion().isEmpty() -> {
                        assertTrue(s.filed.isEmpty(), s.owner + " registered fresh although the file holds its pages " + s.filed);
                        s.reset();
                        s.buffer = b;
                    }
                    case PagedBuffer b -> {
                        assertTrue(complete, s.owner + " adopted from pages " + s.filed);
                        long v = b.recoveredVersion().getAsLong();
                        for (int p = 0; p < s.pages(); p++) {
                            byte[] expected = s.history.get(p).get(v);
                            assertNotNull(expected, s.owner + " page " + p + " adopted at version " + v + ", never written at it");
                            System.arraycopy(expected, 0, s.current, p * PAGE, expected.length);
                        }
                        s.buffer = b;
                        assertArrayEquals(s.current, readAll(s), s.owner + " adopted bytes");
                    }
                    case RecoveryMismatch mismatch -> {
                        assertFalse(complete, s.owner + " holds every page at one version, yet: " + mismatch.message());
                        m.discardRecovered(s.owner);
                        s.reset();
                        switch (m.register(s.owner, s.bytes, s.policy)) {
                            case PagedBuffer b -> s.buffer = b;
                            case OutOfDeviceMemory refusal -> shadows.remove(s.owner);   // a resident buffer that no longer fits
                            case RecoveryMismatch again -> fail("mismatch after discard: " + again);
                        }
                    }
                    case OutOfDeviceMemory refusal -> {
                        assertEquals(BufferPolicy.ALWAYS_RESIDENT, s.policy, refusal.message());
                        m.discardRecovered(s.owner);
                        shadows.remove(s.owner);
                    }
                }
            }
            assertTrue(m.recoveredOwners().isEmpty(), "pages of unknown owners: " + m.recoveredOwners());
        }

        /** Every page in the file is exactly the bytes its version was written with. */
        private void verifyHostTierFile() {
            try (ChronicleHostTier file = ChronicleHostTier.open(dir.resolve("host.cm"), PAGE, 64);
                 ArenaDeviceTier scratch = new ArenaDeviceTier(PAGE, PAGE)) {
                int slot = scratch.allocate().orElseThrow();
                Map<String, Map<Integer, Long>> filed = new HashMap<>();
                for (PageRecord r : file.verifyAll()) {
                    filed.computeIfAbsent(r.owner(), o -> new HashMap<>()).put(r.pageIndex(), r.version());
                    Shadow s = shadows.get(r.owner());
                    assertNotNull(s, "the file holds a page of unknown owner " + r);
                    byte[] expected = s.history.get(r.pageIndex()).get(r.version());
                    assertNotNull(expected, r.describe() + " at version " + r.version() + ", which it was never written at");
                    file.read(r, scratch, slot);
                    byte[] got = new byte[r.payloadBytes()];
                    scratch.copyOut(slot, MemorySegment.ofArray(got));
                    assertArrayEquals(expected, got, r.describe() + " version " + r.version());
                }
                shadows.values().forEach(s -> s.filed = filed.getOrDefault(s.owner, Map.of()));
            }
        }

        private void open() {
            device = new ArenaDeviceTier(config.deviceBudgetBytes(), PAGE);
            host = ChronicleHostTier.open(dir.resolve("host.cm"), PAGE, 64);
            m = MemoryManager.create(config, device, host, NanoClock.SYSTEM, pageIn);
        }
    }
}
