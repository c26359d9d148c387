package io.qlora4j.kernels;

/**
 * Token embedding lookup (HF {@code embed_tokens}, llama2.c {@code token_embedding_table}), forward and backward. Not
 * the tied output projection (that is a {@link Matmul} over the same table).
 *
 * <p>Token ids are validated at this boundary: an id outside [0, vocab) is rejected with its row, the id and the vocab
 * size before anything is written (a tokenizer/model mismatch, or added special tokens without a resized table).
 */
public interface Embedding {

    /**
     * @param out    (rows, channels) row-major, written: out[r] = table[tokens[r]]
     * @param tokens (rows) token ids in [0, vocab)
     * @param table  (vocab, channels) row-major
     */
    void embeddingForward(float[] out, int[] tokens, float[] table, int rows, int vocab, int channels);

    /**
     * Adds dOut[r] to dTable[tokens[r]] for every row, rows in ascending order (full fine-tuning only; QLoRA freezes
     * the table).
     *
     * @param dTable (vocab, channels) row-major, accumulated
     * @param dOut   (rows, channels) row-major
     * @param tokens (rows) token ids in [0, vocab)
     */
    void embeddingBackward(float[] dTable, float[] dOut, int[] tokens, int rows, int vocab, int channels);
}
