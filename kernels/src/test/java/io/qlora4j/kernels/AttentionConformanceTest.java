package io.qlora4j.kernels;

import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Attention} conformance, run against every backend: forward (outputs and saved probabilities) against a
 * float64 causal GQA attention, including a query offset into a preallocated KV cache; backward (dq, dk, dv) against
 * finite differences with GQA, the causal mask and an offset; the fast backend against the reference; one call over a
 * sequence equals token-by-token calls against a growing KV cache, bit for bit; identical bits at 1 and 2 threads.
 */
class AttentionConformanceTest {

    /** (batch, queryLength, keyLength, queryOffset, heads, kvHeads, headSize). */
    private static final int[][] SHAPES = {
            {2, 5, 5, 0, 4, 2, 8},        // stories260K-like head size, GQA 2:1
            {1, 33, 33, 0, 2, 1, 16},     // multi-query
            {2, 70, 70, 0, 4, 4, 64},     // more than one 64-key block, full multi-head
            {1, 17, 17, 0, 6, 2, 20},     // head size not a multiple of 16
            {2, 3, 9, 4, 4, 2, 16},       // generation: 3 new tokens after 4 cached, cache preallocated for 9
            {1, 1, 40, 39, 2, 1, 32},     // one new token after 39 cached
    };

    static Stream<Arguments> backendsAndShapes() {
        List<Arguments> cases = new ArrayList<>();
        Backends.namedWithCuda().forEach(b -> {
            for (int[] s : SHAPES) cases.add(Arguments.of(b.get()[0], b.get()[1], shape(s)));
        });
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("backendsAndShapes")
    void forwardMatchesFloat64(String name, Backend backend, AttentionShape s) {
        Backends.assumePresent(backend);
        SplittableRandom rnd = new SplittableRandom(s.hashCode());
        float[] q = Backends.gaussian(rnd, s.querySize(), 1.0);
        float[] k = Backends.gaussian(rnd, s.keySize(), 1.0);
        float[] v = Backends.gaussian(rnd, s.keySize(), 1.0);
        float[] out = new float[s.querySize()];
        float[] probs = new float[s.probsSize()];
        Arrays.fill(probs, Float.NaN);   // every element must be written, masked ones with 0
        backend.attention().attentionForward(out, probs, q, k, v, s);
        double[] expectedProbs = new double[s.probsSize()];
        double[] expected = naiveForward(Backends.toDouble(q), Backends.toDouble(k), Backends.toDouble(v), s, expectedProbs);
        Tolerance.assertClose(name + " out", expected, out, 2e-6, 1e-5);
        Tolerance.assertClose(name + " probs", expectedProbs, probs, 1e-7, 1e-5);
        Measured.report("attention out vs float64 " + name + " " + s, expected, out);

        float[] outNoProbs = new float[s.querySize()];
        backend.attention().attentionForward(outNoProbs, null, q, k, v, s);
        assertArrayEquals(out, outNoProbs, "out without saving probabilities");
    }

    static Stream<Arguments> gradientCases() {
        List<Arguments> cases = new ArrayList<>();
        int[][] shapes = {{2, 3, 5, 2, 4, 2, 8}, {1, 4, 4, 0, 2, 1, 16}, {1, 2, 6, 1, 2, 2, 8}};
        Backends.namedWithCuda().forEach(b -> {
            for (int[] s : shapes) cases.add(Arguments.of(b.get()[0], b.get()[1], shape(s)));
        });
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("gradientCases")
    void backwardMatchesFiniteDifferences(String name, Backend backend, AttentionShape s) {
        Backends.assumePresent(backend);
        SplittableRandom rnd = new SplittableRandom(11);
        float[] q = Backends.gaussian(rnd, s.querySize(), 1.0);
        float[] k = Backends.gaussian(rnd, s.keySize(), 1.0);
        float[] v = Backends.gaussian(rnd, s.keySize(), 1.0);
        float[] dOut = Backends.gaussian(rnd, s.querySize(), 1.0);
        float[] probs = new float[s.probsSize()];
        backend.attention().attentionForward(new float[s.querySize()], probs, q, k, v, s);
        float[] dq = filled(s.querySize());
        float[] dk = filled(s.keySize());
        float[] dv = filled(s.keySize());
        backend.attention().attentionBackward(dq, dk, dv, dOut, q, k, v, probs, s);

        double[] qd = Backends.toDouble(q), kd = Backends.toDouble(k), vd = Backends.toDouble(v);
        double[] numDq = GradCheck.numeric(qd, x -> GradCheck.dot(dOut, naiveForward(x, kd, vd, s, null)));
        double[] numDk = GradCheck.numeric(kd, x -> GradCheck.dot(dOut, naiveForward(qd, x, vd, s, null)));
        double[] numDv = GradCheck.numeric(vd, x -> GradCheck.dot(dOut, naiveForward(qd, kd, x, s, null)));
        Tolerance.assertClose(name + " dq", numDq, dq, 1e-5, 1e-4);
        Tolerance.assertClose(name + " dk", numDk, dk, 1e-5, 1e-4);
        Tolerance.assertClose(name + " dv", numDv, dv, 1e-5, 1e-4);
        Measured.report("attention dq vs finite differences " + name + " " + s, numDq, dq);
        Measured.report("attention dk vs finite differences " + name + " " + s, numDk, dk);
        Measured.report("attention dv vs finite differences " + name + " " + s, numDv, dv);
    }

    /** Forward on the same inputs; backward on the same inputs and the reference's saved probabilities. */
    @Test
    void fastBackendMatchesReference() {
        Attention ref = Backend.reference().attention();
        Attention fast = Backend.cpu().attention();
        for (AttentionShape s : List.of(AttentionShape.causal(2, 150, 8, 2, 64), AttentionShape.causal(1, 70, 6, 3, 20),
                AttentionShape.causal(2, 40, 4, 2, 8), new AttentionShape(1, 20, 128, 100, 4, 1, 128))) {
            SplittableRandom rnd = new SplittableRandom(s.hashCode());
            float[] q = Backends.gaussian(rnd, s.querySize(), 1.0);
            float[] k = Backends.gaussian(rnd, s.keySize(), 1.0);
            float[] v = Backends.gaussian(rnd, s.keySize(), 1.0);
            float[] dOut = Backends.gaussian(rnd, s.querySize(), 1.0);
            float[] refOut = new float[s.querySize()], fastOut = new float[s.querySize()];
            float[] refProbs = new float[s.probsSize()], fastProbs = new float[s.probsSize()];
            ref.attentionForward(refOut, refProbs, q, k, v, s);
            fast.attentionForward(fastOut, fastProbs, q, k, v, s);
            Tolerance.assertClose("out " + s, refOut, fastOut, 1e-6, 1e-5);
            Tolerance.assertClose("probs " + s, refProbs, fastProbs, 1e-8, 1e-5);
            Measured.report("attention fast vs reference out " + s, refOut, fastOut);
            Measured.report("attention fast vs reference probs " + s, refProbs, fastProbs);
            float[][] r = backward(ref, dOut, q, k, v, refProbs, s);
            float[][] f = backward(fast, dOut, q, k, v, refProbs, s);
            String[] names = {"dq", "dk", "dv"};
            for (int i = 0; i < 3; i++) {
                Tolerance.assertClose(names[i] + " " + s, r[i], f[i], 1e-6, 1e-5);
                Measured.report("attention fast vs reference " + names[i] + " " + s, r[i], f[i]);
            }
        }
    }

    /**
     * A prompt processed in one call equals the same prompt fed token by token (and in two chunks) against a KV cache
     * preallocated for the whole length, whose rows not yet written hold NaN (so reading one would show).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void oneCallEqualsTokenByTokenWithAGrowingKvCache(String name, Backend backend) {
        Backends.assumePresent(backend);
        for (int hs : new int[]{8, 16, 64}) {
            int batch = 2, length = 11, heads = 4, kvHeads = 2;
            int qWidth = heads * hs, kvWidth = kvHeads * hs;
            SplittableRandom rnd = new SplittableRandom(hs);
            float[] q = Backends.gaussian(rnd, batch * length * qWidth, 1.0);
            float[] k = Backends.gaussian(rnd, batch * length * kvWidth, 1.0);
            float[] v = Backends.gaussian(rnd, batch * length * kvWidth, 1.0);
            float[] full = new float[batch * length * qWidth];
            backend.attention().attentionForward(full, null, q, k, v, AttentionShape.causal(batch, length, heads, kvHeads, hs));

            float[] kCache = filled(k.length);
            float[] vCache = filled(v.length);
            float[] stepped = new float[full.length];
            int[][] chunks = {{0, 1}, {1, 1}, {2, 1}, {3, 5}, {8, 1}, {9, 2}};   // (first position, tokens)
            for (int[] c : chunks) {
                int first = c[0], n = c[1];
                float[] qNew = new float[batch * n * qWidth];
                float[] outNew = new float[batch * n * qWidth];
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(q, (b * length + first) * qWidth, qNew, b * n * qWidth, n * qWidth);
                    System.arraycopy(k, (b * length + first) * kvWidth, kCache, (b * length + first) * kvWidth, n * kvWidth);
                    System.arraycopy(v, (b * length + first) * kvWidth, vCache, (b * length + first) * kvWidth, n * kvWidth);
                }
                backend.attention().attentionForward(outNew, null, qNew, kCache, vCache,
                        new AttentionShape(batch, n, length, first, heads, kvHeads, hs));
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(outNew, b * n * qWidth, stepped, (b * length + first) * qWidth, n * qWidth);
                }
            }
            assertArrayEquals(full, stepped, name + " HS=" + hs);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.qlora4j.kernels.Backends#namedWithCuda")
    void identicalBitsAtOneAndTwoThreads(String name, Backend backend) {
        Backends.assumePresent(backend);
        AttentionShape s = AttentionShape.causal(2, 37, 4, 2, 32);
        SplittableRandom rnd = new SplittableRandom(5);
        float[] q = Backends.gaussian(rnd, s.querySize(), 1.0);
        float[] k = Backends.gaussian(rnd, s.keySize(), 1.0);
        float[] v = Backends.gaussian(rnd, s.keySize(), 1.0);
        float[] dOut = Backends.gaussian(rnd, s.querySize(), 1.0);
        float[][][] results = new float[2][][];
        Backends.atOneAndTwoThreads(t -> {
            float[] out = new float[s.querySize()];
            float[] probs = new float[s.probsSize()];
            backend.attention().attentionForward(out, probs, q, k, v, s);
            float[][] grads = backward(backend.attention(), dOut, q, k, v, probs, s);
            results[t - 1] = new float[][]{out, probs, grads[0], grads[1], grads[2]};
        });
        for (int i = 0; i < 5; i++) assertArrayEquals(results[0][i], results[1][i], name + " output " + i);
    }

    @Test
    void shapeAndArgumentErrorsNameTheProblem() {
        var e = assertThrows(IllegalArgumentException.class, () -> new AttentionShape(1, 4, 4, 0, 6, 4, 8));
        assertTrue(e.getMessage().contains("heads (6) must be a multiple of kvHeads (4)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new AttentionShape(1, 4, 5, 2, 4, 4, 8));
        assertTrue(e.getMessage().contains("queryOffset + queryLength = 2 + 4 exceeds keyLength 5"), e.getMessage());
        AttentionShape s = AttentionShape.causal(1, 4, 2, 1, 8);
        e = assertThrows(IllegalArgumentException.class, () -> Backend.cpu().attention()
                .attentionForward(new float[64], null, new float[64], new float[31], new float[32], s));
        assertTrue(e.getMessage().contains("attentionForward: k has 31 elements, needs at least 32"), e.getMessage());
    }

    private static float[][] backward(Attention a, float[] dOut, float[] q, float[] k, float[] v, float[] probs,
                                      AttentionShape s) {
        float[] dq = filled(s.querySize()), dk = filled(s.keySize()), dv = filled(s.keySize());
        a.attentionBackward(dq, dk, dv, dOut, q, k, v, probs, s);
        return new float[][]{dq, dk, dv};
    }

    /** NaN-filled, so an element a kernel fails to write shows up. */
    private static float[] filled(int n) {
        float[] x = new float[n];
        Arrays.fill(x, Float.NaN);
        return x;
    }

    private static AttentionShape shape(int[] s) {
        return new AttentionShape(s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
    }

    /** HF eager attention in float64 with the causal mask and repeat_kv; fills probs (B, NH, Tq, Tk) when given. */
    static double[] naiveForward(double[] q, double[] k, double[] v, AttentionShape s, double[] probs) {
        int nh = s.heads(), nkv = s.kvHeads(), hs = s.headSize(), tq = s.queryLength(), tk = s.keyLength();
        double[] out = new double[s.querySize()];
        for (int b = 0; b < s.batch(); b++) {
            for (int h = 0; h < nh; h++) {
                int kh = h / (nh / nkv);
                for (int t = 0; t < tq; t++) {
                    int visible = s.queryOffset() + t + 1;
                    double[] p = new double[visible];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < visible; j++) {
                        double dot = 0;
                        for (int d = 0; d < hs; d++) {
                            dot += q[((b * tq + t) * nh + h) * hs + d] * k[((b * tk + j) * nkv + kh) * hs + d];
                        }
                        p[j] = dot / Math.sqrt(hs);
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < visible; j++) sum += (p[j] = Math.exp(p[j] - max));
                    for (int j = 0; j < visible; j++) {
                        p[j] /= sum;
                        if (probs != null) probs[((b * nh + h) * tq + t) * tk + j] = p[j];
                        for (int d = 0; d < hs; d++) {
                            out[((b * tq + t) * nh + h) * hs + d] += p[j] * v[((b * tk + j) * nkv + kh) * hs + d];
                        }
                    }
                }
            }
        }
        return out;
    }
}
