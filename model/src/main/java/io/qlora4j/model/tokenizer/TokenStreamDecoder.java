package io.qlora4j.model.tokenizer;

import java.util.Arrays;

/**
 * Decodes a growing token sequence one token at a time, returning only the text that is new: the way to print
 * tokens as they are generated.
 *
 * <p>Decoding token by token is wrong in two ways that this class avoids: a character split over several byte
 * tokens ({@code <0xF0> <0x9F> <0xA6> <0x99>}, or byte-level pieces) would print as replacement characters, and
 * context rules of the decoder (llama2.c drops the leading space of the piece after BOS; Hugging Face's
 * {@code Strip} decoder drops the first space of the text) would be applied to every token. So each step
 * decodes a short window that starts at the last token already printed, twice, without and with the new tokens,
 * and returns the difference. While the newest text ends in U+FFFD (an unfinished UTF-8 sequence) nothing is
 * returned and the tokens wait; {@link #finish()} flushes what is left. This is the incremental detokenization of
 * Hugging Face text-generation-inference ({@code decode_token}), on top of {@link Tokenizer#decode}, so it is
 * exactly as correct as the tokenizer's own decode and costs a few tokens' decode per step.
 *
 * <p>Not thread-safe: one instance per generated sequence.
 */
public final class TokenStreamDecoder {
    private static final char REPLACEMENT = '\uFFFD';

    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private int[] ids = new int[16]; // (size) every token given so far
    private int size;
    private int prefixOffset; // start of the window: the first token of the text printed last
    private int readOffset;   // tokens before this index have been printed

    public TokenStreamDecoder(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /** Adds the next token; returns the text it completes (empty while it waits for more bytes). */
    public String next(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
        String printed = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset), skipSpecialTokens);
        String extended = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size), skipSpecialTokens);
        if (extended.length() > printed.length() && extended.charAt(extended.length() - 1) != REPLACEMENT) {
            prefixOffset = readOffset;
            readOffset = size;
            return extended.substring(printed.length());
        }
        return "";
    }

    /** The text of tokens still held back (an unfinished UTF-8 sequence decodes to U+FFFD here); empty if none. */
    public String finish() {
        String printed = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset), skipSpecialTokens);
        String extended = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size), skipSpecialTokens);
        prefixOffset = readOffset;
        readOffset = size;
        return extended.length() > printed.length() ? extended.substring(printed.length()) : "";
    }
}
