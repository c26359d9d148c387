package io.qlora4j.model.data;

import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.tokenizer.Encoding;
import io.qlora4j.model.tokenizer.TargetSpan;
import io.qlora4j.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns rendered examples into token ids and a target mask, truncated on the right to {@code maxLength} tokens (the
 * beginning of a conversation is kept, like qlora.py's right truncation).
 */
public final class ExampleTokenizer {

    private final Tokenizer tokenizer;
    private final int maxLength;

    public ExampleTokenizer(Tokenizer tokenizer, int maxLength) {
        if (maxLength < 2) throw new IllegalArgumentException("max length must be at least 2 tokens, got " + maxLength);
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
    }

    public int maxLength() {
        return maxLength;
    }

    /**
     * The example length a run over {@code model} uses for a requested {@code maxLength}: at most the context plus one,
     * because an example of n tokens trains n − 1 positions (inputs shifted against labels).
     */
    public static int maxLengthFor(LlamaConfig model, int requested) {
        return Math.min(requested, model.maxPositions() + 1);
    }

    /** The tokenized example and whether it had to be cut to the max length. */
    public record Result(TokenizedExample example, int untruncatedLength) {
        public boolean truncated() {
            return untruncatedLength > example.length();
        }
    }

    public Result tokenize(RenderedExample example) {
        TokenList out = new TokenList();
        if (example.addBos() && tokenizer.bosId() >= 0) out.add(tokenizer.bosId(), false);
        if (example.joined()) {
            String text = example.text();
            Encoding enc = tokenizer.encodeWithOffsets(text, false);
            List<TargetSpan> spans = new ArrayList<>();
            int pos = 0;
            for (RenderedExample.Segment s : example.segments()) {
                if (s.target()) spans.add(new TargetSpan(0, pos, pos + s.text().length()));
                pos += s.text().length();
            }
            boolean[] m = enc.overlapMask(spans);
            for (int i = 0; i < enc.size(); i++) out.add(enc.ids()[i], m[i]);
        } else {
            for (RenderedExample.Segment s : example.segments()) {
                for (int id : tokenizer.encode(s.text(), false)) out.add(id, s.target());
            }
        }
        if (example.addEos() && tokenizer.eosId() >= 0) out.add(tokenizer.eosId(), true);
        int n = Math.min(out.size, maxLength);
        return new Result(new TokenizedExample(example.offset(), Arrays.copyOf(out.ids, n), Arrays.copyOf(out.targets, n)), out.size);
    }

    /** Growable parallel arrays of ids and target flags (no boxing). */
    private static final class TokenList {
        private int[] ids = new int[256];
        private boolean[] targets = new boolean[256];
        private int size;

        void add(int id, boolean target) {
            if (size == ids.length) {
                ids = Arrays.copyOf(ids, size * 2);
                targets = Arrays.copyOf(targets, size * 2);
            }
            ids[size] = id;
            targets[size++] = target;
        }
    }
}
