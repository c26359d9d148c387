package io.qlora4j.model.tokenizer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every case of the golden files of both real Hugging Face tokenizer folders (TinyLlama: SentencePiece-style BPE with
 * byte fallback; SmolLM2: GPT-2 byte-level BPE), produced by transformers.js and checked against the Rust
 * {@code tokenizers}: ids with and without special tokens, token strings, the three decodes, and the chat renders.
 */
class HfGoldenTest {
    private static final Map<String, Tokenizer> TOKENIZERS = new HashMap<>();

    private static Tokenizer tokenizer(String name) {
        return TOKENIZERS.computeIfAbsent(name, n -> Tokenizers.load(GoldenFiles.tokenizerFolder(n)));
    }

    static List<GoldenFiles.TextCase> textCases() {
        return GoldenFiles.textCases();
    }

    static List<GoldenFiles.ChatCase> chatCases() {
        return GoldenFiles.chatCases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("textCases")
    void textCase(GoldenFiles.TextCase c) {
        Tokenizer t = tokenizer(c.tokenizer());
        String what = c + " text=" + escape(c.text());
        int[] noSpecial = t.encode(c.text(), false);
        List<String> tokens = Arrays.stream(noSpecial).mapToObj(t::tokenString).toList();
        assertAll(what,
                () -> assertArrayEquals(c.idsWithSpecial(), t.encode(c.text(), true), () -> what
                        + "\nids with special tokens\n expected " + Arrays.toString(c.idsWithSpecial())
                        + "\n actual   " + Arrays.toString(t.encode(c.text(), true))),
                () -> assertArrayEquals(c.idsNoSpecial(), noSpecial, () -> what
                        + "\nids without special tokens\n expected " + Arrays.toString(c.idsNoSpecial())
                        + "\n actual   " + Arrays.toString(noSpecial)),
                () -> assertEquals(c.tokensNoSpecial(), tokens, "token strings"),
                () -> assertEquals(c.decoded(), t.decode(c.idsWithSpecial(), false), "decode(ids_with_special)"),
                () -> assertEquals(c.decodedSkipSpecial(), t.decode(c.idsWithSpecial(), true),
                        "decode(ids_with_special, skip_special_tokens)"),
                () -> assertEquals(c.decodedNoSpecial(), t.decode(c.idsNoSpecial(), false), "decode(ids_no_special)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("chatCases")
    void chatCase(GoldenFiles.ChatCase c) {
        Tokenizer t = tokenizer(c.tokenizer());
        RenderedChat chat = t.chatTemplate().orElseThrow().render(c.messages(), c.addGenerationPrompt());
        int[] ids = t.encode(chat.text(), false);
        assertAll(c.toString(),
                () -> assertEquals(c.rendered(), chat.text(), "rendered text"),
                () -> assertArrayEquals(c.ids(), ids, () -> "ids of the rendered text\n expected "
                        + Arrays.toString(c.ids()) + "\n actual   " + Arrays.toString(ids)),
                () -> assertEquals(c.decoded(), t.decode(c.ids(), false), "decode(ids)"));
    }

    /**
     * The target spans of each golden conversation cover exactly each assistant message's content followed by the
     * tokenizer's end-of-turn marker, and the tokens whose spans overlap them decode to that text.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("chatCases")
    void targetSpansCoverAssistantContentAndEndMarker(GoldenFiles.ChatCase c) {
        Tokenizer t = tokenizer(c.tokenizer());
        RenderedChat chat = t.chatTemplate().orElseThrow().render(c.messages(), c.addGenerationPrompt());
        String endMarker = t.tokenString(t.eosId()); // "</s>" for TinyLlama (Zephyr), "<|im_end|>" for SmolLM2 (ChatML)
        List<Integer> assistants = new ArrayList<>();
        for (int i = 0; i < c.messages().size(); i++) {
            if (c.messages().get(i).role() == ChatMessage.Role.ASSISTANT) {
                assistants.add(i);
            }
        }
        assertEquals(assistants, chat.targets().stream().map(TargetSpan::messageIndex).toList(), "one span per assistant");
        Encoding encoding = t.encodeWithOffsets(chat.text(), false);
        boolean[] mask = encoding.overlapMask(chat.targets());
        for (TargetSpan span : chat.targets()) {
            String expected = c.messages().get(span.messageIndex()).content() + endMarker;
            assertEquals(expected, chat.targetText(span), c + ": span of message " + span.messageIndex());
            int[] spanIds = java.util.stream.IntStream.range(0, encoding.size())
                    .filter(k -> mask[k] && encoding.starts()[k] >= span.start() && encoding.ends()[k] <= span.end())
                    .map(k -> encoding.ids()[k]).toArray();
            assertEquals(expected, t.decode(spanIds, false), c + ": tokens of the span of message " + span.messageIndex());
        }
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0x2028 || cp == 0x2029) {
                sb.append(String.format("\\u%04X", cp));
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return sb.append('"').toString();
    }
}
