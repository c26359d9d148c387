package io.qlora4j.model.tokenizer;

import java.util.List;

/**
 * A conversation rendered by a {@link ChatTemplate}: the text to tokenize (with {@code addSpecialTokens=false},
 * as Hugging Face {@code apply_chat_template(tokenize=True)} does) and the spans of it that are training targets,
 * one per assistant message the template emitted, in message order.
 */
public record RenderedChat(String text, List<TargetSpan> targets) {
    public RenderedChat {
        targets = List.copyOf(targets);
        for (TargetSpan span : targets) {
            if (span.end() > text.length()) {
                throw new IllegalArgumentException(span + " ends past the rendered text (" + text.length() + " chars)");
            }
        }
    }

    /** The text of one target span. */
    public String targetText(TargetSpan span) {
        return text.substring(span.start(), span.end());
    }
}
