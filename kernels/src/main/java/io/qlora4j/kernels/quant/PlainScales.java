package io.qlora4j.kernels.quant;

/**
 * fp32 absmax per block: 32/blocksize bits per parameter (0.5 at blocksize 64).
 *
 * @param absmax (blocks) max |x| of each block, fp32
 */
public record PlainScales(float[] absmax) implements BlockScales {

    @Override
    public int blocks() {
        return absmax.length;
    }

    @Override
    public float absmax(int block) {
        return absmax[block];
    }

    @Override
    public long storageBits() {
        return 32L * absmax.length;
    }
}
