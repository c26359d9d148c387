package io.qlora4j.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.testing.SharedData;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.StreamSupport;

/** Reads the golden tokenizer files of {@code ../shared/data/golden/tokenizers} (transformers.js 4.3.1 outputs). */
final class GoldenFiles {
    static final List<String> HF_TOKENIZERS = List.of("tinyllama-1.1b-chat-v1.0", "smollm2-135m-instruct");
    private static final ObjectMapper JSON = new ObjectMapper();

    private GoldenFiles() {
    }

    /** One text case of a golden file. */
    record TextCase(String tokenizer, String name, String text, int[] idsWithSpecial, int[] idsNoSpecial,
                    List<String> tokensNoSpecial, String decoded, String decodedSkipSpecial, String decodedNoSpecial) {
        @Override
        public String toString() {
            return tokenizer + " / " + name;
        }
    }

    /** One conversation of a golden file, rendered with or without the generation prompt. */
    record ChatCase(String tokenizer, String name, List<ChatMessage> messages, boolean addGenerationPrompt,
                    String rendered, int[] ids, String decoded) {
        @Override
        public String toString() {
            return tokenizer + " / " + name + (addGenerationPrompt ? " + generation prompt" : "");
        }
    }

    static Path tokenizerFolder(String tokenizer) {
        return SharedData.require("tokenizers/" + tokenizer);
    }

    static JsonNode read(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode golden(String tokenizer) {
        return read(SharedData.require("golden/tokenizers/" + tokenizer + ".golden.json"));
    }

    static List<TextCase> textCases() {
        List<TextCase> cases = new ArrayList<>();
        for (String tokenizer : HF_TOKENIZERS) {
            for (JsonNode c : golden(tokenizer).get("cases")) {
                cases.add(new TextCase(tokenizer, c.get("name").asText(), c.get("text").asText(),
                        ints(c.get("ids_with_special")), ints(c.get("ids_no_special")),
                        StreamSupport.stream(c.get("tokens_no_special").spliterator(), false).map(JsonNode::asText).toList(),
                        c.get("decoded").asText(), c.get("decoded_skip_special").asText(),
                        c.get("decoded_no_special").asText()));
            }
        }
        return cases;
    }

    static List<ChatCase> chatCases() {
        List<ChatCase> cases = new ArrayList<>();
        for (String tokenizer : HF_TOKENIZERS) {
            for (JsonNode c : golden(tokenizer).get("chat")) {
                List<ChatMessage> messages = new ArrayList<>();
                for (JsonNode m : c.get("messages")) {
                    messages.add(new ChatMessage(ChatMessage.Role.of(m.get("role").asText()), m.get("content").asText()));
                }
                cases.add(new ChatCase(tokenizer, c.get("name").asText(), messages,
                        c.get("add_generation_prompt").asBoolean(), c.get("rendered").asText(), ints(c.get("ids")),
                        c.get("decoded").asText()));
            }
        }
        return cases;
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
