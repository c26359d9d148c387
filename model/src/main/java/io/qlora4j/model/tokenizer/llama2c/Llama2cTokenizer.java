package io.qlora4j.model.tokenizer.llama2c;

import io.qlora4j.model.tokenizer.ChatTemplate;
import io.qlora4j.model.tokenizer.Encoding;
import io.qlora4j.model.tokenizer.PairMerger;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.TokenizerException;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The tokenizer of llama2.c ({@code run.c encode} and {@code decode}), over a {@link Llama2cVocab}.
 *
 * <p>Encode: optional BOS; a dummy-prefix {@code " "} piece when the text is not empty; each code point looked up
 * as a piece, or else its UTF-8 bytes as byte tokens (id = byte + 3); then, repeatedly, the adjacent pair whose
 * concatenation is the piece with the highest score (above -1e10; the leftmost pair on ties) is merged, until no
 * pair is a piece. The BOS takes part in the pair scan as in {@code run.c}. The merge loop is
 * {@link PairMerger#mergeAll} with ranks = descending order of distinct scores, which gives the same result as
 * {@code run.c}'s O(n²) rescan ({@link PairMerger#mergeAllNaive}, checked against it by tests).
 *
 * <p>Decode: each piece, without its leading space when it follows BOS, with {@code <0xXX>} pieces as raw bytes;
 * the bytes are then read as UTF-8 (invalid sequences become U+FFFD, where {@code run.c} would print the bytes).
 *
 * <p>Differences from {@code run.c}, none of which changes the ids of text it can encode: a NUL character is
 * encoded (as byte token {@code <0x00>}) where C would stop at it; the pieces are kept as Java strings, so the
 * vocabulary must be UTF-8 with unique pieces (checked at load).
 */
public final class Llama2cTokenizer implements Tokenizer {
    /** {@code run.c}: {@code best_score} starts at -1e10f and a pair merges only if its piece scores higher. */
    private static final float MIN_MERGE_SCORE = -1e10f;
    /** {@code run.c}: byte b falls back to id b + 3, after {@code <unk>}, BOS and EOS. */
    private static final int BYTE_TOKEN_OFFSET = 3;

    private final Llama2cVocab vocab;
    private final Map<String, Integer> ids;  // piece text -> id
    private final int[] mergeRank;           // (vocabSize) rank of the piece as a merge result, -1 if it never is one
    private final int[] byteValue;           // (vocabSize) the byte of a <0xXX> piece, -1 for other pieces
    private final byte[][] pieceBytes;       // (vocabSize) UTF-8 bytes of each piece
    private final int dummyPrefixId;
    private final PairMerger.MergeTable mergeTable = this::mergeOf;

    public Llama2cTokenizer(Llama2cVocab vocab) {
        this.vocab = vocab;
        int n = vocab.size();
        String[] pieces = vocab.pieces();
        this.ids = HashMap.newHashMap(n);
        this.byteValue = new int[n];
        this.pieceBytes = new byte[n][];
        for (int id = 0; id < n; id++) {
            Integer previous = ids.putIfAbsent(pieces[id], id);
            if (previous != null) {
                throw new TokenizerException("llama2.c tokenizer " + vocab.source() + ": piece '" + escape(pieces[id])
                        + "' appears at ids " + previous + " and " + id + "; run.c's str_lookup would be ambiguous");
            }
            byteValue[id] = parseBytePiece(pieces[id]);
            pieceBytes[id] = pieces[id].getBytes(StandardCharsets.UTF_8);
        }
        for (int b = 0; b < 256; b++) {
            int id = b + BYTE_TOKEN_OFFSET;
            if (id >= n || byteValue[id] != b) {
                throw new TokenizerException("llama2.c tokenizer " + vocab.source() + ": id " + id + " should be the byte"
                        + " token <0x" + String.format("%02X", b) + "> (run.c falls back to id = byte + 3) but is '"
                        + (id < n ? escape(pieces[id]) : "absent") + "'");
            }
        }
        Integer space = ids.get(" ");
        if (space == null) {
            throw new TokenizerException("llama2.c tokenizer " + vocab.source()
                    + " has no \" \" piece for the dummy prefix that run.c's encode adds");
        }
        this.dummyPrefixId = space;
        this.mergeRank = denseRanksByDescendingScore(vocab.scores());
    }

    /** Rank 0 for the highest score, equal scores share a rank; pieces scoring at most -1e10 (or NaN) get -1. */
    private static int[] denseRanksByDescendingScore(float[] scores) {
        double[] distinct = new double[scores.length];
        int count = 0;
        for (float s : scores) {
            if (s > MIN_MERGE_SCORE) {
                distinct[count++] = s + 0.0; // -0.0 and 0.0 compare equal in C: one rank
            }
        }
        distinct = Arrays.stream(distinct, 0, count).distinct().sorted().toArray();
        int[] rank = new int[scores.length];
        for (int id = 0; id < scores.length; id++) {
            rank[id] = scores[id] > MIN_MERGE_SCORE
                    ? distinct.length - 1 - Arrays.binarySearch(distinct, scores[id] + 0.0) : -1;
        }
        return rank;
    }

    private static int parseBytePiece(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.charAt(5) == '>') {
            int hi = Character.digit(piece.charAt(3), 16);
            int lo = Character.digit(piece.charAt(4), 16);
            if (hi >= 0 && lo >= 0) {
                return hi * 16 + lo;
            }
        }
        return -1;
    }

    private long mergeOf(int left, int right) {
        Integer merged = ids.get(vocab.pieces()[left] + vocab.pieces()[right]);
        if (merged == null || mergeRank[merged] < 0) {
            return -1;
        }
        return ((long) mergeRank[merged] << 32) | merged;
    }

    /** The merge table of this vocabulary, for tests that run the reference merge loop. */
    PairMerger.MergeTable mergeTable() {
        return mergeTable;
    }

    @Override
    public Encoding encodeWithOffsets(String text, boolean addSpecialTokens) {
        int capacity = 2 + 4 * text.length();
        int[] tokens = new int[capacity];
        int[] starts = new int[capacity];
        int[] ends = new int[capacity];
        int n = initialSymbols(text, addSpecialTokens, tokens, starts, ends);
        n = PairMerger.mergeAll(tokens, starts, ends, n, mergeTable);
        return new Encoding(Arrays.copyOf(tokens, n), Arrays.copyOf(starts, n), Arrays.copyOf(ends, n));
    }

    /**
     * {@code run.c} before its merge loop: BOS, dummy prefix, one piece per code point or its bytes. Fills the
     * arrays and returns the symbol count. The dummy prefix and BOS come from no character: empty span at 0.
     */
    int initialSymbols(String text, boolean bos, int[] tokens, int[] starts, int[] ends) {
        int n = 0;
        if (bos) {
            tokens[n++] = vocab.bosId();
        }
        if (!text.isEmpty()) {
            tokens[n++] = dummyPrefixId;
        }
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int len = Character.charCount(cp);
            if (Character.isSurrogate((char) cp)) {
                throw new TokenizerException("cannot encode text with an unpaired surrogate U+"
                        + Integer.toHexString(cp).toUpperCase() + " at index " + i + ": it has no UTF-8 form");
            }
            String piece = text.substring(i, i + len);
            Integer id = ids.get(piece);
            if (id != null) {
                starts[n] = i;
                ends[n] = i + len;
                tokens[n++] = id;
            } else {
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                    starts[n] = i;
                    ends[n] = i + len;
                    tokens[n++] = (b & 0xFF) + BYTE_TOKEN_OFFSET;
                }
            }
            i += len;
        }
        return n;
    }

    @Override
    public String decode(int[] tokenIds, boolean skipSpecialTokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(tokenIds.length * 4);
        int prev = -1;
        for (int id : tokenIds) {
            checkId(id);
            if (!(skipSpecialTokens && vocab.special()[id])) {
                if (byteValue[id] >= 0) {
                    out.write(byteValue[id]);
                } else {
                    byte[] piece = pieceBytes[id];
                    int skip = prev == vocab.bosId() && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
                    out.write(piece, skip, piece.length - skip);
                }
            }
            prev = id;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private void checkId(int id) {
        if (id < 0 || id >= vocab.size()) {
            throw new TokenizerException("token id " + id + " is outside the vocabulary of " + vocab.source()
                    + " (size " + vocab.size() + ")");
        }
    }

    @Override
    public int vocabSize() {
        return vocab.size();
    }

    @Override
    public int bosId() {
        return vocab.bosId();
    }

    @Override
    public int eosId() {
        return vocab.eosId();
    }

    @Override
    public OptionalInt padId() {
        return OptionalInt.empty();
    }

    @Override
    public String tokenString(int id) {
        checkId(id);
        return vocab.pieces()[id];
    }

    @Override
    public OptionalInt tokenId(String piece) {
        Integer id = ids.get(piece);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public boolean isSpecial(int id) {
        checkId(id);
        return vocab.special()[id];
    }

    @Override
    public Optional<ChatTemplate> chatTemplate() {
        return Optional.empty();
    }

    private static String escape(String s) {
        return s.replace("\n", "\\n");
    }

    @Override
    public String toString() {
        return "Llama2cTokenizer[" + vocab.source() + ", " + vocab.size() + " tokens]";
    }
}
