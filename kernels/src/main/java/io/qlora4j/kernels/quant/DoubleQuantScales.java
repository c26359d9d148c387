package io.qlora4j.kernels.quant;

/**
 * Double-quantized block constants (QLoRA §3 "Double Quantization"; bitsandbytes {@code quantize_4bit(...,
 * compress_statistics=True)}, QLORA-REFERENCE.md §3): the first-level absmax values minus their mean are quantized with
 * the signed 8-bit dynamic code in blocks of 256, with one fp32 second-level absmax per 256 blocks.
 * Cost: 8/blocksize + 32/(blocksize·256) bits per parameter instead of 32/blocksize (0.127 vs 0.5 at blocksize 64).
 *
 * <p>Reconstruction, in fp32 exactly as bitsandbytes: {@code absmax[i] = DYNAMIC_SIGNED[codes[i]] · absmax2[i/256] + offset}.
 *
 * @param codes   (blocks) 8-bit dynamic codes of {@code absmax − offset}
 * @param absmax2 (ceil(blocks/256)) fp32 second-level constants
 * @param offset  fp32 mean of the first-level absmax values
 */
public record DoubleQuantScales(byte[] codes, float[] absmax2, float offset) implements BlockScales {

    /** The second-level block size: fixed at 256 by bitsandbytes. */
    public static final int BLOCKSIZE = 256;
    /** The code of the second level. */
    public static final Codebook CODE = Codebook.DYNAMIC_SIGNED;

    public DoubleQuantScales {
        if (absmax2.length != BlockwiseKernels.blockCount(codes.length, BLOCKSIZE)) {
            throw new IllegalArgumentException("double-quant state is inconsistent: " + codes.length
                    + " block codes need " + BlockwiseKernels.blockCount(codes.length, BLOCKSIZE)
                    + " second-level constants, got " + absmax2.length);
        }
    }

    /** Compresses fp32 block maxima (the first-level constants of a blockwise-quantized tensor). */
    public static DoubleQuantScales compress(float[] absmax) {
        float offset = mean(absmax);
        float[] centered = new float[absmax.length];
        for (int i = 0; i < absmax.length; i++) centered[i] = absmax[i] - offset;
        byte[] codes = new byte[absmax.length];
        float[] absmax2 = new float[BlockwiseKernels.blockCount(absmax.length, BLOCKSIZE)];
        ReferenceBlockwise.INSTANCE.quantize(CODE, BLOCKSIZE, centered, 0, absmax.length, codes, 0, absmax2, 0);
        return new DoubleQuantScales(codes, absmax2, offset);
    }

    /** fp32 mean as torch's {@code absmax.mean()} returns it: summed in double, rounded once. */
    static float mean(float[] v) {
        if (v.length == 0) return 0f;
        double sum = 0;
        for (float x : v) sum += x;
        return (float) (sum / v.length);
    }

    @Override
    public int blocks() {
        return codes.length;
    }

    @Override
    public float absmax(int block) {
        return CODE.value(codes[block] & 0xFF) * absmax2[block / BLOCKSIZE] + offset;
    }

    @Override
    public long storageBits() {
        return 8L * codes.length + 32L * absmax2.length + 32L;
    }
}
