package io.qlora4j.kernels.quant;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Properties of blockwise quantization that hold for every type, with and without double quantization. */
class QuantizationPropertiesTest {

    private static float[] gaussian(long seed, int n, double std) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * std);
        return x;
    }

    /**
     * quant(dequant(q)) == q: the decoded tensor re-encodes to the same codes (its block maxima decode exactly). FP4 has
     * two zeros: code 8 (−0) decodes to −0.0, which is not {@code < 0}, so it re-encodes as code 0 (+0); the codes are
     * compared with that one identification.
     */
    @ParameterizedTest
    @EnumSource(QuantType.class)
    void requantizingTheDequantizedTensorGivesTheSameCodes(QuantType type) {
        for (boolean dq : new boolean[]{false, true}) {
            QuantizedTensor q = QuantizedTensor.quantize(gaussian(7, 64 * 300 + 17, 0.02), new int[]{64 * 300 + 17}, type, 64, dq);
            QuantizedTensor again = QuantizedTensor.quantize(q.dequantize(), q.shape(), type, 64, dq);
            assertArrayEquals(canonicalZeros(type, q.codes()), again.codes(), type + (dq ? " +DQ" : ""));
        }
    }

    private static byte[] canonicalZeros(QuantType type, byte[] codes) {
        if (type != QuantType.FP4) return codes;
        byte[] c = codes.clone();
        for (int i = 0; i < c.length; i++) {
            int hi = (c[i] >>> 4) & 0xF;
            int lo = c[i] & 0xF;
            c[i] = (byte) (((hi == 8 ? 0 : hi) << 4) | (lo == 8 ? 0 : lo));
        }
        return c;
    }

    /** Multiplying one block by a power of two changes only that block's absmax (codes and other blocks unchanged). */
    @ParameterizedTest
    @EnumSource(QuantType.class)
    void scalingABlockScalesOnlyItsAbsmax(QuantType type) {
        float[] x = gaussian(11, 64 * 8, 1.0);
        QuantizedTensor q = QuantizedTensor.quantize(x, new int[]{x.length}, type, 64, false);
        float[] scaled = x.clone();
        for (int i = 3 * 64; i < 4 * 64; i++) scaled[i] *= 8f;
        QuantizedTensor s = QuantizedTensor.quantize(scaled, new int[]{x.length}, type, 64, false);
        assertArrayEquals(q.codes(), s.codes());
        float[] a = q.scales().expand();
        float[] b = s.scales().expand();
        for (int blk = 0; blk < a.length; blk++) assertEquals(blk == 3 ? 8f * a[blk] : a[blk], b[blk], "block " + blk);
    }

    @Test
    void nonFiniteValuesAreRejectedWithTheirBlock() {
        float[] x = gaussian(3, 256, 1.0);
        x[130] = Float.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> QuantizedTensor.quantize(x, new int[]{256}, QuantType.NF4, 64, true));
        assertTrue(e.getMessage().contains("block 2"), e.getMessage());
        x[130] = Float.POSITIVE_INFINITY;
        assertThrows(IllegalArgumentException.class, () -> QuantizedTensor.quantize(x, new int[]{256}, QuantType.FP4, 64, false));
    }

    @Test
    void badShapesAndBlocksizesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> QuantizedTensor.quantize(new float[10], new int[]{3, 4}, QuantType.NF4, 64, false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> QuantizedTensor.quantize(new float[128], new int[]{128}, QuantType.NF4, 48, false));
        assertTrue(e.getMessage().contains("power of two"), e.getMessage());
    }

    /** Bits per parameter: the paper's 4 + 8/64 + 32/(64·256) with double quantization, 4.5 without (blocksize 64). */
    @Test
    void bitsPerParameter() {
        assertEquals(4.5, QuantType.NF4.nominalBitsPerParameter(64, false));
        assertEquals(4.0 + 8.0 / 64 + 32.0 / (64 * 256), QuantType.NF4.nominalBitsPerParameter(64, true));
        assertEquals(4.126953125, QuantType.NF4.nominalBitsPerParameter(64, true));
        assertEquals(8.5, QuantType.INT8.nominalBitsPerParameter(64, false));
        int n = 64 * 256 * 4;   // whole second-level blocks: only the 32-bit offset is extra
        QuantizedTensor dq = QuantizedTensor.quantize(gaussian(5, n, 1), new int[]{n}, QuantType.NF4, 64, true);
        assertEquals(4.126953125 + 32.0 / n, dq.bitsPerParameter(), 1e-12);
        QuantizedTensor plain = QuantizedTensor.quantize(gaussian(5, n, 1), new int[]{n}, QuantType.NF4, 64, false);
        assertEquals(4.5, plain.bitsPerParameter(), 1e-12);
    }

    /** Double quantization reconstructs the block maxima of realistic weights within 1% (bnb: ≈0.5% max at std 0.02). */
    @Test
    void doubleQuantReconstructsAbsmaxClosely() {
        float[] w = gaussian(13, 64 * 5000, 0.02);
        QuantizedTensor plain = QuantizedTensor.quantize(w, new int[]{w.length}, QuantType.NF4, 64, false);
        QuantizedTensor dq = QuantizedTensor.quantize(w, new int[]{w.length}, QuantType.NF4, 64, true);
        assertArrayEquals(plain.codes(), dq.codes(), "double quantization changes only the constants");
        float[] exact = plain.scales().expand();
        float[] rebuilt = dq.scales().expand();
        double maxRel = 0;
        for (int b = 0; b < exact.length; b++) maxRel = Math.max(maxRel, Math.abs(rebuilt[b] - exact[b]) / exact[b]);
        assertTrue(maxRel < 0.01, "max relative absmax error " + maxRel);
    }
}
