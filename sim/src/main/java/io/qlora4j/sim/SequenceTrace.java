package io.qlora4j.sim;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The steps to simulate: for every optimizer step, the length T (positions) of each of its micro-batches. A micro-batch
 * of B sequences is right-padded to its longest one ({@code Batch.pack}), so its T is the maximum of its sequences'
 * lengths.
 *
 * @param source    where the lengths came from (a distribution spec or a file), for reports
 * @param batch     sequences per micro-batch
 * @param steps     (steps) × (micro-batches) lengths
 */
public record SequenceTrace(String source, int batch, List<int[]> steps) {

    public SequenceTrace {
        if (steps.isEmpty()) throw new SimulationException(source + ": no steps to simulate");
        steps = steps.stream().map(int[]::clone).toList();
        for (int[] s : steps) {
            if (s.length == 0) throw new SimulationException(source + ": a step without micro-batches");
            for (int t : s) if (t < 1) throw new SimulationException(source + ": sequence length " + t + " < 1");
        }
    }

    /** {@code steps} steps of {@code gradAccum} micro-batches of {@code batch} sequences drawn from {@code d}. */
    public static SequenceTrace sample(LengthDistribution d, int steps, int batch, int gradAccum, long seed) {
        if (steps < 1) throw new SimulationException("--steps must be >= 1, got " + steps);
        SplittableRandom random = new SplittableRandom(seed);
        int[] lengths = new int[Math.multiplyExact(Math.multiplyExact(steps, batch), gradAccum)];
        for (int i = 0; i < lengths.length; i++) lengths[i] = d.sample(random);
        return of(d.spec(), lengths, batch, gradAccum, steps);
    }

    /**
     * Consecutive sequences grouped into micro-batches of {@code batch} and steps of {@code gradAccum} micro-batches
     * (a last partial micro-batch or step is kept, as a data loader without drop_last does), at most {@code maxSteps}.
     */
    public static SequenceTrace of(String source, int[] lengths, int batch, int gradAccum, int maxSteps) {
        List<int[]> steps = new ArrayList<>();
        int perStep = batch * gradAccum;
        for (int start = 0; start < lengths.length && steps.size() < maxSteps; start += perStep) {
            int end = Math.min(lengths.length, start + perStep);
            int[] micro = new int[Math.ceilDiv(end - start, batch)];
            for (int i = start; i < end; i++) micro[(i - start) / batch] = Math.max(micro[(i - start) / batch], lengths[i]);
            steps.add(micro);
        }
        return new SequenceTrace(source, batch, steps);
    }

    public int stepCount() {
        return steps.size();
    }

    /** The micro-batch lengths of step {@code s} (0-based). */
    public int[] step(int s) {
        return steps.get(s).clone();
    }

    /** Every micro-batch length, sorted. */
    public int[] sortedLengths() {
        return steps.stream().flatMapToInt(Arrays::stream).sorted().toArray();
    }

    public int maxLength() {
        int[] all = sortedLengths();
        return all[all.length - 1];
    }

    public int medianLength() {
        int[] all = sortedLengths();
        return all[all.length / 2];
    }
}
