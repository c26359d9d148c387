package io.qlora4j.actors.data;

import io.qlora4j.model.data.EvalSplit;
import io.qlora4j.model.data.LengthGrouping;

/**
 * What a {@link DataStreamer} streams and how it batches.
 *
 * @param source         where the examples come from (a local file or a data server)
 * @param split          the deterministic train/eval split by offset
 * @param side           which side of the split this streamer yields
 * @param batching       shuffled and grouped by length (training) or in order (evaluation)
 * @param batchSize      examples per batch (the last batch of a window may be smaller)
 * @param windowExamples W: examples per shuffle window; the unit of resuming and the most the streamer holds
 * @param seed           the run seed: with the data, it fixes the order of every batch of every epoch
 * @param epochs         passes over the data before {@link DataStreamer.EpochEnd}; {@link #UNLIMITED_EPOCHS} to repeat until stopped
 * @param padId          the token id padding positions carry (their labels are ignored by the loss)
 */
public record DataStreamerConfig(ExampleSource source, EvalSplit split, Side side, Batching batching, int batchSize,
                                 int windowExamples, long seed, int epochs, int padId) {

    public static final int UNLIMITED_EPOCHS = Integer.MAX_VALUE;

    public DataStreamerConfig {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (windowExamples < batchSize) {
            throw new IllegalArgumentException("the shuffle window (" + windowExamples + " examples) must hold at least one batch (" + batchSize + ")");
        }
        if (epochs < 1) throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
    }

    /** Training: the train side, shuffled and grouped by length in windows of {@code 50 × batchSize} (transformers' megabatches). */
    public static DataStreamerConfig train(ExampleSource source, EvalSplit split, int batchSize, long seed, int epochs, int padId) {
        return new DataStreamerConfig(source, split, Side.TRAIN, Batching.SHUFFLED_BY_LENGTH, batchSize,
                LengthGrouping.WINDOW_BATCHES * batchSize, seed, epochs, padId);
    }

    /** Evaluation: the eval side once, in offset order. */
    public static DataStreamerConfig eval(ExampleSource source, EvalSplit split, int batchSize, int padId) {
        return new DataStreamerConfig(source, split, Side.EVAL, Batching.IN_ORDER, batchSize,
                LengthGrouping.WINDOW_BATCHES * batchSize, 0, 1, padId);
    }

    public DataStreamerConfig withWindowExamples(int windowExamples) {
        return new DataStreamerConfig(source, split, side, batching, batchSize, windowExamples, seed, epochs, padId);
    }
}
