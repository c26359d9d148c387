package io.qlora4j.actors.train;

import io.qlora4j.actors.data.DataPosition;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.nio.file.Path;

/**
 * The I/O actor of a run (on a blocking-I/O dispatcher): appends the logs ({@link RunFiles}) and writes checkpoints
 * ({@link CheckpointStore}), so the coordinator and the compute worker never block on the disk.
 */
final class RunWriter extends AbstractBehavior<RunWriter.Command> {

    sealed interface Command permits Metrics, Paging, Offsets, WriteCheckpoint {
    }

    record Metrics(String json) implements Command {
    }

    record Paging(String json) implements Command {
    }

    record Offsets(String json) implements Command {
    }

    /** Writes a checkpoint at {@code position} (the data position after the step's last batch). */
    record WriteCheckpoint(TrainingSnapshot snapshot, DataPosition position, ActorRef<CheckpointReply> replyTo) implements Command {
    }

    sealed interface CheckpointReply permits CheckpointWritten, CheckpointFailed {
    }

    record CheckpointWritten(int step, Path dir, double seconds) implements CheckpointReply {
    }

    record CheckpointFailed(int step, String reason) implements CheckpointReply {
    }

    private final TrainingSession session;
    private final RunFiles files;

    private RunWriter(ActorContext<Command> context, TrainingSession session, RunFiles files) {
        super(context);
        this.session = session;
        this.files = files;
    }

    static Behavior<Command> create(TrainingSession session, RunFiles files) {
        return Behaviors.setup(context -> new RunWriter(context, session, files));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Metrics.class, m -> {
                    files.metrics(m.json());
                    return this;
                })
                .onMessage(Paging.class, m -> {
                    files.paging(m.json());
                    return this;
                })
                .onMessage(Offsets.class, m -> {
                    files.offsets(m.json());
                    return this;
                })
                .onMessage(WriteCheckpoint.class, this::onCheckpoint)
                .onSignal(PostStop.class, s -> this)
                .build();
    }

    private Behavior<Command> onCheckpoint(WriteCheckpoint w) {
        long start = System.nanoTime();
        int step = w.snapshot().step();
        try {
            Path dir = session.checkpoints.write(w.snapshot(), w.position(), files.metricsLines(), session.config.trainingHash(),
                    session.configText, session.config.seed(), session.model.config(), session.model.ropeLayout());
            w.replyTo().tell(new CheckpointWritten(step, dir, (System.nanoTime() - start) * 1e-9));
        } catch (RuntimeException e) {
            w.replyTo().tell(new CheckpointFailed(step, e.getMessage()));
        }
        return this;
    }
}
