package io.qlora4j.model.data;

import com.fasterxml.jackson.databind.JsonNode;
import io.qlora4j.model.tokenizer.ChatMessage;
import io.qlora4j.model.tokenizer.ChatTemplate;
import io.qlora4j.model.tokenizer.RenderedChat;
import io.qlora4j.model.tokenizer.TargetSpan;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Renders dataset records as training text with target segments (QLORA-REFERENCE.md §5.4). Targets come from the
 * structure of the record as it is rendered (which field or turn produced which text), never from searching the
 * rendered string afterwards:
 * <ul>
 *   <li>Alpaca: the Stanford Alpaca prompt (qlora.py's {@code ALPACA_PROMPT_DICT}, trailing space after
 *       {@code Response:} included) is the source, {@code output} the target; tokenized separately as qlora.py does.</li>
 *   <li>input-output: {@code input} is the source, {@code output} the target, tokenized separately.</li>
 *   <li>Guanaco: the turns are written back exactly as they were; each assistant turn's text (after its
 *       {@code ### Assistant:} marker) is a target. qlora.py trains on the whole OASST1 text; {@code trainOnSource}
 *       reproduces that.</li>
 *   <li>chat: the tokenizer's chat template renders the messages and reports the assistant spans
 *       ({@link ChatTemplate}).</li>
 *   <li>text: everything is a target.</li>
 * </ul>
 */
public final class ExampleRenderer {

    static final String ALPACA_WITH_INPUT = "Below is an instruction that describes a task, paired with an input that provides "
            + "further context. Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n### Response: ";
    static final String ALPACA_NO_INPUT = "Below is an instruction that describes a task. Write a response that "
            + "appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response: ";

    private final DataFormat format;
    private final Optional<ChatTemplate> chatTemplate;
    private final boolean trainOnSource;

    /**
     * @param chatTemplate  the tokenizer's template, required for {@link DataFormat#CHAT}
     * @param trainOnSource make every token a target (qlora.py's {@code --train_on_source})
     */
    public ExampleRenderer(DataFormat format, Optional<ChatTemplate> chatTemplate, boolean trainOnSource) {
        if (format == DataFormat.CHAT && chatTemplate.isEmpty()) {
            throw new DataException("the chat format renders messages with the tokenizer's chat template, and this"
                    + " tokenizer has none (tokenizer_config.json without chat_template): use a tokenizer folder with a"
                    + " template, or another --format");
        }
        this.format = format;
        this.chatTemplate = chatTemplate;
        this.trainOnSource = trainOnSource;
    }

    public DataFormat format() {
        return format;
    }

    /** Renders a well-formed record; a record that does not fit the format throws a {@link DataException} naming its line. */
    public RenderedExample render(DatasetRecord record, String file) {
        String where = file + ":" + record.line();
        if (record.malformed()) throw new DataException(record.error());
        RenderedExample r = switch (format) {
            case TEXT -> new RenderedExample(record.offset(),
                    List.of(new RenderedExample.Segment(record.text() != null ? record.text() : field(record.json(), "text", where), true)),
                    true, true, true);
            case ALPACA -> {
                String instruction = field(record.json(), "instruction", where);
                String input = record.json().path("input").asText("");
                String prompt = input.isEmpty() ? ALPACA_NO_INPUT.formatted(instruction) : ALPACA_WITH_INPUT.formatted(instruction, input);
                yield sourceTarget(record.offset(), prompt, field(record.json(), "output", where));
            }
            case INPUT_OUTPUT -> sourceTarget(record.offset(), field(record.json(), "input", where), field(record.json(), "output", where));
            case GUANACO -> guanaco(record.offset(), field(record.json(), "text", where), where);
            case CHAT -> chat(record.offset(), messages(record.json(), where), where);
        };
        if (!trainOnSource) return r;
        List<RenderedExample.Segment> all = r.segments().stream().map(s -> new RenderedExample.Segment(s.text(), true)).toList();
        return new RenderedExample(r.offset(), all, r.joined(), r.addBos(), r.addEos());
    }

    private static RenderedExample sourceTarget(long offset, String source, String target) {
        return new RenderedExample(offset, List.of(new RenderedExample.Segment(source, false),
                new RenderedExample.Segment(target, true)), false, true, true);
    }

    private static RenderedExample guanaco(long offset, String text, String where) {
        List<RenderedExample.Segment> segments = new ArrayList<>();
        for (ChatMessage turn : GuanacoTurns.parse(text, where)) {
            boolean assistant = turn.role() == ChatMessage.Role.ASSISTANT;
            segments.add(new RenderedExample.Segment(assistant ? GuanacoTurns.ASSISTANT : GuanacoTurns.HUMAN, false));
            segments.add(new RenderedExample.Segment(turn.content(), assistant));
        }
        return new RenderedExample(offset, segments, true, true, true);
    }

    private RenderedExample chat(long offset, List<ChatMessage> messages, String where) {
        RenderedChat rendered = chatTemplate.orElseThrow().render(messages, false);
        if (rendered.targets().isEmpty()) {
            throw new DataException(where + ": the conversation has no assistant message the template writes: nothing to train on");
        }
        List<RenderedExample.Segment> segments = new ArrayList<>();
        int pos = 0;
        for (TargetSpan span : rendered.targets()) {
            if (span.start() > pos) segments.add(new RenderedExample.Segment(rendered.text().substring(pos, span.start()), false));
            segments.add(new RenderedExample.Segment(rendered.text().substring(span.start(), span.end()), true));
            pos = span.end();
        }
        if (pos < rendered.text().length()) segments.add(new RenderedExample.Segment(rendered.text().substring(pos), false));
        // the template writes BOS and the end-of-turn markers itself (apply_chat_template tokenizes without special tokens)
        return new RenderedExample(offset, segments, true, false, false);
    }

    private static List<ChatMessage> messages(JsonNode json, String where) {
        JsonNode list = json.get("messages");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new DataException(where + ": 'messages' must be a non-empty array of {role, content}");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (JsonNode m : list) {
            String role = m.path("role").asText("");
            try {
                out.add(new ChatMessage(ChatMessage.Role.of(role), field(m, "content", where)));
            } catch (IllegalArgumentException e) {
                throw new DataException(where + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    private static String field(JsonNode json, String name, String where) {
        JsonNode v = json.get(name);
        if (v == null || v.isNull()) throw new DataException(where + ": missing field '" + name + "'");
        if (!v.isTextual()) throw new DataException(where + ": field '" + name + "' must be a string, got " + v.getNodeType());
        return v.asText();
    }
}
