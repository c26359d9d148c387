package io.qlora4j.actors.data;

/**
 * Where a {@link DataStreamer} stands in its data, exactly enough to resume: the data order is a pure function of (run
 * seed, data), cut into windows that each start at a record offset, so the epoch, the offset of the current window's
 * first example and the number of that window's batches already handed out identify the next batch. This is what a
 * checkpoint stores for the data side.
 *
 * @param epoch                  0-based pass over the data
 * @param windowStartOffset      offset of the first example of the current window (0 at the start of an epoch)
 * @param batchesEmittedInWindow batches of that window already handed out
 */
public record DataPosition(int epoch, long windowStartOffset, int batchesEmittedInWindow) {

    public DataPosition {
        if (epoch < 0 || windowStartOffset < 0 || batchesEmittedInWindow < 0) {
            throw new IllegalArgumentException("data position (epoch " + epoch + ", window at offset " + windowStartOffset
                    + ", " + batchesEmittedInWindow + " batches emitted): all must be >= 0");
        }
    }

    /** The beginning of {@code epoch}. */
    public static DataPosition startOf(int epoch) {
        return new DataPosition(epoch, 0, 0);
    }

    /** Whether this is the beginning of its epoch (no window of it started yet). */
    public boolean atEpochStart() {
        return windowStartOffset == 0 && batchesEmittedInWindow == 0;
    }
}
