package io.qlora4j.model.tokenizer.hf;

import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A piece of text as the pipeline transforms it, with the span of the original input that each of its UTF-16 units
 * came from: Hugging Face {@code NormalizedString}, reduced to what offsets need. Immutable; each operation returns a
 * new instance.
 *
 * <p>Alignment rules: a character of the input keeps its own span (both units of a surrogate pair get the span of
 * the pair); prepended text takes the span of the first character; replacement text takes the span of the whole
 * match; byte-level characters take the span of the character whose byte they stand for.
 */
final class NormalizedText {
    private final String text;
    private final int[] start; // (text.length()) first index in the original input of each unit's source
    private final int[] end;   // (text.length()) one past the last index in the original input

    NormalizedText(String text, int[] start, int[] end) {
        assert start.length == text.length() && end.length == text.length();
        this.text = text;
        this.start = start;
        this.end = end;
    }

    /** {@code original[from, to)} aligned to itself. */
    static NormalizedText of(String original, int from, int to) {
        int n = to - from;
        int[] start = new int[n];
        int[] end = new int[n];
        for (int i = from; i < to; ) {
            int len = Character.charCount(original.codePointAt(i));
            for (int k = 0; k < len; k++) {
                start[i - from + k] = i;
                end[i - from + k] = i + len;
            }
            i += len;
        }
        return new NormalizedText(original.substring(from, to), start, end);
    }

    String text() {
        return text;
    }

    int length() {
        return text.length();
    }

    /** Smallest original index of the units {@code [from, to)} (non-empty range). */
    int originalStart(int from, int to) {
        int min = Integer.MAX_VALUE;
        for (int i = from; i < to; i++) {
            min = Math.min(min, start[i]);
        }
        return min;
    }

    /** Largest original end of the units {@code [from, to)} (non-empty range). */
    int originalEnd(int from, int to) {
        int max = Integer.MIN_VALUE;
        for (int i = from; i < to; i++) {
            max = Math.max(max, end[i]);
        }
        return max;
    }

    NormalizedText slice(int from, int to) {
        return new NormalizedText(text.substring(from, to), Arrays.copyOfRange(start, from, to),
                Arrays.copyOfRange(end, from, to));
    }

    /** {@code prefix + this}; the prefix is aligned with the first character. Empty text stays empty. */
    NormalizedText prepend(String prefix) {
        if (text.isEmpty()) {
            return this;
        }
        int p = prefix.length();
        int[] s = new int[p + text.length()];
        int[] e = new int[p + text.length()];
        Arrays.fill(s, 0, p, start[0]);
        Arrays.fill(e, 0, p, end[0]);
        System.arraycopy(start, 0, s, p, text.length());
        System.arraycopy(end, 0, e, p, text.length());
        return new NormalizedText(prefix + text, s, e);
    }

    /** Every non-empty match of {@code pattern} replaced by {@code content}, aligned with the whole match. */
    NormalizedText replaceAll(Pattern pattern, String content) {
        Matcher m = pattern.matcher(text);
        StringBuilder sb = null;
        IntList s = null, e = null;
        int last = 0;
        while (m.find()) {
            if (m.end() == m.start()) {
                continue;
            }
            if (sb == null) {
                sb = new StringBuilder(text.length());
                s = new IntList(text.length());
                e = new IntList(text.length());
            }
            sb.append(text, last, m.start());
            s.addAll(start, last, m.start());
            e.addAll(end, last, m.start());
            int ms = originalStart(m.start(), m.end());
            int me = originalEnd(m.start(), m.end());
            sb.append(content);
            for (int k = 0; k < content.length(); k++) {
                s.add(ms);
                e.add(me);
            }
            last = m.end();
        }
        if (sb == null) {
            return this;
        }
        sb.append(text, last, text.length());
        s.addAll(start, last, text.length());
        e.addAll(end, last, text.length());
        return new NormalizedText(sb.toString(), s.toArray(), e.toArray());
    }

    /**
     * Each code point replaced by the byte-level characters of its UTF-8 bytes (GPT-2 {@code bytes_to_unicode}), each
     * aligned with the code point.
     */
    NormalizedText toByteLevel() {
        StringBuilder sb = new StringBuilder(text.length() * 2);
        IntList s = new IntList(text.length() * 2);
        IntList e = new IntList(text.length() * 2);
        byte[] utf8 = new byte[4];
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int len = Character.charCount(cp);
            int nBytes = Utf8.encode(cp, utf8);
            int os = originalStart(i, i + len);
            int oe = originalEnd(i, i + len);
            for (int k = 0; k < nBytes; k++) {
                sb.append(ByteLevelAlphabet.charOf(utf8[k]));
                s.add(os);
                e.add(oe);
            }
            i += len;
        }
        return new NormalizedText(sb.toString(), s.toArray(), e.toArray());
    }

    @Override
    public String toString() {
        return text;
    }
}
