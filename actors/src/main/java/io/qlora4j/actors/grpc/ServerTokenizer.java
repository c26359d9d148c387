package io.qlora4j.actors.grpc;

import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;

import java.nio.file.Path;

/**
 * The tokenizer a data server tokenizes with, and the identifier it publishes for it (file name and vocabulary size) so
 * a client can see which tokenizer produced the ids it receives.
 */
public record ServerTokenizer(Tokenizer tokenizer, String id) {

    /** Loads the tokenizer at {@code path} (any form {@link Tokenizers#load} reads). */
    public static ServerTokenizer load(Path path) {
        Tokenizer tokenizer = Tokenizers.load(path);
        return new ServerTokenizer(tokenizer, path.getFileName() + " (vocab " + tokenizer.vocabSize() + ")");
    }
}
