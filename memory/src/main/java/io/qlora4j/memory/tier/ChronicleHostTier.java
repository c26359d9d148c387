package io.qlora4j.memory.tier;

import io.qlora4j.memory.PagingException;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.zip.CRC32C;

/**
 * The host tier as a Chronicle Map ({@code Long → byte[]}) persisted to a file in the run directory. Every value is a
 * fixed-size record: a {@value #HEADER_BYTES}-byte header, then one page of payload (zero-padded after
 * {@code payloadBytes}). Header, little-endian:
 * <pre>
 *   0  int   magic "QLPG"               28  int   pageCount
 *   4  int   format version (1)         32  long  bufferBytes
 *   8  long  pageId (equals the key)    40  int   payloadBytes
 *  16  long  version                    44  int   pageBytes (slot size)
 *  24  int   pageIndex                  48  int   owner length (UTF-8 bytes)
 *  52  int   CRC32C of the whole value except these 4 bytes
 *  56  owner name, UTF-8, at most {@link PageRecord#MAX_OWNER_BYTES} bytes; zero padding to {@value #HEADER_BYTES}
 * </pre>
 * Our CRC32C is the integrity check (Chronicle's own entry checksums are off: one checksum, computed once, covering the
 * metadata too). A page goes through a heap staging array: Chronicle's {@code byte[]} path runs at memory speed while
 * its {@code ByteBuffer} path copies byte by byte (measured: 0.3 vs 5 GB/s for reads).
 *
 * <p>Opening an existing file uses {@code recoverPersistedTo}: a killed process can leave Chronicle's segment locks
 * held, and recovery clears them. Recovery also repairs Chronicle's own bookkeeping (it reports, for instance, stale
 * free-space hints even after a clean close); those reports are kept in {@link #recoveryNotes()} and do not refuse the
 * file, because whether the data survived is decided by our checks: {@link #verifyAll()} verifies every page's
 * checksum, header and key, and an entry lost to a repair shows up as a missing page. A file without a Chronicle Map
 * header is refused before recovery. Recovery needs an exclusive file lock, so two processes cannot page into the
 * same run directory.
 *
 * <p>Not a checkpoint format: pages are durable one by one, and only a flush makes them a consistent snapshot (see
 * {@link io.qlora4j.memory.MemoryManager}).
 */
public final class ChronicleHostTier implements HostTier {
    public static final int HEADER_BYTES = 256;
    static final int MAGIC = 0x47504c51;            // bytes 'Q' 'L' 'P' 'G' read little-endian
    static final int FORMAT_VERSION = 1;
    static final int CRC_OFFSET = 52;
    private static final int OWNER_OFFSET = 56;
    private static final int HEADER_PROBE_BYTES = 8192;
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final int pageBytes;
    private final ChronicleMap<Long, byte[]> map;
    private final List<String> recoveryNotes;
    private final ConcurrentLinkedQueue<byte[]> staging = new ConcurrentLinkedQueue<>();   // (HEADER_BYTES + pageBytes) each

    private ChronicleHostTier(Path file, int pageBytes, ChronicleMap<Long, byte[]> map, List<String> recoveryNotes) {
        this.file = file;
        this.pageBytes = pageBytes;
        this.map = map;
        this.recoveryNotes = recoveryNotes;
    }

    /**
     * Creates the file, or reopens (recovers) an existing one.
     *
     * @param capacityPages pages the file is sized for; Chronicle grows it up to 4x beyond that
     * @throws PagingException naming the file if it cannot be created, is locked by another process, or is not a host tier
     */
    public static ChronicleHostTier open(Path file, int pageBytes, long capacityPages) {
        if (pageBytes <= 0) throw new IllegalArgumentException("page size " + pageBytes + " bytes");
        ChronicleMapBuilder<Long, byte[]> builder = ChronicleMap.of(Long.class, byte[].class)
                .name("qlora4j-host-tier")
                .entries(Math.max(16, capacityPages))
                .maxBloatFactor(4.0)
                .constantValueSizeBySample(new byte[HEADER_BYTES + pageBytes])
                .checksumEntries(false);
        boolean exists = Files.exists(file);
        if (exists) checkHeader(file);
        List<String> corruptions = new ArrayList<>();   // Chronicle's repairs of its own structures during recovery
        ChronicleMap<Long, byte[]> map;
        try {
            map = exists
                    ? builder.recoverPersistedTo(file.toFile(), true,
                            c -> corruptions.add("segment " + c.segmentIndex() + ": " + c.message()))
                    : builder.createPersistedTo(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new PagingException("cannot " + (exists ? "reopen" : "create") + " host tier file " + file + ": " + e
                    + (exists ? ". Is another qlora4j process using this run directory? Otherwise the file is not a"
                    + " qlora4j host tier: move it away and restore from a checkpoint" : ""), file.toString(), PagingException.NO_PAGE, e);
        }
        return new ChronicleHostTier(file, pageBytes, map, List.copyOf(corruptions));
    }

    /**
     * Refuses a file that does not start with Chronicle Map's header for a {@code long → byte[]} map before recovery
     * sees it: recovery of a foreign file waits a minute for a "creation complete" bit that never comes.
     */
    private static void checkHeader(Path file) {
        String header;
        try (var in = Files.newInputStream(file)) {
            header = new String(in.readNBytes(HEADER_PROBE_BYTES), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new PagingException("cannot read host tier file " + file + ": " + e, file.toString(), PagingException.NO_PAGE, e);
        }
        if (!header.contains("VanillaChronicleMap") || !header.contains("keyClass: !type long")
                || !header.contains("valueClass: !type byte[]")) {
            throw new PagingException("host tier file " + file + " is damaged or not a qlora4j host tier (no Chronicle Map"
                    + " header for long -> byte[]): move it away and restore the optimizer state from a checkpoint",
                    file.toString(), PagingException.NO_PAGE);
        }
    }

    @Override
    public String location() {
        return file.toString();
    }

    @Override
    public int pageBytes() {
        return pageBytes;
    }

    /** What Chronicle Map's recovery repaired when this file was reopened (empty for a new file), for a log. */
    public List<String> recoveryNotes() {
        return recoveryNotes;
    }

    @Override
    public void write(PageRecord record, DeviceTier device, int slot) {
        checkPayload(record);
        byte[] value = takeStaging();
        try {
            encodeHeader(record, value);
            device.copyOut(slot, MemorySegment.ofArray(value).asSlice(HEADER_BYTES, record.payloadBytes()));
            Arrays.fill(value, HEADER_BYTES + record.payloadBytes(), value.length, (byte) 0);
            put(record, value);
        } finally {
            staging.offer(value);
        }
    }

    @Override
    public void writeZeros(PageRecord record) {
        checkPayload(record);
        byte[] value = takeStaging();
        try {
            encodeHeader(record, value);
            Arrays.fill(value, HEADER_BYTES, value.length, (byte) 0);
            put(record, value);
        } finally {
            staging.offer(value);
        }
    }

    @Override
    public void read(PageRecord expected, DeviceTier device, int slot) {
        byte[] value = takeStaging();
        try {
            byte[] got = get(expected.pageId(), value);
            if (got == null) {
                throw new PagingException("host tier file " + file + " has no " + expected.describe()
                        + ": the page was removed or the file was replaced; restore from a checkpoint", file.toString(), expected.pageId());
            }
            PageRecord stored = verify(expected.pageId(), got);
            if (!stored.equals(expected)) {
                throw new PagingException("host tier file " + file + ": " + expected.describe() + " holds " + stored
                        + " but the page table expects " + expected + ": the file belongs to another run or was modified",
                        file.toString(), expected.pageId());
            }
            device.copyIn(slot, MemorySegment.ofArray(got).asSlice(HEADER_BYTES, stored.payloadBytes()));
        } finally {
            staging.offer(value);
        }
    }

    @Override
    public void remove(long pageId) {
        map.remove(pageId);
    }

    @Override
    public List<PageRecord> verifyAll() {
        long[] keys = map.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
        List<PageRecord> records = new ArrayList<>(keys.length);
        byte[] value = takeStaging();
        try {
            for (long key : keys) {
                byte[] got = get(key, value);
                if (got != null) records.add(verify(key, got));
            }
        } finally {
            staging.offer(value);
        }
        return records;
    }

    @Override
    public void close() {
        map.close();
    }

    private void checkPayload(PageRecord record) {
        if (record.payloadBytes() > pageBytes) {
            throw new IllegalArgumentException(record.describe() + " has " + record.payloadBytes()
                    + " payload bytes; pages of " + file + " hold " + pageBytes);
        }
    }

    private void put(PageRecord record, byte[] value) {
        INT.set(value, CRC_OFFSET, crc(value));
        try {
            map.put(record.pageId(), value);
        } catch (RuntimeException e) {
            throw new PagingException("writing " + record.describe() + " to host tier file " + file + " failed: " + e
                    + ". If the file is full, size the host tier for the whole optimizer state", file.toString(), record.pageId(), e);
        }
    }

    private byte[] get(long key, byte[] using) {
        try {
            return map.getUsing(key, using);
        } catch (RuntimeException e) {
            throw new PagingException("reading page " + key + " from host tier file " + file + " failed: " + e,
                    file.toString(), key, e);
        }
    }

    /** Checks one stored value against its key; the first problem found becomes the error, naming file and page. */
    private PageRecord verify(long key, byte[] value) {
        if (value.length != HEADER_BYTES + pageBytes) {
            throw corrupt(key, "value is " + value.length + " bytes, expected " + (HEADER_BYTES + pageBytes)
                    + " (written with another page size? pages here are " + pageBytes + " bytes)");
        }
        if ((int) INT.get(value, 0) != MAGIC) throw corrupt(key, "bad magic " + Integer.toHexString((int) INT.get(value, 0)));
        int format = (int) INT.get(value, 4);
        if (format != FORMAT_VERSION) {
            throw corrupt(key, "format version " + format + ", this build reads " + FORMAT_VERSION);
        }
        int stored = (int) INT.get(value, CRC_OFFSET);
        int actual = crc(value);
        if (stored != actual) {
            throw corrupt(key, String.format("CRC32C %08x does not match the stored %08x", actual, stored));
        }
        long pageId = (long) LONG.get(value, 8);
        if (pageId != key) throw corrupt(key, "header names page " + pageId);
        int slotBytes = (int) INT.get(value, 44);
        if (slotBytes != pageBytes) throw corrupt(key, "written with " + slotBytes + "-byte pages, this tier uses " + pageBytes);
        int ownerBytes = (int) INT.get(value, 48);
        if (ownerBytes < 1 || ownerBytes > PageRecord.MAX_OWNER_BYTES) throw corrupt(key, "owner length " + ownerBytes);
        try {
            return new PageRecord(pageId, new String(value, OWNER_OFFSET, ownerBytes, StandardCharsets.UTF_8),
                    (int) INT.get(value, 24), (int) INT.get(value, 28), (long) LONG.get(value, 32),
                    (int) INT.get(value, 40), (long) LONG.get(value, 16));
        } catch (IllegalArgumentException e) {
            throw corrupt(key, "inconsistent header: " + e.getMessage());
        }
    }

    private PagingException corrupt(long key, String detail) {
        return new PagingException("host tier file " + file + ": page " + key + " is damaged (" + detail
                + "). The file was modified or written by a process that was killed mid-write; its pages cannot be"
                + " trusted: move it away and restore the optimizer state from a checkpoint", file.toString(), key);
    }

    private void encodeHeader(PageRecord record, byte[] value) {
        byte[] owner = record.owner().getBytes(StandardCharsets.UTF_8);
        Arrays.fill(value, 0, HEADER_BYTES, (byte) 0);
        INT.set(value, 0, MAGIC);
        INT.set(value, 4, FORMAT_VERSION);
        LONG.set(value, 8, record.pageId());
        LONG.set(value, 16, record.version());
        INT.set(value, 24, record.pageIndex());
        INT.set(value, 28, record.pageCount());
        LONG.set(value, 32, record.bufferBytes());
        INT.set(value, 40, record.payloadBytes());
        INT.set(value, 44, pageBytes);
        INT.set(value, 48, owner.length);
        System.arraycopy(owner, 0, value, OWNER_OFFSET, owner.length);
    }

    /** CRC32C of the value with the 4 checksum bytes left out. */
    static int crc(byte[] value) {
        CRC32C crc = new CRC32C();
        crc.update(value, 0, CRC_OFFSET);
        crc.update(value, CRC_OFFSET + 4, value.length - CRC_OFFSET - 4);
        return (int) crc.getValue();
    }

    private byte[] takeStaging() {
        byte[] value = staging.poll();
        return value != null ? value : new byte[HEADER_BYTES + pageBytes];
    }
}
