package io.qlora4j.sim;

/**
 * A simulation input that cannot be used: an unknown model or GPU name, a malformed length distribution, a missing or
 * unreadable file. The message names the input, what was expected and how to fix it.
 */
public class SimulationException extends RuntimeException {
    public SimulationException(String message) {
        super(message);
    }

    public SimulationException(String message, Throwable cause) {
        super(message, cause);
    }
}
