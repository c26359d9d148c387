package io.qlora4j.kernels.quant;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Fixed inputs with packed bytes, absmax and double-quant state derived by hand from the bitsandbytes algorithm
 * (QLORA-REFERENCE.md §2.2 and §3.1). Each expected value carries its derivation.
 */
class BlockwiseGoldenTest {

    private static final float[] NF4 = Codebook.NF4.decodedValues();
    private static final float[] MID = Codebook.NF4.midpoints();

    /**
     * n = 69 (odd), blocksize 64: one full block and a partial block of 5, plus a pad nibble.
     * <pre>
     * block 0: x = [2, -2, 0, 2·nf4[9], 2·nf4[8], 2·mid[7], 0 ...]; absmax = 2, inv = 1/2 (exact, so x·inv is exact):
     *   scaled = [1, -1, 0, nf4[9], nf4[8], mid[7], 0 ...]
     *   codes  = [15, 0, 7, 9, 8, 7 (a tie goes to the lower code), 7 ...]
     *   bytes  = [0xF0, 0x79, 0x87, 0x77 x 29]          (first element in the high nibble)
     * block 1: x = [0.5, -0.25, 0.125, 0, -0.5]; absmax = 0.5, inv = 2:
     *   scaled = [1, -0.5, 0.25, 0, -1]
     *   -0.5: midpoints below it are mid[0] = -0.848, mid[1] = -0.611 (mid[2] = -0.460 is above) -> code 2
     *   0.25: mid[0..9] are below (mid[9] = 0.2035, mid[10] = 0.2920) -> code 10
     *   codes  = [15, 2, 10, 7, 0] + pad code 7 (zero) for the odd count
     *   bytes  = [0xF2, 0xA7, 0x07]
     * </pre>
     */
    static float[] input() {
        float[] x = new float[69];
        x[0] = 2f;
        x[1] = -2f;
        x[3] = 2f * NF4[9];
        x[4] = 2f * NF4[8];
        x[5] = 2f * MID[7];
        float[] tail = {0.5f, -0.25f, 0.125f, 0f, -0.5f};
        System.arraycopy(tail, 0, x, 64, tail.length);
        return x;
    }

    static byte[] expectedBytes() {
        byte[] b = new byte[35];
        java.util.Arrays.fill(b, (byte) 0x77);
        b[0] = (byte) 0xF0;
        b[1] = (byte) 0x79;
        b[2] = (byte) 0x87;
        b[32] = (byte) 0xF2;
        b[33] = (byte) 0xA7;
        b[34] = (byte) 0x07;
        return b;
    }

    @Test
    void nf4PackedBytesAndAbsmax() {
        for (BlockwiseKernels k : Kernels.all()) {
            byte[] codes = new byte[35];
            float[] absmax = new float[2];
            k.quantize(Codebook.NF4, 64, input(), 0, 69, codes, 0, absmax, 0);
            assertArrayEquals(expectedBytes(), codes, k.getClass().getSimpleName());
            assertArrayEquals(new float[]{2f, 0.5f}, absmax, k.getClass().getSimpleName());
        }
    }

    @Test
    void nf4Dequantize() {
        QuantizedTensor q = new QuantizedTensor(QuantType.NF4, new int[]{69}, 64, expectedBytes(),
                new PlainScales(new float[]{2f, 0.5f}));
        float[] d = q.dequantize();
        assertEquals(2f, d[0]);
        assertEquals(-2f, d[1]);
        assertEquals(0f, d[2]);
        assertEquals(2f * NF4[9], d[3]);
        assertEquals(2f * NF4[7], d[5], "the tie decoded to the lower code's value, 0");
        assertEquals(NF4[2] * 0.5f, d[65]);
        assertEquals(NF4[10] * 0.5f, d[66]);
        assertEquals(-0.5f, d[68]);
    }

    /**
     * Double quantization of absmax = [2.0, 0.5]:
     * <pre>
     * offset   = mean = 1.25;  centered = [0.75, -0.75]
     * absmax2  = 0.75 (one 256-block);  inv = 1/0.75 = 1.3333334f
     * scaled   = [0.75·1.3333334f, -0.75·1.3333334f] = [1.0000001, -1.0000001]  (clamped to ±1 by bitsandbytes)
     * codes    = [255 (+1.0), 0 (-0.99296874: the signed dynamic map has no -1)]
     * rebuilt  = [1.0·0.75 + 1.25 = 2.0, -0.99296874·0.75 + 1.25 = 0.50527346]
     * </pre>
     */
    @Test
    void doubleQuantState() {
        DoubleQuantScales dq = DoubleQuantScales.compress(new float[]{2f, 0.5f});
        assertEquals(1.25f, dq.offset());
        assertArrayEquals(new float[]{0.75f}, dq.absmax2());
        assertArrayEquals(new byte[]{(byte) 255, 0}, dq.codes());
        assertEquals(2.0f, dq.absmax(0));
        assertEquals(-0.99296874f * 0.75f + 1.25f, dq.absmax(1));
        assertEquals(0.50527346f, dq.absmax(1), 1e-7f);
    }

    @Test
    void zeroBlockStaysZeroWithoutNaN() {
        for (BlockwiseKernels k : Kernels.all()) {
            for (QuantType t : QuantType.values()) {
                float[] zeros = new float[128];
                QuantizedTensor q = QuantizedTensor.quantize(k, zeros, new int[]{128}, t, 64, false);
                assertArrayEquals(new float[]{0f, 0f}, q.scales().expand(), t + " absmax");
                for (float v : q.dequantize()) assertEquals(0f, v, 0f, t + " decodes to zero");
                if (t == QuantType.NF4) {
                    for (byte b : q.codes()) assertEquals((byte) 0x77, b, "NF4 zero block is 0x77 (default backend)");
                }
            }
        }
    }
}
