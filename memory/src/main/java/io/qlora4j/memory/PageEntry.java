package io.qlora4j.memory;

import io.qlora4j.memory.tier.PageRecord;

/**
 * One page in the {@link PageTable}: where it is, whether the device copy differs from the host copy, who holds it.
 * Mutated only through the page table, under the manager's lock.
 */
final class PageEntry {
    final long id;
    final PagedBuffer buffer;
    final int index;            // page index in the buffer
    final int payloadBytes;
    Residency residency = Residency.HOST;
    int slot = -1;              // device slot while DEVICE or PAGING_IN
    int pins;
    int writePins;
    boolean dirty;              // device bytes not (yet) in the host tier
    boolean hostCopy;           // the host tier holds a copy (identical unless dirty); without one an off-device page is all zeros
    long version;               // version of the device bytes (of the host copy when not dirty)

    PageEntry(long id, PagedBuffer buffer, int index) {
        this.id = id;
        this.buffer = buffer;
        this.index = index;
        this.payloadBytes = buffer.payloadBytes(index);
    }

    PageRecord record() {
        return new PageRecord(id, buffer.owner(), index, buffer.pageCount(), buffer.byteSize(), payloadBytes, version);
    }

    boolean evictable() {
        return residency == Residency.DEVICE && pins == 0 && buffer.policy() == BufferPolicy.PAGEABLE;
    }

    /** On the device and not movable: pinned, or belonging to an always-resident buffer. */
    boolean locked() {
        return residency == Residency.DEVICE && (pins > 0 || buffer.policy() == BufferPolicy.ALWAYS_RESIDENT);
    }
}
