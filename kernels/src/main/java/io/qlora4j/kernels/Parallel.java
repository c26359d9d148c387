package io.qlora4j.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;

/**
 * Runs the outer loop of a kernel on a fixed pool of threads. Work is split into contiguous index ranges, each range
 * handled by exactly one thread and each output element computed by exactly one range, so results are bit-identical
 * whatever the thread count (a resumed or distributed run must reproduce an uninterrupted one).
 *
 * <p>The pool size comes from {@code -Dqlora4j.threads=N} (default: available processors) and can be changed with
 * {@link #setThreads} (benchmarks measure 1 and 2 threads). Nested calls from inside a worker run inline.
 */
public final class Parallel {

    /** Body of a parallel loop over {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    private static volatile ForkJoinPool pool = newPool(Integer.getInteger("qlora4j.threads",
            Runtime.getRuntime().availableProcessors()));

    private Parallel() {
    }

    /** The number of worker threads kernels use. */
    public static int threads() {
        return pool.getParallelism();
    }

    /** Replaces the worker pool (for benchmarks and the {@code --threads} option). */
    public static synchronized void setThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        if (threads == threads()) return;
        ForkJoinPool old = pool;
        pool = newPool(threads);
        old.shutdown();
    }

    /**
     * Runs {@code body} over {@code [0, n)} split into ranges of at least {@code grain} indices (at most 4 ranges per
     * thread, so uneven rows still balance). Runs inline when there is one thread, one range, or when already on a worker.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        ForkJoinPool p = pool;
        int threads = p.getParallelism();
        int ranges = Math.min(Math.max(1, n / Math.max(1, grain)), threads * 4);
        if (threads == 1 || ranges == 1 || ForkJoinTask.inForkJoinPool()) {
            body.run(0, n);
            return;
        }
        List<RecursiveAction> tasks = new ArrayList<>(ranges);
        for (int r = 0; r < ranges; r++) {
            int from = (int) ((long) n * r / ranges);
            int to = (int) ((long) n * (r + 1) / ranges);
            tasks.add(new RecursiveAction() {
                @Override
                protected void compute() {
                    body.run(from, to);
                }
            });
        }
        p.invoke(new RecursiveAction() {
            @Override
            protected void compute() {
                invokeAll(tasks);
            }
        });
    }

    private static ForkJoinPool newPool(int threads) {
        return new ForkJoinPool(threads, p -> {
            var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("qlora4j-kernel-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
    }
}
