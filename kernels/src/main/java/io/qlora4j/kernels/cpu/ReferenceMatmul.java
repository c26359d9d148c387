package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.Matmul;

/**
 * The {@link Matmul} contract in plain loops: the readable spec and test oracle. Rows of W are decoded one at a time
 * (so a quantized weight is still never held dequantized). Slow; use {@link VectorMatmul}.
 */
public final class ReferenceMatmul implements Matmul {

    public static final ReferenceMatmul INSTANCE = new ReferenceMatmul();

    private ReferenceMatmul() {
    }

    @Override
    public void forward(float[] out, float[] in, LinearWeight weight, int m, boolean accumulate) {
        int n = weight.rows();
        int k = weight.cols();
        float[] row = new float[k];
        for (int j = 0; j < n; j++) {
            weight.decode(j, 0, k, row, 0);
            for (int r = 0; r < m; r++) {
                float acc = accumulate ? out[r * n + j] : 0f;
                for (int l = 0; l < k; l++) acc = Math.fma(in[r * k + l], row[l], acc);
                out[r * n + j] = acc;
            }
        }
    }

    @Override
    public void backwardInput(float[] dIn, float[] dOut, LinearWeight weight, int m, boolean accumulate) {
        int n = weight.rows();
        int k = weight.cols();
        if (!accumulate) java.util.Arrays.fill(dIn, 0, m * k, 0f);
        float[] row = new float[k];
        for (int j = 0; j < n; j++) {   // j ascending: the summation order of every dIn element
            weight.decode(j, 0, k, row, 0);
            for (int r = 0; r < m; r++) {
                for (int c = 0; c < k; c++) dIn[r * k + c] = Math.fma(dOut[r * n + j], row[c], dIn[r * k + c]);
            }
        }
    }

    @Override
    public void backwardWeight(float[] dWeight, float[] dOut, float[] in, int m, int n, int k) {
        for (int j = 0; j < n; j++) {
            for (int c = 0; c < k; c++) {
                float acc = dWeight[j * k + c];
                for (int r = 0; r < m; r++) acc = Math.fma(dOut[r * n + j], in[r * k + c], acc);
                dWeight[j * k + c] = acc;
            }
        }
    }
}
