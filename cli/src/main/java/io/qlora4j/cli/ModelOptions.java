package io.qlora4j.cli;

import io.qlora4j.kernels.Parallel;
import io.qlora4j.model.ModelConfigException;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Options every command that runs a model shares: the model, its tokenizer, the base's storage type, threads. */
final class ModelOptions {

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "Hugging Face model folder (config.json + safetensors, plain or bitsandbytes 4-bit) or llama2.c .bin.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "tokenizer.json, a tokenizer folder, or a llama2.c tokenizer.bin (default: the one beside the model).")
    Path tokenizer;

    @Option(names = "--dtype", defaultValue = "nf4", paramLabel = "nf4|fp4|int8|int4|fp32",
            description = "How the frozen linear weights are held: 4-bit types with double quantization, or fp32 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    /** A loaded model with its tokenizer. */
    record Loaded(ModelLoader.LoadedModel loaded, Tokenizer tokenizer) {
    }

    Loaded load() {
        if (threads != null) Parallel.setThreads(threads);
        WeightFormat format = WeightFormat.parse(dtype);
        try (ModelFiles files = ModelFiles.open(model)) {
            Path tokPath = tokenizer != null ? tokenizer : files.tokenizer().orElseThrow(() -> new ModelConfigException(
                    model + ": no tokenizer beside the model (tokenizer.json, tokenizer.bin or tok*.bin): pass --tokenizer"));
            Tokenizer tok = Tokenizers.load(tokPath);
            ModelLoader.LoadedModel loaded = ModelLoader.load(files, format);
            if (tok.vocabSize() > loaded.model().config().vocabSize()) {
                throw new ModelConfigException(tokPath + " has " + tok.vocabSize() + " tokens but the model's vocabulary is "
                        + loaded.model().config().vocabSize() + ": this tokenizer does not belong to this model");
            }
            System.err.println(loaded.model().config());
            System.err.println(loaded.report() + "; kernels: " + loaded.model().backend().description());
            return new Loaded(loaded, tok);
        }
    }
}
