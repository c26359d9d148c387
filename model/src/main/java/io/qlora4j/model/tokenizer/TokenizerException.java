package io.qlora4j.model.tokenizer;

/**
 * A tokenizer that cannot be loaded or an input it cannot handle: a missing or malformed file, a component this
 * package does not implement, an id outside the vocabulary, a chat template that fails to parse or render.
 * The message names what, where (file, component, id, template line) and, where one exists, how to fix it.
 */
public class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
