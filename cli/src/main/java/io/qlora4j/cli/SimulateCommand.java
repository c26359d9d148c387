package io.qlora4j.cli;

import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.sim.BaseQuant;
import io.qlora4j.sim.Calibration;
import io.qlora4j.sim.ComputeModel;
import io.qlora4j.sim.DatasetLengths;
import io.qlora4j.sim.GpuSpec;
import io.qlora4j.sim.LengthDistribution;
import io.qlora4j.sim.MemoryPlot;
import io.qlora4j.sim.ModelPreset;
import io.qlora4j.sim.Profile;
import io.qlora4j.sim.SequenceTrace;
import io.qlora4j.sim.Simulation;
import io.qlora4j.sim.SimulationConfig;
import io.qlora4j.sim.SimulationException;
import io.qlora4j.sim.SimulationReport;
import io.qlora4j.sim.SimulationResult;
import io.qlora4j.sim.StepCsv;
import io.qlora4j.sim.TrainingSetup;
import io.qlora4j.sim.Verdict;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

/** {@code simulate}: will a fine-tuning run fit a GPU, where will it page, and what does paging cost. */
@Command(name = "simulate", mixinStandardHelpOptions = true,
        description = {"Simulates the device memory of a QLoRA (or full) fine-tuning run: the",
                "memory model per component, then the real memory manager paging optimizer",
                "state over a simulated device, host link and compute, step by step.",
                "Prints the component table and a verdict; writes memory.png, steps.csv.",
                "The last line is: verdict=fits|fits-with-paging|does-not-fit",
                "  peak_bytes=<n> paged_bytes_per_step=<n>",
                "(peak_bytes: the measured peak if it fits, else the bytes it needs).",
                "--calibrate-against instead runs the real CPU trainer and compares its",
                "measured peak with the simulated one."})
final class SimulateCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "7b|13b|33b|65b|70b|PATH", description = "A preset (LLaMA-1 7B..65B, Llama-2-70B) or a config.json / model folder.")
    String model;

    @Option(names = "--gpu", paramLabel = "SIZE|NAME", description = "48GB, 24GiB, 80GB, ... or a card: rtx3090, rtx4090, a6000, l40s, a100-40gb, a100-80gb, h100-80gb.")
    String gpu;

    @Option(names = "--seq-len", paramLabel = "N", description = "Every sequence N positions (default 512 when --seq-lengths is not given).")
    Integer seqLen;

    @Option(names = "--seq-lengths", paramLabel = "FILE|DIST",
            description = {"A dataset (JSONL/JSON/text, tokenized with --tokenizer) or a distribution:",
                    "fixed:512, uniform:64-512, lognormal:median=200,sigma=0.8,max=2048,",
                    "longtail:short=64-256,long=2048,p=0.02."})
    String seqLengths;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "Tokenizer for a --seq-lengths dataset (default: the one beside a model folder).")
    Path tokenizer;

    @Option(names = "--batch", defaultValue = "1", description = "Sequences per micro-batch (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--grad-accum", defaultValue = "1", description = "Micro-batches per optimizer step (default: ${DEFAULT-VALUE}).")
    int gradAccum;

    @Option(names = "--rank", defaultValue = "64", description = "LoRA r (default: ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--targets", defaultValue = "all", paramLabel = "all|q_proj,v_proj,...", description = "Projections with adapters (default: ${DEFAULT-VALUE}).")
    String targets;

    @Option(names = "--lora-dropout", defaultValue = "0.1", description = "LoRA dropout; above 0 each adapter keeps a dropped copy of its input (default: ${DEFAULT-VALUE}).")
    double loraDropout;

    @Option(names = "--quant", paramLabel = "nf4|nf4-dq|int8|bf16", description = "Base storage (default: nf4-dq; bf16 with --full-finetune).")
    String quant;

    @Option(names = "--full-finetune", description = "Train every weight in 16-bit instead of LoRA adapters.")
    boolean fullFinetune;

    @Option(names = "--no-checkpointing", description = "Keep every block's activations instead of recomputing them.")
    boolean noCheckpointing;

    @Option(names = "--no-paging", description = "Optimizer state stays on the device.")
    boolean noPaging;

    @Option(names = "--optim", defaultValue = "paged_adamw_32bit", paramLabel = "paged_adamw_32bit|paged_adamw_8bit|adamw_32bit",
            description = "Optimizer (default: ${DEFAULT-VALUE}).")
    String optim;

    @Option(names = "--link-gbps", paramLabel = "GB/s", description = "Host link bandwidth per direction (default: the card's, 25 for PCIe 4 x16).")
    Double linkGbps;

    @Option(names = "--tflops", paramLabel = "TFLOP/s", description = "Achieved compute speed (default: 40%% of the card's bf16 peak).")
    Double tflops;

    @Option(names = "--steps", paramLabel = "N", description = "Steps to simulate (default: 100 for a distribution, the whole dataset for a file).")
    Integer steps;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the length distribution (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--profile", defaultValue = "gpu", paramLabel = "gpu|qlora4j-cpu",
            description = "gpu (alias paper): a bf16 PyTorch/bitsandbytes run; qlora4j-cpu: exactly our CPU trainer's buffers (default: ${DEFAULT-VALUE}).")
    String profile;

    @Option(names = "--out", paramLabel = "DIR", description = "Where memory.png and steps.csv go (default: a new folder under runs/).")
    Path out;

    @Option(names = "--calibrate-against", arity = "0..1", split = ",", fallbackValue = "stories260K,stories15M", paramLabel = "MODEL",
            description = "Run the real CPU trainer on stories260K and/or the stories15M shape and print measured vs simulated peak.")
    List<String> calibrate;

    @Override
    public Integer call() {
        if (calibrate != null) return calibrate();
        if (model == null || gpu == null) throw new SimulationException("simulate needs --model and --gpu (or --calibrate-against)");
        ModelPreset.Resolved resolved = ModelPreset.resolve(model);
        BaseQuant base = quant != null ? BaseQuant.parse(quant) : fullFinetune ? BaseQuant.BF16 : BaseQuant.NF4_DQ;
        TrainingSetup setup = new TrainingSetup(resolved.name(), resolved.config(), Profile.parse(profile), base, fullFinetune,
                rank, targets(), loraDropout, !noCheckpointing, OptimizerKind.parse(optim), batch, gradAccum);
        GpuSpec device = GpuSpec.parse(gpu);
        if (linkGbps != null) device = device.withLink(linkGbps * 1e9);
        ComputeModel compute = tflops != null ? new ComputeModel(tflops * 1e12, device.memoryBytesPerSecond()) : ComputeModel.of(device);
        SimulationResult result = Simulation.run(new SimulationConfig(setup, device, !noPaging, compute), trace(setup));
        Verdict verdict = Verdict.of(result);
        Path dir = outputDirectory(resolved.name(), device.name());
        MemoryPlot.write(result, dir.resolve("memory.png"));
        StepCsv.write(result, dir.resolve("steps.csv"));
        System.out.print(SimulationReport.render(result, verdict));
        System.out.println("plot " + dir.resolve("memory.png") + ", steps " + dir.resolve("steps.csv"));
        System.out.println(verdict.line());
        return 0;
    }

    private Set<LinearLayerName> targets() {
        if (targets.equalsIgnoreCase("all")) return EnumSet.allOf(LinearLayerName.class);
        Set<LinearLayerName> set = EnumSet.noneOf(LinearLayerName.class);
        for (String name : targets.split(",")) {
            set.add(LinearLayerName.fromShortName(name.trim()).orElseThrow(() -> new SimulationException("--targets: unknown projection '"
                    + name.trim() + "'; expected all or a list of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")));
        }
        return set;
    }

    private SequenceTrace trace(TrainingSetup setup) {
        if (seqLen != null && seqLengths != null) throw new SimulationException("give either --seq-len or --seq-lengths, not both");
        int context = setup.model().maxPositions();
        if (seqLengths != null && Files.isRegularFile(Path.of(seqLengths))) {
            Path file = Path.of(seqLengths);
            int[] lengths = DatasetLengths.read(file, tokenizer(), context);
            return SequenceTrace.of(file.getFileName().toString(), lengths, batch, gradAccum, steps != null ? steps : Integer.MAX_VALUE);
        }
        if (seqLengths != null && !seqLengths.contains(":")) {
            throw new SimulationException("--seq-lengths '" + seqLengths + "' is neither an existing file nor a distribution such as fixed:512");
        }
        LengthDistribution d = seqLengths != null ? LengthDistribution.parse(seqLengths) : new LengthDistribution.Fixed(seqLen != null ? seqLen : 512);
        if (d.max() > context) {
            throw new SimulationException(d.spec() + " reaches " + d.max() + " positions, beyond the model's context of " + context
                    + " (max_position_embeddings): lower the maximum");
        }
        return SequenceTrace.sample(d, steps != null ? steps : 100, batch, gradAccum, seed);
    }

    private Tokenizer tokenizer() {
        if (tokenizer != null) return Tokenizers.load(tokenizer);
        Path p = Path.of(model);
        if (!Files.exists(p)) {
            throw new SimulationException("--seq-lengths with a dataset needs --tokenizer for a preset model (for LLaMA: "
                    + "../shared/data/tokenizers/llama2-32k/tokenizer.model)");
        }
        return Tokenizers.load(Files.isDirectory(p) ? p : p.toAbsolutePath().getParent());
    }

    private Path outputDirectory(String modelName, String gpuName) {
        Path dir = out;
        if (dir == null) {
            String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
            String name = ("simulate-" + Path.of(modelName).getFileName() + "-" + gpuName).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.-]+", "-");
            dir = Path.of("runs", name + "-" + stamp);
            for (int i = 2; Files.exists(dir); i++) dir = Path.of("runs", name + "-" + stamp + "-" + i);
        }
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the output folder " + dir + ": " + e.getMessage(), e);
        }
    }

    private int calibrate() {
        List<Calibration.Outcome> outcomes = new ArrayList<>();
        for (String name : calibrate) {
            outcomes.add(switch (name.trim().toLowerCase(Locale.ROOT)) {
                case "stories260k" -> Calibration.stories260K(stories260K());
                case "stories15m" -> Calibration.stories15M();
                default -> throw new SimulationException("--calibrate-against: unknown model '" + name + "'; expected stories260K or stories15M");
            });
        }
        System.out.print(Calibration.report(outcomes));
        boolean ok = outcomes.stream().allMatch(Calibration.Outcome::withinTolerance);
        double worst = outcomes.stream().mapToDouble(Calibration.Outcome::deviation).max().orElse(0);
        System.out.printf(Locale.ROOT, "calibration=%s max_deviation=%.4f tolerance=%.2f%n", ok ? "ok" : "failed", worst, Calibration.TOLERANCE);
        return ok ? 0 : 1;
    }

    private static Path stories260K() {
        Path p = Path.of(System.getProperty("qlora4j.shared", "../shared"), "data", "models", "stories260K", "stories260K.bin");
        if (!Files.isRegularFile(p)) {
            throw new SimulationException("stories260K not found at " + p.toAbsolutePath().normalize()
                    + ": run from a checkout beside ../shared, or set -Dqlora4j.shared (QLORA4J_JAVA_OPTS)");
        }
        return p;
    }
}
