package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.RmsNorm;

/**
 * {@link RmsNorm} in plain single-threaded loops: the readable spec and the test oracle. The sum of squares is
 * accumulated in float64 (each fp32 square is exact there), so rstd is the correctly rounded fp32 value up to the one
 * final rounding. The per-range helpers are shared with {@link VectorRmsNorm} for its tails.
 * Dimension letters: N rows (B·T), C channels.
 */
public final class ReferenceRmsNorm implements RmsNorm {

    public static final ReferenceRmsNorm INSTANCE = new ReferenceRmsNorm();

    private ReferenceRmsNorm() {
    }

    @Override
    public void rmsnormForward(float[] out, float[] rstd, float[] in, float[] weight, int rows, int channels, float eps) {
        checkForward(out, rstd, in, weight, rows, channels, eps);
        int N = rows, C = channels;
        for (int r = 0; r < N; r++) {
            int off = r * C;
            float s = rstdOf(sumOfSquares(in, off, off + C), C, eps);
            if (rstd != null) rstd[r] = s;
            normalize(out, in, weight, off, 0, C, s);
        }
    }

    @Override
    public void rmsnormBackward(float[] dIn, float[] dWeight, float[] dOut, float[] in, float[] weight, float[] rstd,
                                int rows, int channels, boolean accumulate) {
        checkBackward(dIn, dWeight, dOut, in, weight, rstd, rows, channels);
        int N = rows, C = channels;
        for (int r = 0; r < N; r++) {
            int off = r * C;
            float meanDot = (float) (projection(dOut, in, weight, off, 0, C, rstd[r]) / C);
            inputGradient(dIn, dOut, in, weight, off, 0, C, rstd[r], meanDot, accumulate);
        }
        if (dWeight != null) weightGradient(dWeight, dOut, in, rstd, N, C, 0, C);
    }

    /** rsqrt(mean(x²) + eps) from the row's sum of squares. */
    static float rstdOf(double sumOfSquares, int channels, float eps) {
        return (float) (1.0 / Math.sqrt(sumOfSquares / channels + eps));
    }

    /** Σ x[i]² for i in [from, to), in float64. */
    static double sumOfSquares(float[] x, int from, int to) {
        double ss = 0;
        for (int i = from; i < to; i++) ss += (double) x[i] * x[i];
        return ss;
    }

    /** out[off+i] = w[i] · (x[off+i] · rstd) for channels i in [from, to): HF rounds x·rstd to fp32 before the weight. */
    static void normalize(float[] out, float[] in, float[] weight, int off, int from, int to, float rstd) {
        for (int i = from; i < to; i++) out[off + i] = weight[i] * (in[off + i] * rstd);
    }

    /** Σ (dOut ⊙ w) ⊙ (x·rstd) over channels [from, to) of the row at off, in float64. */
    static double projection(float[] dOut, float[] in, float[] weight, int off, int from, int to, float rstd) {
        double dot = 0;
        for (int i = from; i < to; i++) dot += (double) (dOut[off + i] * weight[i]) * (in[off + i] * rstd);
        return dot;
    }

    /** dIn = rstd · (dOut⊙w − (x·rstd) · meanDot) over channels [from, to), written or added. */
    static void inputGradient(float[] dIn, float[] dOut, float[] in, float[] weight, int off, int from, int to,
                              float rstd, float meanDot, boolean accumulate) {
        for (int i = from; i < to; i++) {
            float g = (dOut[off + i] * weight[i] - (in[off + i] * rstd) * meanDot) * rstd;
            dIn[off + i] = accumulate ? dIn[off + i] + g : g;
        }
    }

    /** dW[i] += Σ_rows dOut[r][i] · (x[r][i] · rstd[r]) for channels [from, to), rows in ascending order. */
    static void weightGradient(float[] dWeight, float[] dOut, float[] in, float[] rstd, int rows, int channels,
                               int from, int to) {
        for (int r = 0; r < rows; r++) {
            int off = r * channels;
            for (int i = from; i < to; i++) dWeight[i] += dOut[off + i] * (in[off + i] * rstd[r]);
        }
    }

    public static void checkForward(float[] out, float[] rstd, float[] in, float[] weight, int rows, int channels, float eps) {
        String k = "rmsnormForward";
        checkDims(k, rows, channels);
        long n = (long) rows * channels;
        Checks.checkLength(k, "in", in, n, "(rows, channels) row-major");
        Checks.checkLength(k, "out", out, n, "(rows, channels) row-major");
        Checks.checkLength(k, "weight", weight, channels, "(channels)");
        if (rstd != null) Checks.checkLength(k, "rstd", rstd, rows, "(rows)");
        if (out == in) throw new IllegalArgumentException(k + ": out must not alias in (the backward pass needs the input)");
        if (!(eps >= 0f) || Float.isInfinite(eps)) throw new IllegalArgumentException(k + ": eps must be finite and >= 0, got " + eps);
    }

    public static void checkBackward(float[] dIn, float[] dWeight, float[] dOut, float[] in, float[] weight, float[] rstd,
                              int rows, int channels) {
        String k = "rmsnormBackward";
        checkDims(k, rows, channels);
        long n = (long) rows * channels;
        Checks.checkLength(k, "dIn", dIn, n, "(rows, channels) row-major");
        Checks.checkLength(k, "dOut", dOut, n, "(rows, channels) row-major");
        Checks.checkLength(k, "in", in, n, "(rows, channels) row-major");
        Checks.checkLength(k, "weight", weight, channels, "(channels)");
        Checks.checkLength(k, "rstd", rstd, rows, "(rows), as saved by rmsnormForward");
        if (dWeight != null) Checks.checkLength(k, "dWeight", dWeight, channels, "(channels)");
    }

    private static void checkDims(String kernel, int rows, int channels) {
        Checks.checkPositive(kernel, "rows", rows);
        Checks.checkPositive(kernel, "channels", channels);
        if ((long) rows * channels > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(kernel + ": rows·channels = " + (long) rows * channels + " exceeds 2^31 − 1");
        }
    }
}
