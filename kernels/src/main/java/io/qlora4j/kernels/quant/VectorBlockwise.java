package io.qlora4j.kernels.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Blockwise 4-bit quantization with the Java Vector API, shaped like {@link ReferenceBlockwise} and bit-identical to it.
 * Two tricks: (1) a 4-bit code table has 16 entries, exactly one 512-bit vector, so decoding 16 codes is one lane
 * permutation of the table ({@code rearrange}) instead of 16 loads; (2) 32 elements (16 packed bytes) are handled per
 * step: high and low nibbles are decoded as two vectors and interleaved back into element order with a two-vector
 * shuffle. Encoding counts the midpoints below each lane (15 compares for NF4) instead of a branchy search.
 *
 * <p>Int8 decodes arithmetically (q/127·absmax). The dynamic 8-bit codebooks (double-quant constants, 8-bit optimizer
 * state), all 8-bit encoding, and the unaligned heads and tails of a range go through the reference loops. Needs 512-bit vectors; {@link #isSupported()} says whether this CPU has them.
 */
public final class VectorBlockwise implements BlockwiseKernels {

    public static final VectorBlockwise INSTANCE = new VectorBlockwise();

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;     // 16 lanes: one per 4-bit code
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;       // 16 packed bytes = 32 elements
    private static final int LANES = 16;
    private static final int STEP = 2 * LANES;                                 // elements per step

    /** Element order from (high-nibble vector, low-nibble vector): lanes h0 l0 h1 l1 ... of the first/second half. */
    private static final VectorShuffle<Integer> INTERLEAVE_FIRST = interleave(0);
    private static final VectorShuffle<Integer> INTERLEAVE_SECOND = interleave(LANES / 2);
    /** Even / odd element lanes of two consecutive 16-lane vectors (for packing pairs of codes into bytes). */
    private static final VectorShuffle<Integer> EVENS = strided(0);
    private static final VectorShuffle<Integer> ODDS = strided(1);
    /** 1.5·2^23: adding and subtracting it rounds a float of magnitude < 2^22 to an integer, half to even (IEEE). */
    private static final float ROUNDING_MAGIC = 12582912f;
    /** The fp32 bit patterns of each 4-bit code table, indexed by codebook ordinal (null for 8-bit codebooks). */
    private static final int[][] TABLE_BITS = tableBits();

    private VectorBlockwise() {
    }

    /** True when the CPU has 512-bit vectors (AVX-512); otherwise callers use {@link ReferenceBlockwise}. */
    public static boolean isSupported() {
        return FloatVector.SPECIES_PREFERRED.length() >= LANES;
    }

    @Override
    public void quantize(Codebook code, int blocksize, float[] src, int srcOff, int n, byte[] codes, int codesOff,
                         float[] absmax, int absmaxOff) {
        if (code.bits() != 4) {
            ReferenceBlockwise.INSTANCE.quantize(code, blocksize, src, srcOff, n, codes, codesOff, absmax, absmaxOff);
            return;
        }
        int blocks = BlockwiseKernels.blockCount(n, blocksize);
        for (int b = 0; b < blocks; b++) {
            int begin = b * blocksize;
            int end = Math.min(n, begin + blocksize);
            float max = absmax(src, srcOff + begin, end - begin);
            absmax[absmaxOff + b] = max;
            float inv = 1f / Math.max(max, MIN_ABSMAX);
            int i = begin;
            for (; i + STEP <= end; i += STEP) {
                IntVector c0 = encode(code, FloatVector.fromArray(F, src, srcOff + i).mul(inv));
                IntVector c1 = encode(code, FloatVector.fromArray(F, src, srcOff + i + LANES).mul(inv));
                IntVector packed = c0.rearrange(EVENS, c1).lanewise(VectorOperators.LSHL, 4).or(c0.rearrange(ODDS, c1));
                packed.convertShape(VectorOperators.I2B, B, 0).reinterpretAsBytes().intoArray(codes, codesOff + (i >>> 1));
            }
            ReferenceBlockwise.encodeRange(code, src, srcOff, i, end, inv, codes, codesOff);
        }
        ReferenceBlockwise.padOddCount(code, n, codes, codesOff);
    }

    @Override
    public void dequantize(Codebook code, int blocksize, byte[] codes, BlockScales scales, long start, int len,
                           float[] dst, int dstOff) {
        if (code == Codebook.INT8) {
            dequantizeInt8(blocksize, codes, scales, start, len, dst, dstOff);
            return;
        }
        if (code.bits() != 4) {
            ReferenceBlockwise.INSTANCE.dequantize(code, blocksize, codes, scales, start, len, dst, dstOff);
            return;
        }
        long end = start + len;
        long bodyStart = Math.min(end, (start + STEP - 1) & -STEP);    // steps start on 32-element boundaries
        int head = (int) (bodyStart - start);
        ReferenceBlockwise.INSTANCE.dequantize(code, blocksize, codes, scales, start, head, dst, dstOff);
        IntVector table = IntVector.fromArray(I, TABLE_BITS[code.ordinal()], 0);
        long i = bodyStart;
        int o = dstOff + head;
        while (i + STEP <= end) {
            // blocksize is a multiple of 32, so steps never straddle two blocks: one scale (a division and, with double
            // quantization, a table lookup) per block rather than per step
            int block = (int) (i / blocksize);
            long blockEnd = Math.min(end, (long) (block + 1) * blocksize);
            FloatVector scale = FloatVector.broadcast(F, scales.absmax(block));
            for (; i + STEP <= blockEnd; i += STEP, o += STEP) {
                IntVector bytes = (IntVector) ByteVector.fromArray(B, codes, (int) (i >>> 1))
                        .convertShape(VectorOperators.B2I, I, 0);
                // selectFrom: the lanes index into the table (one permutation, no shuffle object)
                IntVector high = bytes.lanewise(VectorOperators.LSHR, 4).and(0x0F).selectFrom(table);
                IntVector low = bytes.and(0x0F).selectFrom(table);
                high.rearrange(INTERLEAVE_FIRST, low).reinterpretAsFloats().mul(scale).intoArray(dst, o);
                high.rearrange(INTERLEAVE_SECOND, low).reinterpretAsFloats().mul(scale).intoArray(dst, o + LANES);
            }
        }
        ReferenceBlockwise.INSTANCE.dequantize(code, blocksize, codes, scales, i, (int) (end - i), dst, o);
    }

    /**
     * Int8 decodes arithmetically instead of through a table: value = (q / 127f) · absmax, the same two float operations
     * that built {@link Codebook#INT8}'s table, so the result is bit-identical. Steps of 16 never straddle a block.
     */
    private static void dequantizeInt8(int blocksize, byte[] codes, BlockScales scales, long start, int len,
                                       float[] dst, int dstOff) {
        long end = start + len;
        long bodyStart = Math.min(end, (start + LANES - 1) & -LANES);
        int head = (int) (bodyStart - start);
        ReferenceBlockwise.INSTANCE.dequantize(Codebook.INT8, blocksize, codes, scales, start, head, dst, dstOff);
        long i = bodyStart;
        int o = dstOff + head;
        for (; i + LANES <= end; i += LANES, o += LANES) {
            float scale = scales.absmax((int) (i / blocksize));
            ((FloatVector) ByteVector.fromArray(B, codes, Math.toIntExact(i)).convertShape(VectorOperators.B2F, F, 0))
                    .div(127f).mul(scale).intoArray(dst, o);
        }
        ReferenceBlockwise.INSTANCE.dequantize(Codebook.INT8, blocksize, codes, scales, i, (int) (end - i), dst, o);
    }

    /** max |x| over len elements (Math.max semantics: NaN propagates so callers can reject it). */
    private static float absmax(float[] src, int off, int len) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + LANES <= len; i += LANES) acc = acc.max(FloatVector.fromArray(F, src, off + i).abs());
        float max = acc.reduceLanes(VectorOperators.MAX);
        for (; i < len; i++) max = Math.max(max, Math.abs(src[off + i]));
        return max;
    }

    /** Codes of 16 scaled values, with the same rounding rule as {@link Codebook#encode}. */
    private static IntVector encode(Codebook code, FloatVector scaled) {
        return switch (code) {
            case NF4 -> countBelow(code.midpoints(), scaled);
            case FP4 -> encodeFp4(scaled);
            case INT4 -> roundHalfEven(scaled.max(-1f).min(1f).mul(7f)).add(8);
            default -> throw new IllegalArgumentException("not a 4-bit codebook: " + code);
        };
    }

    private static IntVector countBelow(float[] sortedBoundaries, FloatVector x) {
        // counted in float lanes (exact for counts ≤ 16): a float mask never changes lane type, which C2 would not
        // intrinsify here (a mask cast per boundary made encoding 10× slower than decoding)
        FloatVector count = FloatVector.zero(F);
        for (float t : sortedBoundaries) count = count.add(1f, x.compare(VectorOperators.GT, t));
        return (IntVector) count.convert(VectorOperators.F2I, 0);
    }

    private static final IntVector FP4_RANK_TO_CODE = IntVector.fromArray(I, pad16(Codebook.FP4_RANK_TO_CODE), 0);

    private static IntVector encodeFp4(FloatVector x) {
        IntVector rank = countBelow(Codebook.FP4_THRESHOLDS, x.abs());
        IntVector magnitude = FP4_RANK_TO_CODE.rearrange(rank.toShuffle());
        return magnitude.lanewise(VectorOperators.OR, 0b1000, x.compare(VectorOperators.LT, 0f).cast(I));
    }

    private static IntVector roundHalfEven(FloatVector v) {
        return (IntVector) v.add(ROUNDING_MAGIC).sub(ROUNDING_MAGIC).convert(VectorOperators.F2I, 0);
    }

    private static VectorShuffle<Integer> interleave(int firstSource) {
        int[] idx = new int[LANES];
        for (int j = 0; j < LANES / 2; j++) {
            idx[2 * j] = firstSource + j;              // from the first vector (high nibbles: even elements)
            idx[2 * j + 1] = LANES + firstSource + j;  // from the second vector (low nibbles: odd elements)
        }
        return VectorShuffle.fromArray(I, idx, 0);
    }

    private static VectorShuffle<Integer> strided(int parity) {
        int[] idx = new int[LANES];
        for (int j = 0; j < LANES; j++) idx[j] = 2 * j + parity;   // indexes >= 16 select from the second vector
        return VectorShuffle.fromArray(I, idx, 0);
    }

    private static int[][] tableBits() {
        int[][] bits = new int[Codebook.values().length][];
        for (Codebook c : Codebook.values()) {
            if (c.bits() != 4) continue;
            float[] v = c.table();
            bits[c.ordinal()] = new int[v.length];
            for (int i = 0; i < v.length; i++) bits[c.ordinal()][i] = Float.floatToRawIntBits(v[i]);
        }
        return bits;
    }

    private static int[] pad16(int[] v) {
        int[] p = new int[LANES];
        System.arraycopy(v, 0, p, 0, v.length);
        return p;
    }
}
