package io.qlora4j.kernels;

/**
 * Softmax cross-entropy of fp32 logits against target token ids, with ignored rows, forward and backward: the causal-LM
 * loss of HF {@code LlamaForCausalLM} ({@code CrossEntropyLoss(ignore_index=-100)} over {@code logits.float()}, already
 * shifted so row r predicts targets[r]; QLORA-REFERENCE.md §8.3). Not the shift, not the mean: the forward returns the
 * sum over target rows and the backward takes the normalising scale from the caller, because one optimizer step
 * normalises by the target tokens of all its gradient-accumulation micro-batches.
 *
 * <p>Per target row r with {@code lse = max + log Σ_i exp(x_i − max)} (max subtracted for stability; the fp32
 * exponentials summed in float64, or in short fp32 partial sums added in float64): {@code loss_r = lse − x[targets[r]]};
 * {@code dLogits_r = (softmax(x) − onehot(targets[r])) · scale}. An ignored row ({@link #IGNORE_INDEX}) has loss 0 and
 * gradient exactly 0.
 *
 * <p>Rounding: implementations may use different exp routines, so they agree within fp32 tolerance, not bit for bit.
 */
public interface CrossEntropy {

    /** A target that is not a target: its row contributes no loss and gets a zero gradient (PyTorch's default). */
    int IGNORE_INDEX = -100;

    /**
     * Validates every target first: a target outside [0, vocab) that is not {@link #IGNORE_INDEX} is rejected with its
     * row before anything is written.
     *
     * @param losses    (rows) written: loss of each row, 0 for ignored rows
     * @param logSumExp (rows) written: lse of each target row (0 for ignored rows), saved for the backward pass
     * @param logits    (rows, vocab) row-major fp32
     * @param targets   (rows) token ids or {@link #IGNORE_INDEX}
     * @return the summed loss over target rows (divide by the target count for the mean)
     */
    double crossEntropyForward(float[] losses, float[] logSumExp, float[] logits, int[] targets, int rows, int vocab);

    /**
     * Writes {@code dLogits = (softmax − onehot) · scale} for target rows and exactly 0 for ignored rows.
     * {@code dLogits} may be the {@code logits} array itself: the gradient then overwrites the logits in place, which
     * saves the (rows, vocab) buffer (the largest activation of a small model: rows 4096, vocab 32000 = 512 MB).
     *
     * @param dLogits   (rows, vocab) row-major, written; may be {@code logits}
     * @param logits    (rows, vocab) row-major, the forward input
     * @param logSumExp (rows), as written by {@link #crossEntropyForward}
     * @param targets   (rows) as in the forward pass
     * @param scale     gradient scale, normally 1 / (target tokens of the whole optimizer step)
     */
    void crossEntropyBackward(float[] dLogits, float[] logits, float[] logSumExp, int[] targets, int rows, int vocab,
                              float scale);
}
