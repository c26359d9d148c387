package io.qlora4j.model.tokenizer;

import io.qlora4j.model.tokenizer.template.TaggedText;
import io.qlora4j.model.tokenizer.template.Template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A tokenizer's chat template ({@code chat_template} of {@code tokenizer_config.json}, a Jinja2 template), rendered
 * as transformers' {@code apply_chat_template(messages, add_generation_prompt=...)} renders it, plus the spans of the
 * rendered text that are training targets.
 *
 * <p>Target spans come from the interpreter's own bookkeeping, never from searching the output: each assistant
 * message's content enters the template as a string tagged with the message's index, and end-of-turn markers (the
 * tokenizer's special tokens and {@code eos_token}) are tagged wherever they appear in the template's literals and
 * token variables. Tags survive concatenation, slicing, {@code strip()}/{@code trim}, case mapping and variables.
 * The span of assistant message i starts at the first character of its content and ends at the end of the first
 * end-of-turn marker written after the content in the same loop iteration (Zephyr: content + {@code </s>}; ChatML:
 * content + {@code <|im_end|>}; Llama-2: content + {@code " </s>"}; Llama-3: content + {@code <|eot_id|>}); the
 * newline a template writes after the marker is not a target. When the iteration writes no marker after the
 * content the span is the content alone. An assistant message the template does not write has no span.
 */
public final class ChatTemplate {
    private final String source;
    private final Template template;
    private final Map<String, TaggedText> tokenVariables; // bos_token, eos_token, ... with their marker tags

    private ChatTemplate(String source, Template template, Map<String, TaggedText> tokenVariables) {
        this.source = source;
        this.template = template;
        this.tokenVariables = tokenVariables;
    }

    /**
     * Compiles a chat template.
     *
     * @param source         the Jinja2 template text
     * @param tokenVariables special token strings passed to the template ({@code bos_token}, {@code eos_token}, ...)
     * @param turnMarkers    strings that end a turn when written after an assistant's content: the tokenizer's
     *                       special tokens; {@code eos_token} is always one
     * @param origin         where the template comes from, for error messages
     * @throws TokenizerException (a {@code TemplateException}) naming the line and the construct that does not parse
     *                            or is not supported
     */
    public static ChatTemplate compile(String source, Map<String, String> tokenVariables, Set<String> turnMarkers,
                                       String origin) {
        Set<String> markers = new LinkedHashSet<>(turnMarkers);
        if (tokenVariables.get("eos_token") != null) {
            markers.add(tokenVariables.get("eos_token"));
        }
        Map<String, TaggedText> variables = new LinkedHashMap<>();
        tokenVariables.forEach((name, value) -> variables.put(name, TaggedText.withMarkers(value, markers)));
        return new ChatTemplate(source, Template.compile(source, origin, markers), variables);
    }

    /** The template text. */
    public String source() {
        return source;
    }

    /**
     * Renders {@code messages}; with {@code addGenerationPrompt} the template appends the assistant header that
     * prompts a reply.
     */
    public RenderedChat render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> wireMessages = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            Map<String, Object> wire = new LinkedHashMap<>();
            wire.put("role", m.role().wireName());
            wire.put("content", m.role() == ChatMessage.Role.ASSISTANT ? TaggedText.content(m.content(), i) : m.content());
            wireMessages.add(wire);
        }
        Map<String, Object> variables = new LinkedHashMap<>(tokenVariables);
        variables.put("messages", wireMessages);
        variables.put("add_generation_prompt", addGenerationPrompt);
        // transformers passes these as None when not given, so "tools is not none" is false, not true as for undefined
        variables.put("tools", null);
        variables.put("documents", null);
        Template.Rendered rendered = template.render(variables);
        return new RenderedChat(rendered.text(), targets(messages, rendered.marks()));
    }

    private static List<TargetSpan> targets(List<ChatMessage> messages, List<Template.Mark> marks) {
        List<TargetSpan> targets = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i).role() != ChatMessage.Role.ASSISTANT) {
                continue;
            }
            int start = -1, contentEnd = -1, iteration = -1;
            for (Template.Mark m : marks) {
                if (m.kind() == TaggedText.Kind.CONTENT && m.messageIndex() == i) {
                    start = start < 0 ? m.start() : Math.min(start, m.start());
                    contentEnd = Math.max(contentEnd, m.end());
                    iteration = m.iteration();
                }
            }
            if (start < 0) {
                continue;
            }
            int end = contentEnd;
            for (Template.Mark m : marks) {
                if (m.kind() == TaggedText.Kind.TURN_MARKER && m.iteration() == iteration && m.start() >= contentEnd) {
                    end = m.end();
                    break;
                }
            }
            targets.add(new TargetSpan(i, start, end));
        }
        return targets;
    }

    @Override
    public String toString() {
        return "ChatTemplate[" + source.length() + " chars]";
    }
}
