package io.qlora4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.model.io.CheckpointException;
import io.qlora4j.model.io.Llama2cCheckpoint;
import io.qlora4j.model.io.Llama2cHeader;
import io.qlora4j.model.io.SafetensorsFile;
import io.qlora4j.model.io.ShardedSafetensors;
import io.qlora4j.model.io.TensorSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A model on disk, opened: its config and its tensors (memory-mapped), from either a Hugging Face folder
 * ({@code config.json} + {@code model.safetensors} or a sharded set with {@code model.safetensors.index.json}) or a
 * llama2.c {@code .bin} checkpoint (config derived from its header: RMSNorm eps 1e-5, RoPE θ 10000, BOS 1, EOS 2, as
 * llama2.c's {@code run.c} hard-codes). Also finds the tokenizer that travels with the model.
 *
 * @param path      the folder or .bin file the user named
 * @param config    validated model config
 * @param rawConfig config.json as read (or as derived), kept to carry unknown fields through conversions
 * @param tensors   the weights
 * @param tokenizer the tokenizer file or folder found beside the model, if any
 */
public record ModelFiles(Path path, LlamaConfig config, ObjectNode rawConfig, TensorSource tensors,
                         Optional<Path> tokenizer) implements AutoCloseable {

    /** Tokenizer files looked for beside a model, in order of preference. */
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer.bin");

    public static ModelFiles open(Path path) {
        if (!Files.exists(path)) {
            throw new ModelConfigException(path + ": no such file or folder (expected a Hugging Face model folder or a llama2.c .bin)");
        }
        if (Files.isDirectory(path)) return openFolder(path);
        return openLlama2c(path);
    }

    private static ModelFiles openFolder(Path dir) {
        Path configJson = dir.resolve("config.json");
        if (!Files.isRegularFile(configJson)) {
            List<Path> checkpoints = llama2cCheckpoints(dir);
            if (checkpoints.size() == 1) return openLlama2c(checkpoints.getFirst());
            throw new ModelConfigException(dir + ": no config.json (a Hugging Face model folder has config.json and"
                    + " model.safetensors)" + (checkpoints.isEmpty() ? "" : " and several llama2.c checkpoints "
                    + checkpoints.stream().map(p -> p.getFileName().toString()).toList() + ": name one"));
        }
        LlamaConfig config = LlamaConfig.read(configJson);
        ObjectNode raw;
        try {
            raw = (ObjectNode) new ObjectMapper().readTree(Files.readString(configJson));
        } catch (IOException e) {
            throw new ModelConfigException(configJson + ": cannot read (" + e.getMessage() + ")", e);
        }
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors" + ShardedSafetensors.INDEX_SUFFIX);
        TensorSource tensors;
        if (Files.isRegularFile(single)) {
            tensors = SafetensorsFile.open(single);
        } else if (Files.isRegularFile(index)) {
            tensors = ShardedSafetensors.open(index);
        } else {
            throw new ModelConfigException(dir + ": no weights: expected model.safetensors or model.safetensors.index.json"
                    + " (PyTorch .bin weights are not read: convert them to safetensors)");
        }
        return new ModelFiles(dir, config, raw, tensors, findTokenizer(dir));
    }

    private static ModelFiles openLlama2c(Path file) {
        Llama2cCheckpoint ckpt;
        try {
            ckpt = Llama2cCheckpoint.open(file);
        } catch (CheckpointException e) {
            throw new ModelConfigException(file + ": not a model folder and not a readable llama2.c checkpoint: " + e.getMessage(), e);
        }
        Llama2cHeader h = ckpt.header();
        LlamaConfig config = LlamaConfig.llama(h.dim(), h.hiddenDim(), h.nLayers(), h.nHeads(), h.nKvHeads(), h.vocab(),
                h.seqLen(), 1e-5, 10000.0, h.tied());
        return new ModelFiles(file, config, config.toJson(), ckpt, findTokenizer(file.toAbsolutePath().getParent()));
    }

    /** The llama2.c checkpoints of a folder: .bin files that are not tokenizers. */
    private static List<Path> llama2cCheckpoints(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> {
                String n = p.getFileName().toString();
                return n.endsWith(".bin") && !n.equals("tokenizer.bin") && !n.matches("tok\\d*\\.bin") && Files.isRegularFile(p);
            }).sorted().toList();
        } catch (IOException e) {
            throw new ModelConfigException(dir + ": cannot list (" + e.getMessage() + ")", e);
        }
    }

    /** tokenizer.json, tokenizer.bin, or a llama2.c tok*.bin in the folder. */
    static Optional<Path> findTokenizer(Path dir) {
        if (dir == null) return Optional.empty();
        for (String name : TOKENIZER_FILES) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) return Optional.of(p);
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().matches("tok\\d*\\.bin")).sorted().findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    @Override
    public void close() {
        tensors.close();
    }
}
