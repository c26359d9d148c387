package io.qlora4j.actors.train;

import io.qlora4j.testing.SharedData;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Small real fine-tuning runs on stories260K for the trainer tests (a few seconds each). */
final class Runs {
    static final int STEPS = 8;

    private Runs() {
    }

    static Path model() {
        return SharedData.require("models/stories260K/stories260K.bin");
    }

    static Path guanaco() {
        return SharedData.require("datasets/guanaco-1k/guanaco-1k.train.guanacofmt.jsonl");
    }

    /** The flags of a short QLoRA run (dropout on, so the resume test covers the dropout masks too). */
    static Map<String, Object> flags(String data, Path out) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("model", model().toString());
        f.put("data", data);
        f.put("out", out.toString());
        f.put("steps", STEPS);
        f.put("batch", 2);
        f.put("grad-accum", 2);
        f.put("max-len", 128);
        f.put("shuffle-window", 16);
        f.put("eval-split", 0.1);
        f.put("eval-every", 4);
        f.put("eval-batches", 2);
        f.put("save-every", 2);
        f.put("lora.r", 8);
        f.put("lora.dropout", 0.1);
        f.put("optim.lr", 1e-3);
        return f;
    }

    static FinetuneSummary run(Map<String, Object> flags, boolean resume, TrainingListener listener) {
        FinetuneConfig config = FinetuneConfig.load(Optional.empty(), flags);
        return FinetuneJob.run(config, FinetuneConfig.render(Optional.empty(), flags), resume, listener);
    }

    static FinetuneSummary run(Map<String, Object> flags) {
        return run(flags, false, new TrainingListener() {
        });
    }

    static byte[] adapter(Path out) throws IOException {
        return Files.readAllBytes(out.resolve("adapter/adapter_model.safetensors"));
    }

    /** The offsets ledger as one list per step. */
    static List<String> offsets(Path out) throws IOException {
        return new ArrayList<>(Files.readAllLines(out.resolve(RunFiles.OFFSETS)));
    }
}
