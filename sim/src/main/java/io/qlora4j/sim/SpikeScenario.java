package io.qlora4j.sim;

import java.util.Arrays;

/**
 * The memory-spike workload of the paging issue, shared by its simulation here and its real-run test: most steps short,
 * two at the context limit, and a device budget that holds a short step with all optimizer state resident but not a
 * long one, while a long one fits once optimizer state is paged out. So without paging a run stops with an
 * out-of-memory error at the first spike; with paging it completes.
 *
 * <p>{@value #STEPS} steps of one micro-batch of {@code setup.batch()} sequences each: steps {@code SPIKE_STEPS} (1-based)
 * have T = context − 1 (an example truncated to the context trains context − 1 positions), the others
 * T = max(1, context/8). With P = weights + gradients, O = optimizer state (whole pages), A(T) = activations of a
 * micro-batch, the budget is the midpoint of
 * <pre>
 * [ max(P + O + A(short), P + A(spike)),  P + O + A(spike) )
 * </pre>
 * computed with the setup's {@link MemoryModel}; for the {@code qlora4j-cpu} profile that is exactly what our trainer
 * leases ({@code CalibrationTest}), so the real run sees the same budget arithmetic.
 *
 * @param setup             the training configuration (its {@code gradAccum} must be 1)
 * @param lengths           T of every step
 * @param deviceBudgetBytes the budget to run it under
 */
public record SpikeScenario(TrainingSetup setup, int[] lengths, long deviceBudgetBytes) {
    public static final int STEPS = 16;
    /** The 1-based steps at the context limit. */
    public static final int[] SPIKE_STEPS = {6, 13};

    public SpikeScenario {
        lengths = lengths.clone();
    }

    @Override
    public int[] lengths() {
        return lengths.clone();
    }

    public static SpikeScenario of(TrainingSetup setup) {
        if (setup.gradAccum() != 1) throw new SimulationException("the spike scenario runs one micro-batch per step; got --grad-accum " + setup.gradAccum());
        int context = setup.model().maxPositions();
        int spike = context - 1;
        int normal = Math.max(1, context / 8);
        int[] lengths = new int[STEPS];
        Arrays.fill(lengths, normal);
        for (int s : SPIKE_STEPS) lengths[s - 1] = spike;
        MemoryModel model = MemoryModel.of(setup);
        long optimizer = model.persistent().of(Component.OPTIMIZER_STATE);
        long rest = model.persistent().total() - optimizer;
        long shortStep = model.activations(setup.batch(), normal).total();
        long spikeStep = model.activations(setup.batch(), spike).total();
        long low = Math.max(rest + optimizer + shortStep, rest + spikeStep);
        long high = rest + optimizer + spikeStep;
        if (high - low < 2) {
            throw new SimulationException("no spike budget for " + setup.describe() + ": a long step needs "
                    + Units.bytes(spikeStep - shortStep) + " more than a short one but only " + Units.bytes(optimizer)
                    + " of optimizer state could make room");
        }
        return new SpikeScenario(setup, lengths, low + (high - low) / 2);
    }

    /** The steps as a trace. */
    public SequenceTrace trace() {
        int[] sequences = new int[lengths.length * setup.batch()];
        for (int s = 0; s < lengths.length; s++) Arrays.fill(sequences, s * setup.batch(), (s + 1) * setup.batch(), lengths[s]);
        return SequenceTrace.of("spike scenario", sequences, setup.batch(), 1, lengths.length);
    }

    /** The device for {@link Simulation}: the scenario's budget, A100-like compute. */
    public GpuSpec device() {
        return GpuSpec.sized("spike budget " + deviceBudgetBytes + " bytes", deviceBudgetBytes);
    }
}
