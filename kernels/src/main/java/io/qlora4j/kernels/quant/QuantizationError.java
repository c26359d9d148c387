package io.qlora4j.kernels.quant;

/**
 * Error statistics of a reconstruction Ŵ = deq(q(W)), accumulated in float64 so tensors can be measured one at a time
 * and summed: mean absolute error, relative error ‖W − Ŵ‖/‖W‖ (the paper's comparison metric for data types) and
 * signal-to-noise ratio 10·log10(‖W‖²/‖W − Ŵ‖²) in dB.
 *
 * @param count        number of elements
 * @param sumAbsError  Σ|W − Ŵ|
 * @param sumSqError   Σ(W − Ŵ)²
 * @param sumSqSignal  ΣW²
 */
public record QuantizationError(long count, double sumAbsError, double sumSqError, double sumSqSignal) {

    public static final QuantizationError NONE = new QuantizationError(0, 0, 0, 0);

    public static QuantizationError measure(float[] original, float[] reconstructed) {
        if (original.length != reconstructed.length) {
            throw new IllegalArgumentException("lengths differ: " + original.length + " vs " + reconstructed.length);
        }
        double abs = 0, sq = 0, signal = 0;
        for (int i = 0; i < original.length; i++) {
            double d = (double) original[i] - reconstructed[i];
            abs += Math.abs(d);
            sq += d * d;
            signal += (double) original[i] * original[i];
        }
        return new QuantizationError(original.length, abs, sq, signal);
    }

    public QuantizationError plus(QuantizationError o) {
        return new QuantizationError(count + o.count, sumAbsError + o.sumAbsError, sumSqError + o.sumSqError,
                sumSqSignal + o.sumSqSignal);
    }

    public double meanAbsError() {
        return count == 0 ? 0 : sumAbsError / count;
    }

    public double relativeError() {
        return sumSqSignal == 0 ? 0 : Math.sqrt(sumSqError / sumSqSignal);
    }

    public double snrDb() {
        return sumSqError == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(sumSqSignal / sumSqError);
    }
}
