package io.qlora4j.model.io;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SequencedMap;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Writes safetensors files exactly as the reference writer does ({@code safetensors/src/tensor.rs} {@code prepare} /
 * {@code serialize_to_file}, safetensors ≥ 0.3.1): {@code __metadata__} first, then tensors sorted by descending
 * {@link DType} (tensor.rs declaration order, which is non-increasing alignment) and then by name, the header
 * space-padded to a multiple of 8 so that every tensor starts aligned to its element size, the data in that order.
 * One deviation: tensor.rs writes {@code __metadata__} in HashMap order, i.e. randomly; here its keys are sorted (code
 * point order), which matches Python for one key and keeps our own files reproducible.
 *
 * <p>Data is pulled one tensor at a time, when the file is written, so a caller can stream a model through a bounded
 * amount of heap ({@link #put(TensorSpec, Supplier)}); it is written to a temporary file in the target folder,
 * forced to disk and renamed over the target, so a crash leaves either the old file or the complete new one.
 *
 * <p>Also writes Hugging Face sharded checkpoints ({@link #writeSharded}). Not thread-safe; not a reader.
 */
public final class SafetensorsWriter {
    /** The name transformers gives single-file weights, and the base of its shard names. */
    public static final String DEFAULT_WEIGHTS_NAME = "model.safetensors";
    private static final long WRITE_CHUNK = 1L << 30;

    private record Pending(TensorSpec spec, Supplier<MemorySegment> data) {
    }

    private final Map<String, String> metadata = new TreeMap<>(JsonText.CODE_POINT_ORDER);
    private final SequencedMap<String, Pending> tensors = new LinkedHashMap<>();   // in put order

    /** A writer with no {@code __metadata__}. */
    public SafetensorsWriter() {
    }

    /**
     * A writer whose files carry {@code metadata} as {@code __metadata__} (transformers writes {@code format: pt}); an
     * empty map writes no {@code __metadata__} key.
     */
    public SafetensorsWriter(Map<String, String> metadata) {
        metadata.forEach((k, v) -> this.metadata.put(checkUtf8(k, "metadata key"), checkUtf8(v, "metadata value")));
    }

    /** Adds a tensor whose bytes (little-endian, C order) are {@code data}; not copied, so leave it unchanged. */
    public SafetensorsWriter put(TensorSpec spec, byte[] data) {
        if (data.length != spec.byteSize()) {
            throw new IllegalArgumentException("tensor " + SafetensorsHeader.quote(spec.name()) + ": " + data.length
                    + " bytes given, " + spec + " needs " + spec.byteSize());
        }
        return put(spec, () -> MemorySegment.ofArray(data));
    }

    /** Adds a floating-point tensor from fp32 values, encoded now (F16/BF16 rounded to nearest even, F64 exact). */
    public SafetensorsWriter put(TensorSpec spec, float[] values) {
        if (values.length != spec.numel()) {
            throw new IllegalArgumentException("tensor " + SafetensorsHeader.quote(spec.name()) + ": " + values.length
                    + " values given, " + spec + " has " + spec.numel());
        }
        return put(spec, TensorCodec.fromFloats(values, spec.dtype()));
    }

    /**
     * Adds a tensor whose bytes {@code data} produces when the file is written: called once per write, in file order; its
     * result must be {@code spec.byteSize()} bytes, little-endian, C order (a slice of a {@link TensorSource#bytes}
     * copies a tensor from another file without touching the heap).
     */
    public SafetensorsWriter put(TensorSpec spec, Supplier<MemorySegment> data) {
        Objects.requireNonNull(data, "data");
        checkUtf8(spec.name(), "tensor name");
        if (spec.name().equals(SafetensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("a tensor cannot be named " + SafetensorsHeader.METADATA_KEY);
        }
        if (tensors.putIfAbsent(spec.name(), new Pending(spec, data)) != null) {
            throw new IllegalArgumentException("tensor " + SafetensorsHeader.quote(spec.name()) + " was already added");
        }
        return this;
    }

    /** Writes all tensors to {@code target} (atomically replacing it), pulling each tensor's data once. */
    public void write(Path target) {
        List<Pending> ordered = new ArrayList<>(tensors.values());
        ordered.sort(Comparator.comparing((Pending p) -> p.spec.dtype(), Comparator.reverseOrder())
                .thenComparing(p -> p.spec.name(), JsonText.CODE_POINT_ORDER));
        byte[] header = header(ordered);
        AtomicFiles.write(target, channel -> {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            AtomicFiles.writeFully(channel, length);
            AtomicFiles.writeFully(channel, ByteBuffer.wrap(header));
            for (Pending p : ordered) {
                MemorySegment data = p.data.get();
                if (data.byteSize() != p.spec.byteSize()) {
                    throw new IllegalStateException("tensor " + SafetensorsHeader.quote(p.spec.name())
                            + ": its supplier gave " + data.byteSize() + " bytes, " + p.spec + " needs " + p.spec.byteSize());
                }
                for (long off = 0; off < data.byteSize(); off += WRITE_CHUNK) {
                    AtomicFiles.writeFully(channel, data.asSlice(off, Math.min(WRITE_CHUNK, data.byteSize() - off)).asByteBuffer());
                }
            }
        });
    }

    /**
     * Writes a Hugging Face sharded checkpoint into {@code folder}, split as {@code huggingface_hub}'s
     * {@code split_torch_state_dict_into_shards} does: shards named
     * {@code model-00001-of-00003.safetensors} after {@code weightsName}, each with this writer's metadata, and the
     * index {@code weightsName + ".index.json"}. One shard is written as {@code weightsName} with no index, as
     * transformers does.
     *
     * @return the files written, shards first, then the index if any
     */
    public List<Path> writeSharded(Path folder, String weightsName, long maxShardBytes) {
        List<TensorSpec> specs = tensors.values().stream().map(Pending::spec).toList();
        ShardPlan plan = ShardPlan.split(specs, maxShardBytes, weightsName);
        List<Path> written = new ArrayList<>();
        for (Map.Entry<String, List<String>> shard : plan.shards().entrySet()) {
            SafetensorsWriter shardWriter = new SafetensorsWriter(metadata);
            for (String name : shard.getValue()) {
                Pending p = tensors.get(name);
                shardWriter.put(p.spec, p.data);
            }
            Path file = folder.resolve(shard.getKey());
            shardWriter.write(file);
            written.add(file);
        }
        if (plan.shards().size() > 1) {
            Path indexFile = folder.resolve(weightsName + ShardedSafetensors.INDEX_SUFFIX);
            byte[] index = SafetensorsIndex.of(plan).toJson().getBytes(StandardCharsets.US_ASCII);
            AtomicFiles.write(indexFile, channel -> AtomicFiles.writeFully(channel, ByteBuffer.wrap(index)));
            written.add(indexFile);
        }
        return written;
    }

    /** serde_json's compact encoding of the header, space-padded to a multiple of 8 bytes (tensor.rs {@code prepare}). */
    private byte[] header(List<Pending> ordered) {
        StringBuilder json = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            JsonText.appendSerde(json, SafetensorsHeader.METADATA_KEY);
            json.append(":{");
            String sep = "";
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                json.append(sep);
                JsonText.appendSerde(json, e.getKey());
                json.append(':');
                JsonText.appendSerde(json, e.getValue());
                sep = ",";
            }
            json.append('}');
        }
        long offset = 0;
        for (Pending p : ordered) {
            if (json.length() > 1) {
                json.append(',');
            }
            JsonText.appendSerde(json, p.spec.name());
            json.append(":{\"dtype\":\"").append(p.spec.dtype().name()).append("\",\"shape\":[");
            for (int i = 0; i < p.spec.rank(); i++) {
                json.append(i == 0 ? "" : ",").append(p.spec.dim(i));
            }
            long end = offset + p.spec.byteSize();
            json.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        json.append('}');
        byte[] utf8 = json.toString().getBytes(StandardCharsets.UTF_8);
        byte[] padded = Arrays.copyOf(utf8, (utf8.length + 7) & ~7);
        Arrays.fill(padded, utf8.length, padded.length, (byte) ' ');
        return padded;
    }

    private static String checkUtf8(String s, String what) {
        try {
            StandardCharsets.UTF_8.newEncoder().encode(CharBuffer.wrap(s));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(what + " " + SafetensorsHeader.quote(s)
                    + " holds an unpaired surrogate and cannot be written as UTF-8", e);
        }
        return s;
    }
}
