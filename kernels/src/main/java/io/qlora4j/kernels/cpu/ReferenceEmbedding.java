package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.Embedding;

/**
 * {@link Embedding} in plain loops, the only CPU implementation: a row copy (forward) and a row add (backward) are
 * memory-bound, so a vector variant would not pay. The backward adds rows in ascending order, single-threaded, so
 * repeated tokens accumulate deterministically. Dimension letters: N rows, V vocabulary, C channels.
 */
public final class ReferenceEmbedding implements Embedding {

    public static final ReferenceEmbedding INSTANCE = new ReferenceEmbedding();

    private ReferenceEmbedding() {
    }

    @Override
    public void embeddingForward(float[] out, int[] tokens, float[] table, int rows, int vocab, int channels) {
        String k = "embeddingForward";
        check(k, tokens, table, "table", rows, vocab, channels);
        Checks.checkLength(k, "out", out, (long) rows * channels, "(rows, channels) row-major");
        int C = channels;
        for (int r = 0; r < rows; r++) System.arraycopy(table, tokens[r] * C, out, r * C, C);
    }

    @Override
    public void embeddingBackward(float[] dTable, float[] dOut, int[] tokens, int rows, int vocab, int channels) {
        String k = "embeddingBackward";
        check(k, tokens, dTable, "dTable", rows, vocab, channels);
        Checks.checkLength(k, "dOut", dOut, (long) rows * channels, "(rows, channels) row-major");
        int C = channels;
        for (int r = 0; r < rows; r++) {
            int t = tokens[r] * C;
            for (int i = 0; i < C; i++) dTable[t + i] += dOut[r * C + i];
        }
    }

    private static void check(String kernel, int[] tokens, float[] table, String tableName, int rows, int vocab,
                              int channels) {
        Checks.checkPositive(kernel, "rows", rows);
        Checks.checkPositive(kernel, "vocab", vocab);
        Checks.checkPositive(kernel, "channels", channels);
        if ((long) vocab * channels > Integer.MAX_VALUE || (long) rows * channels > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(kernel + ": (vocab or rows)·channels exceeds 2^31 − 1");
        }
        Checks.checkLength(kernel, tableName, table, (long) vocab * channels, "(vocab, channels) row-major");
        Checks.checkLength(kernel, "tokens", tokens, rows, "(rows)");
        for (int r = 0; r < rows; r++) {
            if (tokens[r] < 0 || tokens[r] >= vocab) {
                throw new IllegalArgumentException(kernel + ": token id " + tokens[r] + " at row " + r
                        + " is outside the vocabulary [0, " + vocab + "): tokenizer and model disagree, or added tokens"
                        + " need a resized embedding table");
            }
        }
    }
}
