package io.qlora4j.model.tokenizer.llama2c;

import io.qlora4j.model.tokenizer.TokenizerException;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a SentencePiece {@code tokenizer.model} (a serialized {@code sentencepiece_model.proto ModelProto}) by
 * hand from the protobuf wire format and turns it into the vocabulary llama2.c's {@code tokenizer.py export}
 * writes: {@code '▁'} replaced by {@code ' '}, BOS piece {@code "\n<s>\n"}, EOS piece {@code "\n</s>\n"}, scores
 * unchanged. Encoding it with {@link Llama2cTokenizer} therefore gives exactly llama2.c's ids.
 *
 * <p>Fields read: {@code ModelProto.pieces} (1) with {@code piece} (1), {@code score} (2), {@code type} (3);
 * {@code trainer_spec} (2) with {@code model_type} (3), {@code unk_id} (40), {@code bos_id} (41), {@code eos_id} (42);
 * {@code normalizer_spec} (3) with {@code name} (1), {@code add_dummy_prefix} (3), {@code remove_extra_whitespaces}
 * (4). Everything else is skipped.
 *
 * <p>Not a SentencePiece implementation: only BPE models whose normalizer is what llama2.c's algorithm does
 * (identity, dummy prefix, whitespace kept) are accepted; unigram models and other normalizers are refused.
 */
public final class SentencePieceModelReader {
    private static final int TYPE_NORMAL = 1;
    private static final int TYPE_UNKNOWN = 2;
    private static final int TYPE_CONTROL = 3;
    private static final int MODEL_TYPE_BPE = 2;
    private static final String[] MODEL_TYPE_NAMES = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};

    private SentencePieceModelReader() {
    }

    public static Llama2cVocab read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new TokenizerException("SentencePiece model " + file + " does not exist");
        } catch (IOException e) {
            throw new TokenizerException("cannot read SentencePiece model " + file + ": " + e.getMessage(), e);
        }
        try {
            return parse(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN), file);
        } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
            throw new TokenizerException("SentencePiece model " + file
                    + " is truncated or not a protobuf ModelProto (a field runs past the end of the file)", e);
        }
    }

    private record Piece(String text, float score, int type) {
    }

    private static Llama2cVocab parse(ByteBuffer buf, Path file) {
        List<Piece> pieces = new ArrayList<>();
        int modelType = 1; // proto default UNIGRAM
        int unkId = 0, bosId = 1, eosId = 2;
        String normalizerName = "nmt_nfkc";
        boolean addDummyPrefix = true, removeExtraWhitespaces = true;
        while (buf.hasRemaining()) {
            long key = readVarint(buf);
            int field = (int) (key >>> 3);
            int wire = (int) (key & 7);
            if (field == 1 && wire == 2) {
                pieces.add(parsePiece(readLengthDelimited(buf, file), file));
            } else if (field == 2 && wire == 2) {
                ByteBuffer spec = readLengthDelimited(buf, file);
                while (spec.hasRemaining()) {
                    long k = readVarint(spec);
                    int f = (int) (k >>> 3);
                    int w = (int) (k & 7);
                    if (w == 0 && (f == 3 || f == 40 || f == 41 || f == 42)) {
                        int v = (int) readVarint(spec);
                        switch (f) {
                            case 3 -> modelType = v;
                            case 40 -> unkId = v;
                            case 41 -> bosId = v;
                            default -> eosId = v;
                        }
                    } else {
                        skip(spec, w, file);
                    }
                }
            } else if (field == 3 && wire == 2) {
                ByteBuffer spec = readLengthDelimited(buf, file);
                while (spec.hasRemaining()) {
                    long k = readVarint(spec);
                    int f = (int) (k >>> 3);
                    int w = (int) (k & 7);
                    if (f == 1 && w == 2) {
                        normalizerName = StandardCharsets.UTF_8.decode(readLengthDelimited(spec, file)).toString();
                    } else if ((f == 3 || f == 4) && w == 0) {
                        boolean v = readVarint(spec) != 0;
                        if (f == 3) {
                            addDummyPrefix = v;
                        } else {
                            removeExtraWhitespaces = v;
                        }
                    } else {
                        skip(spec, w, file);
                    }
                }
            } else {
                skip(buf, wire, file);
            }
        }
        if (modelType != MODEL_TYPE_BPE) {
            String name = modelType >= 0 && modelType < MODEL_TYPE_NAMES.length ? MODEL_TYPE_NAMES[modelType] : "" + modelType;
            throw new TokenizerException("SentencePiece model " + file + " has model_type " + name
                    + ": only BPE models can be encoded with llama2.c's algorithm");
        }
        if (!normalizerName.equals("identity") || !addDummyPrefix || removeExtraWhitespaces) {
            throw new TokenizerException("SentencePiece model " + file + " has normalizer '" + normalizerName
                    + "' (add_dummy_prefix=" + addDummyPrefix + ", remove_extra_whitespaces=" + removeExtraWhitespaces
                    + "): llama2.c's algorithm implements only 'identity' with add_dummy_prefix=true and "
                    + "remove_extra_whitespaces=false (the Llama 2 tokenizer)");
        }
        int n = pieces.size();
        if (bosId < 0 || bosId >= n || eosId < 0 || eosId >= n || unkId < 0 || unkId >= n) {
            throw new TokenizerException("SentencePiece model " + file + " has unk/bos/eos ids " + unkId + "/" + bosId
                    + "/" + eosId + " outside its " + n + " pieces");
        }
        String[] texts = new String[n];
        float[] scores = new float[n];
        boolean[] special = new boolean[n];
        for (int i = 0; i < n; i++) {
            Piece p = pieces.get(i);
            String text = i == bosId ? "\n<s>\n" : i == eosId ? "\n</s>\n" : p.text();
            texts[i] = text.replace('▁', ' ');
            scores[i] = p.score();
            special[i] = p.type() == TYPE_CONTROL || p.type() == TYPE_UNKNOWN;
        }
        int maxLength = 0;
        for (String t : texts) {
            maxLength = Math.max(maxLength, t.getBytes(StandardCharsets.UTF_8).length);
        }
        return new Llama2cVocab(texts, scores, maxLength, bosId, eosId, special, file);
    }

    private static Piece parsePiece(ByteBuffer msg, Path file) {
        String text = "";
        float score = 0f;
        int type = TYPE_NORMAL;
        while (msg.hasRemaining()) {
            long k = readVarint(msg);
            int f = (int) (k >>> 3);
            int w = (int) (k & 7);
            if (f == 1 && w == 2) {
                text = StandardCharsets.UTF_8.decode(readLengthDelimited(msg, file)).toString();
            } else if (f == 2 && w == 5) {
                score = msg.getFloat();
            } else if (f == 3 && w == 0) {
                type = (int) readVarint(msg);
            } else {
                skip(msg, w, file);
            }
        }
        return new Piece(text, score, type);
    }

    private static long readVarint(ByteBuffer buf) {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte b = buf.get();
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return value;
            }
        }
        throw new IndexOutOfBoundsException("varint longer than 10 bytes");
    }

    private static ByteBuffer readLengthDelimited(ByteBuffer buf, Path file) {
        long length = readVarint(buf);
        if (length < 0 || length > buf.remaining()) {
            throw new TokenizerException("SentencePiece model " + file + " has a field of length " + length + " with " + buf.remaining()
                    + " bytes left: truncated or not a ModelProto");
        }
        ByteBuffer slice = buf.slice(buf.position(), (int) length).order(ByteOrder.LITTLE_ENDIAN);
        buf.position(buf.position() + (int) length);
        return slice;
    }

    private static void skip(ByteBuffer buf, int wire, Path file) {
        switch (wire) {
            case 0 -> readVarint(buf);
            case 1 -> buf.get(new byte[8]);
            case 2 -> readLengthDelimited(buf, file);
            case 5 -> buf.get(new byte[4]);
            default -> throw new TokenizerException("SentencePiece model " + file + " uses protobuf wire type " + wire
                    + ": not a ModelProto");
        }
    }
}
