package io.qlora4j.model.infer;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Chooses the next token from logits according to {@link SamplingOptions}; deterministic for a seed. */
final class Sampler {
    private final SamplingOptions options;
    private final SplittableRandom random;

    Sampler(SamplingOptions options) {
        this.options = options;
        this.random = new SplittableRandom(options.seed());
    }

    /** @param seen tokens of the context so far (for the repetition penalty) */
    int next(float[] logits, int[] seen, int seenCount) {
        float[] l = logits.clone();
        if (options.repetitionPenalty() != 1f) {
            boolean[] done = new boolean[l.length];
            for (int i = 0; i < seenCount; i++) {
                int t = seen[i];
                if (done[t]) continue;
                done[t] = true;
                l[t] = l[t] > 0 ? l[t] / options.repetitionPenalty() : l[t] * options.repetitionPenalty();
            }
        }
        if (options.temperature() == 0f) return argmax(l);
        int v = l.length;
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) order[i] = i;
        float[] scaled = new float[v];
        for (int i = 0; i < v; i++) scaled[i] = l[i] / options.temperature();
        Arrays.sort(order, (a, b) -> Float.compare(scaled[b], scaled[a]));
        int keep = options.topK() > 0 ? Math.min(options.topK(), v) : v;
        double max = scaled[order[0]];
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp(scaled[order[i]] - max);
            sum += p[i];
        }
        if (options.topP() < 1f) {
            double cumulative = 0;
            int cut = keep;
            for (int i = 0; i < keep; i++) {
                cumulative += p[i] / sum;
                if (cumulative >= options.topP()) {
                    cut = i + 1;
                    break;
                }
            }
            keep = cut;
            sum = 0;
            for (int i = 0; i < keep; i++) sum += p[i];
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < keep; i++) {
            u -= p[i];
            if (u <= 0) return order[i];
        }
        return order[keep - 1];
    }

    static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
        return best;
    }
}
