package io.qlora4j.kernels.cpu;

/**
 * Scalar row primitives, written once: the building blocks of the reference kernels and the tails (the last n mod 16
 * elements) of the vector kernels. Plain loops in ascending index order; dot products and axpys use one FMA per
 * product, exponentials {@link Math#exp} rounded to fp32.
 */
final class Rows {

    private Rows() {
    }

    /** Σ a[aOff+i]·b[bOff+i] for i in [0, n), one FMA per product in ascending order. */
    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float acc = 0f;
        for (int i = 0; i < n; i++) acc = Math.fma(a[aOff + i], b[bOff + i], acc);
        return acc;
    }

    /** y[yOff+i] += alpha·x[xOff+i] for i in [0, n), one FMA each. */
    static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) y[yOff + i] = Math.fma(alpha, x[xOff + i], y[yOff + i]);
    }

    /** max over row[from, to) ({@link Math#max} semantics; −∞ for an empty range). */
    static float max(float[] row, int from, int to) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = from; i < to; i++) max = Math.max(max, row[i]);
        return max;
    }

    /** row[i] *= factor for i in [from, to). */
    static void scale(float[] row, int from, int to, float factor) {
        for (int i = from; i < to; i++) row[i] *= factor;
    }

    /** row[i] = exp(row[i] − shift) for i in [from, to), in place; returns their fp32 sum in ascending order. */
    static float expShiftSum(float[] row, int from, int to, float shift) {
        float sum = 0f;
        for (int i = from; i < to; i++) {
            float e = (float) Math.exp(row[i] - shift);
            row[i] = e;
            sum += e;
        }
        return sum;
    }

    /** Σ exp(row[i] − shift) for i in [from, to): fp32 exponentials summed in float64, row unchanged. */
    static double sumExpShifted(float[] row, int from, int to, float shift) {
        double sum = 0;
        for (int i = from; i < to; i++) sum += (float) Math.exp(row[i] - shift);
        return sum;
    }

    /** dst[dstOff+i] = exp(src[srcOff+i] − shift) · factor for i in [0, n); dst may be src (same offsets). */
    static void expShiftScale(float[] src, int srcOff, float[] dst, int dstOff, int n, float shift, float factor) {
        for (int i = 0; i < n; i++) dst[dstOff + i] = (float) Math.exp(src[srcOff + i] - shift) * factor;
    }
}
