package io.qlora4j.model.io;

import io.qlora4j.kernels.RopeLayout;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.SequencedMap;
import java.util.SequencedSet;

/**
 * A llama2.c "v0" checkpoint ({@code export.py} {@code legacy_export}, {@code run.c} {@code memory_map_weights}),
 * memory-mapped and exposed under Hugging Face LLaMA tensor names (QLORA-REFERENCE §8.2), each tensor a slice of the
 * file.
 *
 * <p>Layout after the {@link Llama2cHeader} (fp32, little-endian; L layers, D = dim, H = hidden_dim, KV = kv dim,
 * V = vocab, S = seq_len, HS = head size), with the names given here:
 * <pre>
 * token_embedding [V, D]        model.embed_tokens.weight
 * rms_att   L × [D]             model.layers.{i}.input_layernorm.weight
 * wq        L × [D, D]          model.layers.{i}.self_attn.q_proj.weight   (rows in interleaved RoPE order)
 * wk        L × [KV, D]         model.layers.{i}.self_attn.k_proj.weight   (rows in interleaved RoPE order)
 * wv        L × [KV, D]         model.layers.{i}.self_attn.v_proj.weight
 * wo        L × [D, D]          model.layers.{i}.self_attn.o_proj.weight
 * rms_ffn   L × [D]             model.layers.{i}.post_attention_layernorm.weight
 * w1        L × [H, D]          model.layers.{i}.mlp.gate_proj.weight
 * w2        L × [D, H]          model.layers.{i}.mlp.down_proj.weight
 * w3        L × [H, D]          model.layers.{i}.mlp.up_proj.weight
 * rms_final [D]                 model.norm.weight
 * freq_cis_real, freq_cis_imag  [S, HS/2] each, not exposed (the model computes RoPE itself)
 * wcls      [V, D]              lm_head.weight, only when untied (vocab_size < 0)
 * </pre>
 * The q/k rows are left as stored: llama2.c rotates interleaved pairs, so {@link #ropeLayout()} is
 * {@link RopeLayout#INTERLEAVED} and the model picks its RoPE accordingly (or permutes with
 * {@link RopePermutation}). The file size must equal exactly what the header implies.
 *
 * <p>Not the versioned (v1 int8 / v2) exports, and not a tokenizer reader.
 */
public final class Llama2cCheckpoint implements TensorSource {
    private final MappedFile file;
    private final Llama2cHeader header;
    private final SequencedMap<String, TensorInfo> tensors;     // in file order
    private final SequencedSet<String> names;

    private Llama2cCheckpoint(MappedFile file, Llama2cHeader header, SequencedMap<String, TensorInfo> tensors) {
        this.file = file;
        this.header = header;
        this.tensors = tensors;
        this.names = Collections.unmodifiableSequencedSet(tensors.sequencedKeySet());
    }

    /**
     * Maps and validates {@code path}.
     *
     * @throws CheckpointException          when the header is implausible or the file size disagrees with it
     * @throws java.io.UncheckedIOException when the file cannot be opened
     */
    public static Llama2cCheckpoint open(Path path) {
        MappedFile file = MappedFile.map(path);
        try {
            Llama2cHeader header = Llama2cHeader.read(path, file.segment());
            SequencedMap<String, TensorInfo> tensors = layout(path, header, file.size());
            return new Llama2cCheckpoint(file, header, tensors);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public Llama2cHeader header() {
        return header;
    }

    public Path path() {
        return file.path();
    }

    @Override
    public SequencedSet<String> names() {
        return names;
    }

    @Override
    public TensorInfo info(String name) {
        if (!file.isOpen()) {
            throw new IllegalStateException("llama2.c checkpoint " + path() + " is closed");
        }
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw error(path(), "no tensor " + SafetensorsHeader.quote(name) + " among its " + tensors.size()
                    + " tensors" + (name.equals("lm_head.weight") ? " (the classifier is tied to the embedding)" : ""),
                    "names() lists them");
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

    @Override
    public RopeLayout ropeLayout() {
        return RopeLayout.INTERLEAVED;
    }

    @Override
    public void close() {
        file.close();
    }

    /** The tensors in file order; checks the file size is exactly what the header implies. */
    private static SequencedMap<String, TensorInfo> layout(Path path, Llama2cHeader h, long fileSize) {
        long withoutClassifier;
        long withClassifier;
        try {
            long d = h.dim();
            long perLayer = Math.addExact(Math.addExact(2 * d, Math.multiplyExact(2 * d + 2L * h.kvDim(), d)),
                    Math.multiplyExact(3L * h.hiddenDim(), d));
            long embedding = Math.multiplyExact((long) h.vocab(), d);
            long ropeTables = (long) h.seqLen() * h.headSize();
            long floats = Math.addExact(Math.addExact(embedding, Math.multiplyExact(h.nLayers(), perLayer)),
                    d + ropeTables);
            withoutClassifier = Math.addExact(Llama2cHeader.BYTES, Math.multiplyExact(floats, Float.BYTES));
            withClassifier = Math.addExact(withoutClassifier, Math.multiplyExact(embedding, Float.BYTES));
        } catch (ArithmeticException overflow) {
            throw error(path, "header " + h + " implies a file of more than 2^63 bytes",
                    "the file is corrupt or not a llama2.c v0 checkpoint");
        }
        long expected = h.tied() ? withoutClassifier : withClassifier;
        if (fileSize != expected) {
            long other = h.tied() ? withClassifier : withoutClassifier;
            throw error(path, "file has " + fileSize + " bytes but header " + h + " implies " + expected + " ("
                    + (h.tied() ? "tied" : "untied") + " classifier)", fileSize == other
                    ? "the size fits an " + (h.tied() ? "untied" : "tied")
                            + " classifier: the sign of vocab_size is wrong"
                    : "the file is truncated, corrupt or not a llama2.c v0 checkpoint");
        }
        Layout layout = new Layout(h);
        layout.add("model.embed_tokens.weight", h.vocab(), h.dim());
        layout.addPerLayer("input_layernorm.weight", h.dim());
        layout.addPerLayer("self_attn.q_proj.weight", h.dim(), h.dim());
        layout.addPerLayer("self_attn.k_proj.weight", h.kvDim(), h.dim());
        layout.addPerLayer("self_attn.v_proj.weight", h.kvDim(), h.dim());
        layout.addPerLayer("self_attn.o_proj.weight", h.dim(), h.dim());
        layout.addPerLayer("post_attention_layernorm.weight", h.dim());
        layout.addPerLayer("mlp.gate_proj.weight", h.hiddenDim(), h.dim());
        layout.addPerLayer("mlp.down_proj.weight", h.dim(), h.hiddenDim());
        layout.addPerLayer("mlp.up_proj.weight", h.hiddenDim(), h.dim());
        layout.add("model.norm.weight", h.dim());
        layout.skip(2L * h.seqLen() * (h.headSize() / 2));
        if (!h.tied()) {
            layout.add("lm_head.weight", h.vocab(), h.dim());
        }
        assert layout.offset == fileSize;
        return layout.tensors;
    }

    /** Assigns consecutive fp32 tensors their offsets. */
    private static final class Layout {
        final Llama2cHeader header;
        final SequencedMap<String, TensorInfo> tensors = new LinkedHashMap<>();
        long offset = Llama2cHeader.BYTES;

        Layout(Llama2cHeader header) {
            this.header = header;
        }

        void add(String name, int... shape) {
            TensorInfo info = new TensorInfo(new TensorSpec(name, DType.F32, shape), offset);
            tensors.put(name, info);
            offset += info.byteSize();
        }

        void addPerLayer(String suffix, int... shape) {
            for (int i = 0; i < header.nLayers(); i++) {
                add("model.layers." + i + "." + suffix, shape);
            }
        }

        void skip(long floats) {
            offset += floats * Float.BYTES;
        }
    }

    static CheckpointException error(Path path, String what, String hint) {
        return new CheckpointException("llama2.c checkpoint " + path + ": " + what + "; " + hint);
    }
}
