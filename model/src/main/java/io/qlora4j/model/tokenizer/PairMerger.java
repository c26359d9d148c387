package io.qlora4j.model.tokenizer;

import java.util.Arrays;

/**
 * The merge loop shared by both BPE tokenizers: repeatedly merge the adjacent pair of symbols with the lowest
 * rank, the leftmost one among equal ranks, until no adjacent pair merges.
 *
 * <p>Hugging Face BPE ({@code tokenizers} {@code Word::merge_all}) ranks a pair by its line in {@code merges};
 * llama2.c ({@code run.c encode}) merges the pair whose concatenation is the vocabulary piece with the highest
 * score, so its rank is the position of that score in the descending order of distinct scores. Both are this loop
 * over a {@link MergeTable}.
 *
 * <p>{@link #mergeAll} is the fast path: a doubly linked list of symbols and a min-heap of (rank, position of the
 * left symbol) with lazy invalidation (an entry is checked against the current pair when popped), O(n log n).
 * {@link #mergeAllNaive} is the plain reference of {@code run.c}, rescanning all pairs after each merge, O(n²);
 * it is kept as the oracle the fast path is tested against.
 *
 * <p>This is an implementation detail of the tokenizer packages, not part of the tokenizer API.
 */
public final class PairMerger {
    private PairMerger() {
    }

    /** What two adjacent symbols merge into. */
    @FunctionalInterface
    public interface MergeTable {
        /**
         * {@code (rank << 32) | mergedId} for a pair that merges (rank and id both non-negative ints; lower rank merges
         * first), or -1 when the pair does not merge.
         */
        long lookup(int left, int right);
    }

    /**
     * Merges the first {@code n} symbols in place and returns how many are left; the survivors are compacted to the
     * front of the arrays. A merged symbol's span is the union of its parts' spans.
     *
     * @param ids    symbol ids (n), rewritten
     * @param starts span start of each symbol (n), rewritten
     * @param ends   span end of each symbol (n), rewritten
     */
    public static int mergeAll(int[] ids, int[] starts, int[] ends, int n, MergeTable table) {
        if (n < 2) {
            return n;
        }
        int[] prev = new int[n]; // (n) index of the previous live symbol, -1 at the head
        int[] next = new int[n]; // (n) index of the next live symbol, -1 at the tail
        boolean[] dead = new boolean[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongMinHeap heap = new LongMinHeap(2 * n);
        for (int i = 0; i + 1 < n; i++) {
            pushPair(heap, table, ids, i, i + 1);
        }
        while (!heap.isEmpty()) {
            long key = heap.pop();
            int pos = (int) key;
            int rank = (int) (key >>> 32);
            int right = next[pos];
            if (dead[pos] || right < 0) {
                continue;
            }
            long merge = table.lookup(ids[pos], ids[right]);
            if (merge < 0 || (int) (merge >>> 32) != rank) {
                continue; // stale: this pair changed after the entry was pushed; its current form has its own entry
            }
            ids[pos] = (int) merge;
            starts[pos] = Math.min(starts[pos], starts[right]);
            ends[pos] = Math.max(ends[pos], ends[right]);
            dead[right] = true;
            next[pos] = next[right];
            if (next[pos] >= 0) {
                prev[next[pos]] = pos;
                pushPair(heap, table, ids, pos, next[pos]);
            }
            if (prev[pos] >= 0) {
                pushPair(heap, table, ids, prev[pos], pos);
            }
        }
        int count = 0;
        for (int i = 0; i < n; i++) {
            if (!dead[i]) {
                ids[count] = ids[i];
                starts[count] = starts[i];
                ends[count] = ends[i];
                count++;
            }
        }
        return count;
    }

    private static void pushPair(LongMinHeap heap, MergeTable table, int[] ids, int left, int right) {
        long merge = table.lookup(ids[left], ids[right]);
        if (merge >= 0) {
            heap.push((merge & 0xFFFF_FFFF_0000_0000L) | left);
        }
    }

    /**
     * The reference: {@code run.c}'s loop. Scan all adjacent pairs, merge the lowest-ranked (leftmost on ties),
     * shift the rest down, repeat. Same contract as {@link #mergeAll}.
     */
    public static int mergeAllNaive(int[] ids, int[] starts, int[] ends, int n, MergeTable table) {
        while (true) {
            int bestRank = Integer.MAX_VALUE;
            int bestIndex = -1;
            int bestId = -1;
            for (int i = 0; i + 1 < n; i++) {
                long merge = table.lookup(ids[i], ids[i + 1]);
                if (merge >= 0 && (int) (merge >>> 32) < bestRank) {
                    bestRank = (int) (merge >>> 32);
                    bestIndex = i;
                    bestId = (int) merge;
                }
            }
            if (bestIndex < 0) {
                return n;
            }
            ids[bestIndex] = bestId;
            starts[bestIndex] = Math.min(starts[bestIndex], starts[bestIndex + 1]);
            ends[bestIndex] = Math.max(ends[bestIndex], ends[bestIndex + 1]);
            System.arraycopy(ids, bestIndex + 2, ids, bestIndex + 1, n - bestIndex - 2);
            System.arraycopy(starts, bestIndex + 2, starts, bestIndex + 1, n - bestIndex - 2);
            System.arraycopy(ends, bestIndex + 2, ends, bestIndex + 1, n - bestIndex - 2);
            n--;
        }
    }

    /** A binary min-heap of longs, growing as needed (no boxing in the merge loop). */
    private static final class LongMinHeap {
        private long[] heap;
        private int size;

        LongMinHeap(int capacity) {
            heap = new long[Math.max(capacity, 4)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long value) {
            if (size == heap.length) {
                heap = Arrays.copyOf(heap, size * 2);
            }
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] <= value) {
                    break;
                }
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = value;
        }

        long pop() {
            long top = heap[0];
            long last = heap[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) {
                    break;
                }
                if (child + 1 < size && heap[child + 1] < heap[child]) {
                    child++;
                }
                if (heap[child] >= last) {
                    break;
                }
                heap[i] = heap[child];
                i = child;
            }
            heap[i] = last;
            return top;
        }
    }
}
