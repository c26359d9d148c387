package io.qlora4j.model.io;

/**
 * A safetensors file or sharded safetensors index that violates the format ({@code safetensors/src/tensor.rs}
 * validation, plus the stricter checks listed on {@link SafetensorsFile}). Thrown for every malformed input, never
 * another exception type.
 */
public final class SafetensorsException extends CheckpointException {
    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
