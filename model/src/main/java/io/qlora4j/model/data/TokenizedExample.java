package io.qlora4j.model.data;

/**
 * A training example as token ids with the target mask: {@code targets[i]} says whether token i is predicted by the loss
 * (it is a label; the loss is computed on predicting it from tokens 0..i-1).
 *
 * @param offset  the record's offset in its dataset (for resuming and for the no-loss/no-repeat ledger)
 * @param tokens  (n) token ids
 * @param targets (n) target mask
 */
public record TokenizedExample(long offset, int[] tokens, boolean[] targets) {

    public TokenizedExample {
        if (tokens.length != targets.length) {
            throw new IllegalArgumentException("example " + offset + ": " + tokens.length + " tokens but " + targets.length + " mask entries");
        }
    }

    public int length() {
        return tokens.length;
    }

    /** Number of target tokens that can be predicted (the first token has no prefix to predict it from). */
    public int targetCount() {
        int n = 0;
        for (int i = 1; i < targets.length; i++) if (targets[i]) n++;
        return n;
    }

    /** Checks every id against the vocabulary: a clear error for an id the model cannot embed. */
    public TokenizedExample validate(int vocabSize, String where) {
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocabSize) {
                throw new DataException(where + ": example " + offset + " has token id " + tokens[i] + " at position " + i
                        + ", outside the model's vocabulary [0, " + vocabSize + "): was it tokenized with another tokenizer?");
            }
        }
        return this;
    }
}
