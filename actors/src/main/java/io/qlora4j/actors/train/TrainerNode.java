package io.qlora4j.actors.train;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.qlora4j.actors.memory.MemoryManagerActor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * The trainer role of a cluster node ({@code qlora4j node --role trainer}): announces itself with the receptionist and,
 * when a job's leader asks, loads the job's model and opens a {@link ReplicaTrainer} for it (one job at a time). The
 * replica lives until the leader is gone (the job ended, or the leader's node left), then its session is closed.
 */
public final class TrainerNode extends AbstractBehavior<TrainerNode.Command> {

    /** The receptionist key under which trainer nodes announce themselves. */
    public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "qlora4j-trainer");

    public sealed interface Command permits OpenReplica, Opened, LeaderGone, WorkerStopped {
    }

    /**
     * Open a replica of job {@code jobId}.
     *
     * @param configText the job's effective {@code qlora4j.finetune} configuration (HOCON)
     */
    record OpenReplica(String jobId, String configText, int chunkFloats, ActorRef<DataParallelWorker.Command> leader)
            implements Command, ClusterMessage {
    }

    private record Opened(OpenReplica request, TrainingSession session, Throwable failure) implements Command {
    }

    private record LeaderGone(String jobId) implements Command {
    }

    private record WorkerStopped(TrainingSession session) implements Command {
    }

    /** The replica of the job in progress. */
    private record Job(String id, TrainingSession session, ActorRef<MemoryManagerActor.Command> memory, ReplicaTrainer.Parts parts) {
    }

    private final Path workDir;
    private final String node;
    private String openingJob;
    private Job job;

    private TrainerNode(ActorContext<Command> context, Path workDir) {
        super(context);
        this.workDir = workDir;
        this.node = context.getSystem().address().toString();
        context.getSystem().receptionist().tell(Receptionist.register(KEY, context.getSelf()));
        context.getLog().info("trainer node {} ready; replicas keep their paging files under {}", node, workDir.toAbsolutePath());
    }

    /** @param workDir where replicas keep their run folders (paging files), one per job */
    public static Behavior<Command> create(Path workDir) {
        return Behaviors.setup(context -> new TrainerNode(context, workDir));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(OpenReplica.class, this::onOpenReplica)
                .onMessage(Opened.class, this::onOpened)
                .onMessage(LeaderGone.class, this::onLeaderGone)
                .onMessage(WorkerStopped.class, this::onWorkerStopped)
                .build();
    }

    private Behavior<Command> onOpenReplica(OpenReplica m) {
        String busy = job != null ? job.id() : openingJob;
        if (busy != null) {
            m.leader().tell(new DataParallelWorker.ReplicaRefused(node, "busy with job " + busy));
            return this;
        }
        openingJob = m.jobId();
        getContext().getLog().info("opening a replica of job {} for {}", m.jobId(), m.leader().path().address());
        var blocking = getContext().getSystem().dispatchers().lookup(DispatcherSelector.blocking());
        var log = getContext().getLog();
        getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> openSession(m, workDir, log), blocking),
                (session, failure) -> new Opened(m, session, failure));
        return this;
    }

    /** Runs on the blocking dispatcher: loads the model (the actor's context is not touched from there). */
    private static TrainingSession openSession(OpenReplica m, Path workDir, org.slf4j.Logger log) {
        var config = ConfigFactory.parseString(m.configText())
                .withValue("out", ConfigValueFactory.fromAnyRef(workDir.resolve("job-" + m.jobId()).toString()));
        return TrainingSession.openReplica(FinetuneConfig.from(config), m.configText(), log::info);
    }

    private Behavior<Command> onOpened(Opened m) {
        openingJob = null;
        OpenReplica request = m.request();
        if (m.failure() != null) {
            Throwable cause = m.failure() instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : m.failure();
            m.request().leader().tell(new DataParallelWorker.ReplicaRefused(node, "cannot open the job here: " + cause.getMessage()));
            return this;
        }
        String name = "job-" + request.jobId();
        ActorRef<MemoryManagerActor.Command> memory = getContext().spawn(MemoryManagerActor.create(m.session().memory), name + "-memory");
        ReplicaTrainer.Parts parts = ReplicaTrainer.spawn(getContext(), name, m.session(), memory, request.chunkFloats(), node);
        job = new Job(request.jobId(), m.session(), memory, parts);
        getContext().watchWith(request.leader(), new LeaderGone(request.jobId()));
        getContext().watchWith(parts.worker(), new WorkerStopped(m.session()));
        request.leader().tell(new DataParallelWorker.ReplicaOpened(node, parts.replica(), parts.exchange()));
        return this;
    }

    private Behavior<Command> onLeaderGone(LeaderGone m) {
        if (job == null || !job.id().equals(m.jobId())) return this;
        getContext().getLog().info("the leader of job {} is gone: closing its replica", m.jobId());
        getContext().stop(job.parts().worker());   // the session closes once the worker has stopped (WorkerStopped)
        return this;
    }

    /**
     * The compute worker stopped: the job ended (the leader is gone) or the worker failed (a bug; the leader sees the
     * replica leave and deals its share to the others). Either way the replica's actors stop and the session closes.
     */
    private Behavior<Command> onWorkerStopped(WorkerStopped m) {
        if (job != null && job.session() == m.session()) {
            getContext().stop(job.parts().replica());
            getContext().stop(job.parts().exchange());
            getContext().stop(job.memory());
            job = null;
        }
        m.session().close();
        return this;
    }
}
