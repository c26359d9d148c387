package io.qlora4j.memory;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Where every registered page is, and the eviction and page-in order. Not thread-safe: guarded by the manager's lock;
 * every state change goes through a method here so the indexes stay consistent.
 *
 * <p><b>Order.</b> The optimizer touches its pages in one sweep per step, in page-id order (its state is laid out in
 * update order), and nothing else touches them. So the next use of every page is known: pages after the sweep's
 * cursor (the last page acquired) come next in ascending order, then the sweep wraps around to page 0. Eviction takes
 * the page whose next use is furthest away (Belady's rule, exact for a known cyclic sweep): the cursor page, then
 * descending from it, then descending from the highest id. Between steps (cursor at the last page) that is simply
 * "highest id first": the pages the next update needs last leave first, and the page-in, which runs nearest-first,
 * brings back first what the update needs first, so the update can start while later pages are still arriving. During
 * an update, pages already updated this step are the furthest away and go first. LRU would be the wrong rule here:
 * in a cyclic sweep the least recently used page is the one needed next.
 */
final class PageTable {
    private final Map<Long, PageEntry> entries = new HashMap<>();
    private final TreeSet<Long> evictable = new TreeSet<>();   // DEVICE, unpinned, pageable
    private final TreeSet<Long> offDevice = new TreeSet<>();   // HOST
    private int devicePages;
    private int pagesInFlight;
    private int lockedPages;
    private long cursor = -1;

    PageEntry get(long id) {
        PageEntry e = entries.get(id);
        if (e == null) throw new IllegalStateException("page " + id + " is not in the page table");
        return e;
    }

    /** Adds a page that is off the device. */
    void add(PageEntry e) {
        if (e.residency != Residency.HOST) throw new IllegalStateException("page " + e.id + " added while " + e.residency);
        if (entries.putIfAbsent(e.id, e) != null) throw new IllegalStateException("page " + e.id + " added twice");
        enter(e);
    }

    void remove(PageEntry e) {
        if (e.residency == Residency.PAGING_IN || e.pins > 0) {
            throw new IllegalStateException("page " + e.id + " removed while " + e.residency + " with " + e.pins + " pins");
        }
        leave(e);
        entries.remove(e.id);
    }

    void toPagingIn(PageEntry e, int slot) {
        expect(e, Residency.HOST);
        leave(e);
        e.residency = Residency.PAGING_IN;
        e.slot = slot;
        enter(e);
    }

    void toDevice(PageEntry e, int slot) {
        if (e.residency == Residency.DEVICE) throw new IllegalStateException("page " + e.id + " is already on the device");
        leave(e);
        e.residency = Residency.DEVICE;
        e.slot = slot;
        enter(e);
    }

    void toHost(PageEntry e) {
        if (e.residency == Residency.HOST || e.pins > 0) {
            throw new IllegalStateException("page " + e.id + " moved off the device while " + e.residency + " with " + e.pins + " pins");
        }
        leave(e);
        e.residency = Residency.HOST;
        e.slot = -1;
        enter(e);
    }

    void pin(PageEntry e, boolean write) {
        expect(e, Residency.DEVICE);
        leave(e);
        e.pins++;
        if (write) e.writePins++;
        enter(e);
    }

    void unpin(PageEntry e, boolean write) {
        if (e.pins == 0 || (write && e.writePins == 0)) throw new IllegalStateException("page " + e.id + " unpinned more often than pinned");
        leave(e);
        e.pins--;
        if (write) e.writePins--;
        enter(e);
    }

    /** Moves the sweep cursor: {@code pageId} was the last page used. */
    void used(long pageId) {
        cursor = pageId;
    }

    /** The evictable page whose next use is furthest away, or null. */
    PageEntry nextVictim() {
        Long id = evictable.floor(cursor);
        if (id == null && !evictable.isEmpty()) id = evictable.last();
        return id == null ? null : entries.get(id);
    }

    /** The off-device page whose next use is nearest, or null. */
    PageEntry nextToFetch() {
        Long id = offDevice.higher(cursor);
        if (id == null && !offDevice.isEmpty()) id = offDevice.first();
        return id == null ? null : entries.get(id);
    }

    Iterable<PageEntry> all() {
        return entries.values();
    }

    int evictablePages() {
        return evictable.size();
    }

    int devicePages() {
        return devicePages;
    }

    int hostPages() {
        return offDevice.size();
    }

    int pagesInFlight() {
        return pagesInFlight;
    }

    /** Pages on the device that cannot move: pinned, or of always-resident buffers. */
    int lockedPages() {
        return lockedPages;
    }

    private static void expect(PageEntry e, Residency r) {
        if (e.residency != r) throw new IllegalStateException("page " + e.id + " is " + e.residency + ", expected " + r);
    }

    private void leave(PageEntry e) {
        switch (e.residency) {
            case DEVICE -> devicePages--;
            case HOST -> offDevice.remove(e.id);
            case PAGING_IN -> pagesInFlight--;
        }
        if (e.evictable()) evictable.remove(e.id);
        if (e.locked()) lockedPages--;
    }

    private void enter(PageEntry e) {
        switch (e.residency) {
            case DEVICE -> devicePages++;
            case HOST -> offDevice.add(e.id);
            case PAGING_IN -> pagesInFlight++;
        }
        if (e.evictable()) evictable.add(e.id);
        if (e.locked()) lockedPages++;
    }
}
