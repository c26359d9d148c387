package io.qlora4j.model.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;

/**
 * Which tensor goes to which shard file, decided as {@code huggingface_hub}'s {@code split_state_dict_into_shards_factory}
 * decides (the splitter transformers' {@code save_pretrained} uses): walk the tensors in model order; a tensor larger
 * than the limit gets a shard of its own, appended at once (so before the shard being filled); otherwise a tensor that
 * would tip the current shard over the limit closes it. Shards are named {@code model-00001-of-00003.safetensors} for
 * weights name {@code model.safetensors}; a single shard keeps the weights name.
 *
 * @param shards    shard file name → its tensor names, in shard order
 * @param totalSize the sum of the tensors' byte sizes (the index's {@code metadata.total_size})
 */
record ShardPlan(SequencedMap<String, List<String>> shards, long totalSize) {
    private static final String EXTENSION = ".safetensors";

    static ShardPlan split(List<TensorSpec> specs, long maxShardBytes, String weightsName) {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes must be > 0, got " + maxShardBytes);
        }
        if (!weightsName.endsWith(EXTENSION) || weightsName.length() == EXTENSION.length()) {
            throw new IllegalArgumentException("weights name '" + weightsName + "' must end with " + EXTENSION);
        }
        List<List<String>> groups = new ArrayList<>();
        List<String> current = new ArrayList<>();
        long currentSize = 0;
        long total = 0;
        for (TensorSpec spec : specs) {
            long size = spec.byteSize();
            total += size;
            if (size > maxShardBytes) {
                groups.add(List.of(spec.name()));
                continue;
            }
            if (currentSize + size > maxShardBytes) {
                groups.add(current);
                current = new ArrayList<>();
                currentSize = 0;
            }
            current.add(spec.name());
            currentSize += size;
        }
        if (!current.isEmpty()) {
            groups.add(current);
        }
        SequencedMap<String, List<String>> shards = new LinkedHashMap<>();
        String stem = weightsName.substring(0, weightsName.length() - EXTENSION.length());
        for (int i = 0; i < groups.size(); i++) {
            String file = groups.size() == 1 ? weightsName
                    : String.format("%s-%05d-of-%05d%s", stem, i + 1, groups.size(), EXTENSION);
            shards.put(file, List.copyOf(groups.get(i)));
        }
        return new ShardPlan(shards, total);
    }
}
