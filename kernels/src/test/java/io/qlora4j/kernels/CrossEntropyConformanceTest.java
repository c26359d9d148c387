package io.qlora4j.kernels;

import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static io.qlora4j.kernels.CrossEntropy.IGNORE_INDEX;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CrossEntropy} conformance, run against every backend: per-row losses and their sum against float64 log-softmax
 * with ignored rows (including logits offset by ±1e4, where a naive exp overflows); backward against finite differences
 * of scale·Σ loss; ignored rows get exactly zero gradient; in-place gradient equals out-of-place; the fast backend
 * against the reference; identical bits at 1 and 2 threads; target validation.
 */
class CrossEntropyConformanceTest {

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void forwardMatchesFloat64WithIgnoredRows(String name, Backend backend) {
        Backends.assumePresent(backend);
        for (int vocab : new int[]{7, 37, 1000, 32000}) {
            int rows = 6;
            SplittableRandom rnd = new SplittableRandom(vocab);
            float[] logits = Backends.gaussian(rnd, rows * vocab, 3.0);
            for (int i = 3 * vocab; i < 4 * vocab; i++) logits[i] += 1e4f;    // row 3: huge logits
            for (int i = 4 * vocab; i < 5 * vocab; i++) logits[i] -= 1e4f;    // row 4: hugely negative
            int[] targets = {0, vocab - 1, IGNORE_INDEX, rnd.nextInt(vocab), rnd.nextInt(vocab), IGNORE_INDEX};
            float[] losses = new float[rows];
            float[] lse = new float[rows];
            double total = backend.crossEntropy().crossEntropyForward(losses, lse, logits, targets, rows, vocab);
            double[] expected = naiveLosses(Backends.toDouble(logits), targets, rows, vocab);
            // |logit| up to 1e4 carries an fp32 ulp of 1e-3 into lse − x[target]
            Tolerance.assertClose(name + " V=" + vocab + " losses", expected, losses, 1e-5, 1e-5);
            assertEquals(Arrays.stream(expected).sum(), total, 1e-4 * rows, name + " total");
            assertEquals(0f, losses[2]);
            assertEquals(0f, losses[5]);
            Measured.report("cross-entropy loss vs float64 " + name + " V=" + vocab, expected, losses);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void backwardMatchesFiniteDifferencesAndZeroesIgnoredRows(String name, Backend backend) {
        Backends.assumePresent(backend);
        int rows = 4, vocab = 19;
        float scale = 1f / 3;   // three target rows
        SplittableRandom rnd = new SplittableRandom(9);
        float[] logits = Backends.gaussian(rnd, rows * vocab, 2.0);
        int[] targets = {3, IGNORE_INDEX, 18, 0};
        float[] lse = new float[rows];
        backend.crossEntropy().crossEntropyForward(new float[rows], lse, logits, targets, rows, vocab);
        float[] dLogits = new float[rows * vocab];
        Arrays.fill(dLogits, Float.NaN);
        backend.crossEntropy().crossEntropyBackward(dLogits, logits, lse, targets, rows, vocab, scale);
        double[] numeric = GradCheck.numeric(Backends.toDouble(logits),
                x -> scale * Arrays.stream(naiveLosses(x, targets, rows, vocab)).sum());
        Tolerance.assertClose(name + " dLogits", numeric, dLogits, 1e-6, 1e-5);
        for (int i = vocab; i < 2 * vocab; i++) assertEquals(0, Float.floatToRawIntBits(dLogits[i]), "ignored row is +0.0");
        Measured.report("cross-entropy dLogits vs finite differences " + name, numeric, dLogits);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void inPlaceGradientEqualsOutOfPlaceAndAllIgnoredIsZero(String name, Backend backend) {
        Backends.assumePresent(backend);
        int rows = 5, vocab = 1003;
        SplittableRandom rnd = new SplittableRandom(10);
        float[] logits = Backends.gaussian(rnd, rows * vocab, 2.0);
        int[] targets = {5, IGNORE_INDEX, 1002, 77, IGNORE_INDEX};
        float[] lse = new float[rows];
        backend.crossEntropy().crossEntropyForward(new float[rows], lse, logits, targets, rows, vocab);
        float[] separate = new float[rows * vocab];
        backend.crossEntropy().crossEntropyBackward(separate, logits, lse, targets, rows, vocab, 0.25f);
        float[] inPlace = logits.clone();
        backend.crossEntropy().crossEntropyBackward(inPlace, inPlace, lse, targets, rows, vocab, 0.25f);
        assertArrayEquals(separate, inPlace);

        int[] none = new int[rows];
        Arrays.fill(none, IGNORE_INDEX);
        float[] losses = new float[rows];
        assertEquals(0.0, backend.crossEntropy().crossEntropyForward(losses, lse, logits, none, rows, vocab));
        backend.crossEntropy().crossEntropyBackward(separate, logits, lse, none, rows, vocab, 1f);
        assertArrayEquals(new float[rows * vocab], separate);
    }

    @Test
    void fastBackendMatchesReference() {
        int rows = 16, vocab = 32003;
        SplittableRandom rnd = new SplittableRandom(11);
        float[] logits = Backends.gaussian(rnd, rows * vocab, 4.0);
        int[] targets = new int[rows];
        for (int r = 0; r < rows; r++) targets[r] = r % 5 == 0 ? IGNORE_INDEX : rnd.nextInt(vocab);
        CrossEntropy ref = Backend.reference().crossEntropy(), fast = Backend.cpu().crossEntropy();
        float[] rl = new float[rows], rlse = new float[rows], fl = new float[rows], flse = new float[rows];
        double rt = ref.crossEntropyForward(rl, rlse, logits, targets, rows, vocab);
        double ft = fast.crossEntropyForward(fl, flse, logits, targets, rows, vocab);
        Tolerance.assertClose("losses", rl, fl, 1e-6, 1e-6);
        Tolerance.assertClose("lse", rlse, flse, 1e-6, 1e-6);
        assertEquals(rt, ft, 1e-5 * rows);
        float[] rd = new float[rows * vocab], fd = new float[rows * vocab];
        ref.crossEntropyBackward(rd, logits, rlse, targets, rows, vocab, 1f / 13);
        fast.crossEntropyBackward(fd, logits, rlse, targets, rows, vocab, 1f / 13);
        Tolerance.assertClose("dLogits", rd, fd, 1e-12, 1e-6);
        Measured.report("cross-entropy fast vs reference losses", rl, fl);
        Measured.report("cross-entropy fast vs reference dLogits", rd, fd);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void identicalBitsAtOneAndTwoThreads(String name, Backend backend) {
        Backends.assumePresent(backend);
        int rows = 9, vocab = 5003;
        float[] logits = Backends.gaussian(new SplittableRandom(12), rows * vocab, 3.0);
        int[] targets = {1, 2, IGNORE_INDEX, 4, 5, 6, 7, 8, 5002};
        Object[][] results = new Object[2][];
        Backends.atOneAndTwoThreads(t -> {
            float[] losses = new float[rows], lse = new float[rows], d = new float[rows * vocab];
            double total = backend.crossEntropy().crossEntropyForward(losses, lse, logits, targets, rows, vocab);
            backend.crossEntropy().crossEntropyBackward(d, logits, lse, targets, rows, vocab, 0.1f);
            results[t - 1] = new Object[]{total, losses, lse, d};
        });
        assertEquals(results[0][0], results[1][0]);
        for (int i = 1; i < 4; i++) assertArrayEquals((float[]) results[0][i], (float[]) results[1][i], name + " " + i);
    }

    @Test
    void rejectsTargetsOutsideTheVocabulary() {
        var e = assertThrows(IllegalArgumentException.class, () -> Backend.cpu().crossEntropy()
                .crossEntropyForward(new float[2], new float[2], new float[20], new int[]{3, 10}, 2, 10));
        assertTrue(e.getMessage().contains("targets[1] = 10 is neither a token id in [0, 10) nor IGNORE_INDEX (-100)"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Backend.reference().crossEntropy()
                .crossEntropyBackward(new float[20], new float[20], new float[2], new int[]{-1, 0}, 2, 10, 1f));
    }

    /** Per-row −log softmax(x)[target] in float64 (0 for ignored rows). */
    static double[] naiveLosses(double[] logits, int[] targets, int rows, int vocab) {
        double[] loss = new double[rows];
        for (int r = 0; r < rows; r++) {
            if (targets[r] == IGNORE_INDEX) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < vocab; i++) max = Math.max(max, logits[r * vocab + i]);
            double sum = 0;
            for (int i = 0; i < vocab; i++) sum += Math.exp(logits[r * vocab + i] - max);
            loss[r] = max + Math.log(sum) - logits[r * vocab + targets[r]];
        }
        return loss;
    }
}
