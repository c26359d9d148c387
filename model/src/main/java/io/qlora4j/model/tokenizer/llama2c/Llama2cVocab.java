package io.qlora4j.model.tokenizer.llama2c;

import io.qlora4j.model.tokenizer.TokenizerException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The vocabulary of a llama2.c tokenizer: one piece (UTF-8 text, spaces as {@code ' '} not {@code '▁'}) and one
 * score per id, plus the special ids. Read from llama2.c's {@code tokenizer.bin} (layout of {@code run.c
 * build_tokenizer}: int32 max_token_length, then per token f32 score, int32 byte length, bytes; little-endian) or
 * built from a SentencePiece model by {@link SentencePieceModelReader}.
 *
 * @param pieces         piece text of each id (vocabSize)
 * @param scores         merge score of each id (vocabSize): higher merges first
 * @param maxTokenLength the longest piece in bytes, as the file declares it
 * @param bosId          beginning-of-sequence id (llama2.c hard-codes 1)
 * @param eosId          end-of-sequence id (llama2.c hard-codes 2)
 * @param special        whether each id is a special (control or unknown) token (vocabSize)
 * @param source         the file it was read from, for error messages
 */
public record Llama2cVocab(String[] pieces, float[] scores, int maxTokenLength, int bosId, int eosId,
                           boolean[] special, Path source) {
    /** llama2.c's fixed special ids: {@code <unk>}, BOS, EOS. */
    static final int UNK_ID = 0;
    static final int LLAMA2C_BOS = 1;
    static final int LLAMA2C_EOS = 2;

    public Llama2cVocab {
        if (scores.length != pieces.length || special.length != pieces.length) {
            throw new IllegalArgumentException("pieces, scores and special flags differ in length");
        }
    }

    public int size() {
        return pieces.length;
    }

    /** Writes this vocabulary as a llama2.c {@code tokenizer.bin} (the layout {@link #readBin} reads). */
    public void writeBin(Path file) {
        byte[][] utf8 = new byte[pieces.length][];
        int size = 4;
        int longest = 0;
        for (int i = 0; i < pieces.length; i++) {
            utf8[i] = pieces[i].getBytes(StandardCharsets.UTF_8);
            size += 8 + utf8[i].length;
            longest = Math.max(longest, utf8[i].length);
        }
        ByteBuffer buf = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(Math.max(longest, maxTokenLength));
        for (int i = 0; i < pieces.length; i++) {
            buf.putFloat(scores[i]).putInt(utf8[i].length).put(utf8[i]);
        }
        try {
            Files.write(file, buf.array());
        } catch (IOException e) {
            throw new TokenizerException("cannot write llama2.c tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads a llama2.c {@code tokenizer.bin}; every piece must be valid UTF-8. */
    public static Llama2cVocab readBin(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TokenizerException("llama2.c tokenizer file " + file + " does not exist");
        } catch (IOException e) {
            throw new TokenizerException("cannot read llama2.c tokenizer file " + file + ": " + e.getMessage(), e);
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.remaining() < 4) {
            throw new TokenizerException("llama2.c tokenizer " + file + " is " + bytes.length
                    + " bytes: too short for the int32 max_token_length header; not a tokenizer.bin");
        }
        int maxTokenLength = buf.getInt();
        if (maxTokenLength <= 0 || maxTokenLength > 1 << 16) {
            throw new TokenizerException("llama2.c tokenizer " + file + " declares max_token_length " + maxTokenLength
                    + ": expected 1..65536; not a tokenizer.bin (a HF tokenizer.json or a model checkpoint?)");
        }
        var decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        String[] pieces = new String[1024];
        float[] scores = new float[1024];
        int n = 0;
        while (buf.hasRemaining()) {
            if (buf.remaining() < 8) {
                throw new TokenizerException("llama2.c tokenizer " + file + " is truncated in the header of token " + n
                        + " (" + buf.remaining() + " bytes left, need 8 for score and length)");
            }
            float score = buf.getFloat();
            int length = buf.getInt();
            if (length < 0 || length > buf.remaining()) {
                throw new TokenizerException("llama2.c tokenizer " + file + ": token " + n + " has length " + length
                        + " but " + buf.remaining() + " bytes are left: file truncated or not a tokenizer.bin");
            }
            ByteBuffer piece = buf.slice(buf.position(), length);
            buf.position(buf.position() + length);
            if (n == pieces.length) {
                pieces = Arrays.copyOf(pieces, n * 2);
                scores = Arrays.copyOf(scores, n * 2);
            }
            try {
                pieces[n] = decoder.decode(piece).toString();
            } catch (CharacterCodingException e) {
                throw new TokenizerException("llama2.c tokenizer " + file + ": piece of token " + n
                        + " is not valid UTF-8; only UTF-8 vocabularies are supported");
            }
            scores[n] = score;
            n++;
        }
        if (n <= LLAMA2C_EOS) {
            throw new TokenizerException("llama2.c tokenizer " + file + " has " + n
                    + " tokens: needs at least <unk>, BOS and EOS at ids 0, 1, 2");
        }
        boolean[] special = new boolean[n];
        special[UNK_ID] = special[LLAMA2C_BOS] = special[LLAMA2C_EOS] = true;
        return new Llama2cVocab(Arrays.copyOf(pieces, n), Arrays.copyOf(scores, n), maxTokenLength,
                LLAMA2C_BOS, LLAMA2C_EOS, special, file);
    }
}
