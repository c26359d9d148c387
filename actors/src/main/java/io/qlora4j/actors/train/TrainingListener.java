package io.qlora4j.actors.train;

import io.qlora4j.memory.PagingStats;
import io.qlora4j.model.train.TrainStep;

import java.nio.file.Path;

/**
 * What a fine-tuning run reports as it goes (the command line draws its progress bar from it). Called from actor
 * threads, one call at a time; implementations must be quick.
 */
public interface TrainingListener {

    /** The run starts at {@code firstStep} (0, or the resumed checkpoint's step) of {@code totalSteps}. */
    default void started(int firstStep, int totalSteps, String description) {
    }

    default void stepDone(TrainStep.Result result, PagingStats paging) {
    }

    default void evaluated(int step, double loss, double perplexity, Double mmluAccuracy) {
    }

    default void checkpointed(int step, Path dir) {
    }

    /** A line worth showing the user (resumes, restarts, refused checkpoints). */
    default void info(String message) {
    }
}
