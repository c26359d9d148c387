package io.qlora4j.model.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.SequencedMap;
import java.util.TreeMap;

/**
 * The {@code model.safetensors.index.json} of a sharded Hugging Face checkpoint (transformers {@code save_pretrained}):
 * {@code {"metadata": {"total_size": bytes}, "weight_map": {tensor: shard file}}}, written as Python's
 * {@code json.dumps(index, indent=2, sort_keys=True) + "\n"} writes it. Reading accepts any other top-level or metadata
 * keys (other tools add some) but requires {@code weight_map} to map strings to strings.
 *
 * @param weightMap tensor name → shard file name relative to the index's folder, in file order
 * @param totalSize {@code metadata.total_size} when present
 */
record SafetensorsIndex(SequencedMap<String, String> weightMap, OptionalLong totalSize) {
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(8).build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build());

    static SafetensorsIndex of(ShardPlan plan) {
        SequencedMap<String, String> map = new LinkedHashMap<>();
        plan.shards().forEach((file, names) -> names.forEach(name -> map.put(name, file)));
        return new SafetensorsIndex(map, OptionalLong.of(plan.totalSize()));
    }

    static SafetensorsIndex read(Path indexFile) {
        try {
            long size = Files.size(indexFile);
            if (size > SafetensorsHeader.MAX_HEADER_LENGTH) {
                throw error(indexFile, "is " + size + " bytes, over the " + SafetensorsHeader.MAX_HEADER_LENGTH
                        + "-byte limit for an index", "this is not a shard index");
            }
            JsonNode root;
            try (JsonParser parser = JSON.createParser(indexFile.toFile())) {
                root = JSON.readTree(parser);
            } catch (JacksonException e) {
                throw error(indexFile, "is not valid JSON: " + e.getOriginalMessage(), "the index is corrupt");
            }
            if (root == null || !root.isObject()) {
                throw error(indexFile, "is not a JSON object", "expected {\"metadata\": ..., \"weight_map\": ...}");
            }
            JsonNode weightMap = root.get("weight_map");
            if (weightMap == null || !weightMap.isObject()) {
                throw error(indexFile, "has no \"weight_map\" object", "expected \"weight_map\": {tensor: shard file}");
            }
            SequencedMap<String, String> map = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
                if (!e.getValue().isTextual()) {
                    throw error(indexFile, "maps tensor " + SafetensorsHeader.quote(e.getKey()) + " to "
                            + e.getValue().getNodeType() + ", not a file name",
                            "weight_map values are shard file names");
                }
                map.put(e.getKey(), e.getValue().asText());
            }
            JsonNode total = root.path("metadata").path("total_size");
            return new SafetensorsIndex(Collections.unmodifiableSequencedMap(map),
                    total.canConvertToLong() ? OptionalLong.of(total.asLong()) : OptionalLong.empty());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read shard index " + indexFile + ": " + e, e);
        }
    }

    /** Python {@code json.dumps(index, indent=2, sort_keys=True) + "\n"}; ASCII only. */
    String toJson() {
        StringBuilder out = new StringBuilder("{\n");
        if (totalSize.isPresent()) {
            out.append("  \"metadata\": {\n    \"total_size\": ").append(totalSize.getAsLong()).append("\n  },\n");
        }
        out.append("  \"weight_map\": {");
        Map<String, String> sorted = new TreeMap<>(JsonText.CODE_POINT_ORDER);
        sorted.putAll(weightMap);
        String sep = "\n";
        for (Map.Entry<String, String> e : sorted.entrySet()) {
            out.append(sep).append("    ");
            JsonText.appendPythonAscii(out, e.getKey());
            out.append(": ");
            JsonText.appendPythonAscii(out, e.getValue());
            sep = ",\n";
        }
        out.append(sorted.isEmpty() ? "}\n}\n" : "\n  }\n}\n");
        return out.toString();
    }

    /** Tensor names grouped by shard, shards in file name order (model-00001 first), each group in index order. */
    List<String> namesGroupedByShard() {
        Map<String, List<String>> byShard = new TreeMap<>(JsonText.CODE_POINT_ORDER);
        weightMap.forEach((name, file) -> byShard.computeIfAbsent(file, f -> new ArrayList<>()).add(name));
        return byShard.values().stream().flatMap(List::stream).toList();
    }

    private static SafetensorsException error(Path indexFile, String what, String hint) {
        return new SafetensorsException("safetensors index " + indexFile + " " + what + "; " + hint);
    }
}
