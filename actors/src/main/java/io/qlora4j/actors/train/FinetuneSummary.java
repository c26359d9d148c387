package io.qlora4j.actors.train;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * The result of a fine-tuning run: what the command prints at the end.
 *
 * @param firstStep         the step the run started from (0, or the resumed checkpoint's)
 * @param steps             optimizer steps completed
 * @param initialEvalLoss   held-out loss before training (or at the resumed step), if evaluated
 * @param finalEvalLoss     held-out loss at the end
 * @param initialMmlu       multiple-choice accuracy before training, if a question set was given
 * @param finalMmlu         multiple-choice accuracy at the end
 * @param trainTokens       target tokens trained on in this process
 * @param seconds           wall time of the training loop
 * @param peakDeviceBytes   the largest resident device bytes the memory manager saw
 * @param pagedBytes        optimizer bytes paged out plus in over the run
 * @param adapter           where the final adapter (or weights) went
 */
public record FinetuneSummary(int firstStep, int steps, Optional<Double> initialEvalLoss, Optional<Double> finalEvalLoss,
                              Optional<Double> initialMmlu, Optional<Double> finalMmlu, double finalTrainLoss,
                              long trainTokens, double seconds, long peakDeviceBytes, long pagedBytes, Path adapter,
                              Path metrics, Path plot) {

    /** A summary table for the terminal. */
    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-28s %s%n", "steps", firstStep == 0 ? steps : firstStep + " -> " + steps));
        sb.append(String.format(Locale.ROOT, "%-28s %.4f%n", "final train loss", finalTrainLoss));
        initialEvalLoss.ifPresent(l -> sb.append(String.format(Locale.ROOT, "%-28s %.4f (ppl %.3f)%n",
                firstStep == 0 ? "held-out loss before" : "held-out loss at resume", l, Math.exp(l))));
        finalEvalLoss.ifPresent(l -> sb.append(String.format(Locale.ROOT, "%-28s %.4f (ppl %.3f)%n", "held-out loss after", l, Math.exp(l))));
        initialMmlu.ifPresent(a -> sb.append(String.format(Locale.ROOT, "%-28s %.1f%%%n", "MMLU accuracy before", 100 * a)));
        finalMmlu.ifPresent(a -> sb.append(String.format(Locale.ROOT, "%-28s %.1f%%%n", "MMLU accuracy after", 100 * a)));
        sb.append(String.format(Locale.ROOT, "%-28s %,d in %.1f s (%.0f tokens/s)%n", "target tokens trained", trainTokens,
                seconds, trainTokens / Math.max(seconds, 1e-9)));
        sb.append(String.format(Locale.ROOT, "%-28s %.1f MiB, %.1f MiB paged%n", "peak device memory",
                peakDeviceBytes / 1048576.0, pagedBytes / 1048576.0));
        sb.append(String.format(Locale.ROOT, "%-28s %s%n", "adapter", adapter));
        sb.append(String.format(Locale.ROOT, "%-28s %s, %s%n", "metrics, plot", metrics, plot));
        return sb.toString();
    }
}
