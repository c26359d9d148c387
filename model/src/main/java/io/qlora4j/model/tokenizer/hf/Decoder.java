package io.qlora4j.model.tokenizer.hf;

import java.io.ByteArrayOutputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The {@code decoder} of a {@code tokenizer.json}: turns token strings back into text. HF {@code tokenizers}
 * {@code decoders::{Sequence, Replace, ByteFallback, Fuse, Strip, ByteLevel}} with their {@code decode_chain}
 * semantics (each step maps a list of strings to a list of strings; the result is their concatenation). Other
 * decoders (Metaspace, WordPiece, BPEDecoder, CTC) are refused when the file is read.
 */
sealed interface Decoder {
    List<String> decodeChain(List<String> tokens);

    /** The decoded text: the chain's output concatenated. */
    default String decode(List<String> tokens) {
        return String.join("", decodeChain(tokens));
    }

    /** {@code "decoder": null}: the reference joins the token strings with spaces. */
    record None() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            return List.of(String.join(" ", tokens));
        }
    }

    record Sequence(List<Decoder> decoders) implements Decoder {
        public Sequence {
            decoders = List.copyOf(decoders);
        }

        @Override
        public List<String> decodeChain(List<String> tokens) {
            for (Decoder d : decoders) {
                tokens = d.decodeChain(tokens);
            }
            return tokens;
        }
    }

    /** Replaces {@code pattern} by {@code content} in every token (TinyLlama: {@code "▁"} → {@code " "}). */
    record Replace(Pattern pattern, String content) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) {
                out.add(pattern.matcher(t).replaceAll(java.util.regex.Matcher.quoteReplacement(content)));
            }
            return out;
        }
    }

    /**
     * Runs of {@code <0xXX>} tokens become the text of their bytes; a run that is not valid UTF-8 becomes one U+FFFD
     * per byte token.
     */
    record ByteFallback() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            ByteArrayOutputStream run = new ByteArrayOutputStream();
            for (String t : tokens) {
                int b = byteOf(t);
                if (b >= 0) {
                    run.write(b);
                } else {
                    flush(run, out);
                    out.add(t);
                }
            }
            flush(run, out);
            return out;
        }

        private static int byteOf(String t) {
            if (t.length() == 6 && t.startsWith("<0x") && t.charAt(5) == '>') {
                int hi = Character.digit(t.charAt(3), 16);
                int lo = Character.digit(t.charAt(4), 16);
                if (hi >= 0 && lo >= 0) {
                    return hi * 16 + lo;
                }
            }
            return -1;
        }

        private static void flush(ByteArrayOutputStream run, List<String> out) {
            if (run.size() == 0) {
                return;
            }
            try {
                out.add(StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(run.toByteArray()))
                        .toString());
            } catch (CharacterCodingException e) {
                for (int i = 0; i < run.size(); i++) {
                    out.add("\uFFFD");
                }
            }
            run.reset();
        }
    }

    /** Concatenates all tokens into one. */
    record Fuse() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            return List.of(String.join("", tokens));
        }
    }

    /** Removes up to {@code start} leading and {@code stop} trailing {@code content} characters from every token. */
    record Strip(int content, int start, int stop) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) {
                int[] cps = t.codePoints().toArray();
                int startCut = 0;
                while (startCut < Math.min(start, cps.length) && cps[startCut] == content) {
                    startCut++;
                }
                int stopCut = cps.length;
                while (cps.length - stopCut < Math.min(stop, cps.length - startCut) && cps[stopCut - 1] == content) {
                    stopCut--;
                }
                out.add(new String(cps, startCut, stopCut - startCut));
            }
            return out;
        }
    }

    /**
     * Maps byte-level characters back to bytes and reads them as UTF-8 (invalid sequences become U+FFFD); a token
     * with a character outside the byte-level alphabet (an added token) contributes its own UTF-8 bytes.
     */
    record ByteLevel() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (String t : tokens) {
                byte[] mapped = new byte[t.length()];
                boolean allMapped = true;
                for (int i = 0; i < t.length() && allMapped; i++) {
                    int b = ByteLevelAlphabet.byteOf(t.charAt(i));
                    allMapped = b >= 0;
                    mapped[i] = (byte) b;
                }
                bytes.writeBytes(allMapped ? mapped : t.getBytes(StandardCharsets.UTF_8));
            }
            return List.of(bytes.toString(StandardCharsets.UTF_8));
        }
    }
}
