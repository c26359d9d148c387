package io.qlora4j.model.tokenizer;

/**
 * A character span {@code [start, end)} of a rendered chat that is a training target: an assistant message's
 * content followed by its end-of-turn marker.
 *
 * @param messageIndex index of the assistant message in the list given to {@link ChatTemplate#render}
 * @param start        first UTF-16 index in {@link RenderedChat#text()}
 * @param end          one past the last UTF-16 index
 */
public record TargetSpan(int messageIndex, int start, int end) {
    public TargetSpan {
        if (start < 0 || end < start) {
            throw new IllegalArgumentException("span [" + start + ", " + end + ") of message " + messageIndex
                    + " must have 0 <= start <= end");
        }
    }
}
