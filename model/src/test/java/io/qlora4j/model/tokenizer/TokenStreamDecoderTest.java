package io.qlora4j.model.tokenizer;

import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Streaming decode: the pieces printed token by token add up to the full decode, and never split a character. */
class TokenStreamDecoderTest {
    private static List<String> stream(Tokenizer t, int[] ids, boolean skipSpecial) {
        TokenStreamDecoder decoder = t.streamDecoder(skipSpecial);
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            pieces.add(decoder.next(id));
        }
        pieces.add(decoder.finish());
        return pieces;
    }

    /** Every golden text, with and without skipping special tokens, for all four real tokenizers. */
    @ParameterizedTest
    @ValueSource(strings = {"tokenizers/tinyllama-1.1b-chat-v1.0", "tokenizers/smollm2-135m-instruct",
            "tokenizers/llama2-32k", "models/stories260K"})
    void streamedPiecesConcatenateToTheFullDecode(String folder) {
        Tokenizer t = Tokenizers.load(SharedData.require(folder));
        for (GoldenFiles.TextCase c : GoldenFiles.textCases()) {
            int[] ids = t.encode(c.text(), true);
            for (boolean skip : new boolean[] {false, true}) {
                List<String> pieces = stream(t, ids, skip);
                assertEquals(t.decode(ids, skip), String.join("", pieces), c + " skip=" + skip);
                for (String piece : pieces) {
                    assertEquals(-1, piece.indexOf('\uFFFD'), () -> c + ": a piece holds a broken character: " + pieces);
                }
            }
        }
    }

    /**
     * TinyLlama "🦙": BOS, "▁" and the four byte tokens F0 9F A6 99. Nothing is printed until the fourth byte
     * completes the character; the "▁" after BOS is the space the Strip decoder removes.
     */
    @Test
    void byteFallbackCharacterIsPrintedWhenComplete() {
        Tokenizer t = Tokenizers.load(SharedData.require("tokenizers/tinyllama-1.1b-chat-v1.0"));
        int[] ids = t.encode("🦙", true);
        assertEquals(List.of("<s>", "▁", "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"),
                java.util.Arrays.stream(ids).mapToObj(t::tokenString).toList());
        assertEquals(List.of("", "", "", "", "", "🦙", ""), stream(t, ids, true));
    }

    /** SmolLM2 byte-level: "é" is one token ("Ã©"); "🦙" splits into "ðŁ", "¦", "Ļ" (4 bytes over 3 tokens). */
    @Test
    void byteLevelCharacterIsPrintedWhenComplete() {
        Tokenizer t = Tokenizers.load(SharedData.require("tokenizers/smollm2-135m-instruct"));
        int[] ids = t.encode("a🦙", false);
        assertEquals(4, ids.length, () -> java.util.Arrays.stream(ids).mapToObj(t::tokenString).toList().toString());
        assertEquals(List.of("a", "", "", "🦙", ""), stream(t, ids, false));
    }

    /** llama2.c: the first piece after BOS loses its leading space, later pieces keep theirs (run.c decode). */
    @Test
    void llama2cStripsTheSpaceAfterBos() {
        Tokenizer t = Tokenizers.load(SharedData.require("tokenizers/llama2-32k"));
        int[] ids = {1, 9038, 2501, 263, 931}; // "Once upon a time"
        assertEquals(List.of("", "Once", " upon", " a", " time", ""), stream(t, ids, true));
        assertEquals(List.of("\n<s>\n", "Once", " upon", " a", " time", ""), stream(t, ids, false));
    }
}
