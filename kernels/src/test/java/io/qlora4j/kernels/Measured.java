package io.qlora4j.kernels;

/**
 * Prints the largest absolute and relative differences of a comparison that passed, so the tolerances a suite uses can
 * be compared with what the kernels actually achieve (surefire keeps the lines in target/surefire-reports/*-output.txt;
 * {@code grep MEASURED}).
 */
final class Measured {

    private Measured() {
    }

    static void report(String what, double[] expected, float[] actual) {
        double maxAbs = 0, maxRel = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            maxAbs = Math.max(maxAbs, d);
            if (Math.abs(expected[i]) > 1e-3) maxRel = Math.max(maxRel, d / Math.abs(expected[i]));
        }
        System.out.printf("MEASURED %-60s max|diff| %.3g  max rel (|ref| > 1e-3) %.3g%n", what, maxAbs, maxRel);
    }

    static void report(String what, float[] expected, float[] actual) {
        report(what, Backends.toDouble(expected), actual);
    }
}
