package io.qlora4j.kernels;

import java.util.function.ToDoubleFunction;

/**
 * Central finite differences in float64, the oracle for every backward pass: for a scalar objective
 * L(x) = Σ dOut ⊙ op(x) evaluated by a float64 naive forward, dL/dx_i ≈ (L(x + h·e_i) − L(x − h·e_i)) / 2h, with an
 * error of order h² (≈ 1e-8 for h = 1e-4), far below the fp32 error of the kernels under test.
 */
final class GradCheck {

    static final double H = 1e-4;

    private GradCheck() {
    }

    /** dL/dx for every element of x (x is perturbed in place and restored). */
    static double[] numeric(double[] x, ToDoubleFunction<double[]> loss) {
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double saved = x[i];
            x[i] = saved + H;
            double plus = loss.applyAsDouble(x);
            x[i] = saved - H;
            double minus = loss.applyAsDouble(x);
            x[i] = saved;
            grad[i] = (plus - minus) / (2 * H);
        }
        return grad;
    }

    /** Σ a ⊙ b. */
    static double dot(float[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < b.length; i++) s += a[i] * b[i];
        return s;
    }
}
