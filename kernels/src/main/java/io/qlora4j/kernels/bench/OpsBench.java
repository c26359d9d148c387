package io.qlora4j.kernels.bench;

import io.qlora4j.kernels.AdamWStep;
import io.qlora4j.kernels.AttentionShape;
import io.qlora4j.kernels.Backend;
import io.qlora4j.kernels.Parallel;

import java.io.PrintStream;
import java.util.SplittableRandom;

/**
 * The transformer op kernels of a backend ({@link Backend#cpu()}, or the one {@code --device} selects) against
 * {@link Backend#reference()} on the same data in the same run, forward and backward, at each thread count: milliseconds per call and the speed-up. Shapes are one layer of a
 * Llama-7B-like block (C 4096, H 11008, head size 128, GQA 4:1) at 512 rows, a 32000-token vocabulary and a 4M-element
 * optimizer slice; attention also at generation shape (1 new token against 2048 cached).
 */
public final class OpsBench {

    private OpsBench() {
    }

    /** @param fast the backend measured against the reference loops */
    public static void run(PrintStream out, Backend fast, int[] threadCounts, double secondsPerCase) {
        Backend ref = Backend.reference();
        out.printf("op kernels: %s%nbaseline:   %s%n", fast, ref);
        SplittableRandom rnd = new SplittableRandom(1);
        int rows = 512, c = 4096, hidden = 11008, vocab = 32000, ceRows = 128, n = 1 << 22;
        float[] x = gaussian(rnd, rows * c), w = gaussian(rnd, c), y = new float[rows * c], rstd = new float[rows];
        float[] dx = new float[rows * c], dw = new float[c];
        float[] gate = gaussian(rnd, rows * hidden), up = gaussian(rnd, rows * hidden), act = new float[rows * hidden];
        float[] dGate = new float[rows * hidden], dUp = new float[rows * hidden];
        float[] logits = gaussian(rnd, ceRows * vocab), dLogits = new float[ceRows * vocab];
        float[] losses = new float[ceRows], lse = new float[ceRows];
        int[] targets = new int[ceRows];
        for (int i = 0; i < ceRows; i++) targets[i] = rnd.nextInt(vocab);
        AttentionShape train = AttentionShape.causal(1, 256, 16, 4, 128);
        AttentionShape decode = new AttentionShape(1, 1, 2048, 2047, 32, 8, 128);
        float[] q = gaussian(rnd, train.querySize()), k = gaussian(rnd, decode.keySize()), v = gaussian(rnd, decode.keySize());
        float[] attOut = new float[train.querySize()], probs = new float[train.probsSize()];
        float[] dq = new float[train.querySize()], dk = new float[decode.keySize()], dv = new float[decode.keySize()];
        float[] p = gaussian(rnd, n), g = gaussian(rnd, n), m32 = new float[n], v32 = new float[n];
        float[] absM = new float[n / 256], absV = new float[n / 256];
        byte[] m8 = new byte[n], v8 = new byte[n];
        AdamWStep step = new AdamWStep(1, 1e-4f, 0.9f, 0.999f, 1e-8f, 0f, 1f);

        int original = Parallel.threads();
        try {
            for (int threads : threadCounts) {
                Parallel.setThreads(threads);
                out.printf("%nthreads=%d%n%-44s %12s %12s %9s%n", threads, "case", "reference ms", "backend ms", "speed-up");
                for (Backend b : new Backend[]{ref, fast}) b.rmsnorm().rmsnormForward(y, rstd, x, w, rows, c, 1e-5f);
                compare(out, "rmsnorm forward 512x4096", secondsPerCase, ref, fast,
                        b -> b.rmsnorm().rmsnormForward(y, rstd, x, w, rows, c, 1e-5f));
                compare(out, "rmsnorm backward 512x4096 (+dWeight)", secondsPerCase, ref, fast,
                        b -> b.rmsnorm().rmsnormBackward(dx, dw, y, x, w, rstd, rows, c, false));
                compare(out, "swiglu forward 512x11008", secondsPerCase, ref, fast,
                        b -> b.swiglu().swigluForward(act, gate, up, rows, hidden));
                compare(out, "swiglu backward 512x11008", secondsPerCase, ref, fast,
                        b -> b.swiglu().swigluBackward(dGate, dUp, act, gate, up, rows, hidden));
                compare(out, "cross-entropy forward 128x32000", secondsPerCase, ref, fast,
                        b -> b.crossEntropy().crossEntropyForward(losses, lse, logits, targets, ceRows, vocab));
                compare(out, "cross-entropy backward 128x32000", secondsPerCase, ref, fast,
                        b -> b.crossEntropy().crossEntropyBackward(dLogits, logits, lse, targets, ceRows, vocab, 1e-3f));
                compare(out, "attention forward T=256 NH=16 NKV=4 HS=128", secondsPerCase, ref, fast,
                        b -> b.attention().attentionForward(attOut, probs, q, k, v, train));
                compare(out, "attention backward T=256 NH=16 NKV=4 HS=128", secondsPerCase, ref, fast,
                        b -> b.attention().attentionBackward(dq, dk, dv, attOut, q, k, v, probs, train));
                compare(out, "attention decode 1 token, 2048 cached, NH=32", secondsPerCase, ref, fast,
                        b -> b.attention().attentionForward(attOut, null, q, k, v, decode));
                compare(out, "adamw 32-bit, 4M elements", secondsPerCase, ref, fast,
                        b -> b.adamw().adamw32bit(p, 0, g, 0, m32, 0, v32, 0, n, step));
                compare(out, "adamw 8-bit blockwise, 4M elements", secondsPerCase, ref, fast,
                        b -> b.adamw().adamw8bit(p, 0, g, 0, m8, 0, v8, 0, absM, absV, 0, n, step));
            }
        } finally {
            Parallel.setThreads(original);
        }
    }

    private interface Case {
        void run(Backend backend);
    }

    private static void compare(PrintStream out, String name, double seconds, Backend ref, Backend fast, Case c) {
        double r = BenchTimer.medianSeconds(() -> c.run(ref), 1, 3, seconds);
        double f = BenchTimer.medianSeconds(() -> c.run(fast), 2, 5, seconds);
        out.printf("%-44s %12.2f %12.2f %8.1fx%n", name, r * 1e3, f * 1e3, r / f);
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian();
        return v;
    }

    public static void main(String[] args) {
        run(System.out, Backend.cpu(), new int[]{1, 2}, 1.0);
    }
}
