package io.qlora4j.memory.bench;

import io.qlora4j.kernels.bench.BenchTimer;
import io.qlora4j.memory.Access;
import io.qlora4j.memory.BufferPolicy;
import io.qlora4j.memory.Category;
import io.qlora4j.memory.Lease;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.NanoClock;
import io.qlora4j.memory.PagedBuffer;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.Pin;
import io.qlora4j.memory.tier.ArenaDeviceTier;
import io.qlora4j.memory.tier.ChronicleHostTier;
import io.qlora4j.memory.tier.PageRecord;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Page-out and page-in throughput in GB/s of page payload, next to a plain memory copy of the same bytes timed in the
 * same run (off-heap to off-heap, the bound of any host-memory tier). Two levels: the tiers alone (device arena slot ↔
 * Chronicle Map file, through the host tier's staging array), and the {@link MemoryManager} doing it for a
 * spike (evict every dirty page to grant a lease) and for an update (acquire every page back), policy and
 * bookkeeping included. The first write into a fresh file is reported apart: it is page-fault bound.
 */
public final class PagingBench {

    private PagingBench() {
    }

    public static void run(PrintStream out, Path directory, long totalBytes, int pageBytes, double secondsPerCase) {
        int pages = Math.toIntExact(totalBytes / pageBytes);
        double gb = (double) pages * pageBytes / 1e9;
        Path dir = createTempDirectory(directory);
        try {
            out.printf("paging throughput: %d pages of %d KiB (%.0f MiB); GB/s of page payload%n", pages, pageBytes / 1024,
                    pages * (double) pageBytes / (1 << 20));
            out.printf("device tier: off-heap arena; host tier: Chronicle Map file in %s%n", dir);
            out.printf("%-44s %10s %10s%n", "case", "GB/s", "vs copy");
            double copy;
            try (ArenaDeviceTier device = new ArenaDeviceTier((long) pages * pageBytes, pageBytes);
                 ChronicleHostTier host = ChronicleHostTier.open(dir.resolve("tiers.cm"), pageBytes, pages);
                 Arena arena = Arena.ofConfined()) {
                int[] slots = new int[pages];
                PageRecord[] records = new PageRecord[pages];
                SplittableRandom rnd = new SplittableRandom(1);
                for (int i = 0; i < pages; i++) {
                    slots[i] = device.allocate().orElseThrow();
                    MemorySegment s = device.view(slots[i]);
                    for (long o = 0; o < pageBytes; o += 8) s.set(ValueLayout.JAVA_LONG_UNALIGNED, o, rnd.nextLong());
                    records[i] = new PageRecord(i, "bench", i, pages, (long) pages * pageBytes, pageBytes, 1);
                }
                MemorySegment target = arena.allocate((long) pages * pageBytes, 4096);
                copy = gb / BenchTimer.medianSeconds(() -> {
                    for (int i = 0; i < pages; i++) device.copyOut(slots[i], target.asSlice((long) i * pageBytes, pageBytes));
                }, 2, 5, secondsPerCase);
                line(out, "memory copy (device slot -> host memory)", copy, copy);
                long t0 = System.nanoTime();
                for (int i = 0; i < pages; i++) host.write(records[i], device, slots[i]);
                line(out, "tier page-out, first write into a new file", gb / ((System.nanoTime() - t0) * 1e-9), copy);
                line(out, "tier page-out, rewrite", gb / BenchTimer.medianSeconds(() -> {
                    for (int i = 0; i < pages; i++) host.write(records[i], device, slots[i]);
                }, 1, 3, secondsPerCase), copy);
                line(out, "tier page-in (checksum verified)", gb / BenchTimer.medianSeconds(() -> {
                    for (int i = 0; i < pages; i++) host.read(records[i], device, slots[i]);
                }, 1, 3, secondsPerCase), copy);
            }
            managerCycle(out, dir, pages, pageBytes, gb, copy, secondsPerCase);
        } finally {
            deleteRecursively(dir);
        }
    }

    /** A spike that evicts every (dirty) page, then an update that acquires every page back, through the manager. */
    private static void managerCycle(PrintStream out, Path dir, int pages, int pageBytes, double gb, double copy, double secondsPerCase) {
        long bytes = (long) pages * pageBytes;
        PagingConfig config = new PagingConfig(bytes, pageBytes, true, false);
        try (MemoryManager m = MemoryManager.create(config, new ArenaDeviceTier(bytes, pageBytes),
                ChronicleHostTier.open(dir.resolve("manager.cm"), pageBytes, pages), NanoClock.SYSTEM, Runnable::run)) {
            PagedBuffer buffer = (PagedBuffer) m.register("bench", bytes, BufferPolicy.PAGEABLE);
            long[] nanos = new long[2];   // evicting, acquiring
            long[] version = {0};
            Runnable cycle = () -> {
                m.unpin((Pin) m.acquire(buffer, 0, bytes, Access.write(++version[0])));   // every page dirty
                long t0 = System.nanoTime();
                Lease spike = (Lease) m.allocate(Category.ACTIVATIONS, bytes, "spike");
                long t1 = System.nanoTime();
                m.release(spike);
                m.unpin((Pin) m.acquire(buffer, 0, bytes, Access.read()));
                long t2 = System.nanoTime();
                nanos[0] += t1 - t0;
                nanos[1] += t2 - t1;
            };
            cycle.run();   // the first eviction writes into a new file
            nanos[0] = nanos[1] = 0;
            int runs = 0;
            long begin = System.nanoTime();
            while (runs < 3 || (System.nanoTime() - begin) * 1e-9 < secondsPerCase) {
                cycle.run();
                runs++;
            }
            line(out, "manager: evict all dirty pages for a lease", gb * runs / (nanos[0] * 1e-9), copy);
            line(out, "manager: acquire all pages back", gb * runs / (nanos[1] * 1e-9), copy);
        }
    }

    private static void line(PrintStream out, String name, double gbPerSecond, double copy) {
        out.printf("%-44s %10.2f %10.3f%n", name, gbPerSecond, gbPerSecond / copy);
    }

    private static Path createTempDirectory(Path parent) {
        try {
            Files.createDirectories(parent);
            return Files.createTempDirectory(parent, "qlora4j-paging-bench-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a benchmark directory in " + parent, e);
        }
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the benchmark directory " + dir, e);
        }
    }

    public static void main(String[] args) {
        run(System.out, Path.of(System.getProperty("java.io.tmpdir")), args.length > 0 ? Long.parseLong(args[0]) : 256L << 20,
                args.length > 1 ? Integer.parseInt(args[1]) : PagingConfig.DEFAULT_PAGE_BYTES, 1.0);
    }
}
