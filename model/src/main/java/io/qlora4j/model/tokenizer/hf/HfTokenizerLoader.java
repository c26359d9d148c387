package io.qlora4j.model.tokenizer.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.model.tokenizer.ChatTemplate;
import io.qlora4j.model.tokenizer.TokenizerException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads a Hugging Face {@code tokenizer.json} (the serialization of the Rust {@code tokenizers} {@code Tokenizer})
 * into an {@link HfTokenizer}, together with the {@code tokenizer_config.json} and {@code chat_template.jinja} beside
 * it when they exist (special token names, chat template). Every component type is checked: one this package does
 * not implement is an error naming the component, its type, the file and what is supported, never a silent
 * approximation.
 */
public final class HfTokenizerLoader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfTokenizerLoader() {
    }

    /** Loads {@code tokenizerJson} and, from its folder, {@code tokenizer_config.json} and {@code chat_template.jinja}. */
    public static HfTokenizer load(Path tokenizerJson) {
        JsonNode root = readJson(tokenizerJson);
        Path folder = tokenizerJson.toAbsolutePath().getParent();
        Path configFile = folder.resolve("tokenizer_config.json");
        TokenizerConfig config = Files.exists(configFile)
                ? TokenizerConfig.parse(readJson(configFile), configFile) : TokenizerConfig.ABSENT;
        Path jinjaFile = folder.resolve("chat_template.jinja");
        String templateSource = config.chatTemplate();
        String templateOrigin = configFile.toString();
        if (Files.exists(jinjaFile)) {
            templateSource = readString(jinjaFile);
            templateOrigin = jinjaFile.toString();
        }
        return build(root, tokenizerJson, config, templateSource, templateOrigin);
    }

    private static HfTokenizer build(JsonNode root, Path file, TokenizerConfig config, String templateSource,
                                     String templateOrigin) {
        if (!root.isObject() || !root.has("model")) {
            throw new TokenizerException(file + " has no \"model\": not a Hugging Face tokenizer.json");
        }
        Normalizer normalizer = normalizer(root.get("normalizer"), file);
        PreTokenizer preTokenizer = preTokenizer(root.get("pre_tokenizer"), file);
        JsonNode modelNode = root.get("model");
        Map<String, Integer> vocab = vocab(modelNode, file);
        BpeModel model = bpe(modelNode, vocab, file);
        List<AddedVocabulary.AddedToken> addedTokens = addedTokens(root.get("added_tokens"), file);
        AddedVocabulary added = new AddedVocabulary(addedTokens, normalizer);

        int maxId = Math.max(added.maxId(), vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1));
        String[] tokens = new String[maxId + 1];
        vocab.forEach((piece, id) -> tokens[id] = piece);
        for (AddedVocabulary.AddedToken t : addedTokens) {
            tokens[t.id()] = t.content();
        }
        Map<String, Integer> allIds = new HashMap<>(vocab);
        addedTokens.forEach(t -> allIds.put(t.content(), t.id()));

        PostProcessor postProcessor = postProcessor(root.get("post_processor"), allIds, file);
        Decoder decoder = decoder(root.get("decoder"), file);

        int bos = specialId(config.bosToken(), "bos_token", allIds, file);
        int eos = specialId(config.eosToken(), "eos_token", allIds, file);
        int pad = specialId(config.padToken(), "pad_token", allIds, file);
        ChatTemplate template = null;
        TokenizerException templateError = null;
        if (templateSource != null) {
            Set<String> markers = new LinkedHashSet<>();
            addedTokens.stream().filter(AddedVocabulary.AddedToken::special).forEach(t -> markers.add(t.content()));
            try {
                template = ChatTemplate.compile(templateSource, config.tokenVariables(), markers, templateOrigin);
            } catch (TokenizerException e) {
                templateError = e; // text tokenization does not need the template: report it when it is asked for
            }
        }
        return new HfTokenizer(file, added, normalizer, preTokenizer, model, postProcessor, decoder, tokens,
                config.cleanUpTokenizationSpaces(), bos, eos, pad < 0 ? OptionalInt.empty() : OptionalInt.of(pad),
                template, templateError);
    }

    private static int specialId(String token, String field, Map<String, Integer> ids, Path file) {
        if (token == null) {
            return -1;
        }
        Integer id = ids.get(token);
        if (id == null) {
            throw new TokenizerException("tokenizer_config.json beside " + file + ": " + field + " '" + token
                    + "' is not in the vocabulary");
        }
        return id;
    }

    static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(readString(file));
        } catch (JsonProcessingException e) {
            throw new TokenizerException(file + " is not valid JSON (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + "): " + e.getOriginalMessage(), e);
        }
    }

    private static String readString(Path file) {
        try {
            return Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new TokenizerException(file + " does not exist");
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static TokenizerException unsupported(Path file, String component, String type, String supported) {
        return new TokenizerException(file + ": " + component + " type '" + type + "' is not supported (supported: "
                + supported + "); this tokenizer cannot be reproduced exactly");
    }

    private static String type(JsonNode node, String component, Path file) {
        JsonNode type = node.get("type");
        if (type == null || !type.isTextual()) {
            throw new TokenizerException(file + ": " + component + " has no \"type\": " + abbreviate(node));
        }
        return type.asText();
    }

    private static Normalizer normalizer(JsonNode node, Path file) {
        if (node == null || node.isNull()) {
            return Normalizer.IDENTITY;
        }
        String type = type(node, "normalizer", file);
        return switch (type) {
            case "Sequence" -> {
                List<Normalizer> parts = new ArrayList<>();
                for (JsonNode child : node.path("normalizers")) {
                    parts.add(normalizer(child, file));
                }
                yield new Normalizer.Sequence(parts);
            }
            case "Prepend" -> new Normalizer.Prepend(text(node, "prepend", "Prepend normalizer", file));
            case "Replace" -> new Normalizer.Replace(pattern(node, "Replace normalizer", file),
                    text(node, "content", "Replace normalizer", file));
            default -> throw unsupported(file, "normalizer", type, "Sequence, Prepend, Replace");
        };
    }

    private static PreTokenizer preTokenizer(JsonNode node, Path file) {
        if (node == null || node.isNull()) {
            return PreTokenizer.NONE;
        }
        String type = type(node, "pre_tokenizer", file);
        return switch (type) {
            case "Sequence" -> {
                List<PreTokenizer> parts = new ArrayList<>();
                for (JsonNode child : node.path("pretokenizers")) {
                    parts.add(preTokenizer(child, file));
                }
                yield new PreTokenizer.Sequence(parts);
            }
            case "Digits" -> new PreTokenizer.Digits(node.path("individual_digits").asBoolean(false));
            case "ByteLevel" -> new PreTokenizer.ByteLevel(node.path("add_prefix_space").asBoolean(true),
                    node.path("use_regex").asBoolean(true));
            default -> throw unsupported(file, "pre_tokenizer", type, "Sequence, Digits, ByteLevel");
        };
    }

    private static Map<String, Integer> vocab(JsonNode model, Path file) {
        JsonNode vocabNode = model.get("vocab");
        if (vocabNode == null || !vocabNode.isObject()) {
            throw new TokenizerException(file + ": model.vocab is missing or not an object {piece: id}");
        }
        Map<String, Integer> vocab = HashMap.newHashMap(vocabNode.size());
        for (Map.Entry<String, JsonNode> e : vocabNode.properties()) {
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                throw new TokenizerException(file + ": model.vocab['" + e.getKey() + "'] = " + e.getValue()
                        + " is not a non-negative int id");
            }
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        return vocab;
    }

    private static BpeModel bpe(JsonNode model, Map<String, Integer> vocab, Path file) {
        String type = model.has("type") ? model.get("type").asText() : model.has("merges") ? "BPE" : "?";
        if (!type.equals("BPE")) {
            throw unsupported(file, "model", type, "BPE");
        }
        double dropout = model.path("dropout").asDouble(0);
        if (dropout != 0) {
            throw new TokenizerException(file + ": BPE dropout " + dropout
                    + " is not supported (it makes encoding random); set it to null");
        }
        for (String field : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            if (model.hasNonNull(field) && !model.get(field).asText().isEmpty()) {
                throw new TokenizerException(file + ": BPE " + field + " '" + model.get(field).asText()
                        + "' is not supported (only null)");
            }
        }
        int unkId = -1;
        if (model.hasNonNull("unk_token")) {
            String unk = model.get("unk_token").asText();
            Integer id = vocab.get(unk);
            if (id == null) {
                throw new TokenizerException(file + ": BPE unk_token '" + unk + "' is not in model.vocab");
            }
            unkId = id;
        }
        return new BpeModel(vocab, merges(model.get("merges"), vocab, file), unkId,
                model.path("fuse_unk").asBoolean(false), model.path("byte_fallback").asBoolean(false),
                model.path("ignore_merges").asBoolean(false));
    }

    /** {@code merges} as {@code "a b"} strings or {@code ["a", "b"]} pairs; rank = line; a repeated pair keeps its last rank. */
    private static PairRanks merges(JsonNode node, Map<String, Integer> vocab, Path file) {
        if (node == null || !node.isArray()) {
            throw new TokenizerException(file + ": model.merges is missing or not a list");
        }
        PairRanks merges = new PairRanks(node.size());
        int rank = 0;
        for (JsonNode merge : node) {
            String left, right;
            if (merge.isTextual()) {
                String[] parts = merge.asText().split(" ", -1);
                if (parts.length != 2) {
                    throw new TokenizerException(file + ": merge " + rank + " '" + merge.asText()
                            + "' is not two tokens separated by one space");
                }
                left = parts[0];
                right = parts[1];
            } else if (merge.isArray() && merge.size() == 2 && merge.get(0).isTextual() && merge.get(1).isTextual()) {
                left = merge.get(0).asText();
                right = merge.get(1).asText();
            } else {
                throw new TokenizerException(file + ": merge " + rank + " is " + merge
                        + ", expected \"a b\" or [\"a\", \"b\"]");
            }
            Integer l = vocab.get(left), r = vocab.get(right), m = vocab.get(left + right);
            if (l == null || r == null || m == null) {
                String missing = l == null ? left : r == null ? right : left + right;
                throw new TokenizerException(file + ": merge " + rank + " (" + left + ", " + right + ") uses '" + missing
                        + "' which is not in model.vocab");
            }
            merges.put(PairRanks.pair(l, r), ((long) rank << 32) | m);
            rank++;
        }
        return merges;
    }

    private static List<AddedVocabulary.AddedToken> addedTokens(JsonNode node, Path file) {
        List<AddedVocabulary.AddedToken> tokens = new ArrayList<>();
        if (node == null || node.isNull()) {
            return tokens;
        }
        for (JsonNode t : node) {
            if (!t.path("id").canConvertToInt() || !t.path("content").isTextual()) {
                throw new TokenizerException(file + ": added_tokens entry " + abbreviate(t)
                        + " needs an int \"id\" and a string \"content\"");
            }
            tokens.add(new AddedVocabulary.AddedToken(t.get("id").asInt(), t.get("content").asText(),
                    t.path("single_word").asBoolean(false), t.path("lstrip").asBoolean(false),
                    t.path("rstrip").asBoolean(false), t.path("normalized").asBoolean(true),
                    t.path("special").asBoolean(false)));
        }
        return tokens;
    }

    private static PostProcessor postProcessor(JsonNode node, Map<String, Integer> ids, Path file) {
        if (node == null || node.isNull()) {
            return PostProcessor.NONE;
        }
        String type = type(node, "post_processor", file);
        if (!type.equals("TemplateProcessing")) {
            throw unsupported(file, "post_processor", type, "TemplateProcessing");
        }
        JsonNode specials = node.path("special_tokens");
        List<PostProcessor.Piece> pieces = new ArrayList<>();
        for (JsonNode item : node.path("single")) {
            if (item.has("Sequence")) {
                String seq = item.get("Sequence").path("id").asText();
                if (!seq.equals("A")) {
                    throw new TokenizerException(file + ": TemplateProcessing single template uses sequence $" + seq
                            + "; a single template can only contain $A");
                }
                pieces.add(new PostProcessor.Piece.SequenceA());
            } else if (item.has("SpecialToken")) {
                String name = item.get("SpecialToken").path("id").asText();
                JsonNode special = specials.get(name);
                if (special == null || !special.path("ids").isArray()) {
                    throw new TokenizerException(file + ": TemplateProcessing uses special token '" + name
                            + "' that is not in its special_tokens");
                }
                int[] specialIds = new int[special.get("ids").size()];
                for (int i = 0; i < specialIds.length; i++) {
                    specialIds[i] = special.get("ids").get(i).asInt();
                    if (!ids.containsValue(specialIds[i])) {
                        throw new TokenizerException(file + ": TemplateProcessing special token '" + name + "' has id "
                                + specialIds[i] + " which is not in the vocabulary");
                    }
                }
                pieces.add(new PostProcessor.Piece.Special(name, specialIds));
            } else {
                throw new TokenizerException(file + ": TemplateProcessing single item " + item
                        + " is neither a Sequence nor a SpecialToken");
            }
        }
        return new PostProcessor(pieces);
    }

    private static Decoder decoder(JsonNode node, Path file) {
        if (node == null || node.isNull()) {
            return new Decoder.None();
        }
        String type = type(node, "decoder", file);
        return switch (type) {
            case "Sequence" -> {
                List<Decoder> parts = new ArrayList<>();
                for (JsonNode child : node.path("decoders")) {
                    parts.add(decoder(child, file));
                }
                yield new Decoder.Sequence(parts);
            }
            case "Replace" -> new Decoder.Replace(pattern(node, "Replace decoder", file),
                    text(node, "content", "Replace decoder", file));
            case "ByteFallback" -> new Decoder.ByteFallback();
            case "Fuse" -> new Decoder.Fuse();
            case "Strip" -> {
                String content = text(node, "content", "Strip decoder", file);
                if (content.codePointCount(0, content.length()) != 1) {
                    throw new TokenizerException(file + ": Strip decoder content '" + content + "' must be one character");
                }
                yield new Decoder.Strip(content.codePointAt(0), node.path("start").asInt(0), node.path("stop").asInt(0));
            }
            case "ByteLevel" -> new Decoder.ByteLevel();
            default -> throw unsupported(file, "decoder", type, "Sequence, Replace, ByteFallback, Fuse, Strip, ByteLevel");
        };
    }

    private static String text(JsonNode node, String field, String component, Path file) {
        JsonNode value = node.get(field);
        if (value == null || !value.isTextual()) {
            throw new TokenizerException(file + ": " + component + " needs a string \"" + field + "\": " + abbreviate(node));
        }
        return value.asText();
    }

    /** A {@code {"String": s}} (literal) or {@code {"Regex": r}} pattern. */
    private static Pattern pattern(JsonNode node, String component, Path file) {
        JsonNode p = node.path("pattern");
        if (p.path("String").isTextual()) {
            return Pattern.compile(Pattern.quote(p.get("String").asText()));
        }
        if (p.path("Regex").isTextual()) {
            try {
                return Pattern.compile(p.get("Regex").asText());
            } catch (PatternSyntaxException e) {
                throw new TokenizerException(file + ": " + component + " regex '" + p.get("Regex").asText()
                        + "' is not valid in Java: " + e.getDescription(), e);
            }
        }
        throw new TokenizerException(file + ": " + component + " needs \"pattern\": {\"String\": ...} or {\"Regex\": ...}, got "
                + abbreviate(p));
    }

    private static String abbreviate(JsonNode node) {
        String s = node.toString();
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
