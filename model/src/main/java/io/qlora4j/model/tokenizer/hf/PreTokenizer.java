package io.qlora4j.model.tokenizer.hf;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code pre_tokenizer} of a {@code tokenizer.json}: splits normalized text into the words BPE runs on. HF
 * {@code tokenizers} {@code pre_tokenizers::{Sequence, Digits, ByteLevel}}, the ones GPT-2-style files such as
 * SmolLM2 use; no pre-tokenizer (TinyLlama) makes each segment one word. Others (Metaspace, Split, Whitespace, ...)
 * are refused when the file is read.
 */
sealed interface PreTokenizer {
    List<NormalizedText> split(NormalizedText text);

    /** No pre-tokenizer: the whole segment is one word. */
    PreTokenizer NONE = new Sequence(List.of());

    /** Applies each pre-tokenizer to every piece the previous ones produced. */
    record Sequence(List<PreTokenizer> preTokenizers) implements PreTokenizer {
        public Sequence {
            preTokenizers = List.copyOf(preTokenizers);
        }

        @Override
        public List<NormalizedText> split(NormalizedText text) {
            List<NormalizedText> pieces = List.of(text);
            for (PreTokenizer p : preTokenizers) {
                List<NormalizedText> next = new ArrayList<>();
                for (NormalizedText piece : pieces) {
                    next.addAll(p.split(piece));
                }
                pieces = next;
            }
            return pieces;
        }
    }

    /**
     * Isolates numeric characters (Rust {@code char::is_numeric}: general categories Nd, Nl, No): each one alone when
     * {@code individualDigits}, else runs of them.
     */
    record Digits(boolean individualDigits) implements PreTokenizer {
        @Override
        public List<NormalizedText> split(NormalizedText text) {
            String s = text.text();
            List<NormalizedText> pieces = new ArrayList<>();
            int pieceStart = 0;
            boolean inDigits = false;
            for (int i = 0; i < s.length(); ) {
                int cp = s.codePointAt(i);
                int len = Character.charCount(cp);
                boolean digit = isNumeric(cp);
                if (i > pieceStart && (digit != inDigits || (digit && individualDigits))) {
                    pieces.add(text.slice(pieceStart, i));
                    pieceStart = i;
                }
                inDigits = digit;
                i += len;
            }
            if (pieceStart < s.length()) {
                pieces.add(text.slice(pieceStart, s.length()));
            }
            return pieces;
        }

        private static boolean isNumeric(int cp) {
            int type = Character.getType(cp);
            return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER
                    || type == Character.OTHER_NUMBER;
        }
    }

    /**
     * GPT-2 byte-level pre-tokenization: optionally a leading space, the GPT-2 split regex, then every byte of every
     * piece mapped to its {@link ByteLevelAlphabet} character. {@code \s} is Unicode White_Space as in the Rust
     * regex engine.
     */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        /** {@code tokenizers} {@code pre_tokenizers/byte_level.rs}, the regex of OpenAI's GPT-2 {@code encoder.py}. */
        static final Pattern GPT2_SPLIT = Pattern.compile(
                "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                Pattern.UNICODE_CHARACTER_CLASS);

        @Override
        public List<NormalizedText> split(NormalizedText text) {
            if (addPrefixSpace && !text.text().startsWith(" ")) {
                text = text.prepend(" ");
            }
            List<NormalizedText> pieces = new ArrayList<>();
            if (!useRegex) {
                pieces.add(text.toByteLevel());
                return pieces;
            }
            Matcher m = GPT2_SPLIT.matcher(text.text());
            int last = 0;
            while (m.find()) {
                if (m.start() > last) {
                    pieces.add(text.slice(last, m.start()).toByteLevel());
                }
                pieces.add(text.slice(m.start(), m.end()).toByteLevel());
                last = m.end();
            }
            if (last < text.length()) {
                pieces.add(text.slice(last, text.length()).toByteLevel());
            }
            return pieces;
        }
    }
}
