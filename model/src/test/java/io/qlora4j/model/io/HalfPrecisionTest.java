package io.qlora4j.model.io;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Bit-exact checks of {@link Half}, {@link BFloat16} and {@link TensorCodec}: every 16-bit pattern, every rounding tie
 * between adjacent representable values, against values derived here from the IEEE 754 definitions.
 */
class HalfPrecisionTest {

    /** binary16 by definition: (-1)^s · 2^(e-15) · 1.m for normals, 2^-14 · 0.m for subnormals. */
    private static double referenceHalf(int bits) {
        int sign = (bits >> 15) & 1;
        int exp = (bits >> 10) & 0x1F;
        int mant = bits & 0x3FF;
        double magnitude = exp == 0 ? Math.scalb((double) mant, -24)
                : exp == 31 ? (mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN)
                : Math.scalb((double) (1024 + mant), exp - 25);
        return sign == 1 ? -magnitude : magnitude;
    }

    @Test
    void everyHalfPatternWidensExactlyAndRoundTrips() {
        for (int b = 0; b < 65536; b++) {
            short h = (short) b;
            float f = Half.toFloat(h);
            double ref = referenceHalf(b);
            if (Double.isNaN(ref)) {
                assertTrue(Float.isNaN(f), () -> String.format("f16 0x%04x must widen to NaN", h));
            } else {
                assertEquals(ref, f, 0.0, () -> String.format("f16 0x%04x", h));
                assertEquals(ref < 0 || (ref == 0 && (b & 0x8000) != 0), (Float.floatToRawIntBits(f) >>> 31) == 1,
                        "sign of " + b);
            }
            assertEquals(h, Half.fromFloat(f), () -> String.format("f16 0x%04x round trip", h));
        }
    }

    @Test
    void everyBFloat16PatternWidensExactlyAndRoundTrips() {
        for (int b = 0; b < 65536; b++) {
            short h = (short) b;
            float f = BFloat16.toFloat(h);
            assertEquals(b << 16, Float.floatToRawIntBits(f), () -> String.format("bf16 0x%04x", h));
            assertEquals(h, BFloat16.fromFloat(f), () -> String.format("bf16 0x%04x round trip", h));
        }
        assertEquals(1.0f, BFloat16.toFloat((short) 0x3F80));
        assertEquals(-2.0f, BFloat16.toFloat((short) 0xC000));
        assertEquals(Math.scalb(1.0f, -133), BFloat16.toFloat((short) 0x0001));
    }

    /**
     * For each pair of adjacent finite bf16 values a < b (both signs), the fp32 midpoint is exact: it must round to
     * the one with an even last mantissa bit, and one fp32 ulp either side must round to the nearer one.
     */
    @Test
    void bfloat16RoundsToNearestTiesToEven() {
        for (int sign = 0; sign <= 0x8000; sign += 0x8000) {
            for (int a = 0; a < 0x7F80; a++) {
                int lo = sign | a;
                int hi = sign | (a + 1);
                int midBits = (lo << 16) | 0x8000;
                int even = (lo & 1) == 0 ? lo : hi;
                assertEquals((short) even, BFloat16.fromFloat(Float.intBitsToFloat(midBits)),
                        String.format("tie between 0x%04x and 0x%04x", lo, hi));
                assertEquals((short) lo, BFloat16.fromFloat(Float.intBitsToFloat(midBits - 1)));
                assertEquals((short) hi, BFloat16.fromFloat(Float.intBitsToFloat(midBits + 1)));
            }
        }
        // The largest finite bf16 0x7F7F has an odd mantissa, so its tie with "0x7F80" goes to infinity.
        assertEquals((short) 0x7F80, BFloat16.fromFloat(Float.intBitsToFloat(0x7F7F_8000)));
        assertEquals((short) 0x7F80, BFloat16.fromFloat(Float.MAX_VALUE), "fp32 max is past that tie");
        assertEquals((short) 0x7F7F, BFloat16.fromFloat(Float.intBitsToFloat(0x7F7F_7FFF)));
    }

    @Test
    void halfRoundsToNearestTiesToEven() {
        for (int sign = 0; sign <= 0x8000; sign += 0x8000) {
            for (int a = 0; a < 0x7BFF; a++) {
                int lo = sign | a;
                int hi = sign | (a + 1);
                // adjacent binary16 values differ in their 11-bit significands; the midpoint needs 12 bits: exact in fp32
                float mid = (float) ((referenceHalf(lo) + referenceHalf(hi)) / 2);
                assertEquals((referenceHalf(lo) + referenceHalf(hi)) / 2, mid, 0.0);
                int even = (lo & 1) == 0 ? lo : hi;
                assertEquals((short) even, Half.fromFloat(mid), String.format("tie between 0x%04x and 0x%04x", lo, hi));
                assertEquals((short) lo, Half.fromFloat(Math.nextAfter(mid, 0.0)));
                assertEquals((short) hi, Half.fromFloat(Math.nextAfter(mid, sign == 0 ? 1e9 : -1e9)));
            }
        }
        assertEquals((short) 0x7C00, Half.fromFloat(65520f), "65504 + half an ulp ties to even: infinity");
        assertEquals((short) 0x7BFF, Half.fromFloat(65519.996f));
    }

    /** The JDK's conversions are a second, independent oracle for everything but NaN payloads. */
    @Test
    void halfAgreesWithTheJdkOnNonNaN() {
        for (int b = 0; b < 65536; b++) {
            if ((b & 0x7C00) != 0x7C00 || (b & 0x3FF) == 0) {
                assertEquals(Float.float16ToFloat((short) b), Half.toFloat((short) b), 0.0f, "pattern " + b);
            }
        }
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < 1_000_000; i++) {
            // half the cases uniform over all bit patterns, half concentrated on binary16's range (|x| < 2^17)
            int bits = i % 2 == 0 ? rnd.nextInt() : (rnd.nextInt() & 0x8000_0000) | rnd.nextInt(0x3300_0000, 0x4800_0000);
            float f = Float.intBitsToFloat(bits);
            if (!Float.isNaN(f)) {
                assertEquals(Float.floatToFloat16(f), Half.fromFloat(f), () -> String.format("fp32 0x%08x", bits));
            }
        }
    }

    @Test
    void nanStaysNanWithItsSign() {
        int[] nanBits = {0x7FC0_0000, 0x7F80_0001, 0xFF80_0001, 0x7FFF_FFFF, 0xFFC1_2345, 0x7F80_FFFF};
        for (int bits : nanBits) {
            float nan = Float.intBitsToFloat(bits);
            short bf = BFloat16.fromFloat(nan);
            assertTrue(Float.isNaN(BFloat16.toFloat(bf)), String.format("bf16 of 0x%08x", bits));
            assertEquals(bits >>> 31, (bf >> 15) & 1, "sign");
            short h = Half.fromFloat(nan);
            assertTrue(Float.isNaN(Half.toFloat(h)), String.format("f16 of 0x%08x", bits));
            assertEquals(bits >>> 31, (h >> 15) & 1, "sign");
        }
        assertEquals((short) 0x7FC0, BFloat16.fromFloat(Float.intBitsToFloat(0x7F80_0001)),
                "payload only in the dropped bits: quiet bit set so it cannot become infinity");
    }

    @Test
    void codecRoundTripsEveryFloatDtype() {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] values = new float[1000];
        for (int i = 0; i < values.length; i++) {
            values[i] = Float.intBitsToFloat(rnd.nextInt());
        }
        values[0] = Float.NaN;
        values[1] = -0.0f;
        for (DType dtype : new DType[]{DType.F32, DType.F64, DType.F16, DType.BF16}) {
            TensorSpec spec = new TensorSpec("t", dtype, values.length);
            byte[] bytes = TensorCodec.fromFloats(values, dtype);
            assertEquals(spec.byteSize(), bytes.length);
            float[] back = TensorCodec.toFloats(new TensorInfo(spec, 0), MemorySegment.ofArray(bytes));
            float[] expected = values.clone();
            for (int i = 0; i < expected.length; i++) {
                expected[i] = switch (dtype) {
                    case F16 -> Half.toFloat(Half.fromFloat(values[i]));
                    case BF16 -> BFloat16.toFloat(BFloat16.fromFloat(values[i]));
                    default -> values[i];
                };
            }
            for (int i = 0; i < expected.length; i++) {
                if (Float.isNaN(expected[i]) != Float.isNaN(back[i])
                        || !Float.isNaN(expected[i]) && Float.floatToIntBits(expected[i]) != Float.floatToIntBits(back[i])) {
                    fail(dtype + " element " + i + ": expected " + expected[i] + " got " + back[i]);
                }
            }
        }
    }

    @Test
    void codecWidensIntegersBySignedness() {
        byte[] raw = {(byte) 0xFF, 0x01, (byte) 0x80, 0x7F};
        MemorySegment seg = MemorySegment.ofArray(raw);
        assertArrayEquals(new int[]{255, 1, 128, 127}, TensorCodec.toInts(info(DType.U8, 4), seg));
        assertArrayEquals(new int[]{-1, 1, -128, 127}, TensorCodec.toInts(info(DType.I8, 4), seg));
        assertArrayEquals(new int[]{0x01FF, 0x7F80}, TensorCodec.toInts(info(DType.U16, 2), seg));
        assertArrayEquals(new int[]{0x01FF, 0x7F80}, TensorCodec.toInts(info(DType.I16, 2), seg));
        assertArrayEquals(new int[]{0x7F8001FF}, TensorCodec.toInts(info(DType.I32, 1), seg));
        byte[] neg = {0x00, (byte) 0x80};
        assertArrayEquals(new int[]{-32768}, TensorCodec.toInts(info(DType.I16, 1), MemorySegment.ofArray(neg)));
        assertArrayEquals(new int[]{32768}, TensorCodec.toInts(info(DType.U16, 1), MemorySegment.ofArray(neg)));
    }

    private static TensorInfo info(DType dtype, int n) {
        return new TensorInfo(new TensorSpec("t", dtype, n), 0);
    }
}
