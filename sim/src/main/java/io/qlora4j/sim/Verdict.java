package io.qlora4j.sim;

import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.memory.optim.StateFormat;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The answer to "will it fit": {@link Kind#FITS} (nothing was ever paged), {@link Kind#FITS_WITH_PAGING} (every step ran,
 * optimizer pages moved), {@link Kind#DOES_NOT_FIT} (a step, or the setup, was refused), with what a user can change.
 *
 * @param kind              the verdict
 * @param peakBytes         for a run that fits, the highest resident total the memory manager measured; otherwise the
 *                          bytes the run needs: weights, gradients and the longest step's activations, plus the optimizer
 *                          state unless it can be paged out
 * @param pagedBytesPerStep optimizer bytes over the link per step (out plus in), averaged
 * @param summary           one sentence: "fits with paging: 1.20 GB paged per step, 3.1% slower"
 * @param advice            what would make it fit, each with what it saves
 */
public record Verdict(Kind kind, long peakBytes, long pagedBytesPerStep, String summary, List<String> advice) {

    public enum Kind {
        FITS("fits"), FITS_WITH_PAGING("fits-with-paging"), DOES_NOT_FIT("does-not-fit");

        private final String token;

        Kind(String token) {
            this.token = token;
        }

        public String token() {
            return token;
        }
    }

    public Verdict {
        advice = List.copyOf(advice);
    }

    /** The machine-readable last line of {@code simulate}. */
    public String line() {
        return "verdict=" + kind.token() + " peak_bytes=" + peakBytes + " paged_bytes_per_step=" + pagedBytesPerStep;
    }

    public static Verdict of(SimulationResult result) {
        long budget = result.budgetBytes();
        if (result.completed()) {
            long paged = result.pagedBytesPerStep();
            String peak = "peak " + Units.bytes(result.peakBytes()) + " of " + Units.bytes(budget);
            if (paged == 0) return new Verdict(Kind.FITS, result.peakBytes(), 0, "fits: " + peak + ", nothing paged", List.of());
            return new Verdict(Kind.FITS_WITH_PAGING, result.peakBytes(), paged, String.format(Locale.ROOT,
                    "fits with paging: %s paged per step, %.1f%% slower (%s)", Units.bytes(paged), 100 * result.slowdown(), peak),
                    List.of());
        }
        TrainingSetup setup = result.config().setup();
        boolean paging = result.config().paging();
        int longest = result.trace().maxLength();
        long need = need(setup, paging, longest);
        String where = result.setupRefusal().isPresent() ? "the weights and gradients (and resident optimizer state) alone do not fit"
                : firstRefusal(result);
        String summary = "does not fit: needs " + Units.bytes(need) + " of " + Units.bytes(budget) + "; " + where;
        return new Verdict(Kind.DOES_NOT_FIT, need, result.pagedBytesPerStep(), summary, advice(setup, paging, longest, budget));
    }

    /**
     * Bytes a run needs at its longest micro-batch: persistent plus activations, less the optimizer state when paging
     * can move all of it off the device (the update, after the activations are released, needs only a page of it).
     */
    static long need(TrainingSetup setup, boolean paging, int length) {
        MemoryModel model = MemoryModel.of(setup);
        Footprint persistent = model.persistent();
        long total = persistent.total() + model.activations(setup.batch(), length).total();
        if (paging && setup.optimizer().options().paged()) total -= persistent.of(Component.OPTIMIZER_STATE);
        return total;
    }

    private static String firstRefusal(SimulationResult result) {
        List<StepRecord> oom = result.outOfMemorySteps();
        StepRecord first = oom.getFirst();
        return oom.size() + " of " + result.steps().size() + " steps run out of memory, the first at step " + first.step()
                + " (T=" + first.maxLength() + ")";
    }

    /** Changes that lower the need, each with the need it leaves; the last one caps the sequence length (or says nothing will). */
    private static List<String> advice(TrainingSetup setup, boolean paging, int longest, long budget) {
        long need = need(setup, paging, longest);
        List<String> advice = new ArrayList<>();
        if (!paging) suggest(advice, "turn paging on (drop --no-paging)", need(setup, true, longest), need);
        if (setup.optimizer().options().format() == StateFormat.FP32) {
            suggest(advice, "--optim paged_adamw_8bit", need(setup.withOptimizer(OptimizerKind.PAGED_ADAMW_8BIT), paging, longest), need);
        }
        if (!setup.checkpointing()) {
            suggest(advice, "gradient checkpointing (drop --no-checkpointing)", need(setup.withCheckpointing(true), paging, longest), need);
        }
        if (setup.batch() > 1) {
            int accum = setup.batch() * setup.gradAccum();
            suggest(advice, "--batch 1 --grad-accum " + accum, need(setup.withBatch(1, accum), paging, longest), need);
        }
        if (setup.fullFinetune()) {
            TrainingSetup qlora = TrainingSetup.qlora(setup.modelName(), setup.model(), setup.profile());
            suggest(advice, "QLoRA instead of full fine-tuning (drop --full-finetune)", need(qlora, paging, longest), need);
        }
        int cap = longestThatFits(setup, paging, longest, budget);
        if (cap > 0) {
            suggest(advice, "cap sequences at " + cap + " positions (--seq-len " + cap + ", or truncate examples to " + (cap + 1)
                    + " tokens)", need(setup, paging, cap), need);
        } else {
            advice.add("a smaller model or a larger GPU: even one position per sequence needs " + Units.bytes(need(setup, paging, 1)));
        }
        return advice;
    }

    private static void suggest(List<String> advice, String change, long needAfter, long needBefore) {
        if (needAfter < needBefore) advice.add(change + ": needs " + Units.bytes(needAfter));
    }

    /** The longest T below {@code longest} whose step fits, or 0. Memory grows with T, so a binary search. */
    private static int longestThatFits(TrainingSetup setup, boolean paging, int longest, long budget) {
        int lo = 0;
        int hi = longest - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (need(setup, paging, mid) <= budget) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }
}
