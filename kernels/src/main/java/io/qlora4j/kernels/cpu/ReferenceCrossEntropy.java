package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.CrossEntropy;

import java.util.Arrays;

/**
 * {@link CrossEntropy} in plain single-threaded loops: the readable spec and the test oracle. Per target row: max,
 * Σ exp(x − max) of fp32 exponentials ({@link Math#exp}) in float64, lse = max + log(sum) in float64; the loss is
 * lse − x[target] in float64 (stored as fp32, summed as float64). The per-row helpers are shared with
 * {@link VectorCrossEntropy}. Dimension letters: N rows, V vocabulary.
 */
public final class ReferenceCrossEntropy implements CrossEntropy {

    public static final ReferenceCrossEntropy INSTANCE = new ReferenceCrossEntropy();

    private ReferenceCrossEntropy() {
    }

    @Override
    public double crossEntropyForward(float[] losses, float[] logSumExp, float[] logits, int[] targets, int rows,
                                      int vocab) {
        checkForward(losses, logSumExp, logits, targets, rows, vocab);
        int N = rows, V = vocab;
        double total = 0;
        for (int r = 0; r < N; r++) {
            int off = r * V;
            if (targets[r] == IGNORE_INDEX) {
                total += storeRow(losses, logSumExp, r, 0, 0, IGNORE_INDEX, 0f);
                continue;
            }
            float max = Rows.max(logits, off, off + V);
            total += storeRow(losses, logSumExp, r, max, Rows.sumExpShifted(logits, off, off + V, max), targets[r],
                    logits[off + targets[r]]);
        }
        return total;
    }

    @Override
    public void crossEntropyBackward(float[] dLogits, float[] logits, float[] logSumExp, int[] targets, int rows,
                                     int vocab, float scale) {
        checkBackward(dLogits, logits, logSumExp, targets, rows, vocab, scale);
        for (int r = 0; r < rows; r++) {
            int off = r * vocab;
            if (targets[r] == IGNORE_INDEX) {
                Arrays.fill(dLogits, off, off + vocab, 0f);
                continue;
            }
            float targetLogit = logits[off + targets[r]];   // read before an in-place pass overwrites it
            Rows.expShiftScale(logits, off, dLogits, off, vocab, logSumExp[r], scale);
            dLogits[off + targets[r]] = targetGradient(targetLogit, logSumExp[r], scale);
        }
    }

    /**
     * Stores row r's loss and lse from its max and Σ exp(x − max) (ignored rows: both 0); returns the loss in float64.
     */
    static double storeRow(float[] losses, float[] logSumExp, int r, float max, double sumExp, int target,
                           float targetLogit) {
        if (target == IGNORE_INDEX) {
            losses[r] = 0f;
            logSumExp[r] = 0f;
            return 0;
        }
        double lse = max + Math.log(sumExp);
        double loss = lse - targetLogit;
        losses[r] = (float) loss;
        logSumExp[r] = (float) lse;
        return loss;
    }

    /** (softmax_target − 1) · scale. */
    static float targetGradient(float targetLogit, float logSumExp, float scale) {
        return ((float) Math.exp(targetLogit - logSumExp) - 1f) * scale;
    }

    public static void checkForward(float[] losses, float[] logSumExp, float[] logits, int[] targets, int rows, int vocab) {
        String k = "crossEntropyForward";
        checkCommon(k, logits, targets, rows, vocab);
        Checks.checkLength(k, "losses", losses, rows, "(rows)");
        Checks.checkLength(k, "logSumExp", logSumExp, rows, "(rows)");
    }

    public static void checkBackward(float[] dLogits, float[] logits, float[] logSumExp, int[] targets, int rows, int vocab,
                              float scale) {
        String k = "crossEntropyBackward";
        checkCommon(k, logits, targets, rows, vocab);
        Checks.checkLength(k, "dLogits", dLogits, (long) rows * vocab, "(rows, vocab) row-major");
        Checks.checkLength(k, "logSumExp", logSumExp, rows, "(rows), from crossEntropyForward");
        if (!Float.isFinite(scale)) throw new IllegalArgumentException(k + ": scale must be finite, got " + scale);
    }

    private static void checkCommon(String kernel, float[] logits, int[] targets, int rows, int vocab) {
        Checks.checkPositive(kernel, "rows", rows);
        Checks.checkPositive(kernel, "vocab", vocab);
        if ((long) rows * vocab > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(kernel + ": rows·vocab = " + (long) rows * vocab + " exceeds 2^31 − 1");
        }
        Checks.checkLength(kernel, "logits", logits, (long) rows * vocab, "(rows, vocab) row-major");
        Checks.checkLength(kernel, "targets", targets, rows, "(rows)");
        for (int r = 0; r < rows; r++) {
            int t = targets[r];
            if (t != IGNORE_INDEX && (t < 0 || t >= vocab)) {
                throw new IllegalArgumentException(kernel + ": targets[" + r + "] = " + t
                        + " is neither a token id in [0, " + vocab + ") nor IGNORE_INDEX (" + IGNORE_INDEX + ")");
            }
        }
    }
}
