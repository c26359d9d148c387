package io.qlora4j.memory;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.StringJoiner;

/**
 * A request the device budget cannot meet even after paging out every optimizer page that may leave the device (or
 * with paging off). Nothing was changed by the refused request. {@link #message()} says how much was needed, what is
 * resident by category, and what would fit.
 *
 * @param category       what the request was for
 * @param label          the caller's label for the request
 * @param requestedBytes bytes asked for
 * @param budgetBytes    the device budget
 * @param residentBytes  bytes resident per category at the time of the refusal
 * @param evictableBytes optimizer page bytes that could have been paged out (0 with paging off)
 * @param pagingEnabled  whether paging was on
 */
public record OutOfDeviceMemory(Category category, String label, long requestedBytes, long budgetBytes,
                                Map<Category, Long> residentBytes, long evictableBytes, boolean pagingEnabled)
        implements AllocationResult, AcquireResult, RegistrationResult, Refusal {

    public OutOfDeviceMemory {
        EnumMap<Category, Long> copy = new EnumMap<>(Category.class);
        copy.putAll(residentBytes);
        residentBytes = Collections.unmodifiableMap(copy);
    }

    public long residentTotal() {
        return residentBytes.values().stream().mapToLong(Long::longValue).sum();
    }

    public long freeBytes() {
        return budgetBytes - residentTotal();
    }

    /** The largest request that would have been granted: free bytes plus, with paging on, the evictable optimizer pages. */
    public long wouldFitBytes() {
        return freeBytes() + (pagingEnabled ? evictableBytes : 0);
    }

    @Override
    public String message() {
        StringJoiner resident = new StringJoiner(", ");
        residentBytes.forEach((c, b) -> {
            if (b > 0) resident.add(c.jsonName() + " " + ByteSizes.format(b));
        });
        String fit = pagingEnabled
                ? ByteSizes.format(freeBytes()) + " free + " + ByteSizes.format(evictableBytes)
                  + " of optimizer pages that can be paged out"
                : ByteSizes.format(freeBytes()) + " free; paging is off (--no-paging), so optimizer state stays on the device";
        return "out of device memory: " + category.jsonName() + " '" + label + "' needs " + ByteSizes.format(requestedBytes)
                + " (" + requestedBytes + " bytes) but at most " + ByteSizes.format(wouldFitBytes()) + " would fit (" + fit
                + "). Device budget " + ByteSizes.format(budgetBytes) + ", resident " + ByteSizes.format(residentTotal())
                + (resident.length() > 0 ? ": " + resident : "") + ". Raise the device budget (--device-memory) by at least "
                + ByteSizes.format(requestedBytes - wouldFitBytes())
                + (pagingEnabled ? "" : " or turn paging on")
                + ", or lower the batch size or the sequence length.";
    }

    @Override
    public String toString() {
        return message();
    }
}
