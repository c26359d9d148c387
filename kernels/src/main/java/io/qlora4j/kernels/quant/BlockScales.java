package io.qlora4j.kernels.quant;

/**
 * The per-block constants of a blockwise-quantized tensor: the absmax of each block, stored either as fp32
 * ({@link PlainScales}) or double-quantized to 8 bits ({@link DoubleQuantScales}). Kernels ask for one block's absmax at a
 * time, so double-quantized constants are reconstructed on the fly and never stored expanded.
 */
public sealed interface BlockScales permits PlainScales, DoubleQuantScales {

    /** Number of blocks. */
    int blocks();

    /** The absmax of block {@code block} as the dequantizer uses it (reconstructed for double quantization). */
    float absmax(int block);

    /** Storage of the constants in bits (codes, second-level constants and offset included; code tables excluded). */
    long storageBits();

    /** All blocks' absmax values, reconstructed (for checkpoints, tests and statistics, not for kernels). */
    default float[] expand() {
        float[] a = new float[blocks()];
        for (int b = 0; b < a.length; b++) a[b] = absmax(b);
        return a;
    }
}
