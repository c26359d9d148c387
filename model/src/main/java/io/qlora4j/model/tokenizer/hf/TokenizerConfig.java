package io.qlora4j.model.tokenizer.hf;

import com.fasterxml.jackson.databind.JsonNode;
import io.qlora4j.model.tokenizer.TokenizerException;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What qlora4j reads from a {@code tokenizer_config.json} (transformers {@code PreTrainedTokenizerBase} settings):
 * the special token strings, the chat template and {@code clean_up_tokenization_spaces}. Token fields may be a
 * string or an {@code AddedToken} object with {@code "content"}; {@code chat_template} may be a string or a list of
 * {@code {"name", "template"}} from which {@code "default"} is taken.
 *
 * @param bosToken  {@code bos_token}, null when absent
 * @param eosToken  {@code eos_token}, null when absent
 * @param unkToken  {@code unk_token}, null when absent
 * @param padToken  {@code pad_token}, null when absent
 * @param chatTemplate {@code chat_template}, null when absent
 * @param cleanUpTokenizationSpaces {@code clean_up_tokenization_spaces}, false when absent
 */
record TokenizerConfig(String bosToken, String eosToken, String unkToken, String padToken, String chatTemplate,
                       boolean cleanUpTokenizationSpaces) {
    static final TokenizerConfig ABSENT = new TokenizerConfig(null, null, null, null, null, false);

    static TokenizerConfig parse(JsonNode root, Path file) {
        if (!root.isObject()) {
            throw new TokenizerException(file + " is not a JSON object: not a tokenizer_config.json");
        }
        return new TokenizerConfig(token(root, "bos_token", file), token(root, "eos_token", file),
                token(root, "unk_token", file), token(root, "pad_token", file), chatTemplate(root.get("chat_template"), file),
                root.path("clean_up_tokenization_spaces").asBoolean(false));
    }

    /** The template variables transformers passes for the special tokens ({@code bos_token}, ...). */
    Map<String, String> tokenVariables() {
        Map<String, String> vars = new LinkedHashMap<>();
        putIfPresent(vars, "bos_token", bosToken);
        putIfPresent(vars, "eos_token", eosToken);
        putIfPresent(vars, "unk_token", unkToken);
        putIfPresent(vars, "pad_token", padToken);
        return vars;
    }

    private static void putIfPresent(Map<String, String> vars, String name, String value) {
        if (value != null) {
            vars.put(name, value);
        }
    }

    private static String token(JsonNode root, String field, Path file) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isObject() && node.path("content").isTextual()) {
            return node.get("content").asText();
        }
        throw new TokenizerException(file + ": " + field + " is " + node.getNodeType()
                + ", expected a string or an object with \"content\"");
    }

    private static String chatTemplate(JsonNode node, Path file) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isArray()) {
            for (JsonNode named : node) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return named.get("template").asText();
                }
            }
            throw new TokenizerException(file + ": chat_template is a list of named templates without one named"
                    + " \"default\"");
        }
        throw new TokenizerException(file + ": chat_template is " + node.getNodeType()
                + ", expected a string or a list of {name, template}");
    }
}
