package io.qlora4j.model.io;

import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link SafetensorsWriter}: byte-exact against the reference's own test vectors and real files, round trips, atomicity. */
class SafetensorsWriterTest {
    @TempDir
    Path tmp;

    private static byte[] floats(float... values) {
        return TensorCodec.fromFloats(values, DType.F32);
    }

    private static String header(byte[] file) {
        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return new String(file, 8, (int) n, StandardCharsets.UTF_8);
    }

    /** The expected bytes of tensor.rs's tests {@code test_serialization}, {@code test_empty} and the forced alignment one. */
    @Test
    void matchesTheReferenceTestVectors() throws IOException {
        Path p = tmp.resolve("a.safetensors");
        new SafetensorsWriter().put(new TensorSpec("attn.0", DType.F32, 1, 2, 3), floats(0, 1, 2, 3, 4, 5)).write(p);
        byte[] out = Files.readAllBytes(p);
        assertEquals("{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}", header(out));
        assertEquals(8 + 64 + 24, out.length);
        assertArrayEquals(floats(0, 1, 2, 3, 4, 5), Arrays.copyOfRange(out, 72, 96));

        new SafetensorsWriter().put(new TensorSpec("attn0", DType.F32, 1, 1, 2, 3), floats(0, 1, 2, 3, 4, 5)).write(p);
        assertEquals("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ",
                header(Files.readAllBytes(p)));

        new SafetensorsWriter().write(p);
        assertArrayEquals(new byte[]{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '}, Files.readAllBytes(p));

        new SafetensorsWriter(Map.of("framework", "pt")).write(p);
        assertEquals("{\"__metadata__\":{\"framework\":\"pt\"}}     ", header(Files.readAllBytes(p)));
    }

    /** Re-writing each real file from its own tensors and metadata reproduces it byte for byte. */
    @Test
    void rewritesRealFilesByteIdentically() throws IOException {
        for (String rel : List.of("fixtures/tiny_llama_base/model.safetensors",
                "fixtures/tiny_lora_adapter/adapter_model.safetensors",
                "golden/bnb/nf4_doublequant_160x200.safetensors",
                "models/stories260K-hf/model.safetensors")) {
            Path original = SharedData.require(rel);
            Path copy = tmp.resolve("copy.safetensors");
            try (SafetensorsFile f = SafetensorsFile.open(original)) {
                SafetensorsWriter w = new SafetensorsWriter(f.metadata());
                List<String> reversed = new ArrayList<>(f.names()).reversed();    // put order must not matter
                for (String name : reversed) {
                    w.put(f.info(name).spec(), () -> f.bytes(name));
                }
                w.write(copy);
            }
            assertArrayEquals(Files.readAllBytes(original), Files.readAllBytes(copy), rel);
        }
    }

    /** Every dtype, with 0-rank, empty and multi-dimensional shapes, survives write then read bit for bit. */
    @Test
    void roundTripsEveryDtypeAndShape() {
        SplittableRandom rnd = new SplittableRandom(2024);
        long[][] shapes = {{}, {0}, {3, 0, 2}, {1}, {7}, {2, 3, 5}};
        Map<String, byte[]> data = new LinkedHashMap<>();
        Map<String, TensorSpec> specs = new LinkedHashMap<>();
        SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt", "note", "round trip"));
        for (DType dtype : DType.values()) {
            for (int s = 0; s < shapes.length; s++) {
                TensorSpec spec = new TensorSpec(dtype.name().toLowerCase() + ".s" + s, dtype, shapes[s]);
                byte[] bytes = new byte[(int) spec.byteSize()];
                rnd.nextBytes(bytes);
                w.put(spec, bytes);
                data.put(spec.name(), bytes);
                specs.put(spec.name(), spec);
            }
        }
        Path p = tmp.resolve("all.safetensors");
        w.write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(0, f.headerLength() % 8);
            assertEquals(Map.of("format", "pt", "note", "round trip"), f.metadata());
            assertEquals(specs.keySet(), f.names());
            DType previous = DType.U64;
            for (String name : f.names()) {
                TensorInfo info = f.info(name);
                assertEquals(specs.get(name), info.spec());
                assertArrayEquals(data.get(name), f.readBytes(name), name);
                assertEquals(0, info.fileOffset() % info.dtype().byteSize(), "aligned: " + name);
                assertTrue(info.dtype().compareTo(previous) <= 0, "descending dtype order at " + name);
                previous = info.dtype();
            }
            assertEquals(1, f.info("f32.s0").numel(), "0-rank holds one element");
            assertEquals(0, f.info("bf16.s2").numel());
        }
    }

    @Test
    void encodesFloatsToTheTargetDtype() {
        float[] values = {1.0f, 1.00390625f, -3.1415927f, 65520f, Float.NaN, 1e-8f};
        Path p = tmp.resolve("f.safetensors");
        new SafetensorsWriter()
                .put(new TensorSpec("bf16", DType.BF16, 6), values)
                .put(new TensorSpec("f16", DType.F16, 6), values)
                .put(new TensorSpec("f64", DType.F64, 2, 3), values)
                .write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            float[] bf16 = f.readFloats("bf16");
            float[] f16 = f.readFloats("f16");
            for (int i = 0; i < values.length; i++) {
                assertEquals(BFloat16.toFloat(BFloat16.fromFloat(values[i])), bf16[i]);
                assertEquals(Half.toFloat(Half.fromFloat(values[i])), f16[i]);
            }
            assertEquals(1.0f, bf16[1], "1 + 2^-8 is a tie: even is 1.0");
            assertEquals(Float.POSITIVE_INFINITY, f16[3]);
            assertArrayEquals(values, f.readFloats("f64"));
        }
    }

    /** Names with JSON escapes and non-ASCII: serde_json's escaping, code point order (not UTF-16 order). */
    @Test
    void escapesAndOrdersNamesAsSerdeJsonAndRust() throws IOException {
        String quoteAndControl = "q\"b\\s\u0001\n\u007f";
        String fullwidthA = "\uFF21";        // U+FF21 sorts before U+1F600 by code point, after it by UTF-16 unit
        String emoji = "\uD83D\uDE00";
        Path p = tmp.resolve("names.safetensors");
        SafetensorsWriter w = new SafetensorsWriter(Map.of("ключ", "значение"));
        for (String name : List.of(emoji, fullwidthA, quoteAndControl)) {
            w.put(new TensorSpec(name, DType.U8, 1), new byte[]{1});
        }
        w.write(p);
        String header = header(Files.readAllBytes(p));
        assertTrue(header.startsWith("{\"__metadata__\":{\"ключ\":\"значение\"},\"q\\\"b\\\\s\\u0001\\n\u007f\":"), header);
        assertTrue(header.indexOf(fullwidthA) < header.indexOf(emoji), header);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of(quoteAndControl, fullwidthA, emoji), List.copyOf(f.names()));
        }
        assertThrows(IllegalArgumentException.class,
                () -> new SafetensorsWriter().put(new TensorSpec("\uD800", DType.U8, 1), new byte[1]), "lone surrogate");
    }

    @Test
    void rejectsInconsistentInput() {
        SafetensorsWriter w = new SafetensorsWriter();
        TensorSpec spec = new TensorSpec("t", DType.F32, 2);
        assertThrows(IllegalArgumentException.class, () -> w.put(spec, new byte[7]));
        assertThrows(IllegalArgumentException.class, () -> w.put(spec, new float[3]));
        assertThrows(IllegalArgumentException.class, () -> w.put(new TensorSpec("__metadata__", DType.U8, 0), new byte[0]));
        w.put(spec, new float[2]);
        assertThrows(IllegalArgumentException.class, () -> w.put(spec, new float[2]), "duplicate");
        assertThrows(IllegalArgumentException.class, () -> new TensorSpec("t", DType.F32, -1));
        assertThrows(IllegalArgumentException.class, () -> new TensorSpec("t", DType.F32, new long[]{1L << 62}));
        assertThrows(IllegalArgumentException.class, () -> w.put(new TensorSpec("u", DType.U8, 1), new float[1]),
                "floats cannot become U8");
    }

    /** A failure while writing leaves the previous file untouched and no temporary file behind. */
    @Test
    void failedWriteLeavesTheTargetIntact() throws IOException {
        Path p = tmp.resolve("model.safetensors");
        new SafetensorsWriter().put(new TensorSpec("a", DType.F32, 1), floats(1)).write(p);
        byte[] before = Files.readAllBytes(p);

        SafetensorsWriter failing = new SafetensorsWriter()
                .put(new TensorSpec("a", DType.F32, 1), floats(2))
                .put(new TensorSpec("b", DType.F32, 1), () -> {
                    throw new IllegalStateException("producer crashed");
                });
        assertThrows(IllegalStateException.class, () -> failing.write(p));
        SafetensorsWriter wrongSize = new SafetensorsWriter()
                .put(new TensorSpec("a", DType.F32, 2), () -> MemorySegment.ofArray(new byte[4]));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> wrongSize.write(p));
        assertTrue(e.getMessage().contains("'a'") && e.getMessage().contains("needs 8"), e.getMessage());

        assertArrayEquals(before, Files.readAllBytes(p));
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of(p), files.toList(), "no temporary files left");
        }
    }

    /** Data suppliers are called once each, in file order, only while writing. */
    @Test
    void pullsDataLazilyInFileOrder() {
        List<String> calls = new ArrayList<>();
        SafetensorsWriter w = new SafetensorsWriter();
        for (String name : List.of("c", "a", "b")) {
            w.put(new TensorSpec(name, name.equals("c") ? DType.U8 : DType.F32, 1), () -> {
                calls.add(name);
                return MemorySegment.ofArray(new byte[name.equals("c") ? 1 : 4]);
            });
        }
        assertEquals(List.of(), calls);
        w.write(tmp.resolve("lazy.safetensors"));
        assertEquals(List.of("a", "b", "c"), calls, "F32 before U8, then by name");
    }
}
