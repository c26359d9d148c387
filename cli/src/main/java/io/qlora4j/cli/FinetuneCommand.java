package io.qlora4j.cli;

import io.qlora4j.actors.cluster.ClusterSettings;
import io.qlora4j.actors.train.ClusterFinetuneJob;
import io.qlora4j.actors.train.ClusterJobSettings;
import io.qlora4j.actors.train.FinetuneConfig;
import io.qlora4j.actors.train.FinetuneJob;
import io.qlora4j.actors.train.FinetuneSummary;
import io.qlora4j.actors.train.TrainingListener;
import io.qlora4j.memory.ByteSizes;
import io.qlora4j.memory.PagingStats;
import io.qlora4j.model.train.TrainStep;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code finetune}: QLoRA (or LoRA / full) fine-tuning with the actor-based streaming trainer. */
@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = {"Fine-tune a model with QLoRA (NF4+DQ base, LoRA on all linear layers, paged AdamW) using the",
                "actor-based trainer: data streamed from a file or a grpc:// data server, checkpoints every",
                "--save-every steps (resume with --resume), metrics.jsonl, loss.png and the adapter (PEFT) in --out.",
                "Defaults are the paper's recipe; a HOCON --config file sets anything, flags override it.",
                "With --cluster HOST:PORT --nodes N: data-parallel over the trainer nodes of a qlora4j cluster.",
                "Without arguments: builds (once, cached) a small base model and teaches it a new task."})
final class FinetuneCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "PATH", description = "Hugging Face folder or llama2.c .bin.")
    Path model;
    @Option(names = "--tokenizer", paramLabel = "PATH", description = "Tokenizer (default: beside the model).")
    Path tokenizer;
    @Option(names = "--data", paramLabel = "FILE|grpc://HOST:PORT/NAME", description = "Training data.")
    String data;
    @Option(names = "--format", paramLabel = "FORMAT", description = "alpaca|guanaco|chat|input-output|text (default: detected).")
    String format;
    @Option(names = "--steps", description = "Optimizer steps (default 200).")
    Integer steps;
    @Option(names = "--eval-split", description = "Fraction held out (default 0.1).")
    Double evalSplit;
    @Option(names = "--eval-every", description = "Steps between evaluations (default 50).")
    Integer evalEvery;
    @Option(names = "--eval-batches", description = "Evaluate on at most N held-out batches (default: all).")
    Integer evalBatches;
    @Option(names = "--save-every", description = "Steps between checkpoints (default 100).")
    Integer saveEvery;
    @Option(names = "--out", paramLabel = "DIR", description = "Run folder (default runs/finetune).")
    Path out;
    @Option(names = "--resume", paramLabel = "DIR", description = "Continue the run in DIR from its newest valid checkpoint.")
    Path resume;
    @Option(names = "--seed", description = "Seed of the data order, adapter init and dropout (default 42).")
    Long seed;
    @Option(names = "--dtype", paramLabel = "nf4|fp4|int8|int4|fp32", description = "Base storage (default nf4).")
    String dtype;
    @Option(names = "--full", description = "Full fine-tuning (needs --dtype fp32).")
    Boolean full;
    @Option(names = "--lora-r", description = "LoRA rank (default 64).")
    Integer loraR;
    @Option(names = "--lora-alpha", description = "LoRA alpha (default 16).")
    Double loraAlpha;
    @Option(names = "--lora-dropout", description = "LoRA dropout (default 0.1).")
    Double loraDropout;
    @Option(names = "--lr", description = "Learning rate (default 2e-4).")
    Double lr;
    @Option(names = "--schedule", description = "constant|constant_with_warmup|linear|cosine (default constant).")
    String schedule;
    @Option(names = "--warmup-steps", description = "Warmup steps (default 0).")
    Integer warmup;
    @Option(names = "--max-grad-norm", description = "Global gradient-norm clip (default 0.3).")
    Double maxGradNorm;
    @Option(names = "--batch", description = "Examples per micro-batch (default 4).")
    Integer batch;
    @Option(names = "--grad-accum", description = "Micro-batches per step (default 4).")
    Integer gradAccum;
    @Option(names = "--max-len", description = "Tokens per example (default 512).")
    Integer maxLen;
    @Option(names = "--shuffle-window", description = "Examples shuffled and grouped by length together (default 50 x batch).")
    Integer shuffleWindow;
    @Option(names = "--optim", paramLabel = "NAME", description = "paged_adamw_32bit|paged_adamw_8bit|adamw_32bit (default paged_adamw_32bit).")
    String optim;
    @Option(names = "--device-memory", paramLabel = "BYTES", description = "Device budget, e.g. 512MiB (default: no limit).")
    String deviceMemory;
    @Option(names = "--no-paging", description = "Optimizer state may not leave the device.")
    Boolean noPaging;
    @Option(names = "--no-checkpointing", description = "Keep all activations (no gradient checkpointing).")
    Boolean noCheckpointing;
    @Option(names = "--train-on-source", description = "Loss on the prompt too.")
    Boolean trainOnSource;
    @Option(names = "--fail-on-malformed", description = "Stop at a malformed record instead of skipping it.")
    Boolean failOnMalformed;
    @Option(names = "--mmlu", paramLabel = "FILE", description = "MMLU-style questions evaluated with the held-out loss.")
    Path mmlu;
    @Option(names = "--mmlu-limit", description = "Questions per evaluation (default 200).")
    Integer mmluLimit;
    @Option(names = "--threads", description = "Compute threads (default: all cores).")
    Integer threads;
    @Option(names = "--config", paramLabel = "FILE", description = "HOCON run file (keys as in qlora4j.finetune of reference.conf).")
    Path config;
    @Option(names = "--no-progress", description = "No progress bar (one line per evaluation instead).")
    boolean noProgress;
    @Option(names = "--cluster", paramLabel = "HOST:PORT",
            description = "Run data-parallel on the qlora4j cluster this node belongs to (see `node`); this process trains too and writes --out.")
    String cluster;
    @Option(names = "--nodes", paramLabel = "N", description = "With --cluster: trainer nodes to train on, this process included.")
    Integer nodes;
    @Option(names = "--wait-for-nodes", paramLabel = "fail|wait", defaultValue = "fail",
            description = "With --cluster, while fewer than --nodes trainers are up: fail after qlora4j.cluster.wait-for-nodes-timeout"
                    + " (default), or wait.")
    String waitForNodes;
    @Option(names = "--bind", paramLabel = "ADDRESS", description = "With --cluster: the address this process announces to the cluster (default 127.0.0.1).")
    String bind;

    @Override
    public Integer call() {
        if (model == null && data == null && config == null && resume == null) return DefaultJob.run(this);
        Map<String, Object> flags = flags();
        if (resume != null) flags.putIfAbsent("out", resume.toString());
        FinetuneConfig cfg = FinetuneConfig.load(Optional.ofNullable(config), flags);
        String text = FinetuneConfig.render(Optional.ofNullable(config), flags);
        FinetuneSummary s = cluster == null ? runJob(cfg, text, resume != null, noProgress) : runClusterJob(cfg, text);
        System.out.print(s.table());
        return 0;
    }

    private FinetuneSummary runClusterJob(FinetuneConfig cfg, String text) {
        if (nodes == null) throw new IllegalArgumentException("--cluster " + cluster + " needs --nodes N: how many trainer nodes (this one included) to train on");
        var node = new ClusterSettings(Optional.ofNullable(bind), 0, ClusterSettings.parseSeeds(cluster), List.of("submitter"), Optional.empty());
        var job = ClusterJobSettings.of(node.toConfig(), cluster, nodes, ClusterJobSettings.WaitPolicy.parse(waitForNodes),
                ClusterFinetuneJob.newJobId());
        try (Progress progress = new Progress(cfg, noProgress)) {
            return ClusterFinetuneJob.run(cfg, text, resume != null, progress, job, node);
        }
    }

    static FinetuneSummary runJob(FinetuneConfig cfg, String configText, boolean resume, boolean noProgress) {
        try (Progress progress = new Progress(cfg, noProgress)) {
            return FinetuneJob.run(cfg, configText, resume, progress);
        }
    }

    Map<String, Object> flags() {
        Map<String, Object> f = new LinkedHashMap<>();
        put(f, "model", model == null ? null : model.toString());
        put(f, "tokenizer", tokenizer == null ? null : tokenizer.toString());
        put(f, "data", data);
        put(f, "format", format);
        put(f, "steps", steps);
        put(f, "eval-split", evalSplit);
        put(f, "eval-every", evalEvery);
        put(f, "eval-batches", evalBatches);
        put(f, "save-every", saveEvery);
        put(f, "out", out == null ? null : out.toString());
        put(f, "seed", seed);
        put(f, "dtype", dtype);
        put(f, "full", full);
        put(f, "lora.r", loraR);
        put(f, "lora.alpha", loraAlpha);
        put(f, "lora.dropout", loraDropout);
        put(f, "optim.lr", lr);
        put(f, "optim.schedule", schedule);
        put(f, "optim.warmup-steps", warmup);
        put(f, "optim.max-grad-norm", maxGradNorm);
        put(f, "optim.name", optim);
        put(f, "batch", batch);
        put(f, "grad-accum", gradAccum);
        put(f, "max-len", maxLen);
        put(f, "shuffle-window", shuffleWindow);
        put(f, "memory.device", deviceMemory);
        put(f, "memory.paging", noPaging == null ? null : !noPaging);
        put(f, "gradient-checkpointing", noCheckpointing == null ? null : !noCheckpointing);
        put(f, "train-on-source", trainOnSource);
        put(f, "malformed", failOnMalformed == null ? null : (failOnMalformed ? "fail" : "skip"));
        put(f, "mmlu.file", mmlu == null ? null : mmlu.toString());
        put(f, "mmlu.limit", mmluLimit);
        put(f, "threads", threads);
        return f;
    }

    private static void put(Map<String, Object> m, String key, Object value) {
        if (value != null) m.put(key, value);
    }

    /** The progress bar (stderr): loss, tokens/s, ETA, paging; evaluation and checkpoint lines above it. */
    static final class Progress implements TrainingListener, AutoCloseable {
        private final FinetuneConfig config;
        private final boolean plain;
        private ProgressBar bar;
        private double lossEma = Double.NaN;

        Progress(FinetuneConfig config, boolean plain) {
            this.config = config;
            this.plain = plain;
        }

        @Override
        public void started(int firstStep, int totalSteps, String description) {
            System.err.println(description);
            if (plain) return;
            bar = new ProgressBarBuilder().setTaskName("finetune").setInitialMax(totalSteps).startsFrom(firstStep, Duration.ZERO)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).setMaxRenderedLength(120)
                    .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build();
        }

        @Override
        public void stepDone(TrainStep.Result r, PagingStats p) {
            lossEma = Double.isNaN(lossEma) ? r.loss() : 0.9 * lossEma + 0.1 * r.loss();
            if (bar == null) return;
            bar.stepTo(r.step());
            bar.setExtraMessage(String.format(Locale.ROOT, "loss %.3f %.0f tok/s paged %s", lossEma,
                    r.targetTokens() / Math.max(r.seconds(), 1e-9), ByteSizes.format(p.pagedOutBytes() + p.pagedInBytes())));
        }

        @Override
        public void evaluated(int step, double loss, double perplexity, Double mmlu) {
            line(String.format(Locale.ROOT, "step %d: held-out loss %.4f, perplexity %.3f%s", step, loss, perplexity,
                    mmlu == null ? "" : String.format(Locale.ROOT, ", MMLU accuracy %.1f%%", 100 * mmlu)));
        }

        @Override
        public void checkpointed(int step, Path dir) {
            line("step " + step + ": checkpoint " + dir);
        }

        @Override
        public void info(String message) {
            line(message);
        }

        private void line(String s) {
            System.err.println((bar != null ? "\r" : "") + s);
        }

        @Override
        public void close() {
            if (bar != null) bar.close();
        }
    }
}
