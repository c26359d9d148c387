package io.qlora4j.model.io;

/**
 * A checkpoint file that cannot be read as what it claims to be: truncated, inconsistent or of an unsupported format.
 * The message names the file, the tensor or field when there is one, what is wrong and how to fix it.
 * Not for caller mistakes (asking {@code readFloats} of an integer tensor is an {@link IllegalArgumentException}).
 */
public class CheckpointException extends RuntimeException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
