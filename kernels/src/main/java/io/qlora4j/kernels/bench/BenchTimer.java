package io.qlora4j.kernels.bench;

import java.util.Arrays;

/**
 * Times a piece of work for benchmarks: warms it up, then runs it repeatedly until a minimum time has passed and reports
 * the median run. Benchmarks print ratios against a baseline timed the same way in the same run, never absolute claims
 * from unit tests.
 */
public final class BenchTimer {

    private BenchTimer() {
    }

    /** Median seconds per run of {@code work} after {@code warmups} untimed runs, over at least {@code minRuns} runs and {@code minSeconds}. */
    public static double medianSeconds(Runnable work, int warmups, int minRuns, double minSeconds) {
        for (int i = 0; i < warmups; i++) work.run();
        double[] times = new double[Math.max(minRuns, 1) * 64];
        int runs = 0;
        long begin = System.nanoTime();
        while (runs < times.length && (runs < minRuns || (System.nanoTime() - begin) * 1e-9 < minSeconds)) {
            long t0 = System.nanoTime();
            work.run();
            times[runs++] = (System.nanoTime() - t0) * 1e-9;
        }
        double[] done = Arrays.copyOf(times, runs);
        Arrays.sort(done);
        return done[runs / 2];
    }
}
