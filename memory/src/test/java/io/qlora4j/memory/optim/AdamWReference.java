package io.qlora4j.memory.optim;

import io.qlora4j.kernels.quant.Codebook;

/**
 * The AdamW formulas of QLORA-REFERENCE.md §4.3/§4.4 in float64, written independently of the kernels' AdamW: the oracle
 * its float32 kernels are checked against. State arrays are updated in place.
 */
final class AdamWReference {
    private static final float[] CODE1 = Codebook.DYNAMIC_SIGNED.decodedValues();
    private static final float[] CODE2 = Codebook.DYNAMIC_UNSIGNED.decodedValues();

    private AdamWReference() {
    }

    static void step32(double[] p, double[] g, double[] m, double[] v, double lr, double beta1, double beta2, double eps,
                       double wd, long t) {
        double c1 = 1 - Math.pow(beta1, t);
        double c2 = Math.sqrt(1 - Math.pow(beta2, t));
        for (int i = 0; i < p.length; i++) {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            p[i] += -lr * c2 / c1 * m[i] / (Math.sqrt(v[i]) + eps * c2);
            if (wd > 0) p[i] *= 1 - lr * wd;
        }
    }

    /**
     * One 8-bit blockwise step over one block of {@code g.length <= 256} elements; {@code absmax[0]} / {@code absmax[1]}
     * are the block's absmax of m and v. Codes are re-encoded to the nearest value (in float64).
     */
    static void step8Block(double[] p, double[] g, int[] codes1, int[] codes2, double[] absmax, double lr, double beta1,
                           double beta2, double eps, double wd, long t) {
        int n = g.length;
        double c1 = 1 - Math.pow(beta1, t);
        double c2 = Math.sqrt(1 - Math.pow(beta2, t));
        double[] m = new double[n];
        double[] v = new double[n];
        double max1 = 0;
        double max2 = 0;
        for (int i = 0; i < n; i++) {
            if (Double.isFinite(g[i])) {
                m[i] = beta1 * CODE1[codes1[i]] * absmax[0] + (1 - beta1) * g[i];
                v[i] = beta2 * CODE2[codes2[i]] * absmax[1] + (1 - beta2) * g[i] * g[i];
            }
            max1 = Math.max(max1, Math.abs(m[i]));
            max2 = Math.max(max2, Math.abs(v[i]));
        }
        if (n < 256) max1 = Math.max(max1, Math.abs(beta1 * CODE1[128] * absmax[0]));   // the kernel's padding lanes
        absmax[0] = max1;
        absmax[1] = max2;
        for (int i = 0; i < n; i++) {
            if (Double.isFinite(g[i])) {
                p[i] += -lr * c2 / c1 * m[i] / (Math.sqrt(v[i]) + eps * c2);
                if (wd > 0) p[i] *= 1 - lr * wd;
            }
            codes1[i] = nearest(CODE1, max1 == 0 ? 0 : m[i] / max1);
            if (m[i] != 0 && Math.signum(CODE1[codes1[i]]) != Math.signum(m[i])) codes1[i] += m[i] > 0 ? 1 : -1;
            codes2[i] = nearest(CODE2, max2 == 0 ? 0 : v[i] / max2);
        }
    }

    static int nearest(float[] code, double x) {
        int best = 0;
        for (int c = 1; c < code.length; c++) {
            if (Math.abs(code[c] - x) < Math.abs(code[best] - x)) best = c;
        }
        return best;
    }
}
