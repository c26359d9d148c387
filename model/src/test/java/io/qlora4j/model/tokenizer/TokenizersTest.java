package io.qlora4j.model.tokenizer;

import io.qlora4j.model.tokenizer.hf.HfTokenizer;
import io.qlora4j.model.tokenizer.llama2c.Llama2cTokenizer;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Tokenizers#load}: what each kind of path loads, the special-token metadata, and the errors. */
class TokenizersTest {

    private static void assertMessage(Throwable e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message\n  " + e.getMessage() + "\nshould contain\n  " + part);
        }
    }

    @Test
    void loadsEachKindOfPath() {
        Path tinyllama = SharedData.require("tokenizers/tinyllama-1.1b-chat-v1.0");
        assertInstanceOf(HfTokenizer.class, Tokenizers.load(tinyllama));
        assertTrue(Tokenizers.load(tinyllama.resolve("tokenizer.json")).chatTemplate().isPresent(),
                "tokenizer_config.json beside a tokenizer.json is read");
        assertInstanceOf(Llama2cTokenizer.class, Tokenizers.load(tinyllama.resolve("tokenizer.model")));
        assertEquals(512, Tokenizers.load(SharedData.require("models/stories260K")).vocabSize(), "tok*.bin in a folder");
        assertEquals(32000, Tokenizers.load(SharedData.require("tokenizers/llama2-32k")).vocabSize());
    }

    @Test
    void specialTokenMetadata() {
        Tokenizer tinyllama = Tokenizers.load(SharedData.require("tokenizers/tinyllama-1.1b-chat-v1.0"));
        assertEquals(32000, tinyllama.vocabSize());
        assertEquals(1, tinyllama.bosId());
        assertEquals(2, tinyllama.eosId());
        assertEquals(OptionalInt.of(2), tinyllama.padId());
        assertTrue(tinyllama.isSpecial(0) && tinyllama.isSpecial(1) && tinyllama.isSpecial(2));
        assertFalse(tinyllama.isSpecial(3));
        assertEquals(OptionalInt.of(15043), tinyllama.tokenId("▁Hello"));
        assertEquals("<0x0A>", tinyllama.tokenString(13));

        Tokenizer smol = Tokenizers.load(SharedData.require("tokenizers/smollm2-135m-instruct"));
        assertEquals(49152, smol.vocabSize());
        assertEquals(1, smol.bosId());
        assertEquals(2, smol.eosId());
        assertTrue(smol.isSpecial(16));
        assertFalse(smol.isSpecial(17));

        Tokenizer tok512 = Tokenizers.load(SharedData.require("models/stories260K/tok512.bin"));
        assertEquals(1, tok512.bosId());
        assertEquals(2, tok512.eosId());
        assertEquals(OptionalInt.empty(), tok512.padId());
        assertTrue(tok512.chatTemplate().isEmpty());
    }

    /**
     * Offsets: TinyLlama's prepended "▁" is aligned with the first character and the "▁" standing for a space with
     * that space; SmolLM2's "Ġ" likewise; a token made of some bytes of a character gets the whole character's span;
     * BOS has an empty span.
     */
    @Test
    void offsetsOfRealTokenizers() {
        Encoding e = Tokenizers.load(SharedData.require("tokenizers/tinyllama-1.1b-chat-v1.0")).encodeWithOffsets("Hello world", true);
        assertArrayEquals(new int[] {1, 15043, 3186}, e.ids());
        assertArrayEquals(new int[] {0, 0, 5}, e.starts());
        assertArrayEquals(new int[] {0, 5, 11}, e.ends());
        Encoding s = Tokenizers.load(SharedData.require("tokenizers/smollm2-135m-instruct")).encodeWithOffsets("Hi 🦙", false);
        // "Hi", "ĠðŁ" (the space and the llama's first two bytes), "¦", "Ļ" (its last two bytes, each with its span)
        assertArrayEquals(new int[] {0, 2, 3, 3}, s.starts());
        assertArrayEquals(new int[] {2, 5, 5, 5}, s.ends());
    }

    /** llama2.c's score-greedy merges and HF's rank merges agree on the Llama 2 vocabulary, except on special-token text. */
    @Test
    void llama2cAndTinyLlamaAgreeOnTextWithoutSpecialTokens() {
        Tokenizer llama2c = Tokenizers.load(SharedData.require("tokenizers/llama2-32k"));
        Tokenizer hf = Tokenizers.load(SharedData.require("tokenizers/tinyllama-1.1b-chat-v1.0"));
        var crosscheck = GoldenFiles.read(SharedData.require(
                "golden/tokenizers/tinyllama-1.1b-chat-v1.0.sentencepiece-crosscheck.json"));
        var specialText = new java.util.HashSet<String>();
        crosscheck.get("summary").get("encode_differs").forEach(n -> specialText.add(n.asText()));
        int agreed = 0;
        for (GoldenFiles.TextCase c : GoldenFiles.textCases()) {
            if (c.tokenizer().startsWith("tinyllama") && !specialText.contains(c.name())) {
                assertArrayEquals(c.idsWithSpecial(), llama2c.encode(c.text(), true), c.toString());
                agreed++;
            }
        }
        assertEquals(38, agreed);
    }

    @Test
    void missingPath(@TempDir Path dir) {
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizers.load(dir.resolve("nope"))), "nope",
                "does not exist");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizers.load(dir)), "no tokenizer in folder",
                "tokenizer.json, tokenizer.bin, tok*.bin or tokenizer.model");
    }

    @Test
    void ambiguousOrUnknownFiles(@TempDir Path dir) throws IOException {
        Files.write(dir.resolve("tok512.bin"), new byte[8]);
        Files.write(dir.resolve("tok4096.bin"), new byte[8]);
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizers.load(dir)), "several tok*.bin",
                "tok4096.bin", "tok512.bin");
        Path txt = Files.writeString(dir.resolve("vocab.txt"), "a");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizers.load(txt)), "vocab.txt",
                "cannot tell the tokenizer format");
        Path notBin = Files.write(dir.resolve("model.bin"), new byte[] {0, 0, 0, (byte) 0x80, 1, 2});
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizers.load(notBin)), "model.bin",
                "max_token_length");
    }

    @Test
    void malformedJsonNamesFileAndLine(@TempDir Path dir) throws IOException {
        Path json = Files.writeString(dir.resolve("tokenizer.json"), "{\n  \"model\": {\n    \"type\": \"BPE\",,\n}");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizers.load(json)), json.toString(),
                "not valid JSON (line 3");
        Path noModel = Files.writeString(dir.resolve("other.json"), "{\"version\": \"1.0\"}");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizers.load(noModel)), "no \"model\"");
    }
}
