package io.qlora4j.cli;

import io.qlora4j.actors.demo.DemoBase;
import io.qlora4j.actors.demo.DemoTask;
import io.qlora4j.actors.demo.DemoWorld;
import io.qlora4j.actors.demo.ExactMatch;
import io.qlora4j.actors.train.FinetuneConfig;
import io.qlora4j.actors.train.FinetuneSummary;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.lora.PeftAdapter;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code finetune} does without a model or data: a complete QLoRA run on nothing but this project. It builds (once,
 * then cached) a small LLaMA-architecture base model on a generated corpus ({@link DemoBase}), measures its exact-match
 * accuracy on a question-answering task it was never trained on, fine-tunes it with QLoRA (NF4 + double quantization,
 * LoRA on all linear layers, paged AdamW) through the actor-based trainer, and measures again.
 */
final class DefaultJob {

    /** Steps of the base model's pretraining (part of the cache key). */
    static final int BASE_STEPS = 1500;
    static final int TASK_EXAMPLES = 3000;
    static final int HELD_OUT = 100;

    private DefaultJob() {
    }

    static int run(FinetuneCommand command) {
        Path cache = Path.of(Optional.ofNullable(System.getProperty("qlora4j.cache"))
                .or(() -> Optional.ofNullable(System.getenv("QLORA4J_CACHE")))
                .orElse(System.getProperty("user.home") + "/.cache/qlora4j"));
        System.err.println("no --model/--data given: running the embedded default (a base model built by this project,"
                + " taught a new task with QLoRA)");
        DemoBase.Built base = DemoBase.ensure(cache, BASE_STEPS, System.err::println);
        System.err.println(base.cached() ? "base model: " + base.dir() + " (cached)"
                : String.format(Locale.ROOT, "base model built in %.0f s (final loss %.3f): %s", base.seconds(), base.finalLoss(), base.dir()));

        Map<String, Object> flags = command.flags();
        Path out = Path.of((String) flags.getOrDefault("out", "runs/default"));
        Path data = DemoTask.writeTrainingData(out.resolve("task.jsonl"), TASK_EXAMPLES);
        flags.put("out", out.toString());
        flags.put("model", base.dir().toString());
        flags.put("data", data.toString());
        flags.putIfAbsent("format", "input-output");
        flags.putIfAbsent("steps", 150);
        flags.putIfAbsent("batch", 16);
        flags.putIfAbsent("grad-accum", 1);
        flags.putIfAbsent("max-len", 96);
        flags.putIfAbsent("lora.r", 16);
        flags.putIfAbsent("lora.alpha", 32);
        flags.putIfAbsent("lora.dropout", 0.05);
        flags.putIfAbsent("optim.lr", 1e-3);
        flags.putIfAbsent("eval-split", 0.05);
        flags.putIfAbsent("eval-every", 50);
        flags.putIfAbsent("save-every", 75);
        FinetuneConfig config = FinetuneConfig.load(Optional.empty(), flags);

        List<DemoWorld.Question> questions = DemoTask.heldOut(HELD_OUT);
        LlamaModel model;
        Tokenizer tokenizer;
        try (ModelFiles files = ModelFiles.open(base.dir())) {
            model = ModelLoader.load(files, config.weightFormat()).model();
            tokenizer = Tokenizers.load(files.tokenizer().orElseThrow());
        }
        ExactMatch.Result before = ExactMatch.evaluate(model, AdapterContext.NONE, tokenizer, questions);
        System.err.printf(Locale.ROOT, "exact match before fine-tuning: %.0f%% (%d/%d)%n", 100 * before.accuracy(), before.correct(), before.total());

        FinetuneSummary summary = FinetuneCommand.runJob(config, FinetuneConfig.render(Optional.empty(), flags), false,
                command.noProgress);
        var adapters = PeftAdapter.load(summary.adapter(), model.config(), model.ropeLayout());
        ExactMatch.Result after = ExactMatch.evaluate(model, AdapterContext.inference(adapters), tokenizer, questions);

        System.out.print(summary.table());
        System.out.printf(Locale.ROOT, "%-28s %s%n", "task", "who has which color (held-out questions, greedy answers)");
        System.out.printf(Locale.ROOT, "%-28s %.0f%% (%d/%d)%n", "exact match before", 100 * before.accuracy(), before.correct(), before.total());
        System.out.printf(Locale.ROOT, "%-28s %.0f%% (%d/%d)%n", "exact match after", 100 * after.accuracy(), after.correct(), after.total());
        System.out.printf("%-28s %s%n%-28s before: \"%s\"   after: \"%s\"%n", "example", before.examplePrompt(), "",
                before.exampleAnswer(), after.exampleAnswer());
        return 0;
    }
}
