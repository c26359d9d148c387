package io.qlora4j.model.tokenizer;

import io.qlora4j.model.tokenizer.template.TemplateException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.qlora4j.model.tokenizer.ChatMessage.assistant;
import static io.qlora4j.model.tokenizer.ChatMessage.system;
import static io.qlora4j.model.tokenizer.ChatMessage.user;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Chat templates beyond the golden files: the official Llama-2 and Llama-3 templates with renders derived by hand,
 * target spans that come from the renderer's bookkeeping (content containing marker text, stripped content, empty
 * content), and errors.
 */
class ChatTemplateTest {
    private static final Set<String> LLAMA2_SPECIALS = Set.of("<unk>", "<s>", "</s>");
    private static final Set<String> LLAMA3_SPECIALS = Set.of("<|begin_of_text|>", "<|end_of_text|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>");
    private static final String ZEPHYR = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
            + "{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n"
            + "{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n"
            + "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
            + "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

    private static String resource(String name) throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static ChatTemplate llama2() throws IOException {
        return ChatTemplate.compile(resource("llama2-chat.jinja"), Map.of("bos_token", "<s>", "eos_token", "</s>"),
                LLAMA2_SPECIALS, "llama2-chat.jinja");
    }

    private static ChatTemplate llama3() throws IOException {
        return ChatTemplate.compile(resource("llama3-instruct.jinja"),
                Map.of("bos_token", "<|begin_of_text|>", "eos_token", "<|end_of_text|>"), LLAMA3_SPECIALS,
                "llama3-instruct.jinja");
    }

    private static ChatTemplate zephyr() {
        return ChatTemplate.compile(ZEPHYR, Map.of("bos_token", "<s>", "eos_token", "</s>"), LLAMA2_SPECIALS, "zephyr");
    }

    /**
     * Llama-2 with a system message. messages[0] is the system message, so loop_messages = messages[1:] (user,
     * assistant, user) and system_message = "You are helpful.". Iteration 0 (user, index0 0): the alternation test
     * (True != True) passes; index0 == 0 and a system message exist, so content = "&lt;&lt;SYS&gt;&gt;\nYou are
     * helpful.\n&lt;&lt;/SYS&gt;&gt;\n\nHi there", written as bos + "[INST] " + content.strip() + " [/INST]".
     * Iteration 1 (assistant): " " + "Hello! How can I help?" + " " + eos. Iteration 2 (user): bos + "[INST] Tell me a
     * joke. [/INST]". The Llama-2 template has no generation prompt. The target is the assistant content, the space
     * and the eos after it.
     */
    @Test
    void llama2WithSystemMessage() throws IOException {
        List<ChatMessage> chat = List.of(system("You are helpful."), user("Hi there"),
                assistant("Hello! How can I help?"), user("Tell me a joke."));
        String expected = "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi there [/INST]"
                + " Hello! How can I help? </s>"
                + "<s>[INST] Tell me a joke. [/INST]";
        RenderedChat r = llama2().render(chat, true);
        assertEquals(expected, r.text());
        assertEquals(expected, llama2().render(chat, false).text());
        assertEquals(1, r.targets().size());
        assertEquals(2, r.targets().getFirst().messageIndex());
        assertEquals("Hello! How can I help? </s>", r.targetText(r.targets().getFirst()));
    }

    /**
     * Llama-2 without system message, assistant content with surrounding whitespace: loop_messages = messages and
     * system_message = false; content.strip() drops the whitespace, so the assistant turn is " Sure. &lt;/s&gt;" and
     * the span starts at "S" — the tags of the content survive strip().
     */
    @Test
    void llama2StripKeepsTheSpanOnTheContent() throws IOException {
        RenderedChat r = llama2().render(List.of(user("  Say sure.\n"), assistant("\n  Sure.  ")), false);
        assertEquals("<s>[INST] Say sure. [/INST] Sure. </s>", r.text());
        assertEquals("Sure. </s>", r.targetText(r.targets().getFirst()));
        assertEquals(r.text().indexOf("Sure."), r.targets().getFirst().start());
    }

    /** Llama-2 refuses two user turns in a row through raise_exception, whose message reaches the caller. */
    @Test
    void llama2RaisesOnNonAlternatingRoles() {
        TemplateException e = assertThrows(TemplateException.class,
                () -> llama2().render(List.of(user("a"), user("b")), false));
        assertTrue(e.getMessage().contains("Conversation roles must alternate user/assistant/user/assistant/..."),
                e.getMessage());
        assertTrue(e.getMessage().contains("llama2-chat.jinja line 1"), e.getMessage());
    }

    /**
     * Llama-3: every message becomes '&lt;|start_header_id|&gt;' + role + '&lt;|end_header_id|&gt;\n\n' +
     * (content | trim) + '&lt;|eot_id|&gt;' (the filter binds to message['content'] only), the first one prefixed
     * with bos_token; the generation prompt is the assistant header. The assistant content " Hello!\n" trims to
     * "Hello!", and its span ends with &lt;|eot_id|&gt;, which is a special token though not the eos_token.
     */
    @Test
    void llama3WithGenerationPrompt() throws IOException {
        List<ChatMessage> chat = List.of(system("You are helpful."), user("Hi"), assistant(" Hello!\n"), user("Bye"));
        String turns = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>";
        assertEquals(turns, llama3().render(chat, false).text());
        RenderedChat r = llama3().render(chat, true);
        assertEquals(turns + "<|start_header_id|>assistant<|end_header_id|>\n\n", r.text());
        assertEquals(List.of(new TargetSpan(2, turns.indexOf("Hello!"), turns.indexOf("Hello!") + "Hello!<|eot_id|>".length())),
                r.targets());
    }

    /**
     * Zephyr (TinyLlama's template): with trim_blocks and lstrip_blocks each message renders as header + content +
     * eos + "\n" (the newline after '}}' is kept). Two assistant turns give two spans, each content + "&lt;/s&gt;"
     * without the newline. The first assistant content contains the text "&lt;/s&gt;": it is content, not a marker,
     * so its span runs to the real eos — which a search of the output for "&lt;/s&gt;" would get wrong.
     */
    @Test
    void spansComeFromBookkeepingNotFromSearching() {
        List<ChatMessage> chat = List.of(user("Print an eos"), assistant("Here: </s> done"), user("Again"),
                assistant("Ok"));
        RenderedChat r = zephyr().render(chat, false);
        assertEquals("<|user|>\nPrint an eos</s>\n<|assistant|>\nHere: </s> done</s>\n<|user|>\nAgain</s>\n"
                + "<|assistant|>\nOk</s>\n", r.text());
        assertEquals(2, r.targets().size());
        assertEquals("Here: </s> done</s>", r.targetText(r.targets().get(0)));
        assertEquals("Ok</s>", r.targetText(r.targets().get(1)));
        assertEquals(List.of(1, 3), r.targets().stream().map(TargetSpan::messageIndex).toList());
    }

    /** An empty assistant reply still trains the end marker: the span is the eos alone, where the content was. */
    @Test
    void emptyAssistantContentKeepsItsEndMarker() {
        RenderedChat r = zephyr().render(List.of(user("Hi"), assistant("")), false);
        assertEquals("<|user|>\nHi</s>\n<|assistant|>\n</s>\n", r.text());
        TargetSpan span = r.targets().getFirst();
        assertEquals("</s>", r.targetText(span));
        assertEquals("<|user|>\nHi</s>\n<|assistant|>\n".length(), span.start());
    }

    /** A template that writes no end marker after the content: the span is the content alone. */
    @Test
    void withoutEndMarkerTheSpanIsTheContent() {
        ChatTemplate t = ChatTemplate.compile("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}",
                Map.of("eos_token", "</s>"), Set.of(), "plain");
        RenderedChat r = t.render(List.of(user("Hi"), assistant("Hello")), false);
        assertEquals("user: Hi\nassistant: Hello\n", r.text());
        assertEquals("Hello", r.targetText(r.targets().getFirst()));
    }

    /** transformers passes tools and documents as None, so tool-aware templates take their no-tools branch. */
    @Test
    void toolsAndDocumentsAreNone() {
        ChatTemplate t = ChatTemplate.compile("{{ 'tools' if tools is not none else 'no tools' }}, {{ documents }}",
                Map.of(), Set.of(), "t");
        assertEquals("no tools, None", t.render(List.of(user("x")), false).text());
    }

    @Test
    void unsupportedConstructIsNamedWithItsLine() {
        TemplateException e = assertThrows(TemplateException.class, () -> ChatTemplate.compile(
                "{% for m in messages %}\n{% macro render(m) %}{{ m }}{% endmacro %}{% endfor %}", Map.of(), Set.of(), "t"));
        assertTrue(e.getMessage().contains("'{% macro %}' statement is not supported"), e.getMessage());
        assertTrue(e.getMessage().contains("t line 2, column 4"), e.getMessage());
    }

    @Test
    void unclosedBlockIsReported() {
        TemplateException e = assertThrows(TemplateException.class,
                () -> ChatTemplate.compile("{% for m in messages %}{{ m.content }}", Map.of(), Set.of(), "t"));
        assertTrue(e.getMessage().contains("'{% for %}' is never closed with '{% endfor %}'"), e.getMessage());
    }

    @Test
    void unknownFilterFailsWhenRendering() {
        ChatTemplate t = ChatTemplate.compile("{{ messages | shuffle }}", Map.of(), Set.of(), "t");
        TemplateException e = assertThrows(TemplateException.class, () -> t.render(List.of(user("x")), false));
        assertTrue(e.getMessage().contains("unknown filter 'shuffle'"), e.getMessage());
    }
}
