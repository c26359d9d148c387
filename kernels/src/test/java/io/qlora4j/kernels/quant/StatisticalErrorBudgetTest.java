package io.qlora4j.kernels.quant;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Error budgets of every type × block size on 2^20 samples of N(0, 1) (seed 42): the relative error
 * ‖W − deq(q(W))‖/‖W‖ must lie within 3% of the expected value (a two-sided band: a "better" result means the format
 * changed), grow with the block size, and double quantization may cost at most 1% (4-bit types) or 10% (Int8, whose own
 * error is 15× smaller, so the 8-bit constants weigh more). The expected values were measured once with the reference
 * kernels; the sampling noise at this size is about 0.1%.
 */
class StatisticalErrorBudgetTest {

    private static final int[] BLOCKSIZES = {32, 64, 128, 256, 512, 1024, 2048, 4096};
    private static float[] gaussian;

    /** Expected relative error per block size in {@link #BLOCKSIZES} order, without double quantization. */
    private static double[] expected(QuantType type) {
        return switch (type) {
            case NF4 -> new double[]{0.08736, 0.09200, 0.09562, 0.09863, 0.10151, 0.10432, 0.10720, 0.10995};
            case FP4 -> new double[]{0.11432, 0.12212, 0.12876, 0.13473, 0.14049, 0.14625, 0.15223, 0.15779};
            case INT4 -> new double[]{0.09700, 0.10761, 0.11746, 0.12643, 0.13483, 0.14276, 0.15060, 0.15753};
            case INT8 -> new double[]{0.00535, 0.00593, 0.00647, 0.00697, 0.00743, 0.00786, 0.00830, 0.00869};
        };
    }

    @BeforeAll
    static void data() {
        SplittableRandom rnd = new SplittableRandom(42);
        gaussian = new float[1 << 20];
        for (int i = 0; i < gaussian.length; i++) gaussian[i] = (float) rnd.nextGaussian();
    }

    @ParameterizedTest
    @EnumSource(QuantType.class)
    void relativeErrorWithinBudget(QuantType type) {
        double previous = 0;
        for (int k = 0; k < BLOCKSIZES.length; k++) {
            double plain = error(type, BLOCKSIZES[k], false).relativeError();
            double dq = error(type, BLOCKSIZES[k], true).relativeError();
            String what = type + " blocksize " + BLOCKSIZES[k];
            assertEquals(expected(type)[k], plain, 0.03 * expected(type)[k], what);
            assertTrue(plain > previous, what + ": error grows with the block size");
            assertTrue(dq <= plain * (type == QuantType.INT8 ? 1.10 : 1.01), what + ": double quantization cost " + dq / plain);
            previous = plain;
        }
    }

    private static QuantizationError error(QuantType type, int blocksize, boolean doubleQuant) {
        QuantizedTensor q = QuantizedTensor.quantize(gaussian, new int[]{gaussian.length}, type, blocksize, doubleQuant);
        return QuantizationError.measure(gaussian, q.dequantize());
    }
}
