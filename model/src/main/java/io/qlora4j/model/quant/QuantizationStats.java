package io.qlora4j.model.quant;

import io.qlora4j.kernels.quant.QuantizationError;

/**
 * Storage and error of a group of quantized tensors (one projection kind across layers, or all of them).
 *
 * @param tensors       tensors in the group
 * @param parameters    elements
 * @param storageBits   bits of codes and block constants
 * @param error         accumulated reconstruction error
 */
public record QuantizationStats(int tensors, long parameters, long storageBits, QuantizationError error) {

    public static final QuantizationStats EMPTY = new QuantizationStats(0, 0, 0, QuantizationError.NONE);

    public QuantizationStats plus(QuantizationStats o) {
        return new QuantizationStats(tensors + o.tensors, parameters + o.parameters, storageBits + o.storageBits,
                error.plus(o.error));
    }

    public double bitsPerParameter() {
        return parameters == 0 ? 0 : (double) storageBits / parameters;
    }
}
