package io.qlora4j.sim;

import java.util.Locale;

/**
 * The text {@code simulate} prints: the run's configuration, the component table (every term of the memory model at
 * the trace's longest and median micro-batch, and the evaluation step), what the simulation saw, and the verdict with
 * what to change.
 */
public final class SimulationReport {
    private SimulationReport() {
    }

    public static String render(SimulationResult result, Verdict verdict) {
        SimulationConfig config = result.config();
        TrainingSetup setup = config.setup();
        MemoryModel model = MemoryModel.of(setup);
        SequenceTrace trace = result.trace();
        int longest = trace.maxLength();
        int median = trace.medianLength();
        StringBuilder out = new StringBuilder();
        out.append("model     ").append(setup.model()).append('\n');
        out.append("training  ").append(setup.describe()).append('\n');
        out.append(String.format(Locale.ROOT, "device    %s: budget %s, host link %.1f GB/s, compute %.1f TFLOP/s%s%n",
                config.gpu().name(), Units.bytes(config.gpu().memoryBytes()), config.gpu().linkBytesPerSecond() / 1e9,
                config.compute().effectiveFlops() / 1e12, config.paging() ? ", paging on" : ", paging off"));
        out.append(String.format(Locale.ROOT, "lengths   %s: %d steps of %d×%d sequences, T %d..%d, median %d%n%n",
                trace.source(), trace.stepCount(), setup.gradAccum(), setup.batch(), trace.sortedLengths()[0], longest, median));

        Footprint persistent = model.persistent();
        Footprint atLongest = model.activations(setup.batch(), longest);
        Footprint atMedian = model.activations(setup.batch(), median);
        out.append(String.format(Locale.ROOT, "%-38s %14s %14s%n", "component", "T=" + longest + " (max)", "T=" + median + " (median)"));
        for (Component c : Component.values()) {
            Footprint f = c.persistent() ? persistent : atLongest;
            if (f.of(c) == 0 && (c.persistent() || atMedian.of(c) == 0)) continue;
            long typical = c.persistent() ? persistent.of(c) : atMedian.of(c);
            out.append(String.format(Locale.ROOT, "%-38s %14s %14s%n", label(c, setup), Units.bytes(f.of(c)), Units.bytes(typical)));
        }
        out.append(String.format(Locale.ROOT, "%-38s %14s %14s%n", "total", Units.bytes(persistent.total() + atLongest.total()),
                Units.bytes(persistent.total() + atMedian.total())));
        long eval = persistent.total() + model.evalActivations(setup.batch(), longest).total();
        out.append(String.format(Locale.ROOT, "%-38s %14s%n", "eval step (forward only)", Units.bytes(eval)));
        out.append(String.format(Locale.ROOT, "%-38s %14s%n%n", "device budget", Units.bytes(result.budgetBytes())));

        if (result.setupRefusal().isPresent()) {
            out.append("setup refused: ").append(result.setupRefusal().get()).append('\n');
        } else {
            out.append(String.format(Locale.ROOT, "simulated %d steps: %d out of memory, peak resident %s, paged %s per step, "
                            + "stall %.1f%% of compute time%n", result.steps().size(), result.outOfMemorySteps().size(),
                    Units.bytes(result.peakBytes()), Units.bytes(result.pagedBytesPerStep()), 100 * result.slowdown()));
        }
        if (eval > result.budgetBytes()) {
            out.append("note: an evaluation pass at T=").append(longest).append(" needs ").append(Units.bytes(eval))
                    .append(", more than the budget: evaluate on shorter sequences\n");
        }
        out.append(verdict.summary()).append('\n');
        for (String a : verdict.advice()) out.append("  try ").append(a).append('\n');
        return out.toString();
    }

    private static String label(Component c, TrainingSetup setup) {
        return switch (c) {
            case BASE_WEIGHTS -> "base weights (" + setup.quant().cliName() + ")";
            case LORA_PARAMETERS -> String.format(Locale.ROOT, "LoRA parameters (%,d)",
                    ParameterCounts.lora(setup.model(), setup.rank(), setup.targets()));
            case OPTIMIZER_STATE -> "optimizer state (" + setup.optimizer().cliName() + ")";
            default -> c.label();
        };
    }
}
