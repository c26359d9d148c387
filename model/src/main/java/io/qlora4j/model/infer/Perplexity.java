package io.qlora4j.model.infer;

import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.Transformer;
import io.qlora4j.model.data.Batch;

import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Perplexity of token sequences with a sliding window (the Hugging Face recipe, "Perplexity of fixed-length models"):
 * a document longer than the window is scored in windows of {@code window} tokens advancing by {@code stride}; each
 * window scores only the tokens not scored by the previous one, with up to window − stride tokens of left context.
 * The first token of a document (BOS) is never scored.
 */
public final class Perplexity {

    /** Summed negative log-likelihood (nats) and the number of tokens scored. */
    public record Result(double nllSum, long tokens) {
        public double nll() {
            return nllSum / tokens;
        }

        public double perplexity() {
            return Math.exp(nll());
        }

        /** The last line the {@code perplexity} command prints. */
        public String line() {
            return String.format(java.util.Locale.ROOT, "nll=%.6f ppl=%.4f tokens=%d", nll(), perplexity(), tokens);
        }
    }

    private Perplexity() {
    }

    /**
     * @param documents token ids of each document (BOS first, as the model was trained)
     * @param progress  called with the number of documents done
     */
    public static Result evaluate(LlamaModel model, AdapterContext adapters, List<int[]> documents, int window, int stride,
                                  IntConsumer progress) {
        if (window < 2 || window > model.config().contextLength()) {
            throw new IllegalArgumentException("window " + window + " must be in [2, " + model.config().contextLength()
                    + "]: the model's context is " + model.config().contextDescription());
        }
        if (stride < 1 || stride > window) throw new IllegalArgumentException("stride " + stride + " must be in [1, window]");
        Transformer t = new Transformer(model);
        double sum = 0;
        long count = 0;
        int done = 0;
        for (int[] doc : documents) {
            int scoredUpTo = 1;   // tokens [0, scoredUpTo) need no (more) scoring
            for (int begin = 0; scoredUpTo < doc.length; begin += stride) {
                int end = Math.min(doc.length, begin + window);
                int length = end - begin - 1;
                int[] inputs = Arrays.copyOfRange(doc, begin, end - 1);
                int[] labels = new int[length];
                int targets = 0;
                for (int p = 0; p < length; p++) {
                    int tokenIndex = begin + p + 1;
                    labels[p] = tokenIndex >= scoredUpTo ? doc[tokenIndex] : Batch.IGNORE_INDEX;
                    if (labels[p] != Batch.IGNORE_INDEX) targets++;
                }
                Transformer.Loss loss = t.forwardLoss(new Batch(1, length, inputs, labels, new long[]{0}, targets), adapters);
                sum += loss.sum();
                count += targets;
                scoredUpTo = end;
            }
            progress.accept(++done);
        }
        return new Result(sum, count);
    }
}
