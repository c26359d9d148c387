package io.qlora4j.model.io;

/**
 * IEEE 754 binary16 ({@code F16}) ↔ fp32, as 16-bit patterns held in a {@code short}.
 *
 * <p>Widening is exact. Narrowing rounds to nearest, ties to even, keeps subnormals, and sends everything from
 * {@code 65520} (the tie between the largest finite value 65504 and the next power of two) upward to infinity. A NaN
 * keeps its sign and top 10 payload bits, signalling or not (setting the quiet bit only when those are all zero).
 *
 * <p>Why not {@link Float#float16ToFloat}: its x86 intrinsic ({@code vcvtph2ps}) quiets signalling NaNs, so 0x7C01
 * would come back as 0x7E01. Here all 65536 patterns survive {@code fromFloat(toFloat(h)) == h}, as for
 * {@link BFloat16}. Finite values convert exactly as the JDK and PyTorch do.
 */
public final class Half {
    private static final int SIGN = 0x8000;
    private static final int INFINITY = 0x7C00;
    private static final int QUIET_BIT = 0x0200;
    /** fp32 bits of 65520: at and above it, rounding gives infinity. */
    private static final int FP32_OVERFLOW = 0x477F_F000;
    /** fp32 bits of 2^-14, the smallest normal binary16. */
    private static final int FP32_MIN_NORMAL = 0x3880_0000;
    /** fp32 bits of 2^-25, half the smallest subnormal: at and below it, rounding gives zero (the tie goes to 0). */
    private static final int FP32_HALF_MIN_SUBNORMAL = 0x3300_0000;
    /** binary16 exponent bias 15 minus fp32 bias 127. */
    private static final int REBIAS = 112;

    private Half() {
    }

    /** The exact fp32 value of the binary16 pattern {@code bits}. */
    public static float toFloat(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & SIGN) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (mant << 13));
        }
        if (exp != 0) {
            return Float.intBitsToFloat(sign | ((exp + REBIAS) << 23) | (mant << 13));
        }
        float subnormal = mant * 0x1p-24f;     // exact: mant < 2^10
        return sign == 0 ? subnormal : -subnormal;
    }

    /** The binary16 pattern nearest to {@code value} (ties to even); NaN stays NaN with its sign. */
    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & SIGN;
        int abs = bits & 0x7FFF_FFFF;
        if (abs > 0x7F80_0000) {
            int payload = (abs >>> 13) & 0x3FF;
            return (short) (sign | INFINITY | (payload == 0 ? QUIET_BIT : payload));
        }
        if (abs >= FP32_OVERFLOW) {
            return (short) (sign | INFINITY);
        }
        if (abs >= FP32_MIN_NORMAL) {
            int h = (((abs >>> 23) - REBIAS) << 10) | ((abs >>> 13) & 0x3FF);
            return (short) (sign | roundHalfEven(h, abs & 0x1FFF, 13));
        }
        if (abs <= FP32_HALF_MIN_SUBNORMAL) {
            return (short) sign;
        }
        // subnormal result: the 24-bit significand counted in units of 2^-24
        int significand = (abs & 0x7F_FFFF) | 0x80_0000;
        int shift = 126 - (abs >>> 23);       // 14..24
        return (short) (sign | roundHalfEven(significand >>> shift, significand & ((1 << shift) - 1), shift));
    }

    /** {@code truncated} plus one if the {@code droppedBits}-bit remainder is above half, or exactly half and odd. */
    private static int roundHalfEven(int truncated, int remainder, int droppedBits) {
        int half = 1 << (droppedBits - 1);
        return remainder > half || (remainder == half && (truncated & 1) != 0) ? truncated + 1 : truncated;
    }
}
