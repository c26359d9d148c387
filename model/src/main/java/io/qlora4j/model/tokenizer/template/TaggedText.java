package io.qlora4j.model.tokenizer.template;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A string whose character ranges remember where they came from: the content of a chat message
 * ({@link Kind#CONTENT}) or an end-of-turn marker ({@link Kind#TURN_MARKER}). The template interpreter carries these
 * tags through concatenation, slicing, stripping and case mapping, so that after rendering the origin of every
 * output character is known from the rendering itself, not from searching the output.
 *
 * <p>Tags are sorted and do not overlap; adjacent non-empty ranges with the same origin are joined into one. A tag
 * may be empty (an empty message content still marks where it was emitted).
 */
public final class TaggedText {
    /** What a tagged range is. */
    public enum Kind { CONTENT, TURN_MARKER }

    /** A tagged range {@code [start, end)}; {@code messageIndex} is -1 for markers. */
    public record Tag(int start, int end, Kind kind, int messageIndex) {
        Tag shift(int by) {
            return new Tag(start + by, end + by, kind, messageIndex);
        }
    }

    static final TaggedText EMPTY = new TaggedText("", List.of());

    private final String text;
    private final List<Tag> tags;

    private TaggedText(String text, List<Tag> tags) {
        this.text = text;
        this.tags = tags;
    }

    public static TaggedText plain(String text) {
        return new TaggedText(text, List.of());
    }

    /** {@code text} with the given tags (sorted, non-overlapping, inside the text). */
    static TaggedText of(String text, List<Tag> tags) {
        return new TaggedText(text, List.copyOf(tags));
    }

    /** {@code text} as the content of message {@code messageIndex}. */
    public static TaggedText content(String text, int messageIndex) {
        return new TaggedText(text, List.of(new Tag(0, text.length(), Kind.CONTENT, messageIndex)));
    }

    /** {@code text} with every occurrence of a marker (leftmost, longest first) tagged as a turn marker. */
    public static TaggedText withMarkers(String text, Collection<String> markers) {
        List<Tag> tags = new ArrayList<>();
        for (int i = 0; i < text.length(); ) {
            String best = null;
            for (String m : markers) {
                if (!m.isEmpty() && text.startsWith(m, i) && (best == null || m.length() > best.length())) {
                    best = m;
                }
            }
            if (best == null) {
                i++;
            } else {
                tags.add(new Tag(i, i + best.length(), Kind.TURN_MARKER, -1));
                i += best.length();
            }
        }
        return new TaggedText(text, List.copyOf(tags));
    }

    public String text() {
        return text;
    }

    public List<Tag> tags() {
        return tags;
    }

    int length() {
        return text.length();
    }

    TaggedText concat(TaggedText other) {
        if (other.text.isEmpty() && other.tags.isEmpty()) {
            return this;
        }
        if (text.isEmpty() && tags.isEmpty()) {
            return other;
        }
        List<Tag> joined = new ArrayList<>(tags.size() + other.tags.size());
        joined.addAll(tags);
        for (Tag t : other.tags) {
            Tag shifted = t.shift(text.length());
            Tag last = joined.isEmpty() ? null : joined.getLast();
            if (last != null && last.end() == shifted.start() && last.kind() == shifted.kind()
                    && last.messageIndex() == shifted.messageIndex() && last.start() < last.end()
                    && shifted.start() < shifted.end()) {
                joined.set(joined.size() - 1, new Tag(last.start(), shifted.end(), last.kind(), last.messageIndex()));
            } else {
                joined.add(shifted);
            }
        }
        return new TaggedText(text + other.text, joined);
    }

    /** {@code [from, to)}; tags are clipped, and an empty tag survives when it lies inside or at an edge. */
    TaggedText slice(int from, int to) {
        if (from == 0 && to == text.length()) {
            return this;
        }
        List<Tag> clipped = new ArrayList<>();
        for (Tag t : tags) {
            int s = Math.max(t.start(), from);
            int e = Math.min(t.end(), to);
            boolean keep = s < e || (s == e && t.start() <= to && t.end() >= from && (t.start() == t.end() || from == to));
            if (keep) {
                clipped.add(new Tag(s - from, e - from, t.kind(), t.messageIndex()));
            }
        }
        return new TaggedText(text.substring(from, to), clipped);
    }

    /**
     * {@code op} applied separately to each run of characters with the same tag, so that tags survive operations that
     * may change the length (Python's {@code upper()} maps 'ß' to "SS").
     */
    TaggedText mapRuns(UnaryOperator<String> op) {
        TaggedText out = EMPTY;
        int pos = 0;
        for (Tag t : tags) {
            out = out.concat(plain(op.apply(text.substring(pos, t.start()))));
            String mapped = op.apply(text.substring(t.start(), t.end()));
            out = out.concat(new TaggedText(mapped, List.of(new Tag(0, mapped.length(), t.kind(), t.messageIndex()))));
            pos = t.end();
        }
        return out.concat(plain(op.apply(text.substring(pos))));
    }

    @Override
    public String toString() {
        return text;
    }
}
