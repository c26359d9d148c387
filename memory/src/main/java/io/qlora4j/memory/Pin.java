package io.qlora4j.memory;

import java.lang.foreign.MemorySegment;

/**
 * The pages covering a byte range of a {@link PagedBuffer}, held on the device until {@link MemoryManager#unpin}: they
 * cannot be evicted meanwhile, so their slots stay valid. Page views are sliced to each page's payload and must not be
 * used after the unpin (the slot may then hold another page).
 */
public final class Pin implements AcquireResult {
    private final PagedBuffer buffer;
    private final long offset;
    private final long length;
    private final Access access;
    private final int firstPage;
    private final MemorySegment[] pages;   // (lastPage − firstPage + 1) device slot views, payloadBytes each
    private volatile boolean released;

    Pin(PagedBuffer buffer, long offset, long length, Access access, int firstPage, MemorySegment[] pages) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        this.access = access;
        this.firstPage = firstPage;
        this.pages = pages;
    }

    public PagedBuffer buffer() {
        return buffer;
    }

    /** Start of the requested range in the buffer. */
    public long offset() {
        return offset;
    }

    public long length() {
        return length;
    }

    public Access access() {
        return access;
    }

    /** Index (in the buffer) of the first pinned page. */
    public int firstPage() {
        return firstPage;
    }

    /** Index (in the buffer) of the last pinned page. */
    public int lastPage() {
        return firstPage + pages.length - 1;
    }

    /** The pinned page with this index in the buffer. */
    public MemorySegment page(int pageIndex) {
        if (released) throw new IllegalStateException("pin of " + buffer + " used after unpin");
        if (pageIndex < firstPage || pageIndex > lastPage()) {
            throw new IndexOutOfBoundsException("page " + pageIndex + " of " + buffer + " is not pinned (pinned: "
                    + firstPage + ".." + lastPage() + ")");
        }
        return pages[pageIndex - firstPage];
    }

    /** The pinned page holding this byte of the buffer. */
    public MemorySegment pageAt(long bufferOffset) {
        return page((int) (bufferOffset / buffer.pageBytes()));
    }

    /** Where this byte of the buffer sits in its page. */
    public long offsetInPage(long bufferOffset) {
        return bufferOffset % buffer.pageBytes();
    }

    boolean released() {
        return released;
    }

    void markReleased() {
        released = true;
    }
}
