package io.qlora4j.actors.train;

import io.qlora4j.actors.data.DataPosition;
import io.qlora4j.actors.data.ExamplePreparation;
import io.qlora4j.actors.data.ExampleSource;
import io.qlora4j.actors.data.LocalExampleSource;
import io.qlora4j.actors.data.MalformedPolicy;
import io.qlora4j.actors.data.ReadOptions;
import io.qlora4j.actors.grpc.DatasetUrl;
import io.qlora4j.actors.grpc.GrpcClientSettings;
import io.qlora4j.actors.grpc.GrpcExampleSource;
import io.qlora4j.kernels.Parallel;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.PagingException;
import io.qlora4j.memory.optim.PagedAdamW;
import io.qlora4j.memory.optim.ParamSpec;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelConfigException;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.TrainableTensor;
import io.qlora4j.model.data.EvalSplit;
import io.qlora4j.model.data.ExampleTokenizer;
import io.qlora4j.model.infer.MultipleChoice;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.model.train.TrainStep;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Everything a fine-tuning run needs, assembled before the actors start (this is where the blocking work is: loading
 * and quantizing the model, opening the paging files, reading the held-out questions, finding the checkpoint to resume):
 * the model and tokenizer, the memory manager of the run folder, the {@link TrainStep} with its adapters and paged
 * optimizer, the data source, and the restored state when resuming.
 */
final class TrainingSession implements AutoCloseable {

    final FinetuneConfig config;
    final String configText;
    final LlamaModel model;
    final ModelLoader.LoadReport loadReport;
    final Tokenizer tokenizer;
    final MemoryManager memory;
    final LoraAdapters adapters;          // null in full fine-tuning
    final TrainStep trainStep;
    final ExampleSource source;           // null on a data-parallel replica (openReplica)
    final EvalSplit split;
    final List<MultipleChoice.Question> mmlu;
    final CheckpointStore checkpoints;    // null on a data-parallel replica
    final Optional<CheckpointStore.Loaded> resumed;

    private TrainingSession(FinetuneConfig config, String configText, LlamaModel model, ModelLoader.LoadReport loadReport,
                            Tokenizer tokenizer, MemoryManager memory, LoraAdapters adapters, TrainStep trainStep,
                            ExampleSource source, List<MultipleChoice.Question> mmlu, CheckpointStore checkpoints,
                            Optional<CheckpointStore.Loaded> resumed) {
        this.config = config;
        this.configText = configText;
        this.model = model;
        this.loadReport = loadReport;
        this.tokenizer = tokenizer;
        this.memory = memory;
        this.adapters = adapters;
        this.trainStep = trainStep;
        this.source = source;
        this.split = new EvalSplit(config.evalSplit(), config.seed());
        this.mmlu = mmlu;
        this.checkpoints = checkpoints;
        this.resumed = resumed;
    }

    /**
     * @param resume resume from the newest valid checkpoint in the run folder (refused ones are reported to {@code log})
     */
    static TrainingSession open(FinetuneConfig config, String configText, boolean resume, Consumer<String> log) {
        Path out = createOut(config);
        CheckpointStore checkpoints = new CheckpointStore(out);
        if (!resume && !checkpoints.list().isEmpty()) {
            throw new IllegalArgumentException(out + " already holds checkpoints of a run: continue it with --resume "
                    + out + ", or choose another --out");
        }
        Compute compute = openCompute(config, log);
        LlamaModel model = compute.model;
        TrainStep step = compute.step;
        LoraAdapters adapters = compute.adapters;
        MemoryManager memory = compute.memory;
        Tokenizer tokenizer = compute.tokenizer;
        Optional<CheckpointStore.Loaded> restored = Optional.empty();
        if (resume) {
            restored = checkpoints.latestValid(config.trainingHash(), model.config(), model.ropeLayout(), log);
            if (restored.isEmpty()) {
                if (!checkpoints.list().isEmpty()) {
                    step.close();
                    memory.close();
                    throw new IllegalStateException("no checkpoint in " + checkpoints.root() + " can be resumed (see the"
                            + " reasons above); start a new run with another --out");
                }
                log.accept("no checkpoint in " + out + " yet: starting from step 0");
            } else {
                restore(restored.get(), adapters, step);
                log.accept("resuming from " + restored.get().dir() + " (step " + restored.get().step() + ")");
            }
        }
        int maxLength = ExampleTokenizer.maxLengthFor(model.config(), config.maxLength());
        var prep = new ExamplePreparation(tokenizer, maxLength, config.failOnMalformed() ? MalformedPolicy.FAIL : MalformedPolicy.SKIP);
        ReadOptions read = new ReadOptions(config.format(), config.trainOnSource(), io.qlora4j.actors.data.Shard.ALL);
        ExampleSource source = DatasetUrl.isUrl(config.data())
                ? new GrpcExampleSource(DatasetUrl.parse(config.data()), GrpcClientSettings.defaults(), read, prep)
                : LocalExampleSource.open(Path.of(config.data()), read, prep);
        List<MultipleChoice.Question> mmlu = config.mmluFile().map(f -> MultipleChoice.readQuestions(f, config.mmluLimit())).orElse(List.of());
        return new TrainingSession(config, configText, model, compute.report, tokenizer, memory, adapters, step, source, mmlu,
                checkpoints, restored);
    }

    /**
     * The compute half of a session, for a replica of a data-parallel job on another node: model, tokenizer, paging
     * and the {@link TrainStep}, but no data source, held-out questions or checkpoints — the job's leader streams the
     * data, deals the micro-batches and writes the run folder; the replica's state comes from the leader.
     */
    static TrainingSession openReplica(FinetuneConfig config, String configText, Consumer<String> log) {
        createOut(config);
        Compute c = openCompute(config, log);
        return new TrainingSession(config, configText, c.model, c.report, c.tokenizer, c.memory, c.adapters, c.step, null,
                List.of(), null, Optional.empty());
    }

    private static Path createOut(FinetuneConfig config) {
        if (config.threads() > 0) Parallel.setThreads(config.threads());
        Path out = config.out();
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the output folder " + out + ": " + e.getMessage(), e);
        }
        return out;
    }

    private record Compute(LlamaModel model, ModelLoader.LoadReport report, Tokenizer tokenizer, LoraAdapters adapters,
                           MemoryManager memory, TrainStep step) {
    }

    private static Compute openCompute(FinetuneConfig config, Consumer<String> log) {
        LlamaModel model;
        ModelLoader.LoadReport report;
        Tokenizer tokenizer;
        try (ModelFiles files = ModelFiles.open(config.model())) {
            Path tokPath = config.tokenizer().orElseGet(() -> files.tokenizer().orElseThrow(() -> new ModelConfigException(
                    config.model() + ": no tokenizer beside the model (tokenizer.json, tokenizer.bin or tok*.bin): pass --tokenizer")));
            tokenizer = Tokenizers.load(tokPath);
            ModelLoader.LoadedModel loaded = ModelLoader.load(files, config.weightFormat());
            model = loaded.model();
            report = loaded.report();
        }
        if (tokenizer.vocabSize() > model.config().vocabSize()) {
            throw new ModelConfigException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model's vocabulary is "
                    + model.config().vocabSize() + ": they do not belong together");
        }
        LoraAdapters adapters = config.full() ? null : LoraAdapters.create(model.config(), config.lora(), config.seed());
        MemoryManager memory = openMemory(config, model, adapters, log);
        TrainStep step;
        try {
            memory.discardRecovered(TrainStep.OPTIMIZER_OWNER);   // the checkpoint, not the paging file, is the truth
            TrainStep.Options options = new TrainStep.Options(config.gradientCheckpointing(), config.maxGradNorm(),
                    config.schedule(), config.seed());
            var optimizer = config.optimizer().options().withWeightDecay(config.weightDecay());
            step = config.full() ? TrainStep.full(model, memory, optimizer, options)
                    : TrainStep.lora(model, adapters, memory, optimizer, options);
        } catch (RuntimeException e) {
            memory.close();
            throw e;
        }
        return new Compute(model, report, tokenizer, adapters, memory, step);
    }

    /** Copies a checkpoint's values into the live trainables and optimizer. */
    static void restore(CheckpointStore.Loaded c, LoraAdapters adapters, TrainStep step) {
        if (adapters != null) {
            adapters.copyValuesFrom(c.adapters().orElseThrow(() -> new IllegalStateException(c.dir() + " holds no adapter")));
        } else {
            for (TrainableTensor t : step.trainables()) {
                float[] v = c.weights().get(t.name());
                if (v == null || v.length != t.value().length) throw new IllegalStateException(c.dir() + ": weight " + t.name() + " missing or resized");
                System.arraycopy(v, 0, t.value(), 0, v.length);
            }
        }
        step.restore(c.optimizer());
    }

    /** The data position to start streaming from: the checkpoint's, or the beginning. */
    DataPosition startPosition() {
        return resumed.map(CheckpointStore.Loaded::position).orElse(DataPosition.startOf(0));
    }

    /** A consistent copy of the trainables and the optimizer state (taken between steps). */
    TrainingSnapshot snapshot() {
        Map<String, float[]> weights = new LinkedHashMap<>();
        if (adapters == null) for (TrainableTensor t : trainStep.trainables()) weights.put(t.name(), t.value().clone());
        return new TrainingSnapshot(trainStep.completedSteps(), adapters == null ? null : adapters.copy(), weights,
                trainStep.optimizer().exportState());
    }

    private static MemoryManager openMemory(FinetuneConfig config, LlamaModel model, LoraAdapters adapters, Consumer<String> log) {
        PagingConfig paging = new PagingConfig(config.deviceMemoryBytes(), config.pageBytes(), config.paging(), true);
        List<ParamSpec> specs = (adapters != null ? adapters.trainables() : new io.qlora4j.model.train.FullFineTune(model).trainables())
                .stream().map(t -> new ParamSpec(t.name(), t.value().length)).toList();
        long host = PagedAdamW.bufferBytes(specs, config.optimizer().options().format(), config.pageBytes());
        try {
            return MemoryManager.openRunDirectory(config.out(), paging, host);
        } catch (PagingException e) {
            Path file = config.out().resolve("paging").resolve(MemoryManager.HOST_TIER_FILE);
            Path aside = file.resolveSibling(MemoryManager.HOST_TIER_FILE + ".refused-" + System.currentTimeMillis());
            log.accept("the paging file " + file + " does not verify (" + e.getMessage() + "); it is moved to " + aside
                    + " and the optimizer state comes from the checkpoint");
            try {
                Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException io) {
                throw new UncheckedIOException("cannot move the refused paging file " + file + " aside", io);
            }
            return MemoryManager.openRunDirectory(config.out(), paging, host);
        }
    }

    @Override
    public void close() {
        trainStep.close();
        memory.close();
    }
}
