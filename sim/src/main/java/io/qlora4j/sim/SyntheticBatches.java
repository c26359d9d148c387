package io.qlora4j.sim;

import io.qlora4j.model.data.Batch;
import io.qlora4j.model.data.TokenizedExample;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Real {@link Batch}es for the micro-batches of a {@link SequenceTrace}: random token ids, every token a target, each
 * sequence one token longer than the micro-batch's T so that {@link Batch#pack} gives exactly T positions. What a real
 * run of a simulated scenario (calibration, the spike scenario) trains on.
 */
public final class SyntheticBatches {
    private SyntheticBatches() {
    }

    /** The micro-batches of step {@code s} of {@code trace}, token ids below {@code vocabSize}, from {@code seed}. */
    public static List<Batch> step(SequenceTrace trace, int s, int vocabSize, long seed) {
        SplittableRandom random = new SplittableRandom(seed + 0x9E3779B97F4A7C15L * s);   // golden-ratio stride: unrelated streams per step
        List<Batch> batches = new ArrayList<>();
        long offset = 0;
        for (int length : trace.step(s)) {
            List<TokenizedExample> examples = new ArrayList<>(trace.batch());
            for (int i = 0; i < trace.batch(); i++) {
                int[] tokens = random.ints(length + 1, 0, vocabSize).toArray();
                boolean[] targets = new boolean[length + 1];
                Arrays.fill(targets, true);
                examples.add(new TokenizedExample(offset++, tokens, targets));
            }
            batches.add(Batch.pack(examples, 0));
        }
        return batches;
    }
}
