package io.qlora4j.actors.train;

/** A run that stopped on a refusal or error; the message says what and where; the last checkpoint is intact. */
public class TrainingFailedException extends RuntimeException {
    public TrainingFailedException(String message) {
        super(message);
    }
}
