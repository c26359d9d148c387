package io.qlora4j.memory;

import java.util.Map;

/**
 * The manager's state at one moment: device bytes per category and where the pages are.
 *
 * @param budgetBytes    the device budget
 * @param residentBytes  bytes per category (optimizer pages count whole slots, in-flight page-ins included)
 * @param evictableBytes optimizer page bytes that could be paged out now
 * @param devicePages    pages on the device
 * @param hostPages      pages off the device (in the host tier, or zero pages never written)
 * @param pagesInFlight  pages being paged in
 * @param leases         leases outstanding
 * @param buffers        buffers registered
 * @param slotsInUse     device tier slots allocated (equals devicePages + pagesInFlight)
 */
public record MemorySnapshot(long budgetBytes, Map<Category, Long> residentBytes, long evictableBytes, int devicePages,
                             int hostPages, int pagesInFlight, int leases, int buffers, int slotsInUse) {

    public long residentTotal() {
        return residentBytes.values().stream().mapToLong(Long::longValue).sum();
    }
}
