package io.qlora4j.sim;

import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The paging issue's spike workload, simulated: out of memory at the spikes without paging, completion with it. */
class SpikeScenarioTest {
    /** stories260K's shape: the model the paging issue's real-run test trains. */
    static final LlamaConfig STORIES260K = LlamaConfig.llama(64, 172, 5, 8, 4, 512, 512, 1e-5, 10000, true);

    @Test
    void stories260KOnOurTrainer() {
        TrainingSetup setup = TrainingSetup.qlora("stories260K", STORIES260K, Profile.QLORA4J_CPU)
                .withLora(8, EnumSet.allOf(LinearLayerName.class));
        check(SpikeScenario.of(setup));
    }

    /** The same scenario on the real trainer and the real stories260K: it agrees with the simulation step for step. */
    @Test
    void theRealTrainerAgrees() {
        LlamaModel model;
        try (ModelFiles files = ModelFiles.open(SharedData.require("models/stories260K/stories260K.bin"))) {
            model = ModelLoader.load(files, WeightFormat.qlora()).model();
        }
        TrainingSetup setup = TrainingSetup.qlora("stories260K", model.config(), Profile.QLORA4J_CPU)
                .withLora(8, EnumSet.allOf(LinearLayerName.class));
        SpikeScenario scenario = SpikeScenario.of(setup);
        RealRun.Result without = RealRun.run(model, setup, scenario.trace(), scenario.deviceBudgetBytes(), false, 1);
        assertEquals(SpikeScenario.SPIKE_STEPS[0], without.outOfMemoryStep(), "the real run stops at the first spike");
        assertTrue(without.refusal().orElseThrow().contains("paging is off"), without.refusal().orElseThrow());
        RealRun.Result with = RealRun.run(model, setup, scenario.trace(), scenario.deviceBudgetBytes(), true, 1);
        assertEquals(0, with.outOfMemoryStep(), with.refusal().orElse(""));
        assertEquals(SpikeScenario.STEPS, with.stepPeaks().size());

        SimulationResult simulated = Simulation.run(SimulationConfig.of(setup, scenario.device(), true), scenario.trace());
        assertEquals(with.stepPeaks(), simulated.steps().stream().map(StepRecord::peakBytes).toList(), "peak of every step");
        System.out.printf(Locale.ROOT, "real stories260K under a %,d-byte budget: without paging OOM at step %d; with paging "
                + "%d steps, peak %,d bytes (simulated %,d), %.1f s + %.1f s%n", scenario.deviceBudgetBytes(),
                without.outOfMemoryStep(), with.stepPeaks().size(), with.peakBytes(), simulated.peakBytes(), without.seconds(), with.seconds());
    }

    @Test
    void llama7BOnAGpu() {
        check(SpikeScenario.of(TrainingSetup.qlora("LLaMA-7B", ModelPreset.LLAMA_7B.config(), Profile.GPU)));
    }

    private static void check(SpikeScenario scenario) {
        int[] lengths = scenario.lengths();
        int context = scenario.setup().model().maxPositions();
        assertEquals(SpikeScenario.STEPS, lengths.length);
        assertEquals(context - 1, lengths[SpikeScenario.SPIKE_STEPS[0] - 1]);
        assertEquals(context / 8, lengths[0]);

        SimulationResult without = Simulation.run(SimulationConfig.of(scenario.setup(), scenario.device(), false), scenario.trace());
        assertArrayEquals(SpikeScenario.SPIKE_STEPS, without.outOfMemorySteps().stream().mapToInt(StepRecord::step).toArray(),
                "without paging exactly the spikes run out of memory");
        assertTrue(without.outOfMemorySteps().getFirst().refusal().orElseThrow().contains("paging is off"));
        assertEquals(Verdict.Kind.DOES_NOT_FIT, Verdict.of(without).kind());

        SimulationResult with = Simulation.run(SimulationConfig.of(scenario.setup(), scenario.device(), true), scenario.trace());
        assertTrue(with.completed(), "with paging every step runs");
        List<StepRecord> paged = with.steps().stream().filter(s -> s.pagedBytes() > 0).toList();
        assertTrue(paged.stream().anyMatch(s -> s.step() == SpikeScenario.SPIKE_STEPS[0]), "the first spike pages");
        assertTrue(with.peakBytes() <= scenario.deviceBudgetBytes());
        Verdict v = Verdict.of(with);
        assertEquals(Verdict.Kind.FITS_WITH_PAGING, v.kind());
        System.out.printf(Locale.ROOT, "%s: budget %,d B; without paging OOM at steps %s; with paging %s%n",
                scenario.setup().modelName(), scenario.deviceBudgetBytes(),
                without.outOfMemorySteps().stream().map(StepRecord::step).toList(), v.summary());
    }
}
