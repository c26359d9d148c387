package io.qlora4j.model.io;

/**
 * bfloat16 ({@code BF16}: the top 16 bits of an fp32) ↔ fp32, as 16-bit patterns held in a {@code short}.
 *
 * <p>Widening is exact (shift left by 16). Narrowing rounds to nearest, ties to even, exactly as PyTorch's
 * {@code c10::detail::round_to_nearest_even} ({@code c10/util/BFloat16.h}): add {@code 0x7FFF + lsb} and truncate,
 * which also rounds values past the largest finite bf16 to ±infinity. One deliberate difference: PyTorch turns every
 * NaN into the canonical {@code 0x7FC0}; here a NaN keeps its sign and top 7 payload bits (setting the quiet bit only
 * when those are all zero, so it cannot become an infinity), so that all 65536 patterns survive
 * {@code fromFloat(toFloat(b)) == b}.
 */
public final class BFloat16 {
    private static final int FP32_ABS_MASK = 0x7FFF_FFFF;
    private static final int FP32_INFINITY = 0x7F80_0000;
    private static final int BF16_MANTISSA_MASK = 0x007F;
    private static final int BF16_QUIET_BIT = 0x0040;

    private BFloat16() {
    }

    /** The exact fp32 value of the bfloat16 pattern {@code bits}. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** The bfloat16 pattern nearest to {@code value} (ties to even); NaN stays NaN with its sign. */
    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & FP32_ABS_MASK) > FP32_INFINITY) {
            int truncated = bits >>> 16;
            return (short) ((truncated & BF16_MANTISSA_MASK) == 0 ? truncated | BF16_QUIET_BIT : truncated);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
