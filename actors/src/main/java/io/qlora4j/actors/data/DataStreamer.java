package io.qlora4j.actors.data;

import io.qlora4j.model.data.Batch;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.Optional;

/**
 * The data side of the trainer: a Pekko actor that hands out padded batches on request, from a local file or a data
 * server, in an order that is a pure function of (seed, data) and can be resumed exactly from a {@link DataPosition}.
 *
 * <p>Pipeline (a Pekko Streams graph, pulled only by {@link RequestBatch}, so it never reads more than about one
 * shuffle window ahead): examples from the {@link ExampleSource} → keep one side of the {@link DataStreamerConfig#split}
 * → drop examples without target tokens (counted) → windows of W examples in offset order → each window shuffled with a
 * seed of (run seed, epoch, window) and batched by length ({@link WindowBatcher}) → batches in that order.
 *
 * <p>Protocol: {@link RequestBatch} is answered with {@link BatchReady} (the batch and the position after it: store that
 * in a checkpoint), then, when the configured epochs are done, {@link EpochEnd}, or {@link DataFailed} when the data
 * cannot be read (a malformed record under {@link MalformedPolicy#FAIL}, a dead data server, a resume position that does
 * not match the data). After {@code EpochEnd} or {@code DataFailed} every further request gets the same answer.
 * Requests are answered in the order they arrive; a trainer normally keeps one outstanding (or two, to prefetch).
 *
 * <p>Behaviors: {@link StreamingDataStreamer} while batches flow, {@link DrainedDataStreamer} once the data is done or
 * failed. This class holds only the protocol and the factory; it is not a behavior itself.
 */
public final class DataStreamer {

    private DataStreamer() {
    }

    /** Starts streaming at the beginning of the first epoch. */
    public static Behavior<Command> create(DataStreamerConfig config) {
        return create(config, DataPosition.startOf(0));
    }

    /** Starts streaming at {@code from}, a position a {@link BatchReady} reported (resuming from a checkpoint). */
    public static Behavior<Command> create(DataStreamerConfig config, DataPosition from) {
        return Behaviors.setup(context -> new StreamingDataStreamer(context, config, from));
    }

    /** Messages a {@code DataStreamer} accepts. */
    public sealed interface Command permits RequestBatch, Pulled {
    }

    /** Asks for the next batch. */
    public record RequestBatch(ActorRef<BatchReply> replyTo) implements Command {
    }

    /** The stream's answer to a pull, piped back to the actor (internal). */
    record Pulled(Optional<WindowBatcher.PositionedBatch> batch, Throwable failure) implements Command {
    }

    /** Answers to {@link RequestBatch}. */
    public sealed interface BatchReply permits BatchReady, EpochEnd, DataFailed {
    }

    /**
     * The next batch.
     *
     * @param resumeFrom the position after this batch: a streamer created at it continues with the batch after this one
     */
    public record BatchReady(Batch batch, DataPosition resumeFrom) implements BatchReply {
    }

    /**
     * The data is done: {@code epochs} passes are complete and no batch follows.
     *
     * @param stats what the pipeline read, skipped, truncated and dropped over all passes of this streamer
     */
    public record EpochEnd(int epochs, DataStats.Snapshot stats) implements BatchReply {
    }

    /** The data cannot be read further; {@code reason} says what, where and how to fix it. */
    public record DataFailed(String reason) implements BatchReply {
    }
}
