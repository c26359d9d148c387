package io.qlora4j.actors.data;

/** How a window of examples becomes batches. */
public enum Batching {
    /**
     * Training: the window is shuffled with a seed derived from (run seed, epoch, window), then grouped by length
     * ({@link io.qlora4j.model.data.LengthGrouping#batchesOfWindow}, longest batch first).
     */
    SHUFFLED_BY_LENGTH,
    /** Evaluation: consecutive examples in offset order. */
    IN_ORDER
}
