package io.qlora4j.kernels.quant;

import io.qlora4j.kernels.Parallel;

import java.util.Arrays;

/**
 * A blockwise-quantized tensor: the storage of a frozen base weight. Holds the codes and the block constants only; it is
 * never stored dequantized (kernels decode the rows they need, on the fly).
 *
 * @param type      storage type (NF4, FP4, INT4, INT8)
 * @param shape     logical shape, row-major; a linear weight is [out, in]
 * @param blocksize elements per block (flattened row-major; blocks may cross rows)
 * @param codes     packed codes: 4-bit types (n+1)/2 bytes, the first element in the high nibble; INT8 n bytes
 * @param scales    one absmax per block, fp32 or double-quantized
 */
public record QuantizedTensor(QuantType type, int[] shape, int blocksize, byte[] codes, BlockScales scales) {

    /** Elements per parallel work unit when whole tensors are (de)quantized: large enough to amortize a task. */
    private static final int PARALLEL_BLOCK_ELEMENTS = 1 << 16;

    public QuantizedTensor {
        QuantType.checkBlocksize(blocksize);
        long n = numel(shape);
        if (codes.length != BlockwiseKernels.codeBytes(n, type.codebook())) {
            throw new IllegalArgumentException("quantized tensor " + Arrays.toString(shape) + " of type " + type.cliName()
                    + " needs " + BlockwiseKernels.codeBytes(n, type.codebook()) + " code bytes, got " + codes.length);
        }
        if (scales.blocks() != BlockwiseKernels.blockCount(n, blocksize)) {
            throw new IllegalArgumentException("quantized tensor " + Arrays.toString(shape) + " with blocksize " + blocksize
                    + " needs " + BlockwiseKernels.blockCount(n, blocksize) + " block constants, got " + scales.blocks());
        }
    }

    /** The kernels used for whole-tensor work: Vector API where the CPU supports it, else the reference loops. */
    public static BlockwiseKernels kernels() {
        return VectorBlockwise.isSupported() ? VectorBlockwise.INSTANCE : ReferenceBlockwise.INSTANCE;
    }

    /**
     * Quantizes a tensor. Rejects NaN and infinite values with the index of the offending block (a quantized NaN would
     * silently poison a whole block).
     *
     * @param values (numel(shape)) fp32 values, row-major
     */
    public static QuantizedTensor quantize(float[] values, int[] shape, QuantType type, int blocksize, boolean doubleQuant) {
        return quantize(kernels(), values, shape, type, blocksize, doubleQuant);
    }

    /** As {@link #quantize(float[], int[], QuantType, int, boolean)} with explicit kernels (tests, benchmarks). */
    public static QuantizedTensor quantize(BlockwiseKernels kernels, float[] values, int[] shape, QuantType type,
                                           int blocksize, boolean doubleQuant) {
        QuantType.checkBlocksize(blocksize);
        long numel = numel(shape);
        if (numel != values.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + numel
                    + " elements but " + values.length + " values were given");
        }
        int n = values.length;
        Codebook code = type.codebook();
        byte[] codes = new byte[BlockwiseKernels.codeBytes(n, code)];
        float[] absmax = new float[BlockwiseKernels.blockCount(n, blocksize)];
        int blocksPerTask = Math.max(1, PARALLEL_BLOCK_ELEMENTS / blocksize);
        Parallel.forRange(Math.ceilDiv(absmax.length, blocksPerTask), 1, (from, to) -> {
            int begin = from * blocksPerTask * blocksize;   // block-aligned, hence even: tasks write disjoint bytes
            int end = (int) Math.min(n, (long) to * blocksPerTask * blocksize);
            kernels.quantize(code, blocksize, values, begin, end - begin,
                    codes, BlockwiseKernels.codeBytes(begin, code), absmax, begin / blocksize);
        });
        for (int b = 0; b < absmax.length; b++) {
            if (!Float.isFinite(absmax[b])) {
                throw new IllegalArgumentException("cannot quantize a tensor with non-finite values: block " + b
                        + " (elements " + (long) b * blocksize + ".." + Math.min(n, (long) (b + 1) * blocksize - 1)
                        + ") has max |x| = " + absmax[b]);
            }
        }
        BlockScales scales = doubleQuant ? DoubleQuantScales.compress(absmax) : new PlainScales(absmax);
        return new QuantizedTensor(type, shape.clone(), blocksize, codes, scales);
    }

    /** Number of elements. */
    public long numel() {
        return numel(shape);
    }

    /** Rows of a 2-D tensor ([out, in]: out). */
    public int rows() {
        return shape[0];
    }

    /** Columns of a 2-D tensor ([out, in]: in); the product of the trailing dims otherwise. */
    public int cols() {
        return Math.toIntExact(numel() / shape[0]);
    }

    public boolean doubleQuantized() {
        return scales instanceof DoubleQuantScales;
    }

    /** Decodes elements [start, start+len) into dst[dstOff ..]. */
    public void dequantizeRange(long start, int len, float[] dst, int dstOff) {
        kernels().dequantize(type.codebook(), blocksize, codes, scales, start, len, dst, dstOff);
    }

    /** Decodes the whole tensor (for tests, merging and statistics; never kept as a model weight). */
    public float[] dequantize() {
        int n = Math.toIntExact(numel());
        float[] out = new float[n];
        int chunk = PARALLEL_BLOCK_ELEMENTS;
        Parallel.forRange(Math.ceilDiv(n, chunk), 1, (from, to) -> {
            int begin = from * chunk;
            int end = (int) Math.min(n, (long) to * chunk);
            dequantizeRange(begin, end - begin, out, begin);
        });
        return out;
    }

    /** Storage in bits: codes plus block constants (code tables excluded: they are shared constants). */
    public long storageBits() {
        return 8L * codes.length + scales.storageBits();
    }

    /** Storage bits per parameter, partial blocks and the double-quant offset included. */
    public double bitsPerParameter() {
        return (double) storageBits() / numel();
    }

    static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
