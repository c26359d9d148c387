package io.qlora4j.model.tokenizer.hf;

import io.qlora4j.model.tokenizer.ChatTemplate;
import io.qlora4j.model.tokenizer.Encoding;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.TokenizerException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A Hugging Face {@code tokenizer.json} BPE tokenizer, giving the ids of the Rust {@code tokenizers} library
 * ({@code TokenizerImpl::encode} / {@code decode}) for the components this package implements; read it with
 * {@link HfTokenizerLoader}.
 *
 * <p>Encode pipeline: cut out added tokens in the raw text ({@link AddedVocabulary}); normalize each remaining
 * segment ({@link Normalizer}); cut out normalized added tokens; split into words ({@link PreTokenizer}); BPE each
 * word ({@link BpeModel}); add the post-processor's special tokens when asked ({@link PostProcessor}). Decode: token
 * strings (special ones dropped when asked) through the {@link Decoder}, then transformers'
 * {@code clean_up_tokenization} when {@code tokenizer_config.json} enables it.
 *
 * <p>Not supported (refused at load): other models (WordPiece, Unigram, WordLevel), normalizers, pre-tokenizers,
 * post-processors and decoders than those listed in each component, BPE dropout. {@code truncation} and
 * {@code padding} in the file are ignored, as transformers overrides them on every call.
 */
public final class HfTokenizer implements Tokenizer {
    private final Path source;
    private final AddedVocabulary added;
    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final BpeModel model;
    private final PostProcessor postProcessor;
    private final Decoder decoder;
    private final String[] tokens; // (vocabSize) piece of each id, added tokens included; null for unused ids
    private final boolean cleanUpTokenizationSpaces;
    private final int bosId;
    private final int eosId;
    private final OptionalInt padId;
    private final ChatTemplate chatTemplate; // null when the folder has none or it does not compile
    private final TokenizerException chatTemplateError; // why the folder's template does not compile, else null

    HfTokenizer(Path source, AddedVocabulary added, Normalizer normalizer, PreTokenizer preTokenizer, BpeModel model,
                PostProcessor postProcessor, Decoder decoder, String[] tokens, boolean cleanUpTokenizationSpaces,
                int bosId, int eosId, OptionalInt padId, ChatTemplate chatTemplate,
                TokenizerException chatTemplateError) {
        this.source = source;
        this.added = added;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.postProcessor = postProcessor;
        this.decoder = decoder;
        this.tokens = tokens;
        this.cleanUpTokenizationSpaces = cleanUpTokenizationSpaces;
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
        this.chatTemplate = chatTemplate;
        this.chatTemplateError = chatTemplateError;
    }

    @Override
    public Encoding encodeWithOffsets(String text, boolean addSpecialTokens) {
        checkNoUnpairedSurrogate(text);
        IntList ids = new IntList(text.length() / 3 + 4);
        IntList starts = new IntList(text.length() / 3 + 4);
        IntList ends = new IntList(text.length() / 3 + 4);
        BpeModel.TokenSink sink = (id, start, end) -> {
            ids.add(id);
            starts.add(start);
            ends.add(end);
        };
        for (AddedVocabulary.Split raw : added.splitRaw(text)) {
            if (raw.id() >= 0) {
                sink.add(raw.id(), raw.start(), raw.end());
                continue;
            }
            NormalizedText segment = normalizer.normalize(NormalizedText.of(text, raw.start(), raw.end()));
            for (AddedVocabulary.Split split : added.splitNormalized(segment.text())) {
                if (split.id() >= 0) {
                    sink.add(split.id(), segment.originalStart(split.start(), split.end()),
                            segment.originalEnd(split.start(), split.end()));
                    continue;
                }
                for (NormalizedText word : preTokenizer.split(segment.slice(split.start(), split.end()))) {
                    model.tokenize(word, sink);
                }
            }
        }
        IntList outIds = new IntList(ids.size() + 2);
        IntList outStarts = new IntList(ids.size() + 2);
        IntList outEnds = new IntList(ids.size() + 2);
        postProcessor.apply(ids, starts, ends, addSpecialTokens, outIds, outStarts, outEnds);
        return new Encoding(outIds.toArray(), outStarts.toArray(), outEnds.toArray());
    }

    private static void checkNoUnpairedSurrogate(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new TokenizerException("cannot encode text with an unpaired surrogate U+"
                        + Integer.toHexString(c).toUpperCase() + " at index " + i + ": it has no UTF-8 form");
            }
        }
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> pieces = new ArrayList<>(ids.length);
        for (int id : ids) {
            String piece = tokenString(id);
            if (!(skipSpecialTokens && isSpecial(id))) {
                pieces.add(piece);
            }
        }
        String text = decoder.decode(pieces);
        return cleanUpTokenizationSpaces ? cleanUpTokenization(text) : text;
    }

    /** transformers {@code PreTrainedTokenizerBase.clean_up_tokenization}: English spacing fixes after decoding. */
    static String cleanUpTokenization(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public OptionalInt padId() {
        return padId;
    }

    @Override
    public String tokenString(int id) {
        if (id < 0 || id >= tokens.length || tokens[id] == null) {
            throw new TokenizerException("token id " + id + " is not in the vocabulary of " + source + " (size "
                    + tokens.length + (id >= 0 && id < tokens.length ? ", this id is unused" : "") + ")");
        }
        return tokens[id];
    }

    @Override
    public OptionalInt tokenId(String piece) {
        Integer id = added.idOf(piece);
        if (id == null) {
            id = model.vocab().get(piece);
        }
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public boolean isSpecial(int id) {
        tokenString(id);
        AddedVocabulary.AddedToken t = added.get(id);
        return t != null && t.special();
    }

    @Override
    public Optional<ChatTemplate> chatTemplate() {
        if (chatTemplateError != null) {
            throw new TokenizerException("the chat template of " + source.getParent() + " cannot be used: "
                    + chatTemplateError.getMessage(), chatTemplateError);
        }
        return Optional.ofNullable(chatTemplate);
    }

    @Override
    public String toString() {
        return "HfTokenizer[" + source + ", " + tokens.length + " tokens]";
    }
}
