package io.qlora4j.model.tokenizer.llama2c;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.model.tokenizer.Encoding;
import io.qlora4j.model.tokenizer.PairMerger;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.TokenizerException;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama2.c {@code run.c} encode/decode on the real tok512 and Llama 2 vocabularies. */
class Llama2cTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();


    private static Llama2cTokenizer tok512() {
        return new Llama2cTokenizer(Llama2cVocab.readBin(SharedData.require("models/stories260K/tok512.bin")));
    }

    private static Llama2cTokenizer llama2() {
        return new Llama2cTokenizer(Llama2cVocab.readBin(SharedData.require("tokenizers/llama2-32k/tokenizer.bin")));
    }

    /** {@code reference_vectors.json}: encodings with BOS from an independent re-implementation of run.c. */
    @Test
    void referenceVectorsOfStories260K() throws IOException {
        JsonNode ref = JSON.readTree(SharedData.require("models/stories260K/reference_vectors.json").toFile());
        Tokenizer t = tok512();
        int checked = 0;
        for (Map.Entry<String, JsonNode> e : ref.get("encode_with_bos").properties()) {
            int[] expected = ints(e.getValue());
            assertArrayEquals(expected, t.encode(e.getKey(), true), () -> "encode(\"" + e.getKey() + "\", bos)\n expected "
                    + Arrays.toString(expected) + "\n actual   " + Arrays.toString(t.encode(e.getKey(), true)));
            checked++;
        }
        assertEquals(5, checked);
        JsonNode greedy = ref.get("greedy_from_bos");
        assertEquals(greedy.get("text").asText(), t.decode(ints(greedy.get("ids")), true));
    }

    /**
     * {@code stories260K_greedy.json}: sequences run.c produced (BOS + prompt + generated tokens) and the text it
     * printed. The prompt encodes to the head of the sequence, and decoding the sequence without special tokens (run.c
     * never prints the BOS it starts from) gives the text.
     */
    @Test
    void greedyRunsOfRunC() throws IOException {
        JsonNode golden = JSON.readTree(SharedData.require("golden/stories260K_greedy.json").toFile());
        Tokenizer t = tok512();
        for (JsonNode c : golden.get("cases")) {
            int[] tokens = ints(c.get("tokens"));
            int[] prompt = t.encode(c.get("prompt").asText(), true);
            assertArrayEquals(Arrays.copyOf(tokens, prompt.length), prompt, "prompt " + c.get("prompt"));
            assertEquals(c.get("text").asText(), t.decode(tokens, true), "text of " + c.get("prompt"));
        }
    }

    @Test
    void llama2OnceUponATime() {
        assertArrayEquals(new int[] {1, 9038, 2501, 263, 931}, llama2().encode("Once upon a time", true));
        assertArrayEquals(new int[] {9038, 2501, 263, 931}, llama2().encode("Once upon a time", false));
    }

    @Test
    void emptyTextHasNoDummyPrefix() {
        assertArrayEquals(new int[] {1}, tok512().encode("", true));
        assertArrayEquals(new int[0], tok512().encode("", false));
    }

    /**
     * Byte fallback: '😀' is not a tok512 piece, so it becomes its 4 UTF-8 bytes F0 9F 98 80 as ids byte + 3; the
     * dummy prefix " " (id 410) stays alone because no piece starts with " " followed by byte 0xF0.
     */
    @Test
    void byteFallbackIsBytePlusThree() {
        Tokenizer t = tok512();
        assertArrayEquals(new int[] {410, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3}, t.encode("😀", false));
        assertEquals("😀", t.decode(t.encode("😀", true), true));
    }

    @Test
    void decodeStripsTheLeadingSpaceAfterBosOnly() {
        Tokenizer t = llama2();
        assertEquals("Once upon a time", t.decode(new int[] {1, 9038, 2501, 263, 931}, false).substring("\n<s>\n".length()));
        assertEquals("Once upon a time", t.decode(new int[] {1, 9038, 2501, 263, 931}, true));
        assertEquals(" Once upon a time", t.decode(new int[] {9038, 2501, 263, 931}, false));
    }

    @Test
    void offsetsCoverTheTextAndEmptyForBos() {
        Encoding e = llama2().encodeWithOffsets("Once upon a time", true);
        assertArrayEquals(new int[] {0, 0, 4, 9, 11}, e.starts());
        assertArrayEquals(new int[] {0, 4, 9, 11, 16}, e.ends());
    }

    /** The heap merge and run.c's O(n²) rescan give identical ids (and spans) on random text, for both vocabularies. */
    @ParameterizedTest
    @ValueSource(strings = {"models/stories260K/tok512.bin", "tokenizers/llama2-32k/tokenizer.bin"})
    void fastMergeEqualsNaiveMergeOnRandomText(String file) {
        Llama2cTokenizer t = new Llama2cTokenizer(Llama2cVocab.readBin(SharedData.require(file)));
        long seed = 20240611L;
        Random random = new Random(seed);
        String alphabet = "  aaabcdeeefghiilmnnoorsttuwy.,!?'\n\tTHOS0123456789éü漢字😀";
        for (int trial = 0; trial < 300; trial++) {
            int length = random.nextInt(trial < 290 ? 60 : 2000);
            StringBuilder sb = new StringBuilder();
            while (sb.length() < length) {
                sb.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0,
                        random.nextInt(alphabet.codePointCount(0, alphabet.length())))));
            }
            String text = sb.toString();
            int capacity = 2 + 4 * text.length();
            int[][] a = {new int[capacity], new int[capacity], new int[capacity]};
            int[][] b = {new int[capacity], new int[capacity], new int[capacity]};
            int n = t.initialSymbols(text, true, a[0], a[1], a[2]);
            t.initialSymbols(text, true, b[0], b[1], b[2]);
            int fast = PairMerger.mergeAll(a[0], a[1], a[2], n, t.mergeTable());
            int naive = PairMerger.mergeAllNaive(b[0], b[1], b[2], n, t.mergeTable());
            String what = "seed " + seed + " trial " + trial + " text " + text;
            assertArrayEquals(Arrays.copyOf(b[0], naive), Arrays.copyOf(a[0], fast), what);
            assertArrayEquals(Arrays.copyOf(b[1], naive), Arrays.copyOf(a[1], fast), what);
            assertArrayEquals(Arrays.copyOf(b[2], naive), Arrays.copyOf(a[2], fast), what);
            assertEquals(text, t.decode(t.encode(text, true), false).substring(t.tokenString(1).length()), what);
        }
    }

    /** Ties: two pairs whose merged pieces score the same merge leftmost first, as run.c's strict '>' does. */
    @Test
    void equalScoresMergeLeftmostFirst(@TempDir Path dir) throws IOException {
        List<String> pieces = new ArrayList<>(List.of("<unk>", "\n<s>\n", "\n</s>\n"));
        for (int b = 0; b < 256; b++) {
            pieces.add(String.format("<0x%02X>", b));
        }
        pieces.addAll(List.of(" ", "a", "b", "ab", "ba"));
        float[] scores = new float[pieces.size()];
        Path file = dir.resolve("tokenizer.bin");
        writeBin(file, pieces, scores); // all scores 0: "ab" and "ba" tie
        Tokenizer t = Tokenizers.load(file);
        int space = t.tokenId(" ").orElseThrow(), a = t.tokenId("a").orElseThrow(), ab = t.tokenId("ab").orElseThrow();
        // " aba": pairs (" ",a) (a,b) (b,a); "ab" at index 1 and "ba" at index 2 tie, leftmost "ab" wins -> " ", "ab", "a"
        assertArrayEquals(new int[] {space, ab, a}, t.encode("aba", false));
    }

    /** A piece scoring -1e10 or less never merges (run.c starts best_score at -1e10 and requires '>'). */
    @Test
    void piecesAtOrBelowMinusOneE10NeverMerge(@TempDir Path dir) throws IOException {
        List<String> pieces = new ArrayList<>(List.of("<unk>", "\n<s>\n", "\n</s>\n"));
        for (int b = 0; b < 256; b++) {
            pieces.add(String.format("<0x%02X>", b));
        }
        pieces.addAll(List.of(" ", "a", " a"));
        float[] scores = new float[pieces.size()];
        scores[pieces.size() - 1] = -1e10f;
        Path file = dir.resolve("tokenizer.bin");
        writeBin(file, pieces, scores);
        Tokenizer t = Tokenizers.load(file);
        assertArrayEquals(new int[] {t.tokenId(" ").orElseThrow(), t.tokenId("a").orElseThrow()}, t.encode("a", false));
    }

    /** The SentencePiece tokenizer.model, read by hand, gives llama2.c's tokenizer.bin exactly. */
    @Test
    void sentencePieceModelEqualsTokenizerBin() {
        Llama2cVocab bin = Llama2cVocab.readBin(SharedData.require("tokenizers/llama2-32k/tokenizer.bin"));
        Llama2cVocab model = SentencePieceModelReader.read(SharedData.require("tokenizers/llama2-32k/tokenizer.model"));
        assertArrayEquals(bin.pieces(), model.pieces());
        assertArrayEquals(bin.scores(), model.scores());
        assertEquals(bin.bosId(), model.bosId());
        assertEquals(bin.eosId(), model.eosId());
        assertArrayEquals(bin.special(), model.special(), "control and unknown pieces are 0, 1, 2");
        Tokenizer fromModel = Tokenizers.load(SharedData.require("tokenizers/llama2-32k/tokenizer.model"));
        Tokenizer fromBin = new Llama2cTokenizer(bin);
        for (String text : List.of("Once upon a time", "Hello, world! 🦙 naïve café\n\tx", "   ", "漢字 1234")) {
            assertArrayEquals(fromBin.encode(text, true), fromModel.encode(text, true), text);
        }
    }

    @Test
    void decodeOfAnIdOutsideTheVocabularyNamesItAndTheSize() {
        Tokenizer t = tok512();
        TokenizerException e = assertThrows(TokenizerException.class, () -> t.decode(new int[] {1, 512}, false));
        assertTrue(e.getMessage().contains("512") && e.getMessage().contains("size 512"), e.getMessage());
    }

    @Test
    void unpairedSurrogateIsRefused() {
        Tokenizer t = tok512();
        TokenizerException e = assertThrows(TokenizerException.class, () -> t.encode("ab\uD83Dc", true));
        assertTrue(e.getMessage().contains("index 2"), e.getMessage());
    }

    @Test
    void truncatedFileIsReported(@TempDir Path dir) throws IOException {
        byte[] whole = Files.readAllBytes(SharedData.require("models/stories260K/tok512.bin"));
        Path cut = dir.resolve("tok512.bin");
        Files.write(cut, Arrays.copyOf(whole, whole.length - 3));
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizers.load(cut));
        assertTrue(e.getMessage().contains(cut.toString()) && e.getMessage().contains("token 511"), e.getMessage());
    }

    @Test
    void missingByteTokensAreReported(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("tokenizer.bin");
        writeBin(file, List.of("<unk>", "\n<s>\n", "\n</s>\n", " ", "a"), new float[5]);
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizers.load(file));
        assertTrue(e.getMessage().contains("<0x00>"), e.getMessage());
    }

    static void writeBin(Path file, List<String> pieces, float[] scores) throws IOException {
        int size = 4;
        for (String p : pieces) {
            size += 8 + p.getBytes(StandardCharsets.UTF_8).length;
        }
        ByteBuffer buf = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(16);
        for (int i = 0; i < pieces.size(); i++) {
            byte[] bytes = pieces.get(i).getBytes(StandardCharsets.UTF_8);
            buf.putFloat(scores[i]).putInt(bytes.length).put(bytes);
        }
        Files.write(file, buf.array());
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
