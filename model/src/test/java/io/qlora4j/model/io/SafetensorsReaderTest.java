package io.qlora4j.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link SafetensorsFile} on the real files of {@code ../shared/data} and on hand-made invalid files. */
class SafetensorsReaderTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void readsStories260kInHuggingFaceLayout() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedData.require("models/stories260K-hf/model.safetensors"))) {
            assertEquals(47, f.names().size(), "embedding + 5 layers x 9 + norm (its PROVENANCE.md says 48)");
            assertEquals(Map.of("format", "pt", "source", "llama2.c stories260K.bin converted"), f.metadata());
            assertEquals(4904, f.headerLength());
            assertFalse(f.names().contains("lm_head.weight"), "tied: no classifier");
            TensorInfo embed = f.info("model.embed_tokens.weight");
            assertEquals(DType.F32, embed.dtype());
            assertArrayEquals(new long[]{512, 64}, embed.shape());
            assertEquals(8 + 4904, embed.fileOffset());
            assertArrayEquals(new long[]{172, 64}, f.info("model.layers.4.mlp.up_proj.weight").shape());
            assertArrayEquals(new long[]{32, 64}, f.info("model.layers.0.self_attn.k_proj.weight").shape());
            assertEquals(512 * 64, f.readFloats("model.embed_tokens.weight").length);
            assertFileOrder(f);
        }
    }

    /**
     * A file exactly as transformers 5.18 saved it: the header obeys the writer rules (N a multiple of 8, space padding,
     * metadata first, tensors by descending dtype then name, contiguous offsets), which we check independently here.
     */
    @Test
    void readsTinyLlamaAsTransformersWroteIt() throws IOException {
        Path path = SharedData.require("fixtures/tiny_llama_base/model.safetensors");
        byte[] raw = Files.readAllBytes(path);
        try (SafetensorsFile f = SafetensorsFile.open(path)) {
            long n = f.headerLength();
            assertEquals(0, n % 8, "header padded to a multiple of 8");
            String header = new String(raw, 8, (int) n, StandardCharsets.UTF_8);
            assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"},"), header);
            assertEquals(header.strip() + " ".repeat(header.length() - header.strip().length()), header,
                    "padding is trailing spaces");
            List<String> headerOrder = new ArrayList<>();
            JSON.readTree(header).fieldNames().forEachRemaining(headerOrder::add);
            headerOrder.remove("__metadata__");
            List<String> writerOrder = new ArrayList<>(headerOrder);
            writerOrder.sort(Comparator.comparing((String t) -> f.info(t).dtype(), Comparator.reverseOrder())
                    .thenComparing(Comparator.naturalOrder()));
            assertEquals(writerOrder, headerOrder);
            assertEquals(headerOrder, List.copyOf(f.names()), "header order is file order");
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertTrue(f.names().contains("lm_head.weight"));
            assertArrayEquals(new long[]{128, 64}, f.info("lm_head.weight").shape());
            for (String name : f.names()) {
                TensorInfo t = f.info(name);
                assertEquals(0, t.fileOffset() % t.dtype().byteSize(), "aligned: " + name);
                float[] values = f.readFloats(name);
                float[] direct = new float[values.length];
                MemorySegment.copy(MemorySegment.ofArray(raw), TensorCodec.LE_FLOAT, t.fileOffset(), direct, 0, direct.length);
                assertArrayEquals(direct, values, name);
            }
        }
    }

    @Test
    void readsPeftAdapter() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedData.require("fixtures/tiny_lora_adapter/adapter_model.safetensors"))) {
            assertEquals(28, f.names().size(), "2 layers x 7 projections x (A, B)");
            assertEquals(Map.of("format", "pt"), f.metadata());
            TensorInfo a = f.info("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight");
            assertArrayEquals(new long[]{8, 176}, a.shape());
            assertArrayEquals(new long[]{64, 8}, f.info("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight").shape());
            f.names().forEach(name -> assertTrue(name.matches("base_model\\.model\\.model\\.layers\\.[01]\\.(mlp|self_attn)"
                    + "\\.\\w+_proj\\.lora_[AB]\\.weight"), name));
        }
    }

    /** U8, F32 and BF16 tensors of a bitsandbytes serialization, against values recorded when it was made. */
    @Test
    void readsBitsandbytesGolden() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(SharedData.require("golden/bnb/nf4_doublequant_160x200.safetensors"))) {
            assertEquals(1088, f.headerLength(), "QLORA-REFERENCE §7 LOCAL check");
            List<DType> dtypesInFileOrder = f.names().stream().map(n -> f.info(n).dtype()).distinct().toList();
            assertEquals(List.of(DType.F32, DType.BF16, DType.U8), dtypesInFileOrder);

            TensorInfo packed = f.info("layer.weight");
            assertEquals(DType.U8, packed.dtype());
            assertArrayEquals(new long[]{16000, 1}, packed.shape());
            assertArrayEquals(new byte[]{101, (byte) 131, 123, 117, 108, 53, 81, (byte) 146},
                    Arrays.copyOf(f.readBytes("layer.weight"), 8));
            assertArrayEquals(new int[]{51, 172, 51, 204, 55, 192, 193, 196},
                    Arrays.copyOf(f.readInts("layer.weight.absmax"), 8));

            JsonNode quantState = JSON.readTree(f.readBytes("layer.weight.quant_state.bitsandbytes__nf4"));
            assertEquals("nf4", quantState.get("quant_type").asText());

            float[] w = f.readFloats("input.weight_bf16");
            assertEquals(160 * 200, w.length);
            for (int j = 0; j < 64; j++) {
                assertEquals(0.0f, w[3 * 200 + j], "W[3,:64] = 0");
            }
            byte[] raw = f.readBytes("input.weight_bf16");
            for (int i = 0; i < w.length; i++) {
                int bits = ((raw[2 * i + 1] & 0xFF) << 8) | (raw[2 * i] & 0xFF);
                assertEquals(bits << 16, Float.floatToRawIntBits(w[i]));
            }

            float[] nested = f.readFloats("layer.weight.nested_quant_map");
            List<String> hex = Files.readAllLines(SharedData.require("golden/bnb/dynamic_map_signed_hex.txt"));
            int[] expected = hex.stream().flatMap(line -> Arrays.stream(line.substring(line.indexOf(':') + 1).trim().split("\\s+")))
                    .mapToInt(h -> Integer.parseUnsignedInt(h, 16)).toArray();
            assertEquals(256, expected.length);
            for (int i = 0; i < 256; i++) {
                assertEquals(expected[i], Float.floatToRawIntBits(nested[i]), "nested_quant_map[" + i + "]");
            }
            assertThrows(IllegalArgumentException.class, () -> f.readFloats("layer.weight"), "U8 is not a float type");
        }
    }

    @Test
    void bytesAreReadOnlySlicesOfTheMapping() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedData.require("models/stories260K-hf/model.safetensors"))) {
            MemorySegment bytes = f.bytes("model.norm.weight");
            assertTrue(bytes.isMapped());
            assertTrue(bytes.isReadOnly());
            assertEquals(64 * 4, bytes.byteSize());
            assertEquals(f.readFloats("model.norm.weight")[5], bytes.getAtIndex(TensorCodec.LE_FLOAT, 5));
            f.close();
            assertThrows(IllegalStateException.class, () -> bytes.get(TensorCodec.LE_FLOAT, 0), "unmapped on close");
            assertThrows(IllegalStateException.class, () -> f.info("model.norm.weight"));
        }
    }

    @Test
    void unknownTensorNamesTheFileAndTheName() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedData.require("models/stories260K-hf/model.safetensors"))) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> f.info("lm_head.weight"));
            assertTrue(e.getMessage().contains("'lm_head.weight'") && e.getMessage().contains("47 tensors"), e.getMessage());
        }
    }

    @Test
    void toleratesUnalignedUnsortedHeadersOfOldWriters() {
        // I8 first then F32 at offset 3 (unaligned), header keys not in writer order and not padded: still valid
        byte[] data = {1, 2, 3, 0, 0, (byte) 0x80, 0x3F};
        String header = "{\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[3,7]},"
                + "\"a\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[0,3]}}";
        Path p = RawSafetensors.write(tmp.resolve("old.safetensors"), RawSafetensors.assemble(header, data));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of("a", "b"), List.copyOf(f.names()), "file order, not header order");
            assertArrayEquals(new float[]{1.0f}, f.readFloats("b"));
            assertArrayEquals(new int[]{1, 2, 3}, f.readInts("a"));
            assertEquals(0, f.info("b").spec().rank());
            assertEquals(Map.of(), f.metadata());
        }
    }

    @Test
    void acceptsEmptyTensorsAndNullMetadata() {
        String header = "{\"__metadata__\":null,\"e\":{\"dtype\":\"BF16\",\"shape\":[0,5],\"data_offsets\":[0,0]},"
                + "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}  \t\n";
        Path p = RawSafetensors.write(tmp.resolve("empty.safetensors"), RawSafetensors.assemble(header, new byte[0]));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of("e", "z"), List.copyOf(f.names()));
            assertEquals(0, f.readFloats("e").length);
            assertEquals(0, f.bytes("z").byteSize());
        }
    }

    /** One hand-made file per rule of the format, each rejected with a message that says which rule. */
    @Test
    void rejectsEachViolationWithAnInformativeMessage() {
        String ok = "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
        byte[] eight = new byte[8];
        Object[][] cases = {
                {new byte[5], "fewer than the 8-byte header length"},
                {RawSafetensors.assemble(100_000_001L, new byte[0], new byte[0]), "exceeds the format's limit"},
                {RawSafetensors.assemble(-1L, new byte[0], new byte[0]), "18446744073709551615"},
                {RawSafetensors.assemble(Long.MAX_VALUE, new byte[0], new byte[0]), "exceeds the format's limit"},
                {RawSafetensors.assemble(64, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]), "exceeds the 2 bytes"},
                {RawSafetensors.assemble(0, new byte[0], new byte[0]), "does not start with '{'"},
                {RawSafetensors.assemble(" {" + ok + "}", eight), "does not start with '{'"},
                {RawSafetensors.assemble(3, new byte[]{'{', (byte) 0xC3, '}'}, new byte[0]), "not valid UTF-8"},
                {RawSafetensors.assemble("{\"t\":[1,2]}", eight), "not an object"},
                {RawSafetensors.assemble("{" + ok, eight), "not valid JSON"},
                {RawSafetensors.assemble("{" + ok + "}{}", eight), "content after its JSON object"},
                {RawSafetensors.assemble("{" + ok + "," + ok + "}", eight), "appears twice"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight), "missing field 'data_offsets'"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "appears twice"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"offsets\":[0,8]}}", eight), "unknown field 'offsets'"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "unknown dtype 'F31'"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "not a string"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight), "negative"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", eight), "not an integer"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[[2]],\"data_offsets\":[0,8]}}", eight), "not an integer"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", eight), "not an array"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", eight), "overflows 64 bits"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[" + "1,".repeat(64) + "1],\"data_offsets\":[0,4]}}", new byte[4]), "more than 64 entries"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", eight), "more than 2 entries"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", eight), "not 2"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", eight), "begin after they end"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}", eight), "exceeds 9223372036854775807"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775799,9223372036854775807]}}", eight), "reach past"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", eight), "reach past the 8-byte data buffer"},
                {RawSafetensors.assemble("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight), "needs 12"},
                {RawSafetensors.assemble("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", eight), "overlap tensor 'a'"},
                {RawSafetensors.assemble("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight), "hole of 4 bytes after the header"},
                {RawSafetensors.assemble("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", eight), "4 trailing bytes after the last tensor 'a'"},
                {RawSafetensors.assemble("{}", eight), "8 trailing bytes"},
                {RawSafetensors.assemble("{\"__metadata__\":{\"k\":1}," + ok + "}", eight), "not a string"},
                {RawSafetensors.assemble("{\"__metadata__\":{\"k\":{\"nested\":\"x\"}}," + ok + "}", eight), "not a string"},
                {RawSafetensors.assemble("{\"__metadata__\":[]," + ok + "}", eight), "not an object"},
                {RawSafetensors.assemble("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}," + ok + "}", eight), "appears twice"},
        };
        for (int i = 0; i < cases.length; i++) {
            Path p = RawSafetensors.write(tmp.resolve("bad" + i + ".safetensors"), (byte[]) cases[i][0]);
            RawSafetensors.assertRejected(p, (String) cases[i][1]);
        }
    }

    private static void assertFileOrder(SafetensorsFile f) {
        long previous = -1;
        for (String name : f.names()) {
            assertTrue(f.info(name).fileOffset() > previous, name);
            previous = f.info(name).fileOffset();
        }
    }
}
