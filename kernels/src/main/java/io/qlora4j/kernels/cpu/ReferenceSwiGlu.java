package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.SwiGlu;

/**
 * {@link SwiGlu} in plain single-threaded loops over the flattened (rows, hidden) elements: the readable spec and the
 * test oracle. {@code silu(g) = g / (1 + e^−g)} with {@link Math#exp}, as torch's silu kernel divides. The range helpers
 * are shared with {@link VectorSwiGlu} for its tail.
 */
public final class ReferenceSwiGlu implements SwiGlu {

    public static final ReferenceSwiGlu INSTANCE = new ReferenceSwiGlu();

    private ReferenceSwiGlu() {
    }

    @Override
    public void swigluForward(float[] out, float[] gate, float[] up, int rows, int hidden) {
        forward(out, gate, up, 0, check("swigluForward", rows, hidden, out, "out", gate, up, null));
    }

    @Override
    public void swigluBackward(float[] dGate, float[] dUp, float[] dOut, float[] gate, float[] up, int rows, int hidden) {
        int n = check("swigluBackward", rows, hidden, dGate, "dGate", gate, up, dOut);
        Checks.checkLength("swigluBackward", "dUp", dUp, n, "(rows, hidden) row-major");
        if (dGate == dUp) throw new IllegalArgumentException("swigluBackward: dGate and dUp must be different arrays");
        backward(dGate, dUp, dOut, gate, up, 0, n);
    }

    /** out[i] = silu(gate[i]) · up[i] for i in [from, to). */
    static void forward(float[] out, float[] gate, float[] up, int from, int to) {
        for (int i = from; i < to; i++) {
            float g = gate[i];
            out[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }

    /** dUp = dOut·silu(g), dGate = (dOut·up)·(σ·(1 + g·(1 − σ))) for i in [from, to); every input read first. */
    static void backward(float[] dGate, float[] dUp, float[] dOut, float[] gate, float[] up, int from, int to) {
        for (int i = from; i < to; i++) {
            float g = gate[i];
            float u = up[i];
            float d = dOut[i];
            float onePlusE = 1f + (float) Math.exp(-g);
            float sigmoid = 1f / onePlusE;
            dUp[i] = d * (g / onePlusE);
            dGate[i] = d * u * (sigmoid * (1f + g * (1f - sigmoid)));
        }
    }

    /** Validates the shared arguments; returns rows·hidden. */
    public static int check(String kernel, int rows, int hidden, float[] out, String outName, float[] gate, float[] up,
                     float[] dOut) {
        Checks.checkPositive(kernel, "rows", rows);
        Checks.checkPositive(kernel, "hidden", hidden);
        long n = (long) rows * hidden;
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException(kernel + ": rows·hidden = " + n + " exceeds 2^31 − 1");
        String shape = "(rows, hidden) row-major";
        Checks.checkLength(kernel, outName, out, n, shape);
        Checks.checkLength(kernel, "gate", gate, n, shape);
        Checks.checkLength(kernel, "up", up, n, shape);
        if (dOut != null) Checks.checkLength(kernel, "dOut", dOut, n, shape);
        return (int) n;
    }
}
