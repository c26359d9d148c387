package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Parallel;
import io.qlora4j.kernels.RmsNorm;
import jdk.incubator.vector.FloatVector;

import static io.qlora4j.kernels.cpu.VectorMath.F;
import static io.qlora4j.kernels.cpu.VectorMath.LANES;

/**
 * {@link RmsNorm} with the Java Vector API, shaped like {@link ReferenceRmsNorm}. Two differences: (1) the row
 * reductions (Σx² and the backward projection) run in 16 fp32 lanes summed by a fixed tree instead of float64 in order,
 * so rstd and the projection differ from the reference by a few ulps; every elementwise step uses the reference's exact
 * operation order. (2) Rows are split over threads; the weight gradient is split over channel bands, each summing its
 * rows in ascending order, so no two threads touch one element and the thread count never changes a bit.
 * Channel tails (C mod 16) use the reference helpers. Dimension letters: N rows, C channels.
 */
public final class VectorRmsNorm implements RmsNorm {

    public static final VectorRmsNorm INSTANCE = new VectorRmsNorm();

    /** Elements per parallel task (rows are grouped until a task covers about this many). */
    private static final int GRAIN_ELEMENTS = 1 << 14;

    private VectorRmsNorm() {
    }

    @Override
    public void rmsnormForward(float[] out, float[] rstd, float[] in, float[] weight, int rows, int channels, float eps) {
        ReferenceRmsNorm.checkForward(out, rstd, in, weight, rows, channels, eps);
        int C = channels;
        int body = C - C % LANES;
        Parallel.forRange(rows, Math.max(1, GRAIN_ELEMENTS / C), (from, to) -> {
            for (int r = from; r < to; r++) {
                int off = r * C;
                FloatVector acc = FloatVector.zero(F);
                for (int i = 0; i < body; i += LANES) {
                    FloatVector x = FloatVector.fromArray(F, in, off + i);
                    acc = x.fma(x, acc);
                }
                double ss = VectorMath.sum(acc) + ReferenceRmsNorm.sumOfSquares(in, off + body, off + C);
                float s = ReferenceRmsNorm.rstdOf(ss, C, eps);
                if (rstd != null) rstd[r] = s;
                for (int i = 0; i < body; i += LANES) {
                    FloatVector.fromArray(F, in, off + i).mul(s).mul(FloatVector.fromArray(F, weight, i))
                            .intoArray(out, off + i);
                }
                ReferenceRmsNorm.normalize(out, in, weight, off, body, C, s);
            }
        });
    }

    @Override
    public void rmsnormBackward(float[] dIn, float[] dWeight, float[] dOut, float[] in, float[] weight, float[] rstd,
                                int rows, int channels, boolean accumulate) {
        ReferenceRmsNorm.checkBackward(dIn, dWeight, dOut, in, weight, rstd, rows, channels);
        int N = rows, C = channels;
        int body = C - C % LANES;
        Parallel.forRange(N, Math.max(1, GRAIN_ELEMENTS / C), (from, to) -> {
            for (int r = from; r < to; r++) {
                int off = r * C;
                float s = rstd[r];
                FloatVector acc = FloatVector.zero(F);
                for (int i = 0; i < body; i += LANES) {
                    FloatVector dn = FloatVector.fromArray(F, dOut, off + i).mul(FloatVector.fromArray(F, weight, i));
                    FloatVector n = FloatVector.fromArray(F, in, off + i).mul(s);
                    acc = dn.fma(n, acc);
                }
                double dot = VectorMath.sum(acc) + ReferenceRmsNorm.projection(dOut, in, weight, off, body, C, s);
                float meanDot = (float) (dot / C);
                for (int i = 0; i < body; i += LANES) {
                    FloatVector dn = FloatVector.fromArray(F, dOut, off + i).mul(FloatVector.fromArray(F, weight, i));
                    FloatVector n = FloatVector.fromArray(F, in, off + i).mul(s);
                    FloatVector g = dn.sub(n.mul(meanDot)).mul(s);
                    if (accumulate) g.add(FloatVector.fromArray(F, dIn, off + i)).intoArray(dIn, off + i);
                    else g.intoArray(dIn, off + i);
                }
                ReferenceRmsNorm.inputGradient(dIn, dOut, in, weight, off, body, C, s, meanDot, accumulate);
            }
        });
        if (dWeight == null) return;
        // each task owns a band of channels and walks the rows in order over it: dW stays in L1, rows are read
        // contiguously, and every element sums its rows in ascending order as in the reference
        int chunks = body / LANES;
        Parallel.forRange(chunks, 1, (from, to) -> {
            for (int r = 0; r < N; r++) {
                int off = r * C;
                float s = rstd[r];
                for (int i = from * LANES; i < to * LANES; i += LANES) {
                    FloatVector x = FloatVector.fromArray(F, in, off + i).mul(s);
                    FloatVector.fromArray(F, dWeight, i).add(FloatVector.fromArray(F, dOut, off + i).mul(x))
                            .intoArray(dWeight, i);
                }
            }
        });
        ReferenceRmsNorm.weightGradient(dWeight, dOut, in, rstd, N, C, body, C);
    }
}
