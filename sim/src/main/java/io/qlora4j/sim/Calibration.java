package io.qlora4j.sim;

import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.QuantizedWeight;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.model.DecoderLayerWeights;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.LlamaWeights;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.train.TrainStep;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * Checks the simulation against reality: runs the real CPU trainer ({@link TrainStep} on a real {@link MemoryManager}
 * with its run directory in a temporary folder) for a few steps, takes the peak the manager measured, and simulates the
 * same configuration with the {@code qlora4j-cpu} profile. QLoRA setup: NF4 + double quantization, LoRA r =
 * {@value #RANK} on all seven projections, gradient checkpointing, paged 32-bit AdamW, a budget of twice the analytic
 * peak (so the numbers compared are accounting, not paging).
 *
 * <p>Models: stories260K (the real checkpoint) and a stories15M-shaped model with random weights (dim 288, hidden 768,
 * 6 layers, 6 heads, vocabulary 32000, context 256, tied embeddings, as Karpathy's stories15M).
 */
public final class Calibration {
    /** Largest relative difference between simulated and measured peak accepted. */
    public static final double TOLERANCE = 0.10;
    static final int RANK = 8;
    private static final long SEED = 20230523;

    private Calibration() {
    }

    /**
     * One calibration run.
     *
     * @param setup         the configuration both runs used
     * @param trace         the steps both ran
     * @param measuredPeak  highest resident total the real run's memory manager measured
     * @param simulatedPeak highest resident total the simulated run's memory manager measured
     * @param analyticPeak  the memory model's persistent bytes plus the largest micro-batch's activations
     * @param seconds       wall time of the real run
     */
    public record Outcome(TrainingSetup setup, SequenceTrace trace, long measuredPeak, long simulatedPeak, long analyticPeak,
                          double seconds) {
        /** |simulated − measured| / measured. */
        public double deviation() {
            return Math.abs(simulatedPeak - measuredPeak) / (double) measuredPeak;
        }

        public boolean withinTolerance() {
            return deviation() <= TOLERANCE;
        }
    }

    /** stories260K from a llama2.c {@code .bin} or its folder: batch 2, two micro-batches per step, up to the 512 context. */
    public static Outcome stories260K(Path model) {
        LlamaModel m;
        try (ModelFiles files = ModelFiles.open(model)) {
            m = ModelLoader.load(files, WeightFormat.qlora()).model();
        }
        return run("stories260K", m, 2, List.of(new int[]{64, 200}, new int[]{511, 32}, new int[]{128, 300}));
    }

    /** The synthetic stories15M shape: batch 1, two micro-batches per step, up to its 256 context. */
    public static Outcome stories15M() {
        return run("stories15M-shaped (random weights)", syntheticStories15M(SEED), 1, List.of(new int[]{64, 255}, new int[]{128, 32}));
    }

    /** Karpathy's stories15M shape with random weights, the linear layers NF4 + double quantization (blocksize 64). */
    public static LlamaModel syntheticStories15M(long seed) {
        LlamaConfig c = LlamaConfig.llama(288, 768, 6, 6, 6, 32000, 256, 1e-5, 10000, true);
        SplittableRandom random = new SplittableRandom(seed);
        float[] embedding = gaussian(random, c.vocabSize() * c.hiddenSize());
        DecoderLayerWeights[] layers = new DecoderLayerWeights[c.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            LinearWeight[] w = new LinearWeight[LinearLayerName.values().length];
            for (LinearLayerName n : LinearLayerName.values()) {
                int in = LoraAdapters.inFeatures(c, n);
                int out = LoraAdapters.outFeatures(c, n);
                w[n.ordinal()] = new QuantizedWeight(QuantizedTensor.quantize(gaussian(random, in * out), new int[]{out, in},
                        QuantType.NF4, QuantType.DEFAULT_BLOCKSIZE, true));
            }
            layers[l] = new DecoderLayerWeights(ones(c.hiddenSize()), w[0], w[1], w[2], w[3], null, null, null,
                    ones(c.hiddenSize()), w[4], w[5], w[6]);
        }
        LlamaWeights weights = new LlamaWeights(embedding, layers, ones(c.hiddenSize()),
                new DenseWeight(embedding, c.vocabSize(), c.hiddenSize()), true);
        return new LlamaModel(c, weights, RopeLayout.HALF_SPLIT);
    }

    private static Outcome run(String name, LlamaModel model, int batch, List<int[]> steps) {
        LlamaConfig c = model.config();
        TrainingSetup setup = new TrainingSetup(name, c, Profile.QLORA4J_CPU, BaseQuant.NF4_DQ, false, RANK,
                EnumSet.allOf(LinearLayerName.class), 0.1, true, OptimizerKind.PAGED_ADAMW_32BIT, batch, steps.getFirst().length);
        SequenceTrace trace = new SequenceTrace("calibration", batch, steps);
        MemoryModel memoryModel = MemoryModel.of(setup);
        long largest = Arrays.stream(trace.sortedLengths()).mapToLong(t -> memoryModel.activations(batch, t).total()).max().orElseThrow();
        long analytic = memoryModel.persistent().total() + largest;
        long budget = 2 * analytic;

        RealRun.Result real = RealRun.run(model, setup, trace, budget, true, SEED);
        if (real.refusal().isPresent()) throw new IllegalStateException("the calibration run ran out of memory: " + real.refusal().get());
        long simulated = Simulation.run(SimulationConfig.of(setup, GpuSpec.sized("calibration budget", budget), true), trace).peakBytes();
        return new Outcome(setup, trace, real.peakBytes(), simulated, analytic, real.seconds());
    }

    /** The comparison table: one row per model, bytes exact. */
    public static String report(List<Outcome> outcomes) {
        StringBuilder out = new StringBuilder("calibration: the real CPU trainer (TrainStep, memory manager in a temporary run directory)"
                + " vs the simulation (qlora4j-cpu profile); NF4+DQ, LoRA r=" + RANK + " on all projections, checkpointing, "
                + OptimizerKind.PAGED_ADAMW_32BIT.cliName() + "\n");
        out.append(String.format(Locale.ROOT, "%-36s %16s %16s %16s %9s  %s%n", "model", "measured peak", "simulated peak",
                "analytic peak", "deviation", "steps (micro-batches B×T)"));
        for (Outcome o : outcomes) {
            String steps = o.trace().steps().stream().map(s -> Arrays.stream(s).mapToObj(t -> o.setup().batch() + "×" + t)
                    .collect(Collectors.joining(" "))).collect(Collectors.joining(" | "));
            out.append(String.format(Locale.ROOT, "%-36s %,16d %,16d %,16d %8.3f%%  %s%n", o.setup().modelName(),
                    o.measuredPeak(), o.simulatedPeak(), o.analyticPeak(), 100 * o.deviation(), steps));
        }
        return out.toString();
    }

    private static float[] gaussian(SplittableRandom random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextGaussian() * 0.02);
        return v;
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        return v;
    }
}
