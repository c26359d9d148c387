package io.qlora4j.testing;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Elementwise comparison against a reference with tolerance {@code atol + rtol·|ref|}. On failure the message prints the
 * first mismatches with their index and the maximum absolute difference, so a broken kernel shows where it went wrong.
 */
public final class Tolerance {
    private static final int SHOWN = 8;

    private Tolerance() {
    }

    public static void assertClose(String what, float[] expected, float[] actual, double atol, double rtol) {
        double[] e = new double[expected.length];
        double[] a = new double[actual.length];
        for (int i = 0; i < e.length; i++) e[i] = expected[i];
        for (int i = 0; i < a.length; i++) a[i] = actual[i];
        assertClose(what, e, a, atol, rtol);
    }

    public static void assertClose(String what, double[] expected, float[] actual, double atol, double rtol) {
        double[] a = new double[actual.length];
        for (int i = 0; i < a.length; i++) a[i] = actual[i];
        assertClose(what, expected, a, atol, rtol);
    }

    public static void assertClose(String what, double[] expected, double[] actual, double atol, double rtol) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + " != expected " + expected.length);
        }
        StringBuilder sb = new StringBuilder();
        int bad = 0;
        double maxDiff = 0;
        int maxAt = -1;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            boolean ok = d <= atol + rtol * Math.abs(expected[i]) || (Double.isNaN(expected[i]) && Double.isNaN(actual[i]));
            if (Double.isNaN(d) && !ok) d = Double.POSITIVE_INFINITY;
            if (d > maxDiff) {
                maxDiff = d;
                maxAt = i;
            }
            if (!ok) {
                if (bad < SHOWN) {
                    sb.append(String.format("%n  [%d] expected %.9g actual %.9g diff %.3g", i, expected[i], actual[i], d));
                }
                bad++;
            }
        }
        if (bad > 0) {
            fail(String.format("%s: %d of %d elements outside atol=%.1g rtol=%.1g; max diff %.3g at [%d]%s",
                    what, bad, expected.length, atol, rtol, maxDiff, maxAt, sb));
        }
    }
}
