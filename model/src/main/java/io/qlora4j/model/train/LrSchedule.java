package io.qlora4j.model.train;

import java.util.Locale;

/**
 * Learning rate per optimizer step, as Hugging Face's {@code get_scheduler} computes it for the update after
 * {@code completed} steps: {@code constant} (qlora.py's default; like HF it ignores warmup, QLORA-REFERENCE.md §5.4),
 * {@code constant_with_warmup}, {@code linear} (warmup then linear decay to 0 at the last step) and {@code cosine}
 * (warmup then half a cosine to 0).
 *
 * @param type        the schedule
 * @param peakLr      the base learning rate
 * @param warmupSteps linear warmup from 0 over this many steps (ignored by {@code constant})
 * @param totalSteps  the run's number of optimizer steps (for the decaying schedules)
 */
public record LrSchedule(Type type, double peakLr, int warmupSteps, int totalSteps) {

    public enum Type {
        CONSTANT, CONSTANT_WITH_WARMUP, LINEAR, COSINE;

        public static Type parse(String s) {
            return valueOf(s.toUpperCase(Locale.ROOT).replace('-', '_'));
        }
    }

    public LrSchedule {
        if (!(peakLr >= 0) || !Double.isFinite(peakLr)) throw new IllegalArgumentException("learning rate must be >= 0, got " + peakLr);
        if (warmupSteps < 0 || totalSteps < 1) {
            throw new IllegalArgumentException("warmup " + warmupSteps + " must be >= 0 and total steps " + totalSteps + " >= 1");
        }
    }

    public static LrSchedule constant(double lr) {
        return new LrSchedule(Type.CONSTANT, lr, 0, 1);
    }

    /** The learning rate of the update that follows {@code completed} finished steps. */
    public float lr(int completed) {
        double factor = switch (type) {
            case CONSTANT -> 1;
            case CONSTANT_WITH_WARMUP -> completed < warmupSteps ? (double) completed / Math.max(1, warmupSteps) : 1;
            case LINEAR -> completed < warmupSteps ? (double) completed / Math.max(1, warmupSteps)
                    : Math.max(0, (double) (totalSteps - completed) / Math.max(1, totalSteps - warmupSteps));
            case COSINE -> completed < warmupSteps ? (double) completed / Math.max(1, warmupSteps)
                    : 0.5 * (1 + Math.cos(Math.PI * Math.min(1, (double) (completed - warmupSteps) / Math.max(1, totalSteps - warmupSteps))));
        };
        return (float) (peakLr * factor);
    }
}
