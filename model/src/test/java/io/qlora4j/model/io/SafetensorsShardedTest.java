package io.qlora4j.model.io;

import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link SafetensorsWriter#writeSharded} and {@link ShardedSafetensors}. */
class SafetensorsShardedTest {
    @TempDir
    Path tmp;

    /** Splits stories260K into shards, then reads every tensor back through the index. */
    @Test
    void shardsARealModelAndReadsItBack() throws IOException {
        Path original = SharedData.require("models/stories260K-hf/model.safetensors");
        List<Path> written;
        try (SafetensorsFile f = SafetensorsFile.open(original)) {
            SafetensorsWriter w = new SafetensorsWriter(f.metadata());
            f.names().forEach(name -> w.put(f.info(name).spec(), () -> f.bytes(name)));
            written = w.writeSharded(tmp, SafetensorsWriter.DEFAULT_WEIGHTS_NAME, 300_000);
        }
        Path index = tmp.resolve("model.safetensors.index.json");
        assertEquals(index, written.getLast());
        assertEquals(tmp.resolve("model-00001-of-00004.safetensors"), written.getFirst());
        assertEquals(5, written.size());
        String json = Files.readString(index);
        assertTrue(json.startsWith("{\n  \"metadata\": {\n    \"total_size\": 1040128\n  },\n  \"weight_map\": {\n"
                + "    \"model.embed_tokens.weight\": \"model-00001-of-00004.safetensors\",\n"
                + "    \"model.layers.0.input_layernorm.weight\": \"model-00001-of-00004.safetensors\",\n"), json);
        assertTrue(json.endsWith("\"model.norm.weight\": \"model-00004-of-00004.safetensors\"\n  }\n}\n"), json);

        try (SafetensorsFile f = SafetensorsFile.open(original);
             ShardedSafetensors sharded = ShardedSafetensors.open(index)) {
            assertEquals(Set.copyOf(f.names()), Set.copyOf(sharded.names()));
            assertEquals(1040128, sharded.totalSize().orElseThrow());
            sharded.verifyAll();
            for (String name : f.names()) {
                assertEquals(f.info(name).spec(), sharded.info(name).spec());
                assertArrayEquals(f.readFloats(name), sharded.readFloats(name), name);
                assertEquals(f.bytes(name).mismatch(sharded.bytes(name)), -1, name);
            }
            try (SafetensorsFile shard = SafetensorsFile.open(written.getFirst())) {
                assertEquals(f.metadata(), shard.metadata(), "every shard carries the metadata");
            }
            assertThrows(SafetensorsException.class, () -> sharded.info("lm_head.weight"));
        }
    }

    /** huggingface_hub's rule: an oversized tensor gets its own shard at once, before the shard being filled. */
    @Test
    void splitsAsHuggingfaceHub() {
        List<TensorSpec> specs = List.of(new TensorSpec("a", DType.U8, 100), new TensorSpec("b", DType.U8, 300),
                new TensorSpec("c", DType.U8, 100), new TensorSpec("d", DType.U8, 100));
        ShardPlan plan = ShardPlan.split(specs, 250, "model.safetensors");
        assertEquals(Map.of("model-00001-of-00003.safetensors", List.of("b"),
                "model-00002-of-00003.safetensors", List.of("a", "c"),
                "model-00003-of-00003.safetensors", List.of("d")), plan.shards());
        assertEquals(List.of("model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                "model-00003-of-00003.safetensors"), List.copyOf(plan.shards().keySet()));
        assertEquals(600, plan.totalSize());
        assertEquals(List.of("model.safetensors"), List.copyOf(ShardPlan.split(specs, 1000, "model.safetensors").shards().keySet()));
    }

    @Test
    void oneShardIsAPlainFileWithoutIndex() {
        List<Path> written = new SafetensorsWriter().put(new TensorSpec("a", DType.U8, 4), new byte[4])
                .writeSharded(tmp, "adapter_model.safetensors", 1 << 20);
        assertEquals(List.of(tmp.resolve("adapter_model.safetensors")), written);
        assertFalse(Files.exists(tmp.resolve("adapter_model.safetensors.index.json")));
    }

    @Test
    void rejectsShardsOutsideTheFolderAndMissingShards() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("m"));
        writeShard(dir.resolve("model-00001-of-00001.safetensors"), "a");
        Files.createDirectories(tmp.resolve("elsewhere"));
        writeShard(tmp.resolve("elsewhere/x.safetensors"), "a");
        assertIndexRejected(dir, "{\"weight_map\":{\"a\":\"../elsewhere/x.safetensors\"}}", "outside the index's folder");
        assertIndexRejected(dir, "{\"weight_map\":{\"a\":\"" + tmp.resolve("elsewhere/x.safetensors") + "\"}}", "outside");
        assertIndexRejected(dir, "{\"weight_map\":{\"a\":\"sub/../../elsewhere/x.safetensors\"}}", "outside");
        assertIndexRejected(dir, "{\"weight_map\":{\"a\":\"\"}}", "outside");
        assertIndexRejected(dir, "{\"weight_map\":{\"a\":\"x\\u0000.safetensors\"}}", "not a valid file name");
        assertIndexRejected(dir, "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\"}}", "does not exist");
        assertIndexRejected(dir, "{\"weight_map\":{\"a\":\"model-00001-of-00001.safetensors\"", "not valid JSON");
        assertIndexRejected(dir, "{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}", "Duplicate");
        assertIndexRejected(dir, "{\"metadata\":{}}", "no \"weight_map\"");
        assertIndexRejected(dir, "[]", "not a JSON object");
        assertIndexRejected(dir, "{\"weight_map\":{\"a\":3}}", "not a file name");
    }

    @Test
    void checksEachShardHoldsExactlyItsTensorsWhenOpened() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("m"));
        writeShard(dir.resolve("s1.safetensors"), "a", "b");
        writeShard(dir.resolve("s2.safetensors"), "c");
        Path index = dir.resolve("model.safetensors.index.json");

        Files.writeString(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}");
        try (ShardedSafetensors s = ShardedSafetensors.open(index)) {
            assertEquals(1, s.info("c").numel(), "s2 agrees with the index");
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> s.info("a"));
            assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("does not list"), e.getMessage());
        }
        Files.writeString(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\","
                + "\"c\":\"s2.safetensors\",\"d\":\"s2.safetensors\"}}");
        try (ShardedSafetensors s = ShardedSafetensors.open(index)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, s::verifyAll);
            assertTrue(e.getMessage().contains("'d'") && e.getMessage().contains("does not hold it"), e.getMessage());
        }
        Files.writeString(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\",\"c\":\"s2.safetensors\"}}");
        try (ShardedSafetensors s = ShardedSafetensors.open(index)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> s.info("a"));
            assertTrue(e.getMessage().contains("assigns to 's2.safetensors'"), e.getMessage());
        }
    }

    /** Opening the index maps no shard: a corrupt shard is only noticed when one of its tensors is used. */
    @Test
    void opensShardsLazily() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("m"));
        writeShard(dir.resolve("s1.safetensors"), "a");
        Files.write(dir.resolve("s2.safetensors"), new byte[]{1, 2, 3});
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}");
        try (ShardedSafetensors s = ShardedSafetensors.open(index)) {
            assertArrayEquals(new float[]{0f}, s.readFloats("a"));
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> s.bytes("c"));
            assertTrue(e.getMessage().contains("s2.safetensors"), e.getMessage());
        }
    }

    private static void writeShard(Path file, String... names) {
        SafetensorsWriter w = new SafetensorsWriter();
        for (String name : names) {
            w.put(new TensorSpec(name, DType.F32, 1), new float[1]);
        }
        w.write(file);
    }

    private static void assertIndexRejected(Path dir, String json, String expectedText) throws IOException {
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, json);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> ShardedSafetensors.open(index).close());
        assertTrue(e.getMessage().contains(expectedText) && e.getMessage().contains(index.toString()), e.getMessage());
    }
}
