package io.qlora4j.memory;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Paging statistics of one training step (everything since the previous {@link MemoryManager#endStep}); one line of
 * {@code paging.jsonl} via {@link #toJson()}.
 *
 * @param step            the step these numbers belong to
 * @param budgetBytes     the device budget
 * @param pagedOutBytes   payload bytes written to the host tier (evictions of dirty pages and flushes)
 * @param pagedInBytes    payload bytes read back from the host tier
 * @param pagesOut        pages written to the host tier
 * @param pagesIn         pages brought onto the device (read back, or zero pages materialized)
 * @param evictions       pages moved off the device to make room
 * @param prefetchedPages pages brought in by the background page-in (the rest of {@code pagesIn} was waited for)
 * @param stallNanos      time callers of {@link MemoryManager#acquire} waited for pages not yet on the device
 * @param refusals        requests refused as out of device memory
 * @param peakTotalBytes  highest total resident bytes
 * @param peakBytes       highest resident bytes per category (each category's own peak)
 */
public record PagingStats(long step, long budgetBytes, long pagedOutBytes, long pagedInBytes, int pagesOut, int pagesIn,
                          int evictions, int prefetchedPages, long stallNanos, int refusals, long peakTotalBytes,
                          Map<Category, Long> peakBytes) {

    public PagingStats {
        EnumMap<Category, Long> copy = new EnumMap<>(Category.class);
        copy.putAll(peakBytes);
        peakBytes = Collections.unmodifiableMap(copy);
    }

    /** One JSON object on one line; keys in snake_case, bytes as integers, stall in milliseconds. */
    public String toJson() {
        StringBuilder sb = new StringBuilder(320);
        sb.append("{\"step\":").append(step)
                .append(",\"budget_bytes\":").append(budgetBytes)
                .append(",\"paged_out_bytes\":").append(pagedOutBytes)
                .append(",\"paged_in_bytes\":").append(pagedInBytes)
                .append(",\"pages_out\":").append(pagesOut)
                .append(",\"pages_in\":").append(pagesIn)
                .append(",\"evictions\":").append(evictions)
                .append(",\"prefetched_pages\":").append(prefetchedPages)
                .append(",\"stall_ms\":").append(String.format(Locale.ROOT, "%.3f", stallNanos / 1e6))
                .append(",\"refusals\":").append(refusals)
                .append(",\"peak_total_bytes\":").append(peakTotalBytes)
                .append(",\"peak_bytes\":{");
        boolean first = true;
        for (Category c : Category.values()) {
            if (!first) sb.append(',');
            first = false;
            sb.append('"').append(c.jsonName()).append("\":").append(peakBytes.getOrDefault(c, 0L));
        }
        return sb.append("}}").toString();
    }
}
