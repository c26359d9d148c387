package io.qlora4j.model.tokenizer.hf;

import java.util.List;
import java.util.regex.Pattern;

/**
 * The {@code normalizer} of a {@code tokenizer.json}: HF {@code tokenizers} {@code normalizers::{Sequence, Prepend,
 * Replace}}, the ones Llama-style SentencePiece BPE files use. Other normalizers (NFC, NFKC, Lowercase, Strip,
 * BertNormalizer, Precompiled, ...) are refused when the file is read.
 */
sealed interface Normalizer {
    NormalizedText normalize(NormalizedText text);

    /** No normalizer ({@code "normalizer": null}). */
    Normalizer IDENTITY = new Sequence(List.of());

    /** Applies each normalizer in turn. */
    record Sequence(List<Normalizer> normalizers) implements Normalizer {
        public Sequence {
            normalizers = List.copyOf(normalizers);
        }

        @Override
        public NormalizedText normalize(NormalizedText text) {
            for (Normalizer n : normalizers) {
                text = n.normalize(text);
            }
            return text;
        }
    }

    /** Prepends {@code prepend} to non-empty text (TinyLlama: {@code "▁"}, the SentencePiece dummy prefix). */
    record Prepend(String prepend) implements Normalizer {
        @Override
        public NormalizedText normalize(NormalizedText text) {
            return text.prepend(prepend);
        }
    }

    /** Replaces every match of {@code pattern} (a literal string or a regex) by {@code content}. */
    record Replace(Pattern pattern, String content) implements Normalizer {
        @Override
        public NormalizedText normalize(NormalizedText text) {
            return text.replaceAll(pattern, content);
        }
    }
}
