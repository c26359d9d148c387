package io.qlora4j.model;

/** A model folder or config.json that cannot be used: the message names the file, the field and what is expected. */
public class ModelConfigException extends RuntimeException {
    public ModelConfigException(String message) {
        super(message);
    }

    public ModelConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
