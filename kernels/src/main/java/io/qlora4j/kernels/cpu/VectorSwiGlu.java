package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.Parallel;
import io.qlora4j.kernels.SwiGlu;
import jdk.incubator.vector.FloatVector;

import static io.qlora4j.kernels.cpu.VectorMath.F;
import static io.qlora4j.kernels.cpu.VectorMath.LANES;

/**
 * {@link SwiGlu} with the Java Vector API, the reference's formulas lane by lane with one change: e^−g comes from
 * {@link VectorMath#exp} (≤ 2 ulp from {@link Math#exp}), so results agree with {@link ReferenceSwiGlu} within a few
 * ulps. Chunks of {@value #CHUNK} elements are split over threads; the last n mod 16 elements use the reference loop,
 * so which elements take which path depends only on n, never on the thread count.
 */
public final class VectorSwiGlu implements SwiGlu {

    public static final VectorSwiGlu INSTANCE = new VectorSwiGlu();

    private static final int CHUNK = 1 << 13;

    private VectorSwiGlu() {
    }

    @Override
    public void swigluForward(float[] out, float[] gate, float[] up, int rows, int hidden) {
        int n = ReferenceSwiGlu.check("swigluForward", rows, hidden, out, "out", gate, up, null);
        int body = n - n % LANES;
        Parallel.forRange(Math.ceilDiv(body, CHUNK), 1, (from, to) -> {
            int end = Math.min(body, to * CHUNK);
            for (int i = from * CHUNK; i < end; i += LANES) {
                FloatVector g = FloatVector.fromArray(F, gate, i);
                FloatVector onePlusE = VectorMath.exp(g.neg()).add(1f);
                g.div(onePlusE).mul(FloatVector.fromArray(F, up, i)).intoArray(out, i);
            }
        });
        ReferenceSwiGlu.forward(out, gate, up, body, n);
    }

    @Override
    public void swigluBackward(float[] dGate, float[] dUp, float[] dOut, float[] gate, float[] up, int rows, int hidden) {
        int n = ReferenceSwiGlu.check("swigluBackward", rows, hidden, dGate, "dGate", gate, up, dOut);
        Checks.checkLength("swigluBackward", "dUp", dUp, n, "(rows, hidden) row-major");
        if (dGate == dUp) throw new IllegalArgumentException("swigluBackward: dGate and dUp must be different arrays");
        int body = n - n % LANES;
        Parallel.forRange(Math.ceilDiv(body, CHUNK), 1, (from, to) -> {
            FloatVector one = FloatVector.broadcast(F, 1f);
            int end = Math.min(body, to * CHUNK);
            for (int i = from * CHUNK; i < end; i += LANES) {
                FloatVector g = FloatVector.fromArray(F, gate, i);
                FloatVector u = FloatVector.fromArray(F, up, i);
                FloatVector d = FloatVector.fromArray(F, dOut, i);
                FloatVector onePlusE = VectorMath.exp(g.neg()).add(1f);
                FloatVector sigmoid = one.div(onePlusE);
                FloatVector dg = d.mul(u).mul(sigmoid.mul(g.mul(one.sub(sigmoid)).add(1f)));
                d.mul(g.div(onePlusE)).intoArray(dUp, i);
                dg.intoArray(dGate, i);
            }
        });
        ReferenceSwiGlu.backward(dGate, dUp, dOut, gate, up, body, n);
    }
}
