package io.qlora4j.model.tokenizer.hf;

/**
 * GPT-2's reversible map between bytes and printable characters ({@code bytes_to_unicode} in OpenAI's
 * {@code encoder.py}, {@code BYTES_CHAR} in HF {@code tokenizers} {@code pre_tokenizers/byte_level.rs}): the
 * printable Latin-1 bytes {@code '!'..'~'}, {@code '¡'..'¬'}, {@code '®'..'ÿ'} map to themselves, the other 68 bytes
 * to U+0100, U+0101, ... in byte order (so space is {@code 'Ġ'} U+0120 and newline {@code 'Ċ'} U+010A).
 */
final class ByteLevelAlphabet {
    private static final char[] BYTE_TO_CHAR = new char[256]; // (256) the character of each byte
    private static final int[] CHAR_TO_BYTE = new int[0x200]; // every mapped char is below U+0200; -1 = unmapped

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int next = 0x100;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) next++;
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevelAlphabet() {
    }

    static char charOf(byte b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte {@code c} stands for, or -1 if {@code c} is not a byte-level character. */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }
}
