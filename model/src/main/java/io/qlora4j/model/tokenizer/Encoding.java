package io.qlora4j.model.tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Token ids with the character span each token was made from, so that spans of the text (for example the
 * assistant replies of a rendered chat) can be mapped onto tokens.
 *
 * <p>Spans are {@code [start, end)} in UTF-16 code units of the encoded Java string (not bytes, not code points).
 * A token made from part of a character (a byte-fallback or byte-level token of a multi-byte character) gets
 * the span of the whole character. Tokens that come from no input character (a BOS/EOS added by the
 * post-processor, llama2.c's BOS) have an empty span.
 *
 * @param ids    token ids (n)
 * @param starts first UTF-16 index of each token's span (n)
 * @param ends   one past the last UTF-16 index of each token's span (n); {@code starts[i] <= ends[i]}
 */
public record Encoding(int[] ids, int[] starts, int[] ends) {
    public Encoding {
        Objects.requireNonNull(ids, "ids");
        if (starts.length != ids.length || ends.length != ids.length) {
            throw new IllegalArgumentException("ids, starts and ends must have one entry per token: "
                    + ids.length + ", " + starts.length + ", " + ends.length);
        }
    }

    public int size() {
        return ids.length;
    }

    /**
     * For each token, whether its span overlaps one of {@code spans} (a token with an empty span never does).
     * A token that straddles a span boundary counts as inside: it carries characters of the span.
     */
    public boolean[] overlapMask(List<TargetSpan> spans) {
        boolean[] mask = new boolean[ids.length];
        for (int i = 0; i < ids.length; i++) {
            for (TargetSpan span : spans) {
                if (starts[i] < ends[i] && starts[i] < span.end() && ends[i] > span.start()) {
                    mask[i] = true;
                    break;
                }
            }
        }
        return mask;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Encoding e && Arrays.equals(ids, e.ids) && Arrays.equals(starts, e.starts)
                && Arrays.equals(ends, e.ends);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ids) * 31 + Arrays.hashCode(starts) * 17 + Arrays.hashCode(ends);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Encoding[");
        for (int i = 0; i < ids.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(ids[i]).append('@').append(starts[i]).append("..").append(ends[i]);
        }
        return sb.append(']').toString();
    }
}
