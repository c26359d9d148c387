package io.qlora4j.sim;

import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The discrete-event simulation's mechanics: budget, paging traffic, timing, traces, outputs. */
class SimulationTest {
    private static final TrainingSetup SEVEN_B = TrainingSetup.qlora("LLaMA-7B", ModelPreset.LLAMA_7B.config(), Profile.GPU);

    @Test
    void theLinkDecidesTheStallNotTheTraffic() {
        SpikeScenario spike = SpikeScenario.of(SEVEN_B);
        SimulationResult fast = Simulation.run(SimulationConfig.of(spike.setup(), spike.device(), true), spike.trace());
        SimulationResult slow = Simulation.run(SimulationConfig.of(spike.setup(), spike.device().withLink(1e9), true), spike.trace());
        assertEquals(fast.pagedBytesPerStep(), slow.pagedBytesPerStep());
        assertTrue(fast.pagedBytesPerStep() > 0);
        long fastStall = fast.steps().stream().mapToLong(StepRecord::stallNanos).sum();
        long slowStall = slow.steps().stream().mapToLong(StepRecord::stallNanos).sum();
        assertTrue(fastStall > 0 && slowStall > 10 * fastStall, fastStall + " vs " + slowStall);
        // a step that pages nothing never waits
        assertTrue(fast.steps().stream().filter(s -> s.pagedBytes() == 0).allMatch(s -> s.stallNanos() == 0));
    }

    @Test
    void residentOptimizerStateIsNeverPaged() {
        SpikeScenario spike = SpikeScenario.of(SEVEN_B);
        TrainingSetup resident = spike.setup().withOptimizer(OptimizerKind.ADAMW_32BIT);
        SimulationResult r = Simulation.run(SimulationConfig.of(resident, spike.device(), true), spike.trace());
        assertEquals(0, r.pagedBytesPerStep());
        assertEquals(SpikeScenario.SPIKE_STEPS.length, r.outOfMemorySteps().size());
    }

    @Test
    void peaksStayUnderTheBudgetAndComponentsAddUp() {
        GpuSpec gpu = GpuSpec.parse("11GB");
        SequenceTrace trace = SequenceTrace.sample(LengthDistribution.parse("longtail:short=64-512,long=2048,p=0.1"), 40, 1, 2, 7);
        SimulationResult r = Simulation.run(SimulationConfig.of(SEVEN_B.withBatch(1, 2), gpu, true), trace);
        for (StepRecord s : r.steps()) {
            assertTrue(s.peakBytes() <= gpu.memoryBytes());
            if (!s.outOfMemory()) assertTrue(s.atPeakTotal() <= s.peakBytes(), "step " + s.step());
            assertEquals(2, s.lengths().length);
            assertTrue(s.computeNanos() > 0);
        }
    }

    @Test
    void setupThatDoesNotFitIsReportedWithoutSteps() {
        SimulationResult r = Simulation.run(SimulationConfig.of(SEVEN_B, GpuSpec.parse("2GB"), true),
                SequenceTrace.sample(new LengthDistribution.Fixed(128), 3, 1, 1, 0));
        assertTrue(r.setupRefusal().orElseThrow().contains("model weights"));
        assertTrue(r.steps().isEmpty());
        Verdict v = Verdict.of(r);
        assertEquals(Verdict.Kind.DOES_NOT_FIT, v.kind());
        assertTrue(v.advice().getLast().startsWith("a smaller model or a larger GPU"), v.advice().toString());
    }

    @Test
    void adviceNamesEveryChangeThatLowersTheNeed() {
        TrainingSetup heavy = SEVEN_B.withCheckpointing(false).withBatch(4, 1);
        SimulationResult r = Simulation.run(SimulationConfig.of(heavy, GpuSpec.parse("rtx4090"), false),
                SequenceTrace.sample(new LengthDistribution.Fixed(2048), 2, 4, 1, 0));
        Verdict v = Verdict.of(r);
        assertEquals(Verdict.Kind.DOES_NOT_FIT, v.kind());
        assertEquals(Verdict.need(heavy, false, 2048), v.peakBytes());
        List<String> starts = v.advice().stream().map(a -> a.substring(0, a.indexOf(' '))).toList();
        assertEquals(List.of("turn", "--optim", "gradient", "--batch", "cap"), starts, v.advice().toString());
        assertTrue(v.advice().getLast().matches("cap sequences at \\d+ positions \\(--seq-len \\d+, or truncate examples to \\d+ tokens\\): needs .*"),
                v.advice().getLast());
    }

    @Test
    void tracesGroupSequencesIntoPaddedMicroBatches() {
        SequenceTrace t = SequenceTrace.of("test", new int[]{5, 9, 3, 4, 8, 1, 2}, 2, 2, 10);
        assertEquals(2, t.stepCount());
        assertEquals(List.of(9, 4), Arrays.stream(t.step(0)).boxed().toList());
        assertEquals(List.of(8, 2), Arrays.stream(t.step(1)).boxed().toList());
        assertEquals(1, SequenceTrace.of("test", new int[]{5, 9, 3, 4, 8, 1, 2}, 2, 2, 1).stepCount());
        assertThrows(SimulationException.class, () -> SequenceTrace.of("empty", new int[0], 1, 1, 5));
    }

    @Test
    void datasetLengthsAreTokenizedPositionsCappedAtTheContext() {
        Path data = SharedData.require("datasets/guanaco-1k/guanaco-1k.train.guanacofmt.jsonl");
        var tokenizer = Tokenizers.load(SharedData.require("tokenizers/llama2-32k/tokenizer.model"));
        int[] lengths = DatasetLengths.read(data, tokenizer, 2048);
        assertEquals(1000, lengths.length);
        int max = Arrays.stream(lengths).max().orElseThrow();
        assertTrue(max <= 2048 && Arrays.stream(lengths).min().orElseThrow() >= 1);
        int[] sorted = lengths.clone();
        Arrays.sort(sorted);
        assertTrue(sorted[500] > 100 && sorted[500] < 1000, "median " + sorted[500]);
        assertThrows(SimulationException.class, () -> DatasetLengths.read(data.resolveSibling("missing.jsonl"), tokenizer, 2048));
    }

    @Test
    void csvAndPlotDescribeEveryStep(@TempDir Path dir) throws Exception {
        SpikeScenario spike = SpikeScenario.of(SEVEN_B);
        SimulationResult r = Simulation.run(SimulationConfig.of(spike.setup(), spike.device(), false), spike.trace());
        StepCsv.write(r, dir.resolve("steps.csv"));
        MemoryPlot.write(r, dir.resolve("memory.png"));
        List<String> csv = Files.readAllLines(dir.resolve("steps.csv"));
        assertEquals(SpikeScenario.STEPS + 1, csv.size());
        assertTrue(csv.getFirst().startsWith("step,lengths,max_length,oom,peak_bytes"));
        assertTrue(csv.get(SpikeScenario.SPIKE_STEPS[0]).contains(",true,"), csv.get(SpikeScenario.SPIKE_STEPS[0]));
        byte[] png = Files.readAllBytes(dir.resolve("memory.png"));
        assertTrue(png.length > 10_000, "png of " + png.length + " bytes");
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);
        assertNotEquals(0, r.outOfMemorySteps().size());
    }
}
