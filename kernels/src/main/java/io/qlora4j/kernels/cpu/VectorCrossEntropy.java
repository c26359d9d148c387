package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.CrossEntropy;
import io.qlora4j.kernels.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

import static io.qlora4j.kernels.cpu.VectorMath.F;
import static io.qlora4j.kernels.cpu.VectorMath.LANES;

/**
 * {@link CrossEntropy} with the Java Vector API, shaped like {@link ReferenceCrossEntropy}. Tricks: exponentials from
 * {@link VectorMath#exp} (≤ 2 ulp from {@link Math#exp}); the normaliser summed in 16 fp32 lanes over chunks of
 * {@value #SUM_CHUNK} logits, each chunk's fixed-order lane sum added to a float64 total (so fp32 partial sums stay
 * short); rows split over threads, the returned total summed over rows in order afterwards. Row tails (V mod 16) use
 * the reference's scalar {@link Rows} primitives. Dimension letters: N rows, V vocabulary.
 */
public final class VectorCrossEntropy implements CrossEntropy {

    public static final VectorCrossEntropy INSTANCE = new VectorCrossEntropy();

    private static final int SUM_CHUNK = 1024;

    private VectorCrossEntropy() {
    }

    @Override
    public double crossEntropyForward(float[] losses, float[] logSumExp, float[] logits, int[] targets, int rows,
                                      int vocab) {
        ReferenceCrossEntropy.checkForward(losses, logSumExp, logits, targets, rows, vocab);
        int V = vocab;
        int body = V - V % LANES;
        double[] rowLoss = new double[rows];
        Parallel.forRange(rows, 1, (from, to) -> {
            for (int r = from; r < to; r++) {
                int off = r * V;
                int target = targets[r];
                if (target == IGNORE_INDEX) {
                    rowLoss[r] = ReferenceCrossEntropy.storeRow(losses, logSumExp, r, 0, 0, IGNORE_INDEX, 0f);
                    continue;
                }
                FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
                for (int i = 0; i < body; i += LANES) mv = mv.max(FloatVector.fromArray(F, logits, off + i));
                // MAX is exact and order-free, so its lane reduction is deterministic (unlike ADD)
                float max = Math.max(mv.reduceLanes(VectorOperators.MAX), Rows.max(logits, off + body, off + V));
                double sum = Rows.sumExpShifted(logits, off + body, off + V, max);
                for (int c = 0; c < body; c += SUM_CHUNK) {
                    FloatVector acc = FloatVector.zero(F);
                    int end = Math.min(body, c + SUM_CHUNK);
                    for (int i = c; i < end; i += LANES) {
                        acc = acc.add(VectorMath.exp(FloatVector.fromArray(F, logits, off + i).sub(max)));
                    }
                    sum += VectorMath.sum(acc);
                }
                rowLoss[r] = ReferenceCrossEntropy.storeRow(losses, logSumExp, r, max, sum, target, logits[off + target]);
            }
        });
        double total = 0;
        for (double loss : rowLoss) total += loss;
        return total;
    }

    @Override
    public void crossEntropyBackward(float[] dLogits, float[] logits, float[] logSumExp, int[] targets, int rows,
                                     int vocab, float scale) {
        ReferenceCrossEntropy.checkBackward(dLogits, logits, logSumExp, targets, rows, vocab, scale);
        int V = vocab;
        int body = V - V % LANES;
        Parallel.forRange(rows, 1, (from, to) -> {
            for (int r = from; r < to; r++) {
                int off = r * V;
                int target = targets[r];
                if (target == IGNORE_INDEX) {
                    Arrays.fill(dLogits, off, off + V, 0f);
                    continue;
                }
                float lse = logSumExp[r];
                float targetLogit = logits[off + target];   // read before an in-place pass overwrites it
                for (int i = 0; i < body; i += LANES) {
                    VectorMath.exp(FloatVector.fromArray(F, logits, off + i).sub(lse)).mul(scale).intoArray(dLogits, off + i);
                }
                Rows.expShiftScale(logits, off + body, dLogits, off + body, V - body, lse, scale);
                dLogits[off + target] = ReferenceCrossEntropy.targetGradient(targetLogit, lse, scale);
            }
        });
    }
}
