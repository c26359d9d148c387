package io.qlora4j.model.data;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * Group-by-length batching, as Hugging Face's {@code LengthGroupedSampler} (qlora.py {@code --group_by_length}): a
 * window of {@code 50 × batch} examples is sorted by length (longest first) and cut into batches, so sequences of similar
 * length share a batch and little compute goes into padding. The window containing the longest example goes first so
 * that a run that would run out of memory does so at once. The input order is assumed to be already shuffled.
 */
public final class LengthGrouping {

    /** Megabatch multiplier of transformers' sampler. */
    public static final int WINDOW_BATCHES = 50;

    private LengthGrouping() {
    }

    /** Splits one window of items into batches of {@code batchSize} (the last may be smaller), longest first. */
    public static <T> List<List<T>> batchesOfWindow(List<T> window, ToIntFunction<T> length, int batchSize) {
        List<T> sorted = new ArrayList<>(window);
        sorted.sort(Comparator.comparingInt(length).reversed());
        List<List<T>> batches = new ArrayList<>();
        for (int i = 0; i < sorted.size(); i += batchSize) {
            batches.add(List.copyOf(sorted.subList(i, Math.min(sorted.size(), i + batchSize))));
        }
        return batches;
    }

    /** All items in windows of {@code WINDOW_BATCHES · batchSize}, each window batched longest first. */
    public static <T> List<List<T>> batches(List<T> items, ToIntFunction<T> length, int batchSize) {
        List<List<T>> out = new ArrayList<>();
        int window = WINDOW_BATCHES * batchSize;
        for (int i = 0; i < items.size(); i += window) {
            out.addAll(batchesOfWindow(items.subList(i, Math.min(items.size(), i + window)), length, batchSize));
        }
        return out;
    }
}
