package io.qlora4j.model.io;

import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Llama2cCheckpoint} on the real stories260K, cross-checked against its Hugging Face conversion. */
class Llama2cCheckpointTest {
    @TempDir
    Path tmp;

    @Test
    void readsTheStories260kHeader() {
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(SharedData.require("models/stories260K/stories260K.bin"))) {
            assertEquals(new Llama2cHeader(64, 172, 5, 8, 4, 512, 512), c.header());
            assertTrue(c.header().tied());
            assertEquals(8, c.header().headSize());
            assertEquals(32, c.header().kvDim());
            assertEquals(RopeLayout.INTERLEAVED, c.ropeLayout());
            assertEquals(1 + 5 * 9 + 1, c.names().size());
            assertEquals("model.embed_tokens.weight", c.names().getFirst());
            assertEquals("model.norm.weight", c.names().getLast());
            assertFalse(c.names().contains("lm_head.weight"));
            CheckpointException e = assertThrows(CheckpointException.class, () -> c.info("lm_head.weight"));
            assertTrue(e.getMessage().contains("tied"), e.getMessage());
            assertArrayEquals(new long[]{32, 64}, c.info("model.layers.3.self_attn.k_proj.weight").shape());
            assertEquals(Llama2cHeader.BYTES, c.info("model.embed_tokens.weight").fileOffset());
            assertTrue(c.bytes("model.norm.weight").isMapped());
        }
    }

    /**
     * The llama2.c file and the HF safetensors conversion hold the same numbers once q/k rows are permuted with HF's
     * converter permutation (k with the KV head count): validates both readers and {@link RopePermutation}.
     */
    @Test
    void equalsTheHuggingFaceConversionAfterRopePermutation() {
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(SharedData.require("models/stories260K/stories260K.bin"));
             SafetensorsFile hf = SafetensorsFile.open(SharedData.require("models/stories260K-hf/model.safetensors"))) {
            assertEquals(Set.copyOf(hf.names()), Set.copyOf(c.names()));
            Llama2cHeader h = c.header();
            for (String name : hf.names()) {
                assertEquals(hf.info(name).spec(), c.info(name).spec(), name);
                float[] ours = c.readFloats(name);
                if (name.endsWith("q_proj.weight")) {
                    ours = RopePermutation.interleavedToHalfSplit(ours, h.nHeads(), h.headSize(), h.dim());
                } else if (name.endsWith("k_proj.weight")) {
                    ours = RopePermutation.interleavedToHalfSplit(ours, h.nKvHeads(), h.headSize(), h.dim());
                }
                assertArrayEquals(hf.readFloats(name), ours, name);
            }
            assertFalse(Arrays.equals(hf.readFloats("model.layers.0.self_attn.q_proj.weight"),
                    c.readFloats("model.layers.0.self_attn.q_proj.weight")), "the permutation is not the identity here");
        }
    }

    /** Hand-derived: within a head of 4 rows, half-split order is interleaved rows 0, 2, 1, 3. */
    @Test
    void permutationMovesEvenRowsFirstWithinEachHead() {
        float[] w = {0, 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7, 7.5f};   // (2 heads * 4, 2)
        float[] expected = {0, 0.5f, 2, 2.5f, 1, 1.5f, 3, 3.5f, 4, 4.5f, 6, 6.5f, 5, 5.5f, 7, 7.5f};
        assertArrayEquals(expected, RopePermutation.interleavedToHalfSplit(w, 2, 4, 2));
        assertThrows(IllegalArgumentException.class, () -> RopePermutation.interleavedToHalfSplit(w, 2, 3, 2));
        assertThrows(IllegalArgumentException.class, () -> RopePermutation.interleavedToHalfSplit(w, 2, 4, 3));
    }

    /** An untied checkpoint made here, filled with 0, 1, 2, ... so each tensor's values tell where it was read. */
    @Test
    void exposesTheUntiedClassifierAndLaysOutEveryTensor() throws IOException {
        int dim = 8, hidden = 12, layers = 2, heads = 2, kvHeads = 1, vocab = 10, seq = 4;
        Path p = writeSequential(tmp.resolve("untied.bin"), new int[]{dim, hidden, layers, heads, kvHeads, -vocab, seq}, true);
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(p)) {
            assertFalse(c.header().tied());
            assertEquals("lm_head.weight", c.names().getLast());
            int kv = dim * kvHeads / heads;
            long start = (long) vocab * dim              // embedding
                    + layers * dim                      // rms_att
                    + (long) layers * dim * dim         // wq
                    + (long) layers * kv * dim;         // wk
            float[] v1 = c.readFloats("model.layers.1.self_attn.v_proj.weight");
            assertEquals(kv * dim, v1.length);
            assertEquals(start + (long) kv * dim, (long) v1[0], "layer 1 of wv follows layer 0 of wv");
            long total = (Files.size(p) - Llama2cHeader.BYTES) / 4;
            float[] cls = c.readFloats("lm_head.weight");
            assertEquals(total - (long) vocab * dim, (long) cls[0], "the classifier is last, after the RoPE tables");
            float[] norm = c.readFloats("model.norm.weight");
            assertEquals(total - (long) vocab * dim - 2L * seq * (dim / heads / 2) - dim, (long) norm[0]);
        }
    }

    @Test
    void rejectsInconsistentFilesWithAHint() throws IOException {
        Path real = SharedData.require("models/stories260K/stories260K.bin");
        byte[] bytes = Files.readAllBytes(real);

        assertRejected(tmp.resolve("short.bin"), Arrays.copyOf(bytes, 20), "fewer than the 28-byte header");
        assertRejected(tmp.resolve("trunc.bin"), Arrays.copyOf(bytes, bytes.length - 4), "truncated");
        byte[] flippedSign = bytes.clone();
        ByteBuffer.wrap(flippedSign).order(ByteOrder.LITTLE_ENDIAN).putInt(20, -512);
        assertRejected(tmp.resolve("sign.bin"), flippedSign, "the sign of vocab_size is wrong");
        byte[] magic = bytes.clone();
        ByteBuffer.wrap(magic).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0x616b3432);
        assertRejected(tmp.resolve("v1.bin"), magic, "--version 0");
        byte[] zero = bytes.clone();
        ByteBuffer.wrap(zero).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 0);
        assertRejected(tmp.resolve("zero.bin"), zero, "zero or negative");
        byte[] heads = bytes.clone();
        ByteBuffer.wrap(heads).order(ByteOrder.LITTLE_ENDIAN).putInt(12, 7);
        assertRejected(tmp.resolve("heads.bin"), heads, "n_heads | dim");
        byte[] huge = bytes.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 1 << 30).putInt(4, 1 << 30).putInt(8, 1 << 30);
        assertRejected(tmp.resolve("huge.bin"), huge, "more than 2^63 bytes");
    }

    private static void assertRejected(Path file, byte[] content, String expectedText) throws IOException {
        Files.write(file, content);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(expectedText), e.getMessage());
    }

    /** A v0 file with header {@code h} whose i-th float is i. */
    private static Path writeSequential(Path file, int[] h, boolean withClassifier) throws IOException {
        long dim = h[0], hidden = h[1], layers = h[2], kv = h[0] * h[4] / h[3], vocab = Math.abs(h[5]);
        long floats = vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * hidden * dim) + dim
                + (long) h[6] * (h[0] / h[3]) + (withClassifier ? vocab * dim : 0);
        ByteBuffer b = ByteBuffer.allocate(Llama2cHeader.BYTES + (int) floats * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : h) {
            b.putInt(v);
        }
        for (int i = 0; i < floats; i++) {
            b.putFloat(i);
        }
        return Files.write(file, b.array());
    }
}
