package io.qlora4j.model.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedSet;

/**
 * One safetensors file ({@code huggingface/safetensors} README "Format" and {@code safetensors/src/tensor.rs}),
 * memory-mapped: the header is parsed and validated once at {@link #open}, tensors are slices of the mapping, read
 * lazily.
 *
 * <p>{@link #open} rejects, with a {@link SafetensorsException} naming the file, the tensor and the fault: a file
 * shorter than 8 bytes; a header length over 100,000,000 or over the bytes present; a header that is not UTF-8, not
 * JSON, not an object or does not start with {@code '{'}; duplicate keys; missing, unknown or mistyped fields; unknown
 * dtypes; negative dimensions, rank over 64, or a shape whose byte size overflows; offsets that begin after they end,
 * reach past the file, overlap or leave holes; a byte span that differs from {@code dtype size × numel}; bytes after
 * the last tensor; {@code __metadata__} values that are not strings. The reference does not require the writer's
 * alignment or ordering, and neither does this reader.
 *
 * <p>Not a writer ({@link SafetensorsWriter}) and not an index of shards ({@link ShardedSafetensors}).
 */
public final class SafetensorsFile implements TensorSource {
    private final MappedFile file;
    private final SafetensorsHeader header;
    private final Map<String, TensorInfo> tensors;      // in file order
    private final SequencedSet<String> names;

    private SafetensorsFile(MappedFile file, SafetensorsHeader header) {
        this.file = file;
        this.header = header;
        LinkedHashMap<String, TensorInfo> byName = new LinkedHashMap<>();
        for (TensorInfo t : header.tensors()) {
            byName.put(t.name(), t);
        }
        this.tensors = byName;
        this.names = Collections.unmodifiableSequencedSet(byName.sequencedKeySet());
    }

    /**
     * Maps and validates {@code path}.
     *
     * @throws SafetensorsException        when the file is not a valid safetensors file
     * @throws java.io.UncheckedIOException when it cannot be opened
     */
    public static SafetensorsFile open(Path path) {
        MappedFile file = MappedFile.map(path);
        try {
            return new SafetensorsFile(file, SafetensorsHeader.parse(path, file.segment()));
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public Path path() {
        return file.path();
    }

    /** N, the header's length in bytes (the data buffer starts at {@code 8 + N}). */
    public long headerLength() {
        return header.headerLength();
    }

    /** The {@code __metadata__} string map, in header order; empty when absent. */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    @Override
    public SequencedSet<String> names() {
        return names;
    }

    @Override
    public TensorInfo info(String name) {
        checkOpen();
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw SafetensorsHeader.error(path(), "no tensor " + SafetensorsHeader.quote(name) + " among its "
                    + tensors.size() + " tensors", "names() lists them; check the checkpoint matches the model");
        }
        return info;
    }

    @Override
    public MemorySegment bytes(String name) {
        TensorInfo info = info(name);
        return file.segment().asSlice(info.fileOffset(), info.byteSize());
    }

    @Override
    public float[] readFloats(String name) {
        return TensorCodec.toFloats(info(name), bytes(name));
    }

    /** A heap copy of the tensor's raw bytes (little-endian, C order), any dtype. */
    public byte[] readBytes(String name) {
        TensorInfo info = info(name);
        if (info.byteSize() > TensorCodec.MAX_ARRAY_LENGTH) {
            throw new IllegalArgumentException("tensor " + SafetensorsHeader.quote(name) + " has " + info.byteSize()
                    + " bytes, more than a Java array holds; use bytes()");
        }
        return bytes(name).toArray(ValueLayout.JAVA_BYTE);
    }

    /** The values of a BOOL, U8, I8, U16, I16 or I32 tensor, widened to int (unsigned types zero-extended). */
    public int[] readInts(String name) {
        return TensorCodec.toInts(info(name), bytes(name));
    }

    @Override
    public void close() {
        file.close();
    }

    private void checkOpen() {
        if (!file.isOpen()) {
            throw new IllegalStateException("safetensors file " + path() + " is closed");
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path() + ", " + tensors.size() + " tensors]";
    }
}
