package io.qlora4j.sim;

import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.ModelConfigException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The model shapes the paper trains, as their Hugging Face {@code config.json} files give them: LLaMA-1 7B/13B/33B/65B
 * ({@code huggyllama/llama-{7b,13b,30b,65b}}; "33B" is the checkpoint Meta named 30B) and Llama-2-70B
 * ({@code meta-llama/Llama-2-70b-hf}, grouped-query attention with 8 key/value heads). Only the shapes matter to the
 * simulation, so no weights are involved.
 */
public enum ModelPreset {
    LLAMA_7B("7b", "LLaMA-7B", 4096, 11008, 32, 32, 32, 2048, 1e-6),
    LLAMA_13B("13b", "LLaMA-13B", 5120, 13824, 40, 40, 40, 2048, 1e-6),
    LLAMA_33B("33b", "LLaMA-33B", 6656, 17920, 60, 52, 52, 2048, 1e-6),
    LLAMA_65B("65b", "LLaMA-65B", 8192, 22016, 80, 64, 64, 2048, 1e-5),
    LLAMA2_70B("70b", "Llama-2-70B", 8192, 28672, 80, 64, 8, 4096, 1e-5);

    /** LLaMA's SentencePiece vocabulary (qlora.py adds a [PAD] row, 32001: one row more of embedding and lm_head, ignored here). */
    private static final int VOCAB = 32000;

    private final String cliName;
    private final String displayName;
    private final LlamaConfig config;

    ModelPreset(String cliName, String displayName, int hidden, int intermediate, int layers, int heads, int kvHeads,
                int context, double eps) {
        this.cliName = cliName;
        this.displayName = displayName;
        this.config = LlamaConfig.llama(hidden, intermediate, layers, heads, kvHeads, VOCAB, context, eps, 10000, false);
    }

    public String cliName() {
        return cliName;
    }

    public String displayName() {
        return displayName;
    }

    public LlamaConfig config() {
        return config;
    }

    /** A model argument resolved: its shape and a name for reports. */
    public record Resolved(String name, LlamaConfig config) {
    }

    /**
     * {@code --model}: a preset name ({@code 7b}, {@code 13b}, {@code 33b}, {@code 65b}, {@code 70b}), a
     * {@code config.json}, or a folder holding one.
     */
    public static Resolved resolve(String model) {
        for (ModelPreset p : values()) {
            if (p.cliName.equals(model.toLowerCase(Locale.ROOT))) return new Resolved(p.displayName, p.config);
        }
        Path path = Path.of(model);
        Path json = Files.isDirectory(path) ? path.resolve("config.json") : path;
        if (!Files.isRegularFile(json)) {
            throw new SimulationException("--model '" + model + "' is neither a preset ("
                    + Arrays.stream(values()).map(ModelPreset::cliName).collect(Collectors.joining(", "))
                    + ") nor an existing config.json or folder with one" + (Files.isDirectory(path) ? " (" + json + " is missing)" : ""));
        }
        try {
            return new Resolved(json.toAbsolutePath().normalize().toString(), LlamaConfig.read(json));
        } catch (ModelConfigException e) {
            throw new SimulationException("--model " + e.getMessage(), e);
        }
    }
}
