package io.qlora4j.kernels.quant;

/**
 * Blockwise quantization in plain loops, element by element, exactly as {@link BlockwiseKernels} specifies. It is the
 * readable spec and the oracle every faster implementation is tested against; keep it simple rather than fast.
 */
public final class ReferenceBlockwise implements BlockwiseKernels {

    public static final ReferenceBlockwise INSTANCE = new ReferenceBlockwise();

    private ReferenceBlockwise() {
    }

    @Override
    public void quantize(Codebook code, int blocksize, float[] src, int srcOff, int n, byte[] codes, int codesOff,
                         float[] absmax, int absmaxOff) {
        int blocks = BlockwiseKernels.blockCount(n, blocksize);
        for (int b = 0; b < blocks; b++) {
            int begin = b * blocksize;
            int end = Math.min(n, begin + blocksize);
            float max = 0f;
            for (int i = begin; i < end; i++) max = Math.max(max, Math.abs(src[srcOff + i]));
            absmax[absmaxOff + b] = max;
            encodeRange(code, src, srcOff, begin, end, 1f / Math.max(max, MIN_ABSMAX), codes, codesOff);
        }
        padOddCount(code, n, codes, codesOff);
    }

    /** Encodes elements [from, to) of one block scaled by {@code inv} = 1/absmax; shared with the vector tails. */
    static void encodeRange(Codebook code, float[] src, int srcOff, int from, int to, float inv, byte[] codes, int codesOff) {
        for (int i = from; i < to; i++) {
            storeCode(code, codes, codesOff, i, code.encode(src[srcOff + i] * inv));
        }
    }

    /** With an odd count of 4-bit codes, the last low nibble encodes a zero (bitsandbytes pads with 0.0). */
    static void padOddCount(Codebook code, int n, byte[] codes, int codesOff) {
        if (code.bits() == 4 && (n & 1) == 1) {
            storeCode(code, codes, codesOff, n, code.encode(0f));
        }
    }

    @Override
    public void dequantize(Codebook code, int blocksize, byte[] codes, BlockScales scales, long start, int len,
                           float[] dst, int dstOff) {
        for (int k = 0; k < len; k++) {
            long i = start + k;
            dst[dstOff + k] = code.value(loadCode(code, codes, i)) * scales.absmax((int) (i / blocksize));
        }
    }

    /** The code of element i: a nibble (high for even i) for 4-bit codebooks, a byte for 8-bit ones. */
    static int loadCode(Codebook code, byte[] codes, long i) {
        if (code.bits() == 8) return codes[Math.toIntExact(i)] & 0xFF;
        int b = codes[(int) (i >>> 1)] & 0xFF;
        return (i & 1) == 0 ? b >>> 4 : b & 0x0F;
    }

    /** Stores the code of element i (relative to the range start, which is even) at codes[codesOff ..]. */
    private static void storeCode(Codebook code, byte[] codes, int codesOff, int i, int c) {
        if (code.bits() == 8) {
            codes[codesOff + i] = (byte) c;
        } else if ((i & 1) == 0) {
            codes[codesOff + (i >>> 1)] = (byte) (c << 4);
        } else {
            codes[codesOff + (i >>> 1)] = (byte) (codes[codesOff + (i >>> 1)] | c);
        }
    }
}
