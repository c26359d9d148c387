package io.qlora4j.sim.bench;

import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.sim.Calibration;
import io.qlora4j.sim.Profile;
import io.qlora4j.sim.RealRun;
import io.qlora4j.sim.SpikeScenario;
import io.qlora4j.sim.TrainingSetup;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The step-time cost of paging on the paging issue's spike workload ({@link SpikeScenario}), on our real CPU trainer:
 * the same steps run under the spike budget with paging (optimizer pages go to the Chronicle Map file at the long
 * steps and come back) and under an unlimited budget (nothing moves), alternating, several times. Reported: the median
 * total step time of each, the overhead, and the overhead of the two long steps alone, where the paging happens.
 */
public final class SpikeBench {
    private static final long UNLIMITED = 1L << 40;
    private static final long SEED = 1;

    private SpikeBench() {
    }

    public static void run(PrintStream out, Optional<Path> stories260K, int repetitions) {
        out.printf(Locale.ROOT, "spike workload: %d steps, long steps %s at the context limit; %d alternating repetitions after a warm-up%n",
                SpikeScenario.STEPS, Arrays.toString(SpikeScenario.SPIKE_STEPS), repetitions);
        out.printf(Locale.ROOT, "%-36s %12s %12s %9s %14s %14s %9s %12s%n", "model", "unlimited s", "paging s", "overhead",
                "long unlim. s", "long paging s", "overhead", "paged MiB");
        stories260K.ifPresentOrElse(p -> measure(out, "stories260K (r 8)", load(p), repetitions),
                () -> out.println("stories260K: skipped (no checkpoint; pass --model)"));
        measure(out, "stories15M-shaped, random (r 8)", Calibration.syntheticStories15M(SEED), repetitions);
    }

    private static LlamaModel load(Path path) {
        try (ModelFiles files = ModelFiles.open(path)) {
            return ModelLoader.load(files, WeightFormat.qlora()).model();
        }
    }

    private static void measure(PrintStream out, String name, LlamaModel model, int repetitions) {
        TrainingSetup setup = TrainingSetup.qlora(name, model.config(), Profile.QLORA4J_CPU).withLora(8, EnumSet.allOf(LinearLayerName.class));
        SpikeScenario scenario = SpikeScenario.of(setup);
        RealRun.run(model, setup, scenario.trace(), UNLIMITED, true, SEED);   // warm-up: JIT, page cache
        List<RealRun.Result> unlimited = new ArrayList<>();
        List<RealRun.Result> paging = new ArrayList<>();
        for (int r = 0; r < repetitions; r++) {
            unlimited.add(RealRun.run(model, setup, scenario.trace(), UNLIMITED, true, SEED));
            RealRun.Result paged = RealRun.run(model, setup, scenario.trace(), scenario.deviceBudgetBytes(), true, SEED);
            if (paged.refusal().isPresent()) throw new IllegalStateException(name + ": the paged run ran out of memory: " + paged.refusal().get());
            paging.add(paged);
        }
        double u = median(unlimited, false);
        double p = median(paging, false);
        double uLong = median(unlimited, true);
        double pLong = median(paging, true);
        out.printf(Locale.ROOT, "%-36s %12.3f %12.3f %8.1f%% %14.3f %14.3f %8.1f%% %12.1f%n", name, u, p, 100 * (p / u - 1), uLong, pLong,
                100 * (pLong / uLong - 1), paging.getFirst().pagedBytes() / 1048576.0);
    }

    /** Median over repetitions of the summed step time: all steps, or only the long (spike) steps. */
    private static double median(List<RealRun.Result> runs, boolean longStepsOnly) {
        double[] totals = runs.stream().mapToDouble(r -> {
            double sum = 0;
            for (int s = 0; s < r.stepSeconds().size(); s++) {
                int step = s + 1;
                if (!longStepsOnly || Arrays.stream(SpikeScenario.SPIKE_STEPS).anyMatch(x -> x == step)) sum += r.stepSeconds().get(s);
            }
            return sum;
        }).sorted().toArray();
        return totals[totals.length / 2];
    }
}
