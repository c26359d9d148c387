package io.qlora4j.model.io;

import java.util.Arrays;
import java.util.Objects;

/**
 * What a tensor is, without where it lives: name, element type and shape (C order, outermost dimension first;
 * {@code []} is a 0-rank scalar of one element, a 0 anywhere makes an empty tensor).
 *
 * @param shape dimension sizes, each ≥ 0, whose product times the dtype size fits in a {@code long}; copied in and out
 */
public record TensorSpec(String name, DType dtype, long[] shape) {
    public TensorSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': dimension " + i + " of shape "
                        + Arrays.toString(shape) + " is negative; sizes must be >= 0");
            }
        }
        try {
            Math.multiplyExact(elementCount(shape), dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " of "
                    + dtype + " has more than 2^63 bytes", e);
        }
    }

    public TensorSpec(String name, DType dtype, int... shape) {
        this(name, dtype, Arrays.stream(shape).asLongStream().toArray());
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}. */
    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements: the product of the dimensions (1 for a 0-rank tensor). */
    public long numel() {
        return elementCount(shape);
    }

    public long byteSize() {
        return numel() * dtype.byteSize();
    }

    /**
     * The product of {@code shape}, multiplied left to right as the reference validator does (so {@code [2^40, 2^40, 0]}
     * overflows although it holds no element).
     *
     * @throws ArithmeticException when an intermediate product exceeds {@code Long.MAX_VALUE}
     */
    static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
