package io.qlora4j.model.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Converts tensor bytes (little-endian, C order, possibly unaligned: files written before safetensors 0.3.1 do not
 * align data) to and from Java arrays. The only place that knows how each dtype's bytes map to numbers; readers and
 * writers call it, so F16/BF16 rounding is defined once (in {@link Half} and {@link BFloat16}).
 */
public final class TensorCodec {
    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble LE_DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The largest array the JDK promises to allocate ({@code jdk.internal.util.ArraysSupport.SOFT_MAX_ARRAY_LENGTH}). */
    static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;

    private TensorCodec() {
    }

    /**
     * fp32 values of a floating-point tensor: F32, F16, BF16 exactly, F64 rounded to nearest.
     *
     * @param bytes the tensor's {@code info.byteSize()} bytes
     */
    public static float[] toFloats(TensorInfo info, MemorySegment bytes) {
        if (!info.dtype().isFloat()) {
            throw new IllegalArgumentException("tensor '" + info.name() + "' is " + info.dtype()
                    + "; readFloats converts F32, F16, BF16 and F64 only (read raw data with bytes() or readBytes())");
        }
        int n = arrayLength(info);
        assert bytes.byteSize() == info.byteSize();
        float[] out = new float[n];
        switch (info.dtype()) {
            case F32 -> MemorySegment.copy(bytes, LE_FLOAT, 0, out, 0, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = BFloat16.toFloat(bytes.getAtIndex(LE_SHORT, i));
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Half.toFloat(bytes.getAtIndex(LE_SHORT, i));
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) bytes.getAtIndex(LE_DOUBLE, i);
                }
            }
            default -> throw new AssertionError(info.dtype());
        }
        return out;
    }

    /**
     * int values of an integer tensor of at most 32 bits: BOOL and U8, U16 zero-extended; I8, I16 sign-extended; I32.
     *
     * @param bytes the tensor's {@code info.byteSize()} bytes
     */
    public static int[] toInts(TensorInfo info, MemorySegment bytes) {
        int n = arrayLength(info);
        assert bytes.byteSize() == info.byteSize();
        int[] out = new int[n];
        switch (info.dtype()) {
            case BOOL, U8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Byte.toUnsignedInt(bytes.get(ValueLayout.JAVA_BYTE, i));
                }
            }
            case I8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = bytes.get(ValueLayout.JAVA_BYTE, i);
                }
            }
            case U16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Short.toUnsignedInt(bytes.getAtIndex(LE_SHORT, i));
                }
            }
            case I16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = bytes.getAtIndex(LE_SHORT, i);
                }
            }
            case I32 -> MemorySegment.copy(bytes, LE_INT, 0, out, 0, n);
            default -> throw new IllegalArgumentException("tensor '" + info.name() + "' is " + info.dtype()
                    + "; readInts converts BOOL, U8, I8, U16, I16 and I32 only (read other types with bytes())");
        }
        return out;
    }

    /** Encodes {@code values} as little-endian {@code dtype} (F32, F16, BF16, F64); F16/BF16 round to nearest even. */
    public static byte[] fromFloats(float[] values, DType dtype) {
        if (!dtype.isFloat()) {
            throw new IllegalArgumentException("cannot encode floats as " + dtype + "; use F32, F16, BF16 or F64");
        }
        byte[] encoded = new byte[Math.multiplyExact(values.length, dtype.byteSize())];
        MemorySegment out = MemorySegment.ofArray(encoded);
        switch (dtype) {
            case F32 -> MemorySegment.copy(values, 0, out, LE_FLOAT, 0, values.length);
            case BF16 -> {
                for (int i = 0; i < values.length; i++) {
                    out.setAtIndex(LE_SHORT, i, BFloat16.fromFloat(values[i]));
                }
            }
            case F16 -> {
                for (int i = 0; i < values.length; i++) {
                    out.setAtIndex(LE_SHORT, i, Half.fromFloat(values[i]));
                }
            }
            case F64 -> {
                for (int i = 0; i < values.length; i++) {
                    out.setAtIndex(LE_DOUBLE, i, values[i]);
                }
            }
            default -> throw new AssertionError(dtype);
        }
        return encoded;
    }

    private static int arrayLength(TensorInfo info) {
        long n = info.numel();
        if (n > MAX_ARRAY_LENGTH) {
            throw new IllegalArgumentException("tensor '" + info.name() + "' has " + n
                    + " elements, more than a Java array holds; process it in slices of bytes()");
        }
        return (int) n;
    }
}
