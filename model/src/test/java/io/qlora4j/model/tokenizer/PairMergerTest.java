package io.qlora4j.model.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The heap merge loop against the plain O(n²) reference on random merge tables and random symbol strings. */
class PairMergerTest {
    /**
     * Symbols 0..7 are the alphabet; each table entry merges a random pair into a new id with a random rank. With
     * {@code distinctRanks} every pair has its own rank (Hugging Face merges); without, ranks repeat (llama2.c, where
     * pairs whose merged pieces score the same share a rank) so ties must go to the leftmost pair.
     */
    @Test
    void heapMergeEqualsNaiveMerge() {
        for (boolean distinctRanks : new boolean[] {true, false}) {
            long seed = distinctRanks ? 7 : 8;
            Random random = new Random(seed);
            for (int table = 0; table < 20; table++) {
                Map<Long, Long> merges = new HashMap<>();
                int nextId = 8;
                for (int m = 0; m < 60; m++) {
                    int left = random.nextInt(nextId), right = random.nextInt(nextId);
                    int rank = distinctRanks ? m : random.nextInt(6);
                    merges.putIfAbsent(((long) left << 32) | right, ((long) rank << 32) | nextId++);
                }
                PairMerger.MergeTable lookup = (l, r) -> merges.getOrDefault(((long) l << 32) | r, -1L);
                for (int trial = 0; trial < 50; trial++) {
                    int n = random.nextInt(trial < 45 ? 30 : 600);
                    int[] ids = random.ints(n, 0, 8).toArray();
                    int[] starts = new int[n], ends = new int[n];
                    Arrays.setAll(starts, i -> i);
                    Arrays.setAll(ends, i -> i + 1);
                    int[][] fast = {ids.clone(), starts.clone(), ends.clone()};
                    int[][] naive = {ids.clone(), starts.clone(), ends.clone()};
                    int kFast = PairMerger.mergeAll(fast[0], fast[1], fast[2], n, lookup);
                    int kNaive = PairMerger.mergeAllNaive(naive[0], naive[1], naive[2], n, lookup);
                    String what = "seed " + seed + " table " + table + " trial " + trial + " ids " + Arrays.toString(ids);
                    assertEquals(kNaive, kFast, what);
                    for (int a = 0; a < 3; a++) {
                        assertArrayEquals(Arrays.copyOf(naive[a], kNaive), Arrays.copyOf(fast[a], kFast), what);
                    }
                }
            }
        }
    }
}
