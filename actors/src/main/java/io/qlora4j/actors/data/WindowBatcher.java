package io.qlora4j.actors.data;

import io.qlora4j.model.data.Batch;
import io.qlora4j.model.data.LengthGrouping;
import io.qlora4j.model.data.TokenizedExample;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Turns one window of examples (in arrival order) into its batches, each with the {@link DataPosition} just after it.
 * The result depends only on (run seed, epoch, the window's examples): a resumed stream that rebuilds a window gets
 * the same batches as an uninterrupted one. The shuffle seed is derived from the window's first offset, which
 * identifies the window within its epoch as well as its index would, and is what a {@link DataPosition} stores.
 */
final class WindowBatcher {

    /** A batch and the position after it: resuming there continues with the next batch. */
    record PositionedBatch(Batch batch, DataPosition after) {
    }

    private final Batching batching;
    private final int batchSize;
    private final long seed;
    private final int padId;

    WindowBatcher(Batching batching, int batchSize, long seed, int padId) {
        this.batching = batching;
        this.batchSize = batchSize;
        this.seed = seed;
        this.padId = padId;
    }

    List<PositionedBatch> batches(int epoch, List<TokenizedExample> window) {
        long windowStart = window.getFirst().offset();
        List<List<TokenizedExample>> groups = switch (batching) {
            case SHUFFLED_BY_LENGTH -> {
                List<TokenizedExample> shuffled = new ArrayList<>(window);
                Collections.shuffle(shuffled, new Random(windowSeed(seed, epoch, windowStart)));
                yield LengthGrouping.batchesOfWindow(shuffled, TokenizedExample::length, batchSize);
            }
            case IN_ORDER -> consecutive(window);
        };
        List<PositionedBatch> out = new ArrayList<>(groups.size());
        for (int i = 0; i < groups.size(); i++) {
            out.add(new PositionedBatch(Batch.pack(groups.get(i), padId), new DataPosition(epoch, windowStart, i + 1)));
        }
        return out;
    }

    private List<List<TokenizedExample>> consecutive(List<TokenizedExample> window) {
        List<List<TokenizedExample>> out = new ArrayList<>();
        for (int i = 0; i < window.size(); i += batchSize) {
            out.add(window.subList(i, Math.min(window.size(), i + batchSize)));
        }
        return out;
    }

    /**
     * The shuffle seed of a window: SplitMix64's finalizer over the three inputs, so nearby seeds, epochs and offsets
     * give unrelated permutations. {@link Random} is specified bit for bit by its Javadoc, so the order is the same on
     * every JVM.
     */
    static long windowSeed(long seed, int epoch, long windowStart) {
        long z = seed;
        z = mix(z + 0x9E3779B97F4A7C15L * (epoch + 1L));
        z = mix(z + 0x9E3779B97F4A7C15L * (windowStart + 1L));
        return z;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
