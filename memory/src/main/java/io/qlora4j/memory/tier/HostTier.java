package io.qlora4j.memory.tier;

import java.util.List;

/**
 * Where evicted pages live: a store keyed by page id whose every value carries its {@link PageRecord} and a checksum, so
 * that a page read back is either exactly the page written or an error naming it. Implementation:
 * {@link ChronicleHostTier} (a Chronicle Map persisted to a file in the run directory); a simulator may model only the
 * link's timing.
 *
 * <p>Thread-safe: the memory manager writes from the caller's thread while its page-in thread reads other pages.
 * Durability: a page is durable once {@link #write} returns (the OS holds the mapped file's dirty pages even if the
 * process is killed); what was on the device and never written here is not.
 */
public interface HostTier extends AutoCloseable {

    /** The file (or other store) behind this tier, for messages. */
    String location();

    /** Bytes per page; equal to the device tier's slot size. */
    int pageBytes();

    /** Stores the first {@code record.payloadBytes()} bytes of the device slot under {@code record.pageId()}, replacing any older copy. */
    void write(PageRecord record, DeviceTier device, int slot);

    /** Stores a page of zeros: materializes a page that was never written, for a complete snapshot. */
    void writeZeros(PageRecord record);

    /**
     * Reads the page {@code expected.pageId()} into the device slot after verifying its checksum and that its stored
     * record equals {@code expected}.
     *
     * @throws io.qlora4j.memory.PagingException naming the file and the page if it is missing, damaged or not the page expected
     */
    void read(PageRecord expected, DeviceTier device, int slot);

    /** Forgets a page (no-op if absent). */
    void remove(long pageId);

    /**
     * Verifies every stored page (checksum, header, key) in ascending page id order and returns their records: what a
     * restarted manager rebuilds its page table from.
     *
     * @throws io.qlora4j.memory.PagingException naming the file and the first bad page
     */
    List<PageRecord> verifyAll();

    @Override
    void close();
}
