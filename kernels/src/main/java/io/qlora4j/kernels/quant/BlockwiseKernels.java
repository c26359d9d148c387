package io.qlora4j.kernels.quant;

/**
 * The contract of blockwise quantization, implemented by {@link ReferenceBlockwise} (plain loops, the spec and test
 * oracle) and {@link VectorBlockwise} (Java Vector API). Both must produce identical bytes and bit-identical floats.
 *
 * <p>Layout (bitsandbytes {@code quantize_4bit} / {@code quantize_blockwise}, QLORA-REFERENCE.md §2): the input is a flat
 * row-major array cut into blocks of {@code blocksize} consecutive elements (the last block may be partial and gets its
 * own absmax). 4-bit codes are packed two per byte, the element at even index 2j in the high nibble of byte j; an odd
 * count pads the last low nibble with the code of 0. 8-bit codes take one byte each.
 *
 * <p>Quantizing a block: {@code absmax = max|x|}; each x becomes {@code code.encode(x · (1/absmax))}, with absmax clamped
 * to 1e-38 only in the reciprocal so an all-zero block encodes as zeros (0x77 for NF4, as the default backend) and
 * keeps absmax 0. Dequantizing: {@code x̂ = values[code] · absmax}, one fp32 multiply.
 */
public interface BlockwiseKernels {

    /** The smallest absmax used in the reciprocal: bitsandbytes' default backend clamps to 1e-38. */
    float MIN_ABSMAX = 1e-38f;

    /**
     * Quantizes {@code n} values.
     *
     * @param src       (srcOff + n) input values; must be finite (NaN/Inf are rejected by callers at the boundary)
     * @param codes     output from {@code codesOff}: (n+1)/2 bytes for 4-bit codebooks, n bytes for 8-bit ones
     * @param absmax    output from {@code absmaxOff}: ceil(n / blocksize) fp32 block maxima
     */
    void quantize(Codebook code, int blocksize, float[] src, int srcOff, int n, byte[] codes, int codesOff,
                  float[] absmax, int absmaxOff);

    /**
     * Dequantizes elements {@code [start, start + len)} of a quantized tensor into {@code dst[dstOff ..]}; a range may
     * begin and end anywhere (rows of a matrix whose width is not a multiple of the block size).
     */
    void dequantize(Codebook code, int blocksize, byte[] codes, BlockScales scales, long start, int len,
                    float[] dst, int dstOff);

    /** Number of blocks for n elements. */
    static int blockCount(long n, int blocksize) {
        return Math.toIntExact((n + blocksize - 1) / blocksize);
    }

    /** Number of code bytes for n elements of a codebook. */
    static int codeBytes(long n, Codebook code) {
        return Math.toIntExact(code.bits() == 4 ? (n + 1) / 2 : n);
    }
}
