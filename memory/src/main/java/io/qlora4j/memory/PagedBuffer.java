package io.qlora4j.memory;

import java.util.OptionalLong;

/**
 * A registered byte range laid out in consecutive pages (ids {@code firstPageId … firstPageId + pageCount − 1}), owned
 * by one client of the {@link MemoryManager} (the optimizer registers one buffer holding all its state). Its bytes are
 * reachable only through a {@link Pin}.
 */
public final class PagedBuffer implements RegistrationResult {
    private final String owner;
    private final long byteSize;
    private final int pageBytes;
    private final long firstPageId;
    private final int pageCount;
    private final BufferPolicy policy;
    private final OptionalLong recoveredVersion;

    PagedBuffer(String owner, long byteSize, int pageBytes, long firstPageId, int pageCount, BufferPolicy policy,
                OptionalLong recoveredVersion) {
        this.owner = owner;
        this.byteSize = byteSize;
        this.pageBytes = pageBytes;
        this.firstPageId = firstPageId;
        this.pageCount = pageCount;
        this.policy = policy;
        this.recoveredVersion = recoveredVersion;
    }

    public String owner() {
        return owner;
    }

    public long byteSize() {
        return byteSize;
    }

    public int pageBytes() {
        return pageBytes;
    }

    public long firstPageId() {
        return firstPageId;
    }

    public int pageCount() {
        return pageCount;
    }

    /** The policy in force (always {@link BufferPolicy#ALWAYS_RESIDENT} when paging is off). */
    public BufferPolicy policy() {
        return policy;
    }

    /** The version all pages carried when the buffer was adopted from the host tier after a restart; empty for a fresh buffer (all zeros). */
    public OptionalLong recoveredVersion() {
        return recoveredVersion;
    }

    /** Payload bytes of a page: {@code pageBytes}, except for the last page. */
    public int payloadBytes(int pageIndex) {
        return (int) Math.min(pageBytes, byteSize - (long) pageIndex * pageBytes);
    }

    @Override
    public String toString() {
        return "buffer '" + owner + "' (" + byteSize + " bytes, pages " + firstPageId + ".." + (firstPageId + pageCount - 1)
                + ", " + policy + ")";
    }
}
