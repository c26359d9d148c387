package io.qlora4j.kernels;

/**
 * The weight of a linear layer y = x·Wᵀ, W of shape (rows = out features, cols = in features), row-major: either dense
 * fp32 ({@link DenseWeight}) or blockwise-quantized ({@link QuantizedWeight}). Kernels read it through
 * {@link #decode}, which for a quantized weight dequantizes just the requested segment into a scratch buffer; the weight
 * is never materialized dequantized.
 */
public interface LinearWeight {

    /** Output features (rows of W). */
    int rows();

    /** Input features (columns of W). */
    int cols();

    /** Decodes W[row][col .. col+len) into dst[dstOff ..]. */
    void decode(int row, int col, int len, float[] dst, int dstOff);

    /** Bytes this weight occupies in memory (codes and constants for a quantized one). */
    long storageBytes();
}
