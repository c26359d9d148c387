package io.qlora4j.model.io;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * The 7-int32 header of a llama2.c "v0" checkpoint ({@code export.py} {@code legacy_export}, read by {@code run.c}
 * {@code read_checkpoint}), little-endian. The sign of {@code vocab_size} is a flag: positive means the classifier is
 * tied to the token embedding, negative means an untied classifier follows the other tensors.
 *
 * @param vocabSize as stored, sign included; {@link #vocab()} is the vocabulary size
 * @param seqLen    the maximum sequence length; it also sizes the (unused) RoPE tables stored in the file
 */
public record Llama2cHeader(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int seqLen) {
    public static final int BYTES = 7 * Integer.BYTES;
    /** {@code "ak42"} read as a little-endian int32: the magic of llama2.c's versioned exports (v1 int8, v2 fp32). */
    private static final int VERSIONED_EXPORT_MAGIC = 0x616b3432;

    /** Whether the classifier shares the embedding matrix (no {@code lm_head.weight}). */
    public boolean tied() {
        return vocabSize > 0;
    }

    public int vocab() {
        return Math.abs(vocabSize);
    }

    public int headSize() {
        return dim / nHeads;
    }

    /** Rows of {@code wk}/{@code wv}: {@code dim · nKvHeads / nHeads} ({@code run.c} {@code kv_dim}). */
    public int kvDim() {
        return headSize() * nKvHeads;
    }

    /**
     * Reads and checks the header at the start of {@code file}: all values positive, heads dividing {@code dim},
     * key/value heads dividing heads, an even head size (RoPE rotates pairs).
     */
    static Llama2cHeader read(Path path, MemorySegment file) {
        if (file.byteSize() < BYTES) {
            throw Llama2cCheckpoint.error(path, "file has " + file.byteSize() + " bytes, fewer than the " + BYTES
                    + "-byte header", "the file is truncated or not a llama2.c checkpoint");
        }
        int[] v = new int[7];
        for (int i = 0; i < 7; i++) {
            v[i] = file.getAtIndex(TensorCodec.LE_INT, i);
        }
        if (v[0] == VERSIONED_EXPORT_MAGIC) {
            throw Llama2cCheckpoint.error(path, "file starts with the magic \"ak42\" of llama2.c's versioned exports",
                    "only the legacy v0 format is read; re-export with export.py --version 0");
        }
        Llama2cHeader h = new Llama2cHeader(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
        if (h.dim <= 0 || h.hiddenDim <= 0 || h.nLayers <= 0 || h.nHeads <= 0 || h.nKvHeads <= 0 || h.seqLen <= 0
                || h.vocabSize == 0 || h.vocabSize == Integer.MIN_VALUE) {
            throw Llama2cCheckpoint.error(path, "header " + h + " has a zero or negative size",
                    "the file is not a llama2.c v0 checkpoint");
        }
        if (h.dim % h.nHeads != 0 || h.nHeads % h.nKvHeads != 0 || h.headSize() % 2 != 0) {
            throw Llama2cCheckpoint.error(path, "header " + h + " is inconsistent: need n_heads | dim,"
                    + " n_kv_heads | n_heads and an even head size", "the file is corrupt or not a llama2.c v0 checkpoint");
        }
        return h;
    }
}
