package io.qlora4j.model.data;

import java.util.List;

/**
 * A training record rendered to text, as segments that are or are not training targets.
 *
 * <p>Two tokenization modes, following the reference for each format: {@code joined} renders are tokenized as one
 * string and a token is a target when its characters overlap a target segment (chat templates, as transformers'
 * {@code apply_chat_template}; Guanaco; plain text); otherwise each segment is tokenized on its own and the ids are
 * concatenated (qlora.py's {@code DataCollatorForCausalLM}: source and target tokenized separately).
 *
 * @param offset   the record's offset in its dataset
 * @param segments the text, in order
 * @param joined   tokenize the concatenation once (true) or each segment separately (false)
 * @param addBos   prepend the tokenizer's BOS (not a target)
 * @param addEos   append the tokenizer's EOS as a target (the end of the completion)
 */
public record RenderedExample(long offset, List<Segment> segments, boolean joined, boolean addBos, boolean addEos) {

    /** A piece of the rendered text; {@code target} means its tokens are predicted by the loss. */
    public record Segment(String text, boolean target) {
    }

    public RenderedExample {
        segments = List.copyOf(segments);
    }

    /** The whole text. */
    public String text() {
        StringBuilder sb = new StringBuilder();
        for (Segment s : segments) sb.append(s.text());
        return sb.toString();
    }
}
