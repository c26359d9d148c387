package io.qlora4j.memory;

/** Counters of the current step, turned into a {@link PagingStats} and reset by {@link #finish}. Guarded by the manager's lock. */
final class StatsRecorder {
    private long pagedOutBytes;
    private long pagedInBytes;
    private int pagesOut;
    private int pagesIn;
    private int evictions;
    private int prefetchedPages;
    private long stallNanos;
    private int refusals;

    void pagedOut(long bytes) {
        pagedOutBytes += bytes;
        pagesOut++;
    }

    void pagedIn(long bytes, boolean background) {
        pagedInBytes += bytes;
        pagesIn++;
        if (background) prefetchedPages++;
    }

    void evicted() {
        evictions++;
    }

    void stalled(long nanos) {
        stallNanos += nanos;
    }

    void refused() {
        refusals++;
    }

    PagingStats finish(long step, DeviceBudget budget) {
        PagingStats stats = new PagingStats(step, budget.limit(), pagedOutBytes, pagedInBytes, pagesOut, pagesIn, evictions,
                prefetchedPages, stallNanos, refusals, budget.peakTotal(), budget.peaks());
        pagedOutBytes = pagedInBytes = stallNanos = 0;
        pagesOut = pagesIn = evictions = prefetchedPages = refusals = 0;
        return stats;
    }
}
