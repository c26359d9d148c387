package io.qlora4j.model.data;

import java.util.Arrays;
import java.util.List;

/**
 * A padded batch for causal language modelling: B sequences of T positions, right-padded. Position t of sequence b
 * feeds token {@code inputs[b·T + t]} and is trained to predict {@code labels[b·T + t]}, the next token, or
 * {@link #IGNORE_INDEX} where that next token is not a target or is padding (the shift of Hugging Face's causal-LM loss
 * is done here, once).
 *
 * @param batchSize    B
 * @param seqLen       T: the longest example's length minus one
 * @param inputs       (B·T) input token ids, padding = the pad id
 * @param labels       (B·T) next-token targets or IGNORE_INDEX
 * @param offsets      (B) dataset offsets of the examples (for the offset ledger and resuming)
 * @param targetTokens number of labels that are not IGNORE_INDEX
 */
public record Batch(int batchSize, int seqLen, int[] inputs, int[] labels, long[] offsets, int targetTokens) {

    /** The label of a position that is not trained (qlora.py / PyTorch cross-entropy's ignore_index). */
    public static final int IGNORE_INDEX = -100;

    /** Packs examples into one right-padded batch. */
    public static Batch pack(List<TokenizedExample> examples, int padId) {
        if (examples.isEmpty()) throw new IllegalArgumentException("a batch needs at least one example");
        int t = 1;
        for (TokenizedExample e : examples) t = Math.max(t, e.length() - 1);
        int b = examples.size();
        int[] inputs = new int[b * t];
        int[] labels = new int[b * t];
        long[] offsets = new long[b];
        Arrays.fill(inputs, padId);
        Arrays.fill(labels, IGNORE_INDEX);
        int targets = 0;
        for (int i = 0; i < b; i++) {
            TokenizedExample e = examples.get(i);
            offsets[i] = e.offset();
            for (int p = 0; p + 1 < e.length(); p++) {
                inputs[i * t + p] = e.tokens()[p];
                if (e.targets()[p + 1]) {
                    labels[i * t + p] = e.tokens()[p + 1];
                    targets++;
                }
            }
        }
        return new Batch(b, t, inputs, labels, offsets, targets);
    }

    /** Number of positions B·T. */
    public int positions() {
        return batchSize * seqLen;
    }
}
