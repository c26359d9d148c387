package io.qlora4j.memory;

/**
 * Configuration of a {@link MemoryManager}.
 *
 * @param deviceBudgetBytes hard limit on device bytes for everything accounted (the {@code --device-memory} option)
 * @param pageBytes         page size: a positive multiple of 4096 (an 8-bit optimizer block of 256 codes, and its
 *                          4-byte absmax, never straddle a page)
 * @param pagingEnabled     whether optimizer pages may be evicted ({@code --no-paging} turns it off: every buffer
 *                          stays resident and a request over the budget is refused)
 * @param prefetchOnRelease whether releasing activation or recomputation memory starts a background page-in of the
 *                          evicted optimizer pages
 */
public record PagingConfig(long deviceBudgetBytes, int pageBytes, boolean pagingEnabled, boolean prefetchOnRelease) {
    /** 256 KiB: large enough that per-page overhead (header, table entry, one Chronicle operation) is below 0.1%. */
    public static final int DEFAULT_PAGE_BYTES = 256 * 1024;

    public PagingConfig {
        if (pageBytes <= 0 || pageBytes % 4096 != 0) {
            throw new IllegalArgumentException("page size " + pageBytes + " bytes is not a positive multiple of 4096; use e.g. "
                    + DEFAULT_PAGE_BYTES);
        }
        if (deviceBudgetBytes < pageBytes) {
            throw new IllegalArgumentException("device budget " + deviceBudgetBytes + " bytes is smaller than one page ("
                    + pageBytes + " bytes): raise --device-memory");
        }
    }

    /** The defaults: 256 KiB pages, paging on, prefetch on release. */
    public static PagingConfig of(long deviceBudgetBytes) {
        return new PagingConfig(deviceBudgetBytes, DEFAULT_PAGE_BYTES, true, true);
    }

    /** This configuration with paging on or off ({@code --no-paging}). */
    public PagingConfig withPaging(boolean enabled) {
        return new PagingConfig(deviceBudgetBytes, pageBytes, enabled, prefetchOnRelease);
    }
}
