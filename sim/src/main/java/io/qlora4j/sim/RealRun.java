package io.qlora4j.sim;

import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.PagingStats;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.lora.LoraConfig;
import io.qlora4j.model.train.DeviceOutOfMemoryException;
import io.qlora4j.model.train.LrSchedule;
import io.qlora4j.model.train.TrainStep;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A simulated scenario run for real: our CPU trainer ({@link TrainStep}, LoRA as the setup says, on a real
 * {@link MemoryManager} with its run directory in a temporary folder) over the trace's steps, on
 * {@link SyntheticBatches}, under a device budget. It stops at the first step the trainer refuses, as a training run
 * does. The model must be stored as the setup's {@link BaseQuant#cpuFormat()} says.
 */
public final class RealRun {
    private RealRun() {
    }

    /**
     * What the real run did.
     *
     * @param stepPeaks   highest resident total the memory manager measured in each completed step
     * @param stepSeconds wall time of each completed step's {@link TrainStep#step} (paging included)
     * @param pagedBytes  optimizer bytes paged out plus in over the completed steps
     * @param refusal     the out-of-memory error that stopped the run, if any (it stopped after {@code stepPeaks.size()} steps)
     * @param seconds     wall time, setup included
     */
    public record Result(List<Long> stepPeaks, List<Double> stepSeconds, long pagedBytes, Optional<String> refusal, double seconds) {
        public Result {
            stepPeaks = List.copyOf(stepPeaks);
            stepSeconds = List.copyOf(stepSeconds);
        }

        public long peakBytes() {
            return stepPeaks.stream().mapToLong(Long::longValue).max().orElse(0);
        }

        /** The 1-based step that ran out of memory, or 0. */
        public int outOfMemoryStep() {
            return refusal.isPresent() ? stepPeaks.size() + 1 : 0;
        }
    }

    public static Result run(LlamaModel model, TrainingSetup setup, SequenceTrace trace, long budgetBytes, boolean paging,
                             long seed) {
        if (setup.fullFinetune()) throw new IllegalArgumentException("RealRun trains LoRA adapters; the setup is full fine-tuning");
        long start = System.nanoTime();
        List<Long> peaks = new ArrayList<>();
        List<Double> stepSeconds = new ArrayList<>();
        long paged = 0;
        Optional<String> refusal = Optional.empty();
        Path dir = temporaryRunDirectory();
        PagingConfig config = PagingConfig.of(budgetBytes).withPaging(paging);
        try (MemoryManager memory = MemoryManager.openRunDirectory(dir, config, MemoryModel.of(setup).optimizerBufferBytes());
             TrainStep trainer = TrainStep.lora(model, LoraAdapters.create(model.config(), new LoraConfig(setup.rank(), 16,
                     setup.loraDropout(), setup.targets()), seed), memory, setup.optimizer().options(),
                     new TrainStep.Options(setup.checkpointing(), 0.3f, LrSchedule.constant(2e-4), seed))) {
            for (int s = 0; s < trace.stepCount(); s++) {
                var batches = SyntheticBatches.step(trace, s, model.config().vocabSize(), seed);
                long stepStart = System.nanoTime();
                trainer.step(batches);
                stepSeconds.add((System.nanoTime() - stepStart) * 1e-9);
                PagingStats stats = memory.endStep(s + 1);
                peaks.add(stats.peakTotalBytes());
                paged += stats.pagedOutBytes() + stats.pagedInBytes();
            }
        } catch (DeviceOutOfMemoryException e) {
            refusal = Optional.of(e.getMessage());
        } finally {
            deleteRecursively(dir);
        }
        return new Result(peaks, stepSeconds, paged, refusal, (System.nanoTime() - start) * 1e-9);
    }

    private static Path temporaryRunDirectory() {
        try {
            return Files.createTempDirectory("qlora4j-real-run");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary run directory: " + e.getMessage(), e);
        }
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the temporary run directory " + dir + ": " + e.getMessage(), e);
        }
    }
}
