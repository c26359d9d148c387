package io.qlora4j.model.data;

/** Unusable training data: the message names the file, the line (or record) and what is wrong, and how to fix it. */
public class DataException extends RuntimeException {
    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
