package io.qlora4j.actors.train;

import io.qlora4j.actors.memory.MemoryManagerActor;
import io.qlora4j.model.data.Batch;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.io.ByteArrayOutputStream;
import java.util.List;

/**
 * One trainer node's part of a data-parallel job (the leader runs one too, as rank 0): it receives its share of each
 * step from the {@link DataParallelWorker}, has its {@link ComputeWorker} compute the share's gradient, all-reduces it
 * through its {@link GradientExchange}, reports {@link DataParallelWorker.ShareReduced} and applies the update only
 * when the leader commits the round — so a step is applied by every replica or by none. It also installs the state the
 * leader sends when it joins, and reports a checksum of its adapter after every update.
 */
final class ReplicaTrainer extends AbstractBehavior<ReplicaTrainer.Command> {

    sealed interface Command permits InstallState, TrainShare, Commit, Abort, FromShare, FromStep, FromExchange {
    }

    /** Chunk {@code index} of {@code count} of the leader's encoded state ({@link ReplicaState}). */
    record InstallState(long transfer, int index, int count, byte[] bytes, ActorRef<DataParallelWorker.Command> replyTo)
            implements Command, ClusterMessage {
    }

    /**
     * This replica's share of the step of {@code round}.
     *
     * @param exchanges every replica's exchange in rank order (this one at {@code rank})
     */
    record TrainShare(long round, int rank, List<Batch> share, int stepTargetTokens,
                      List<ActorRef<GradientExchange.Command>> exchanges, ActorRef<DataParallelWorker.Command> leader)
            implements Command, ClusterMessage {
    }

    /** Every replica holds the summed gradient of {@code round}: apply it. */
    record Commit(long round) implements Command, ClusterMessage {
    }

    /** A replica left before {@code round} was committed: forget it (the leader re-runs the step). */
    record Abort(long round) implements Command, ClusterMessage {
    }

    private record FromShare(ComputeWorker.ShareReply reply) implements Command {
    }

    private record FromStep(ComputeWorker.StepReply reply) implements Command {
    }

    private record FromExchange(GradientExchange.Reduced reduced) implements Command {
    }

    /** The actors of one replica. */
    record Parts(ActorRef<ComputeWorker.Command> worker, ActorRef<GradientExchange.Command> exchange, ActorRef<Command> replica) {
    }

    /** Spawns a replica's compute worker, exchange and trainer as children of {@code context}, named {@code prefix-…}. */
    static Parts spawn(ActorContext<?> context, String prefix, TrainingSession session, ActorRef<MemoryManagerActor.Command> memory,
                       int chunkFloats, String node) {
        ActorRef<ComputeWorker.Command> worker = context.spawn(Behaviors.supervise(ComputeWorker.create(session, memory))
                .onFailure(SupervisorStrategy.stop()), prefix + "-compute", DispatcherSelector.fromConfig("qlora4j.compute-dispatcher"));
        ActorRef<GradientExchange.Command> exchange = context.spawn(GradientExchange.create(chunkFloats), prefix + "-exchange");
        ActorRef<Command> replica = context.spawn(Behaviors.setup(c -> new ReplicaTrainer(c, session, worker, exchange, node)),
                prefix + "-replica");
        return new Parts(worker, exchange, replica);
    }

    private final TrainingSession session;
    private final ActorRef<ComputeWorker.Command> worker;
    private final ActorRef<GradientExchange.Command> exchange;
    private final String node;
    private final ActorRef<ComputeWorker.ShareReply> shareReplies;
    private final ActorRef<ComputeWorker.StepReply> stepReplies;
    private final ActorRef<GradientExchange.Reduced> exchangeReplies;

    private long transfer = -1;
    private ByteArrayOutputStream transferred;
    private int transferredChunks;

    private TrainShare current;          // the round in progress, null when none (or aborted)
    private boolean computing;           // the worker has the share of some round (possibly aborted)
    private TrainShare queued;           // a share that waits for an aborted one's computation to end
    private GradientExchange.Reduced reduced;
    private double lossSum;
    private long exchangeStart;

    private ReplicaTrainer(ActorContext<Command> context, TrainingSession session, ActorRef<ComputeWorker.Command> worker,
                           ActorRef<GradientExchange.Command> exchange, String node) {
        super(context);
        this.session = session;
        this.worker = worker;
        this.exchange = exchange;
        this.node = node;
        this.shareReplies = context.messageAdapter(ComputeWorker.ShareReply.class, FromShare::new);
        this.stepReplies = context.messageAdapter(ComputeWorker.StepReply.class, FromStep::new);
        this.exchangeReplies = context.messageAdapter(GradientExchange.Reduced.class, FromExchange::new);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(InstallState.class, this::onInstallState)
                .onMessage(TrainShare.class, this::onTrainShare)
                .onMessage(FromShare.class, this::onShare)
                .onMessage(FromExchange.class, this::onReduced)
                .onMessage(Commit.class, this::onCommit)
                .onMessage(FromStep.class, this::onStep)
                .onMessage(Abort.class, this::onAbort)
                .build();
    }

    private Behavior<Command> onInstallState(InstallState m) {
        if (m.transfer() != transfer) {
            transfer = m.transfer();
            transferred = new ByteArrayOutputStream();
            transferredChunks = 0;
        }
        if (m.index() != transferredChunks) {
            throw new IllegalStateException("state chunk " + m.index() + " of transfer " + m.transfer() + " after " + transferredChunks);
        }
        transferred.writeBytes(m.bytes());
        if (++transferredChunks < m.count()) return this;
        // no step is in flight while the leader sends state: the worker is idle, and its next message orders after this
        ReplicaState.install(transferred.toByteArray(), session.trainStep);
        transferred = null;
        m.replyTo().tell(new DataParallelWorker.StateInstalled(getContext().getSelf(), node, session.trainStep.completedSteps(),
                ReplicaState.checksum(session.trainStep.trainables())));
        return this;
    }

    private Behavior<Command> onTrainShare(TrainShare t) {
        if (computing) {
            queued = t;   // the worker still computes an aborted share; this one follows it
            return this;
        }
        current = t;
        computing = true;
        reduced = null;
        worker.tell(new ComputeWorker.ComputeShare(t.share(), t.stepTargetTokens(), shareReplies));
        return this;
    }

    private Behavior<Command> onShare(FromShare m) {
        computing = false;
        if (current == null) {   // aborted while computing
            if (m.reply() instanceof ComputeWorker.ShareComputed) worker.tell(new ComputeWorker.DropShare());
            if (queued != null) {
                TrainShare next = queued;
                queued = null;
                onTrainShare(next);
            }
            return this;
        }
        switch (m.reply()) {
            case ComputeWorker.ShareComputed c -> {
                lossSum = c.lossSum();
                exchangeStart = System.nanoTime();
                exchange.tell(new GradientExchange.Reduce(current.round(), current.rank(), current.exchanges(), c.gradient(), exchangeReplies));
            }
            case ComputeWorker.StepFailed f -> {
                current.leader().tell(new DataParallelWorker.ShareFailed(current.round(), node, f.reason()));
                current = null;
            }
        }
        return this;
    }

    private Behavior<Command> onReduced(FromExchange m) {
        if (current == null || m.reduced().round() != current.round()) return this;
        reduced = m.reduced();
        current.leader().tell(new DataParallelWorker.ShareReduced(current.round(), current.rank(), lossSum, reduced.bytesSent(),
                reduced.chunksSent(), reduced.maxChunkBytes(), (System.nanoTime() - exchangeStart) * 1e-9));
        return this;
    }

    private Behavior<Command> onCommit(Commit c) {
        if (current == null || current.round() != c.round() || reduced == null) {
            throw new IllegalStateException("commit of round " + c.round() + " without its summed gradient");
        }
        worker.tell(new ComputeWorker.ApplySummed(reduced.sum(), stepReplies));
        reduced = null;
        return this;
    }

    private Behavior<Command> onStep(FromStep m) {
        TrainShare done = current;
        current = null;
        switch (m.reply()) {
            case ComputeWorker.StepDone d -> done.leader().tell(new DataParallelWorker.ShareApplied(done.round(), done.rank(),
                    ReplicaState.checksum(session.trainStep.trainables()), d.result(), d.paging()));
            case ComputeWorker.StepFailed f -> done.leader().tell(new DataParallelWorker.ShareFailed(done.round(), node, f.reason()));
        }
        return this;
    }

    private Behavior<Command> onAbort(Abort a) {
        exchange.tell(new GradientExchange.Abort(a.round()));
        if (queued != null && queued.round() == a.round()) queued = null;
        if (current == null || current.round() != a.round()) return this;
        if (!computing) worker.tell(new ComputeWorker.DropShare());   // computed and reducing: the worker holds its gradient
        current = null;
        reduced = null;
        return this;
    }
}
