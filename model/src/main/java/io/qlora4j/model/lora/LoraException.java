package io.qlora4j.model.lora;

/** An adapter that cannot be saved or loaded: the message names the file, the tensor and what is wrong. */
public class LoraException extends RuntimeException {
    public LoraException(String message) {
        super(message);
    }

    public LoraException(String message, Throwable cause) {
        super(message, cause);
    }
}
