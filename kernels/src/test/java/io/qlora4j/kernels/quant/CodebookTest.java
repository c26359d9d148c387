package io.qlora4j.kernels.quant;

import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The code tables to the last bit, against the literals of bitsandbytes (QLORA-REFERENCE.md §1, §3.2, Appendix A). */
class CodebookTest {

    /** bitsandbytes csrc/kernels.cu nf4_dequantization_lut, as float32 bits (QLORA-REFERENCE.md §1.1). */
    private static final int[] NF4_BITS = {
            0xbf800000, 0xbf3239b1, 0xbf066b30, 0xbeca32a0, 0xbe91a24d, 0xbe3d353f, 0xbdba7871, 0x00000000,
            0x3da2faff, 0x3e24cae3, 0x3e7c04dd, 0x3ead033a, 0x3ee1a4b8, 0x3f1007ab, 0x3f3913b3, 0x3f800000};

    /** The 15 threshold literals of dQuantizeNF4's decision tree (QLORA-REFERENCE.md §1.3). */
    private static final int[] NF4_TREE_THRESHOLD_BITS = {
            0xbf591cd8, 0xbf1c5270, 0xbeeb8480, 0xbeadea76, 0xbe703cec, 0xbe0d38bc, 0xbd3a7871,
            0x3d22faff, 0x3df64862, 0x3e5067e0, 0x3e9582d4, 0x3ec753f9, 0x3f006d04, 0x3f248daf, 0x3f5c89da};

    /** The boundaries handed to other kernels (CUDA) are exactly what encode searches: x at a boundary stays below it. */
    @Test
    void encodingBoundariesAreTheEncodersTiesToTheLowerCode() {
        for (Codebook code : Codebook.values()) {
            float[] bounds = code.encodingBoundaries();
            if (code == Codebook.FP4 || code == Codebook.INT4 || code == Codebook.INT8) {
                assertEquals(null, bounds, code + " is not encoded by a boundary search");
                continue;
            }
            assertEquals(code.size() - 1, bounds.length, code.toString());
            for (int i = 0; i < bounds.length; i++) {
                assertEquals(i, code.encode(bounds[i]), code + " boundary " + i);
                assertEquals(i + 1, code.encode(Math.nextUp(bounds[i])), code + " above boundary " + i);
            }
            bounds[0] = 99f;
            assertTrue(code.encodingBoundaries()[0] != 99f, "a copy");
        }
    }

    @Test
    void nf4ValuesAreBitsandbytesLiterals() {
        float[] v = Codebook.NF4.decodedValues();
        for (int i = 0; i < 16; i++) {
            assertEquals(NF4_BITS[i], Float.floatToRawIntBits(v[i]), "NF4 code " + i);
        }
        // the decimal literals of get_4bit_type("nf4") parse to the same floats
        assertEquals(-0.6961928009986877f, v[1]);
        assertEquals(0.07958029955625534f, v[8]);
        assertEquals(0.7229568362236023f, v[14]);
        assertEquals(0f, v[7]);
    }

    @Test
    void nf4EncoderBoundariesAreTheCudaTreeThresholds() {
        float[] m = Codebook.NF4.midpoints();
        for (int i = 0; i < 15; i++) {
            assertEquals(NF4_TREE_THRESHOLD_BITS[i], Float.floatToRawIntBits(m[i]), "threshold between codes " + i + "/" + (i + 1));
        }
    }

    @Test
    void nf4RoundsToNearestWithTiesToTheLowerCode() {
        float[] v = Codebook.NF4.decodedValues();
        float[] m = Codebook.NF4.midpoints();
        for (int c = 0; c < 16; c++) assertEquals(c, Codebook.NF4.encode(v[c]), "exact value of code " + c);
        for (int i = 0; i < 15; i++) {
            assertEquals(i, Codebook.NF4.encode(m[i]), "a value on the threshold goes down");
            assertEquals(i + 1, Codebook.NF4.encode(Math.nextUp(m[i])), "just above the threshold goes up");
        }
        assertEquals(0, Codebook.NF4.encode(-1.5f));
        assertEquals(15, Codebook.NF4.encode(1.0000001f));
    }

    @Test
    void fp4ValuesInCodeOrder() {
        // get_4bit_type("fp4"): [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3] / 12
        float[] raw = {0f, 0.0625f, 8, 12, 4, 6, 2, 3, -0f, -0.0625f, -8, -12, -4, -6, -2, -3};
        float[] v = Codebook.FP4.decodedValues();
        for (int i = 0; i < 16; i++) {
            assertEquals(Float.floatToRawIntBits(raw[i] / 12f), Float.floatToRawIntBits(v[i]), "FP4 code " + i);
        }
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(v[8]), "code 8 is negative zero");
    }

    @Test
    void fp4EncoderFollowsTheCudaTree() {
        // dQuantizeFP4: sign bit from x < 0, then |x| against 0.29166667f, 0.583333f, 0.8333333f, 0.4166667f,
        // 0.0859375f, 0.20833333f, 0.00260417f (strict >). Expected codes derived by walking the tree by hand.
        assertEquals(0b0011, Codebook.FP4.encode(0.9f));    // > .2917, > .5833, > .8333 -> 0b0011 (1.0)
        assertEquals(0b0010, Codebook.FP4.encode(0.7f));    // > .2917, > .5833, <= .8333 -> 0b0010 (2/3)
        assertEquals(0b0101, Codebook.FP4.encode(0.5f));    // > .2917, <= .5833, > .4167 -> 0b0101 (1/2)
        assertEquals(0b0100, Codebook.FP4.encode(0.3f));    // > .2917, <= .5833, <= .4167 -> 0b0100 (1/3)
        assertEquals(0b0111, Codebook.FP4.encode(0.25f));   // <= .2917, > .0859, > .2083 -> 0b0111 (1/4)
        assertEquals(0b0110, Codebook.FP4.encode(0.1f));    // <= .2917, > .0859, <= .2083 -> 0b0110 (1/6)
        assertEquals(0b0001, Codebook.FP4.encode(0.01f));   // <= .0859, > .0026 -> 0b0001 (1/192)
        assertEquals(0b0000, Codebook.FP4.encode(0.001f));
        assertEquals(0b1011, Codebook.FP4.encode(-0.95f));  // sign bit set
        assertEquals(0b0000, Codebook.FP4.encode(-0f), "negative zero is not < 0");
        assertEquals(0b1000, Codebook.FP4.encode(-0.001f));
        // the literal 0.583333f is below 7/12: a value between them takes the upper code (the kernel's behaviour)
        float between = Math.nextUp(0.583333f);
        assertTrue(between < 7f / 12f);
        assertEquals(0b0010, Codebook.FP4.encode(between));
    }

    @Test
    void dynamicMapsEqualTheTorchTables() throws IOException {
        assertArrayEquals(readHexTable("golden/bnb/dynamic_map_signed_hex.txt"), bits(Codebook.DYNAMIC_SIGNED));
        assertArrayEquals(readHexTable("golden/bnb/dynamic_map_unsigned_hex.txt"), bits(Codebook.DYNAMIC_UNSIGNED));
    }

    @Test
    void dynamicSignedMapStructure() {
        float[] v = Codebook.DYNAMIC_SIGNED.decodedValues();
        assertEquals(-0.99296874f, v[0]);
        assertEquals(0f, v[127]);
        assertEquals(5.5e-7f, v[128], 1e-9f);
        assertEquals(0.99296874f, v[254]);
        assertEquals(1.0f, v[255]);
        for (int i = 1; i < 256; i++) assertTrue(v[i - 1] < v[i], "sorted at " + i);
    }

    /**
     * create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) re-derived as torch computes it in float32:
     * for i = 0..6, boundaries = torch.linspace(0.1, 1, 2^i + 1) (float32, filled from both ends: start + k·step for
     * the first half, end − (steps−1−k)·step for the rest), means = (b[:-1] + b[1:]) / 2, then ±float32(10^(i−6))·means;
     * add 0 and 1; sort. torch's vectorized linspace rounds some points differently from this scalar formula, so the
     * derivation agrees with the torch table (the golden, tested above) within two ulps, as QLORA-REFERENCE.md §3.2 warns.
     */
    @Test
    void dynamicSignedMapFollowsItsConstructionWithinTwoUlps() {
        List<Float> values = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            float[] boundaries = torchLinspace(0.1f, 1f, (1 << i) + 1);
            float scale = (float) Math.pow(10, i - 6);
            for (int k = 0; k + 1 < boundaries.length; k++) {
                float mean = (boundaries[k] + boundaries[k + 1]) / 2f;
                values.add(scale * mean);
                values.add(-scale * mean);
            }
        }
        values.add(0f);
        values.add(1f);
        float[] derived = new float[values.size()];
        for (int i = 0; i < derived.length; i++) derived[i] = values.get(i);
        Arrays.sort(derived);
        float[] table = Codebook.DYNAMIC_SIGNED.decodedValues();
        assertEquals(256, derived.length);
        for (int i = 0; i < 256; i++) {
            assertTrue(Math.abs(derived[i] - table[i]) <= 2 * Math.ulp(table[i]),
                    "entry " + i + ": derived " + derived[i] + " vs table " + table[i]);
        }
    }

    /** torch.linspace for float32 on CPU (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp): symmetric fill. */
    private static float[] torchLinspace(float start, float end, int steps) {
        float[] out = new float[steps];
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int k = 0; k < steps; k++) {
            out[k] = k < half ? start + step * k : end - step * (steps - k - 1);
        }
        return out;
    }

    @Test
    void integerCodesAreSymmetricAndRoundHalfToEven() {
        assertEquals(8, Codebook.INT4.encode(0f));
        assertEquals(15, Codebook.INT4.encode(1f));
        assertEquals(1, Codebook.INT4.encode(-1f));
        assertEquals(8, Codebook.INT4.encode(0.5f / 7f), "0.5 rounds to even 0");
        assertEquals(10, Codebook.INT4.encode(2.5f / 7f), "2.5 rounds to even 2");
        assertEquals(127, Codebook.INT8.encode(1f));
        assertEquals(0x81, Codebook.INT8.encode(-1f));
        assertEquals(-1f, Codebook.INT8.value(0x81));
        assertEquals(1f, Codebook.INT4.value(15));
    }

    private static int[] bits(Codebook c) {
        float[] v = c.decodedValues();
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }

    private static int[] readHexTable(String relative) throws IOException {
        List<Integer> out = new ArrayList<>();
        for (String line : Files.readAllLines(SharedData.require(relative))) {
            if (line.isBlank()) continue;
            for (String hex : line.substring(line.indexOf(':') + 1).trim().split("\\s+")) {
                out.add(Integer.parseUnsignedInt(hex, 16));
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }
}
