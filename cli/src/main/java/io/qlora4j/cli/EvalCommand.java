package io.qlora4j.cli;

import io.qlora4j.actors.data.DataStats;
import io.qlora4j.actors.data.ExamplePreparation;
import io.qlora4j.actors.data.LocalExampleSource;
import io.qlora4j.actors.data.MalformedPolicy;
import io.qlora4j.actors.data.ReadOptions;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.Transformer;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.EvalSplit;
import io.qlora4j.model.data.ExampleTokenizer;
import io.qlora4j.model.data.LengthGrouping;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.infer.MultipleChoice;
import io.qlora4j.model.tokenizer.Tokenizer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;

/**
 * {@code eval}: the held-out loss and perplexity of a dataset as the trainer measures it (target tokens only, the same
 * rendering, tokenization, truncation and split), or multiple-choice accuracy with {@code --mmlu}. The examples come
 * through the trainer's own local data source, so {@code --split eval} with the run's {@code --eval-split} and
 * {@code --seed} scores exactly the records the run held out.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Held-out loss and perplexity of a dataset on the target tokens (as finetune's eval_loss),",
                "or with --mmlu the multiple-choice accuracy of an MMLU-style JSON-lines file.",
                "The last line is eval_loss=<nats/token> ppl=<perplexity> tokens=<n> examples=<n>",
                "or accuracy=<mean over subjects> questions=<n> subjects=<n>."})
final class EvalCommand implements Callable<Integer> {

    enum Split { all, eval, train }

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    AdapterOption adapterOption;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "JSONL/JSON dataset (or an MMLU-style file with --mmlu).")
    Path data;

    @Option(names = "--mmlu", description = "Score multiple-choice questions {subject, input, output}: the answer letter with the largest logit.")
    boolean mmlu;

    @Option(names = "--format", paramLabel = "FORMAT", description = "alpaca|guanaco|chat|input-output|text (default: detected).")
    String format;

    @Option(names = "--train-on-source", description = "Score the prompt tokens too (default: completions only, as training).")
    boolean trainOnSource;

    @Option(names = "--split", defaultValue = "all", paramLabel = "all|eval|train",
            description = "Which records: all, or one side of the trainer's held-out split (default: ${DEFAULT-VALUE}).")
    Split split;

    @Option(names = "--eval-split", defaultValue = "0.1", paramLabel = "F", description = "The run's held-out fraction, for --split (default: ${DEFAULT-VALUE}).")
    double evalSplit;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "The run's seed, for --split (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-len", paramLabel = "N", description = "Tokens per example, truncated on the right (default: the model's context).")
    Integer maxLength;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "N", description = "Examples per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--limit", paramLabel = "N", description = "Score at most N examples (or questions).")
    Integer limit;

    @Override
    public Integer call() throws Exception {
        if (batch < 1) throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        if (limit != null && limit < 1) throw new IllegalArgumentException("--limit must be at least 1, got " + limit);
        ModelOptions.Loaded m = modelOptions.load();
        LlamaModel model = m.loaded().model();
        AdapterContext adapters = adapterOption.load(model);
        return mmlu ? multipleChoice(model, adapters, m.tokenizer()) : heldOutLoss(model, adapters, m.tokenizer());
    }

    private int multipleChoice(LlamaModel model, AdapterContext adapters, Tokenizer tokenizer) {
        List<MultipleChoice.Question> questions = MultipleChoice.readQuestions(data, limit == null ? Integer.MAX_VALUE : limit);
        System.err.printf("scoring %d questions of %s%n", questions.size(), data);
        MultipleChoice.Result r = MultipleChoice.evaluate(model, adapters, tokenizer, questions);
        r.perSubject().forEach((subject, accuracy) -> System.out.printf(Locale.ROOT, "  %-40s %.4f%n", subject, accuracy));
        System.out.printf(Locale.ROOT, "accuracy=%.4f questions=%d subjects=%d%n", r.accuracy(), r.questions(), r.perSubject().size());
        return 0;
    }

    private int heldOutLoss(LlamaModel model, AdapterContext adapters, Tokenizer tokenizer) throws Exception {
        int maxLen = ExampleTokenizer.maxLengthFor(model.config(), maxLength == null ? Integer.MAX_VALUE : maxLength);
        ReadOptions read = new ReadOptions(Optional.ofNullable(format).map(DataFormat::parse), trainOnSource, ReadOptions.DEFAULT.shard());
        LocalExampleSource source = LocalExampleSource.open(data, read, new ExamplePreparation(tokenizer, maxLen, MalformedPolicy.SKIP));
        DataStats stats = new DataStats();
        List<TokenizedExample> examples = read(source, stats);
        if (examples.isEmpty()) {
            throw new DataException(data + ": no example with target tokens on the '" + split + "' side"
                    + (split == Split.all ? "" : " of a " + evalSplit + " split with seed " + seed) + " (" + stats.snapshot() + ")");
        }
        Transformer transformer = new Transformer(model);
        List<List<TokenizedExample>> batches = LengthGrouping.batches(examples, TokenizedExample::length, batch);
        double sum = 0;
        long tokens = 0;
        long start = System.nanoTime();
        for (int i = 0; i < batches.size(); i++) {
            Transformer.Loss loss = transformer.forwardLoss(Batch.pack(batches.get(i), tokenizer.batchPadId()), adapters);
            sum += loss.sum();
            tokens += loss.tokens();
            if ((i + 1) % 25 == 0 || i + 1 == batches.size()) System.err.printf("  scored %d/%d batches%n", i + 1, batches.size());
        }
        double seconds = (System.nanoTime() - start) * 1e-9;
        DataStats.Snapshot s = stats.snapshot();
        System.out.printf(Locale.ROOT, "%s (%s, %s records): %d examples scored; of the %d records read, %d were cut to %d tokens"
                        + " and %d malformed ones skipped; %.0f tokens/s%n", data.getFileName(), source.format().cliName(), split,
                examples.size(), s.examples() + s.malformedSkipped(), s.truncated(), maxLen, s.malformedSkipped(), tokens / seconds);
        double mean = sum / tokens;
        System.out.printf(Locale.ROOT, "eval_loss=%.6f ppl=%.4f tokens=%d examples=%d%n", mean, Math.exp(mean), tokens, examples.size());
        return 0;
    }

    /** The examples of the chosen split that have target tokens, through the trainer's own data pipeline. */
    private List<TokenizedExample> read(LocalExampleSource source, DataStats stats) throws InterruptedException {
        EvalSplit heldOut = new EvalSplit(evalSplit, seed);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "qlora4j-eval");
        try {
            return source.examples(0, stats)
                    .filter(e -> e.targetCount() > 0)
                    .filter(e -> split == Split.all || heldOut.isEval(e.offset()) == (split == Split.eval))
                    .take(limit == null ? Long.MAX_VALUE : limit)
                    .runWith(Sink.seq(), system)
                    .toCompletableFuture().get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new DataException(data + ": cannot read the dataset (" + e.getCause() + ")");
        } finally {
            system.terminate();
        }
    }
}
