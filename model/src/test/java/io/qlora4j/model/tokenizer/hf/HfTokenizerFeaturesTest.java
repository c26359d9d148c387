package io.qlora4j.model.tokenizer.hf;

import io.qlora4j.model.tokenizer.Encoding;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.TokenizerException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code tokenizer.json} features the two real files do not use, on a tiny hand-written BPE: merges as pairs,
 * {@code ignore_merges}, unknown characters, added-token options, a BOS/EOS template, no decoder, and the errors for
 * unsupported components. Expected ids follow the Rust {@code tokenizers} semantics described in each test.
 */
class HfTokenizerFeaturesTest {
    private static final String VOCAB = """
            {"<unk>": 0, "a": 1, "b": 2, "c": 3, " ": 4, "ab": 5, "bc": 6, "abc": 7, "x": 8, "y": 9, "[MASK]": 10,
             "<s>": 11, "</s>": 12, ",": 13, "<0x7A>": 14}""";

    @TempDir
    Path dir;


    /** A tokenizer.json with the given parts (JSON text) around the test vocabulary. */
    private Tokenizer load(String model, String addedTokens, String normalizer, String postProcessor, String decoder)
            throws IOException {
        String json = """
                {"version": "1.0", "truncation": null, "padding": null,
                 "added_tokens": %s, "normalizer": %s, "pre_tokenizer": null, "post_processor": %s, "decoder": %s,
                 "model": %s}""".formatted(addedTokens, normalizer, postProcessor, decoder, model);
        Path file = Files.writeString(dir.resolve("tokenizer.json"), json);
        return HfTokenizerLoader.load(file);
    }

    private Tokenizer bpe(String modelOptions) throws IOException {
        return load(model(modelOptions), "[]", "null", "null", "null");
    }

    private static String model(String options) {
        return "{\"type\": \"BPE\", \"vocab\": " + VOCAB + (options.isEmpty() ? "" : ", " + options) + "}";
    }

    private static String added(int id, String content, String flags) {
        return "{\"id\": " + id + ", \"content\": \"" + content + "\", \"special\": true" + (flags.isEmpty() ? "" : ", " + flags) + "}";
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message\n  " + e.getMessage() + "\nshould contain\n  " + part);
        }
    }

    @Test
    void mergesAsStringsOrPairsAreTheSame() throws IOException {
        assertArrayEquals(new int[] {7}, bpe("\"merges\": [\"a b\", \"ab c\"]").encode("abc", false));
        assertArrayEquals(new int[] {7}, bpe("\"merges\": [[\"a\", \"b\"], [\"ab\", \"c\"]]").encode("abc", false));
        // rank decides: "b c" (rank 0) before "a b" (rank 1) gives a + bc, and there is no "a bc" merge
        assertArrayEquals(new int[] {1, 6}, bpe("\"merges\": [\"b c\", \"a b\"]").encode("abc", false));
    }

    /** ignore_merges: a word that is itself in the vocabulary is one token even when the merges would not make it. */
    @Test
    void ignoreMerges() throws IOException {
        assertArrayEquals(new int[] {1, 6}, bpe("\"merges\": [\"b c\"]").encode("abc", false));
        assertArrayEquals(new int[] {7}, bpe("\"merges\": [\"b c\"], \"ignore_merges\": true").encode("abc", false));
    }

    /** Unknown characters: unk per character, one fused unk per run with fuse_unk, dropped without unk_token. */
    @Test
    void unknownCharacters() throws IOException {
        assertArrayEquals(new int[] {1, 0, 0, 2}, bpe("\"merges\": [], \"unk_token\": \"<unk>\"").encode("aqqb", false));
        Encoding fused = bpe("\"merges\": [], \"unk_token\": \"<unk>\", \"fuse_unk\": true").encodeWithOffsets("aqqb", false);
        assertArrayEquals(new int[] {1, 0, 2}, fused.ids());
        assertArrayEquals(new int[] {0, 1, 3}, fused.starts());
        assertArrayEquals(new int[] {1, 3, 4}, fused.ends());
        assertArrayEquals(new int[] {1, 2}, bpe("\"merges\": []").encode("aqqb", false));
    }

    /** byte_fallback: 'z' has its byte token <0x7A>; 'é' (C3 A9) has none, so it falls to unk. */
    @Test
    void byteFallbackThenUnknown() throws IOException {
        Tokenizer t = bpe("\"merges\": [], \"unk_token\": \"<unk>\", \"byte_fallback\": true");
        assertArrayEquals(new int[] {1, 14, 0}, t.encode("azé", false));
    }

    /** lstrip/rstrip: the added token swallows the spaces around it (its span includes them). */
    @Test
    void addedTokenStripsWhitespace() throws IOException {
        Tokenizer plain = load(model("\"merges\": []"), "[" + added(10, "[MASK]", "") + "]", "null", "null", "null");
        assertArrayEquals(new int[] {1, 4, 10, 4, 2}, plain.encode("a [MASK] b", false));
        Tokenizer strip = load(model("\"merges\": []"), "[" + added(10, "[MASK]", "\"lstrip\": true, \"rstrip\": true") + "]",
                "null", "null", "null");
        Encoding e = strip.encodeWithOffsets("a [MASK] b", false);
        assertArrayEquals(new int[] {1, 10, 2}, e.ids());
        assertEquals(1, e.starts()[1]);
        assertEquals(9, e.ends()[1]);
    }

    /** single_word: "ab" as an added token matches only between non-word characters; inside "abc" BPE sees it. */
    @Test
    void addedTokenSingleWord() throws IOException {
        String merges = "\"merges\": []";
        Tokenizer anywhere = load(model(merges), "[" + added(5, "ab", "") + "]", "null", "null", "null");
        assertArrayEquals(new int[] {5, 4, 5, 3}, anywhere.encode("ab abc", false));
        Tokenizer single = load(model(merges), "[" + added(5, "ab", "\"single_word\": true") + "]", "null", "null", "null");
        assertArrayEquals(new int[] {5, 4, 1, 2, 3}, single.encode("ab abc", false));
    }

    /** normalized: the token "yy" is matched after the Replace("x" → "y") normalizer, so raw "xx" finds it. */
    @Test
    void normalizedAddedTokenMatchesNormalizedText() throws IOException {
        String normalizer = "{\"type\": \"Replace\", \"pattern\": {\"String\": \"x\"}, \"content\": \"y\"}";
        String vocab = model("\"merges\": []").replace("\"[MASK]\": 10", "\"[MASK]\": 10, \"yy\": 15");
        Tokenizer normalized = load(vocab, "[" + added(15, "yy", "\"normalized\": true") + "]", normalizer, "null", "null");
        Encoding e = normalized.encodeWithOffsets("axx", false);
        assertArrayEquals(new int[] {1, 15}, e.ids());
        assertEquals(1, e.starts()[1]);
        assertEquals(3, e.ends()[1]);
        Tokenizer raw = load(vocab, "[" + added(15, "yy", "\"normalized\": false") + "]", normalizer, "null", "null");
        assertArrayEquals(new int[] {1, 9, 9}, raw.encode("axx", false));
        assertArrayEquals(new int[] {1, 15}, raw.encode("ayy", false));
    }

    /** TemplateProcessing with BOS and EOS: added only with special tokens, with empty spans at the ends. */
    @Test
    void templateProcessingAddsBosAndEos() throws IOException {
        String post = """
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                            {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                 "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [11], "tokens": ["<s>"]},
                                                "</s>": {"id": "</s>", "ids": [12], "tokens": ["</s>"]}}}""";
        Tokenizer t = load(model("\"merges\": [\"a b\"]"), "[]", "null", post, "null");
        Encoding e = t.encodeWithOffsets("abc", true);
        assertArrayEquals(new int[] {11, 5, 3, 12}, e.ids());
        assertArrayEquals(new int[] {0, 0, 2, 3}, e.starts());
        assertArrayEquals(new int[] {0, 2, 3, 3}, e.ends());
        assertArrayEquals(new int[] {5, 3}, t.encode("abc", false));
    }

    /** Without a decoder the reference joins token strings with spaces; transformers' cleanup then fixes " ,". */
    @Test
    void noDecoderAndCleanUp() throws IOException {
        Tokenizer t = bpe("\"merges\": []");
        assertEquals("a , b", t.decode(new int[] {1, 13, 2}, false));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"clean_up_tokenization_spaces\": true}");
        assertEquals("a, b", bpe("\"merges\": []").decode(new int[] {1, 13, 2}, false));
        assertEquals("Hello, world! I'm sure it's done. Isn't it?",
                HfTokenizer.cleanUpTokenization("Hello , world ! I 'm sure it 's done . Is n't it ?"));
    }

    /** A chat template this package cannot compile does not stop text tokenization; asking for it reports why. */
    @Test
    void unsupportedChatTemplateFailsOnlyWhenUsed() throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"chat_template\": \"{% macro turn(m) %}{{ m }}{% endmacro %}\", \"eos_token\": \"</s>\"}");
        Tokenizer t = bpe("\"merges\": [\"a b\"]");
        assertArrayEquals(new int[] {5}, t.encode("ab", false));
        assertMessage(assertThrows(TokenizerException.class, t::chatTemplate), "chat template",
                "tokenizer_config.json line 1", "'{% macro %}' statement is not supported");
    }

    @Test
    void decodeOfUnknownIdNamesItAndTheSize() throws IOException {
        TokenizerException e = assertThrows(TokenizerException.class, () -> bpe("\"merges\": []").decode(new int[] {99}, false));
        assertMessage(e, "token id 99", "size 15");
    }

    @Test
    void unsupportedComponentsAreNamed() {
        assertMessage(assertThrows(TokenizerException.class, () -> load(model("\"merges\": []"), "[]",
                "{\"type\": \"NFKC\"}", "null", "null")), "normalizer type 'NFKC' is not supported", "tokenizer.json");
        assertMessage(assertThrows(TokenizerException.class, () -> load(
                "{\"type\": \"WordPiece\", \"vocab\": " + VOCAB + "}", "[]", "null", "null", "null")),
                "model type 'WordPiece' is not supported");
        assertMessage(assertThrows(TokenizerException.class, () -> load(model("\"merges\": []"), "[]", "null",
                "{\"type\": \"RobertaProcessing\"}", "null")), "post_processor type 'RobertaProcessing' is not supported");
        assertMessage(assertThrows(TokenizerException.class, () -> load(model("\"merges\": []"), "[]", "null", "null",
                "{\"type\": \"Metaspace\", \"replacement\": \"▁\"}")), "decoder type 'Metaspace' is not supported");
        assertMessage(assertThrows(TokenizerException.class, () -> bpe("\"merges\": [], \"dropout\": 0.1")),
                "dropout 0.1 is not supported");
        assertMessage(assertThrows(TokenizerException.class, () -> bpe("\"merges\": [], \"continuing_subword_prefix\": \"##\"")),
                "continuing_subword_prefix '##' is not supported");
        assertMessage(assertThrows(TokenizerException.class, () -> bpe("\"merges\": [\"a q\"]")),
                "merge 0 (a, q) uses 'q' which is not in model.vocab");
        assertMessage(assertThrows(TokenizerException.class, () -> bpe("\"merges\": [\"a b c\"]")),
                "merge 0 'a b c' is not two tokens");
    }

    @Test
    void unsupportedPreTokenizerIsNamed() throws IOException {
        String json = """
                {"added_tokens": [], "normalizer": null, "pre_tokenizer": {"type": "Metaspace", "replacement": "▁"},
                 "post_processor": null, "decoder": null, "model": %s}""".formatted(model("\"merges\": []"));
        Path file = Files.writeString(dir.resolve("tokenizer.json"), json);
        assertMessage(assertThrows(TokenizerException.class, () -> HfTokenizerLoader.load(file)),
                "pre_tokenizer type 'Metaspace' is not supported (supported: Sequence, Digits, ByteLevel)", file.toString());
    }
}
