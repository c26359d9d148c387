package io.qlora4j.kernels;

import io.qlora4j.kernels.quant.QuantizedTensor;

/** A frozen linear weight stored blockwise-quantized (NF4 by default), decoded segment by segment on the fly. */
public record QuantizedWeight(QuantizedTensor tensor) implements LinearWeight {

    public QuantizedWeight {
        if (tensor.shape().length != 2) {
            throw new IllegalArgumentException("a linear weight must be 2-D [out, in], got shape "
                    + java.util.Arrays.toString(tensor.shape()));
        }
    }

    @Override
    public int rows() {
        return tensor.shape()[0];
    }

    @Override
    public int cols() {
        return tensor.shape()[1];
    }

    @Override
    public void decode(int row, int col, int len, float[] dst, int dstOff) {
        tensor.dequantizeRange((long) row * cols() + col, len, dst, dstOff);
    }

    @Override
    public long storageBytes() {
        return tensor.storageBits() / 8;
    }
}
