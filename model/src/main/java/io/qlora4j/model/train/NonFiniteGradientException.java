package io.qlora4j.model.train;

/** The gradient of a step is NaN or infinite: the step is refused before any parameter changes. */
public class NonFiniteGradientException extends RuntimeException {
    public NonFiniteGradientException(String message) {
        super(message);
    }
}
