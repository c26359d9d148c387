package io.qlora4j.sim;

import java.util.List;
import java.util.Optional;

/**
 * A simulated run: the persistent footprint, whether setting it up was refused (then there are no steps), and every step.
 *
 * @param config       what was simulated
 * @param trace        the steps' lengths
 * @param persistent   weights, gradients and optimizer state as the model accounts them
 * @param setupRefusal the out-of-memory message if the weights, gradients or optimizer state alone do not fit
 * @param steps        the simulated steps, in order
 */
public record SimulationResult(SimulationConfig config, SequenceTrace trace, Footprint persistent,
                               Optional<String> setupRefusal, List<StepRecord> steps) {

    public SimulationResult {
        steps = List.copyOf(steps);
    }

    public long budgetBytes() {
        return config.gpu().memoryBytes();
    }

    /** Highest resident total the memory manager measured over the run. */
    public long peakBytes() {
        return steps.stream().mapToLong(StepRecord::peakBytes).max().orElse(0);
    }

    /** Optimizer bytes moved over the link (out plus in), averaged over the steps. */
    public long pagedBytesPerStep() {
        return steps.isEmpty() ? 0 : Math.round(steps.stream().mapToLong(StepRecord::pagedBytes).average().orElse(0));
    }

    /** Time waiting for the link over time computing: how much slower paging makes the run. */
    public double slowdown() {
        long compute = steps.stream().mapToLong(StepRecord::computeNanos).sum();
        long stall = steps.stream().mapToLong(StepRecord::stallNanos).sum();
        return compute == 0 ? 0 : (double) stall / compute;
    }

    public List<StepRecord> outOfMemorySteps() {
        return steps.stream().filter(StepRecord::outOfMemory).toList();
    }

    /** Whether every step ran. */
    public boolean completed() {
        return setupRefusal.isEmpty() && outOfMemorySteps().isEmpty();
    }
}
