package io.qlora4j.model.io;

/**
 * A tensor of a {@link TensorSource} and where its bytes lie: {@code [fileOffset, fileOffset + byteSize)} of the file
 * that holds it (for safetensors that is {@code 8 + N + data_offsets[0]}, not the header's buffer-relative offset).
 * The bytes are little-endian, C order.
 */
public record TensorInfo(TensorSpec spec, long fileOffset) {
    public String name() {
        return spec.name();
    }

    public DType dtype() {
        return spec.dtype();
    }

    /** The shape, outermost dimension first (a copy). */
    public long[] shape() {
        return spec.shape();
    }

    public long numel() {
        return spec.numel();
    }

    public long byteSize() {
        return spec.byteSize();
    }

    @Override
    public String toString() {
        return spec + " @" + fileOffset;
    }
}
