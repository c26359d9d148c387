package io.qlora4j.model.io;

import java.util.Optional;

/**
 * The element types of safetensors ({@code safetensors/src/tensor.rs} {@code enum Dtype}); the constant names are the
 * strings of the header's {@code "dtype"} field.
 *
 * <p>The declaration order is the one of {@code tensor.rs}, and it matters: the reference writer sorts tensors by
 * descending {@code Dtype} (its derived {@code Ord}, i.e. declaration order), then by name, so {@link SafetensorsWriter}
 * uses {@link #ordinal()} to lay files out byte for byte as Python does.
 *
 * <p>Not supported: the newer sub-byte and exotic types ({@code F4}, {@code F6_*}, {@code F8_E8M0}, {@code *FNUZ},
 * {@code C64}); a file using them is rejected with a message naming the dtype.
 */
public enum DType {
    BOOL(1),
    U8(1),
    I8(1),
    F8_E5M2(1),
    F8_E4M3(1),
    I16(2),
    U16(2),
    F16(2),
    BF16(2),
    I32(4),
    U32(4),
    F32(4),
    F64(8),
    I64(8),
    U64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** Whether {@code readFloats} can convert this dtype to fp32 (F16, BF16 and F32 exactly, F64 rounded). */
    public boolean isFloat() {
        return this == F16 || this == BF16 || this == F32 || this == F64;
    }

    /** The dtype spelled {@code name} in a safetensors header (case-sensitive, as the reference reads it). */
    public static Optional<DType> fromHeaderName(String name) {
        for (DType d : values()) {
            if (d.name().equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }
}
