package io.qlora4j.model.infer;

import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.InferenceSession;
import io.qlora4j.model.tokenizer.TokenStreamDecoder;
import io.qlora4j.model.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Autoregressive generation: the prompt goes through the model in one pass, then one token per step from the KV cache,
 * each new token's text handed to a listener as soon as it is known (streaming). Stops at EOS (the tokenizer's and
 * config.json's), at a sampled BOS (llama2.c's rule: BOS delimits sequences), at a stop string, at the token limit, or at
 * the context limit.
 */
public final class Generator {

    /** Why generation ended. */
    public enum StopReason {EOS, STOP_STRING, MAX_TOKENS, CONTEXT_FULL}

    /** The full token sequence (prompt + generated), the generated text, and why it stopped. */
    public record Result(int[] tokens, int promptLength, String text, StopReason reason, double seconds) {
        public int generated() {
            return tokens.length - promptLength;
        }
    }

    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final AdapterContext adapters;

    public Generator(LlamaModel model, Tokenizer tokenizer, AdapterContext adapters) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.adapters = adapters;
    }

    /**
     * @param prompt ids of the prompt (with BOS if wanted)
     * @param onText receives each piece of generated text as it is decoded
     */
    public Result generate(int[] prompt, SamplingOptions options, Consumer<String> onText) {
        int context = model.config().contextLength();
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty: give at least one token (e.g. BOS)");
        if (prompt.length > context) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens but the model's context is "
                    + model.config().contextDescription() + ": shorten the prompt");
        }
        long start = System.nanoTime();
        int capacity = Math.min(context, prompt.length + options.maxTokens());
        InferenceSession session = new InferenceSession(model, adapters, Math.max(capacity, prompt.length));
        int[] tokens = Arrays.copyOf(prompt, Math.max(capacity, prompt.length));
        int n = prompt.length;
        Sampler sampler = new Sampler(options);
        TokenStreamDecoder decoder = tokenizer.streamDecoder(true);
        StringBuilder text = new StringBuilder();
        float[] logits = session.append(prompt);
        StopReason reason = StopReason.MAX_TOKENS;
        for (int step = 0; step < options.maxTokens(); step++) {
            int next = sampler.next(logits, tokens, n);
            if (isEnd(next)) {
                reason = StopReason.EOS;
                break;
            }
            tokens[n++] = next;
            String piece = decoder.next(next);
            text.append(piece);
            onText.accept(piece);
            if (endsWithStop(text, options)) {
                reason = StopReason.STOP_STRING;
                break;
            }
            if (n == capacity) {
                if (capacity == context && step + 1 < options.maxTokens()) reason = StopReason.CONTEXT_FULL;
                break;
            }
            logits = session.append(new int[]{next});
        }
        String rest = decoder.finish();
        text.append(rest);
        if (!rest.isEmpty()) onText.accept(rest);
        return new Result(Arrays.copyOf(tokens, n), prompt.length, text.toString(), reason, (System.nanoTime() - start) * 1e-9);
    }

    private boolean isEnd(int token) {
        if (token == tokenizer.eosId() || (token == tokenizer.bosId() && tokenizer.bosId() >= 0)) return true;
        for (int eos : model.config().eosTokenIds()) if (token == eos) return true;
        return false;
    }

    private static boolean endsWithStop(StringBuilder text, SamplingOptions options) {
        for (String s : options.stopStrings()) {
            if (!s.isEmpty() && text.length() >= s.length() && text.lastIndexOf(s) == text.length() - s.length()) return true;
        }
        return false;
    }
}
