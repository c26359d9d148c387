package io.qlora4j.memory.tier;

import io.qlora4j.memory.PagingException;
import net.openhft.chronicle.map.ChronicleMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Chronicle Map host tier on a real file: round trips, reopen, and every kind of damage refused with the page named. */
class ChronicleHostTierTest {
    private static final int PAGE = 4096;

    @TempDir
    Path dir;

    @Test
    void pagesSurviveCloseAndReopen() {
        Path file = dir.resolve("host.cm");
        try (ArenaDeviceTier device = new ArenaDeviceTier(4 * PAGE, PAGE)) {
            int slot = device.allocate().orElseThrow();
            try (ChronicleHostTier host = ChronicleHostTier.open(file, PAGE, 8)) {
                fill(device, slot, 11, PAGE);
                host.write(record(5, 0, 2, PAGE, 3), device, slot);
                fill(device, slot, 12, 100);
                host.write(record(6, 1, 2, 100, 3), device, slot);
            }
            try (ChronicleHostTier host = ChronicleHostTier.open(file, PAGE, 8)) {
                assertEquals(List.of(record(5, 0, 2, PAGE, 3), record(6, 1, 2, 100, 3)), host.verifyAll());
                host.read(record(5, 0, 2, PAGE, 3), device, slot);
                assertArrayEquals(pattern(11, PAGE), bytes(device, slot, PAGE));
                host.read(record(6, 1, 2, 100, 3), device, slot);
                assertArrayEquals(pattern(12, 100), bytes(device, slot, 100));
                PagingException wrongVersion = assertThrows(PagingException.class,
                        () -> host.read(record(6, 1, 2, 100, 4), device, slot));
                assertEquals(6, wrongVersion.pageId());
                host.remove(5);
                PagingException missing = assertThrows(PagingException.class, () -> host.read(record(5, 0, 2, PAGE, 3), device, slot));
                assertTrue(missing.getMessage().contains("has no page 5"), missing.getMessage());
            }
        }
    }

    @Test
    void aCleanlyClosedFileWithRemovedPagesReopens() {
        // Chronicle's recovery repairs stale free-space hints left by removals and reports them; that must not refuse the file.
        Path file = dir.resolve("host.cm");
        try (ArenaDeviceTier device = new ArenaDeviceTier(4 * PAGE, PAGE);
             ChronicleHostTier host = ChronicleHostTier.open(file, PAGE, 16)) {
            int slot = device.allocate().orElseThrow();
            for (long id = 0; id < 64; id++) host.write(record(id, 0, 1, 100, id), device, slot);
            for (long id = 0; id < 64; id += 3) host.remove(id);
        }
        try (ChronicleHostTier host = ChronicleHostTier.open(file, PAGE, 16)) {
            List<PageRecord> records = host.verifyAll();
            assertEquals(42, records.size());
            assertTrue(records.stream().allMatch(r -> r.pageId() % 3 != 0 && r.version() == r.pageId()));
        }
    }

    @Test
    void aFlippedByteInTheFileIsRefusedNamingFileAndPage() throws IOException {
        Path file = dir.resolve("host.cm");
        try (ArenaDeviceTier device = new ArenaDeviceTier(4 * PAGE, PAGE);
             ChronicleHostTier host = ChronicleHostTier.open(file, PAGE, 8)) {
            int slot = device.allocate().orElseThrow();
            for (long id = 0; id < 4; id++) {
                fill(device, slot, (int) (40 + id), PAGE);
                host.write(record(id, (int) id, 4, PAGE, 1), device, slot);
            }
        }
        byte[] file1 = Files.readAllBytes(file);
        int at = indexOf(file1, pattern(42, 64));   // page 2's payload starts with this run
        assertTrue(at > 0, "page 2's bytes are in the file");
        file1[at + 1000] ^= 0x10;
        Files.write(file, file1);
        PagingException e = assertThrows(PagingException.class, () -> {
            try (ChronicleHostTier host = ChronicleHostTier.open(file, PAGE, 8)) {
                host.verifyAll();
            }
        });
        assertEquals(2, e.pageId());
        assertEquals(file.toString(), e.location());
        assertTrue(e.getMessage().contains("page 2 is damaged") && e.getMessage().contains("CRC32C")
                && e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void aPageWithAWrongChecksumWrittenThroughTheMapIsRefused() throws IOException {
        Path file = dir.resolve("host.cm");
        try (ArenaDeviceTier device = new ArenaDeviceTier(4 * PAGE, PAGE);
             ChronicleHostTier host = ChronicleHostTier.open(file, PAGE, 8)) {
            int slot = device.allocate().orElseThrow();
            fill(device, slot, 1, PAGE);
            host.write(record(7, 0, 1, PAGE, 0), device, slot);
        }
        // Another writer replaces the payload but keeps the old header and checksum.
        try (ChronicleMap<Long, byte[]> raw = ChronicleMap.of(Long.class, byte[].class)
                .recoverPersistedTo(file.toFile(), true)) {
            byte[] value = raw.get(7L);
            value[ChronicleHostTier.HEADER_BYTES + 17]++;
            raw.put(7L, value);
        }
        PagingException e = assertThrows(PagingException.class, () -> {
            try (ChronicleHostTier host = ChronicleHostTier.open(file, PAGE, 8)) {
                host.verifyAll();
            }
        });
        assertEquals(7, e.pageId());
        assertTrue(e.getMessage().contains("page 7 is damaged"), e.getMessage());
    }

    @Test
    void aFileOfAnotherPageSizeOrNotAHostTierIsRefused() throws IOException {
        Path file = dir.resolve("host.cm");
        try (ArenaDeviceTier device = new ArenaDeviceTier(4 * PAGE, PAGE);
             ChronicleHostTier host = ChronicleHostTier.open(file, PAGE, 8)) {
            host.write(record(0, 0, 1, 10, 0), device, device.allocate().orElseThrow());
        }
        PagingException size = assertThrows(PagingException.class, () -> {
            try (ChronicleHostTier host = ChronicleHostTier.open(file, 2 * PAGE, 8)) {
                host.verifyAll();
            }
        });
        assertTrue(size.getMessage().contains("page size"), size.getMessage());

        Path garbage = dir.resolve("garbage.cm");
        Files.write(garbage, new byte[100_000]);
        PagingException notOurs = assertThrows(PagingException.class, () -> ChronicleHostTier.open(garbage, PAGE, 8).close());
        assertEquals(garbage.toString(), notOurs.location());
        assertTrue(notOurs.getMessage().contains("not a qlora4j host tier"), notOurs.getMessage());
    }

    static PageRecord record(long id, int index, int count, int payload, long version) {
        return new PageRecord(id, "owner-x", index, count, (long) (count - 1) * PAGE + payload, payload, version);
    }

    static byte[] pattern(int seed, int length) {
        byte[] b = new byte[length];
        int x = seed * 0x9E3779B1;
        for (int i = 0; i < length; i++) {
            x = x * 1664525 + 1013904223;
            b[i] = (byte) (x >>> 24);
        }
        return b;
    }

    private static void fill(DeviceTier device, int slot, int seed, int length) {
        device.copyIn(slot, MemorySegment.ofArray(pattern(seed, length)));
    }

    private static byte[] bytes(DeviceTier device, int slot, int length) {
        byte[] b = new byte[length];
        device.copyOut(slot, MemorySegment.ofArray(b));
        return b;
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
