package io.qlora4j.model.infer;

import java.util.List;

/**
 * How the next token is chosen. Temperature 0 is greedy (argmax, the first maximum on ties, as llama2.c's
 * {@code sample_argmax}); otherwise logits are divided by the temperature, the repetition penalty is applied (Hugging
 * Face's rule: a seen token's logit is divided by the penalty when positive, multiplied when negative), then top-k and
 * top-p (nucleus) filtering, then a draw from the seeded generator.
 *
 * @param temperature       0 for greedy
 * @param topK              keep the k most likely tokens (0 = all)
 * @param topP              keep the smallest set of tokens whose probability reaches p (1 = all)
 * @param repetitionPenalty 1 = none
 * @param seed              seed of the sampler (same seed, same text)
 * @param maxTokens         most new tokens to generate
 * @param stopStrings       generation stops once the output ends with one of these
 */
public record SamplingOptions(float temperature, int topK, float topP, float repetitionPenalty, long seed,
                              int maxTokens, List<String> stopStrings) {

    public SamplingOptions {
        if (!(temperature >= 0)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        if (!(repetitionPenalty > 0)) throw new IllegalArgumentException("repetition penalty must be > 0, got " + repetitionPenalty);
        if (maxTokens < 0) throw new IllegalArgumentException("max tokens must be >= 0, got " + maxTokens);
        stopStrings = List.copyOf(stopStrings);
    }

    public static SamplingOptions greedy(int maxTokens) {
        return new SamplingOptions(0, 0, 1, 1, 0, maxTokens, List.of());
    }
}
