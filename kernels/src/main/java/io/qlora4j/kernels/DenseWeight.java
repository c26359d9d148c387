package io.qlora4j.kernels;

/**
 * A dense fp32 weight (the 32-bit base the paper compares against, LoRA matrices, and trainable weights in full
 * fine-tuning).
 *
 * @param data (rows, cols) row-major
 */
public record DenseWeight(float[] data, int rows, int cols) implements LinearWeight {

    public DenseWeight {
        if ((long) rows * cols != data.length) {
            throw new IllegalArgumentException("dense weight (" + rows + ", " + cols + ") needs " + (long) rows * cols
                    + " values, got " + data.length);
        }
    }

    @Override
    public void decode(int row, int col, int len, float[] dst, int dstOff) {
        System.arraycopy(data, row * cols + col, dst, dstOff, len);
    }

    @Override
    public long storageBytes() {
        return 4L * data.length;
    }
}
