package io.qlora4j.kernels;

import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Embedding} conformance, run against every backend: forward copies table rows exactly; backward against finite
 * differences of Σ dOut ⊙ table[tokens] (repeated tokens accumulate, dTable is added to); ids are validated with a
 * message naming the row, the id and the vocabulary size, before anything is written.
 */
class EmbeddingConformanceTest {

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#named")
    void forwardCopiesRowsAndBackwardMatchesFiniteDifferences(String name, Backend backend) {
        int vocab = 11, channels = 6, rows = 7;
        SplittableRandom rnd = new SplittableRandom(1);
        float[] table = Backends.gaussian(rnd, vocab * channels, 1.0);
        int[] tokens = {3, 0, 10, 3, 3, 7, 0};
        float[] out = new float[rows * channels];
        backend.embedding().embeddingForward(out, tokens, table, rows, vocab, channels);
        for (int r = 0; r < rows; r++) {
            assertArrayEquals(Arrays.copyOfRange(table, tokens[r] * channels, (tokens[r] + 1) * channels),
                    Arrays.copyOfRange(out, r * channels, (r + 1) * channels), "row " + r);
        }

        float[] dOut = Backends.gaussian(rnd, rows * channels, 1.0);
        float[] initial = Backends.gaussian(rnd, vocab * channels, 1.0);
        float[] dTable = initial.clone();
        backend.embedding().embeddingBackward(dTable, dOut, tokens, rows, vocab, channels);
        double[] numeric = GradCheck.numeric(Backends.toDouble(table), t -> {
            double s = 0;
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < channels; c++) s += dOut[r * channels + c] * t[tokens[r] * channels + c];
            }
            return s;
        });
        for (int i = 0; i < numeric.length; i++) numeric[i] += initial[i];
        Tolerance.assertClose(name + " dTable", numeric, dTable, 1e-6, 1e-6);
    }

    @Test
    void rejectsIdsOutsideTheVocabularyBeforeWriting() {
        float[] out = new float[3 * 4];
        var e = assertThrows(IllegalArgumentException.class, () -> Backend.cpu().embedding()
                .embeddingForward(out, new int[]{1, 32000, 2}, new float[32000 * 4], 3, 32000, 4));
        assertTrue(e.getMessage().contains("token id 32000 at row 1 is outside the vocabulary [0, 32000)"), e.getMessage());
        assertArrayEquals(new float[3 * 4], out, "nothing written");
        assertThrows(IllegalArgumentException.class, () -> Backend.reference().embedding()
                .embeddingBackward(new float[40], new float[8], new int[]{-1, 2}, 2, 10, 4));
    }
}
