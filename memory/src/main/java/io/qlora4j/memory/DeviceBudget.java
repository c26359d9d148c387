package io.qlora4j.memory;

import java.util.EnumMap;
import java.util.Map;

/**
 * Bytes resident on the device per {@link Category} against a hard limit, with peaks since the last reset. Exceeding
 * the limit is a bug in the manager (every grant checks first), so {@link #add} throws instead of refusing.
 * Not thread-safe: guarded by the manager's lock.
 */
final class DeviceBudget {
    private static final Category[] CATEGORIES = Category.values();

    private final long limit;
    private final long[] bytes = new long[CATEGORIES.length];
    private final long[] peak = new long[CATEGORIES.length];
    private long total;
    private long peakTotal;

    DeviceBudget(long limit) {
        this.limit = limit;
    }

    long limit() {
        return limit;
    }

    long total() {
        return total;
    }

    long free() {
        return limit - total;
    }

    long of(Category category) {
        return bytes[category.ordinal()];
    }

    void add(Category category, long n) {
        if (n > limit - total) {
            throw new IllegalStateException("device budget of " + limit + " bytes exceeded: " + total + " resident + "
                    + n + " for " + category + " (a grant skipped its room check)");
        }
        int c = category.ordinal();
        bytes[c] += n;
        total += n;
        peak[c] = Math.max(peak[c], bytes[c]);
        peakTotal = Math.max(peakTotal, total);
    }

    void subtract(Category category, long n) {
        int c = category.ordinal();
        if (n > bytes[c]) throw new IllegalStateException("releasing " + n + " bytes of " + category + " but only " + bytes[c] + " are accounted");
        bytes[c] -= n;
        total -= n;
    }

    Map<Category, Long> resident() {
        return snapshot(bytes);
    }

    Map<Category, Long> peaks() {
        return snapshot(peak);
    }

    long peakTotal() {
        return peakTotal;
    }

    /** Starts a new peak window at the current values. */
    void resetPeaks() {
        System.arraycopy(bytes, 0, peak, 0, bytes.length);
        peakTotal = total;
    }

    private static Map<Category, Long> snapshot(long[] values) {
        EnumMap<Category, Long> map = new EnumMap<>(Category.class);
        for (Category c : CATEGORIES) map.put(c, values[c.ordinal()]);
        return map;
    }
}
