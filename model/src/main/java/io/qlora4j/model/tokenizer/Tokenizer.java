package io.qlora4j.model.tokenizer;

import java.util.Optional;
import java.util.OptionalInt;

/**
 * Text to token ids and back, as the rest of qlora4j needs it (training data, perplexity, generation).
 *
 * <p>Implementations: {@code llama2c.Llama2cTokenizer} (llama2.c {@code tokenizer.bin} and SentencePiece
 * {@code tokenizer.model}, encoded exactly as llama2.c {@code run.c}) and {@code hf.HfTokenizer} (Hugging Face
 * {@code tokenizer.json} BPE, matching the Rust {@code tokenizers} library). Load either with
 * {@link Tokenizers#load}. Instances are immutable and safe to share between threads.
 *
 * <p>Text positions are UTF-16 indices of Java strings. A string with an unpaired surrogate cannot be encoded
 * (it has no UTF-8 form): {@link #encode} throws a {@link TokenizerException} naming its index.
 */
public interface Tokenizer {
    /** Number of ids, including added/special tokens: every id in {@code [0, vocabSize())} decodes. */
    int vocabSize();

    /** Id of the beginning-of-sequence token, -1 when the tokenizer has none. */
    int bosId();

    /** Id of the end-of-sequence token, -1 when the tokenizer has none. */
    int eosId();

    /** Id of the padding token, when the tokenizer names one. */
    OptionalInt padId();

    /**
     * The id that fills the unused positions of a batch: the padding token, else EOS (else 0). Padded positions are
     * masked out of attention and the loss, so any id would do; a real token keeps embedding lookups in range.
     */
    default int batchPadId() {
        return padId().orElse(Math.max(0, eosId()));
    }

    /** The vocabulary piece of {@code id} as stored ({@code "▁Hello"}, {@code "Ġworld"}, {@code "<0x0A>"}, {@code " t"}). */
    String tokenString(int id);

    /** The id of a vocabulary piece given exactly as {@link #tokenString} returns it. */
    OptionalInt tokenId(String piece);

    /** Whether {@code id} is a special token (BOS, EOS, UNK, chat markers): dropped by {@code skipSpecialTokens}. */
    boolean isSpecial(int id);

    /**
     * Token ids of {@code text}. {@code addSpecialTokens} adds what Hugging Face {@code add_special_tokens=True}
     * adds (the post-processor's BOS/EOS; nothing for a tokenizer without post-processor) or, for llama2.c, the BOS
     * of {@code encode(..., bos=1, eos=0)}.
     */
    default int[] encode(String text, boolean addSpecialTokens) {
        return encodeWithOffsets(text, addSpecialTokens).ids();
    }

    /** {@link #encode} with the character span of each token. */
    Encoding encodeWithOffsets(String text, boolean addSpecialTokens);

    /**
     * The text of {@code ids}. Ids outside {@code [0, vocabSize())} throw a {@link TokenizerException}. Byte tokens
     * that do not form valid UTF-8 decode to U+FFFD as the reference does.
     */
    String decode(int[] ids, boolean skipSpecialTokens);

    /** A decoder that turns ids into text one token at a time, for printing tokens as they are generated. */
    default TokenStreamDecoder streamDecoder(boolean skipSpecialTokens) {
        return new TokenStreamDecoder(this, skipSpecialTokens);
    }

    /**
     * The chat template that came with the tokenizer ({@code tokenizer_config.json} or {@code chat_template.jinja}), if
     * any.
     *
     * @throws TokenizerException when the tokenizer has a template that this package cannot compile (the message names
     *                            the construct and line); loading and text tokenization do not depend on it
     */
    Optional<ChatTemplate> chatTemplate();
}
