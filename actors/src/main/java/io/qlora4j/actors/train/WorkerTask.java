package io.qlora4j.actors.train;

import io.qlora4j.actors.memory.MemoryManagerActor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * What the {@link Coordinator} asks of "the compute": a step, an evaluation, a snapshot. A single-node run answers
 * them with one {@link ComputeWorker}; a data-parallel run with a {@link DataParallelWorker}, which deals each step over
 * the replicas of the cluster. Both accept exactly this protocol, so the coordinator does not know which it drives.
 */
sealed interface WorkerTask extends ComputeWorker.Command, DataParallelWorker.Command
        permits ComputeWorker.RunStep, ComputeWorker.Evaluate, ComputeWorker.TakeSnapshot {

    /** Spawns the compute of a run as a child of the coordinator (which watches it and restarts it from a checkpoint). */
    @FunctionalInterface
    interface Spawner {
        ActorRef<WorkerTask> spawn(ActorContext<?> context, TrainingSession session, ActorRef<MemoryManagerActor.Command> memory);
    }

    /** One compute worker in this process, on its own dispatcher. */
    Spawner LOCAL = (context, session, memory) -> spawnLocal(context, ComputeWorker.create(session, memory));

    /** Spawns {@code worker} on the compute dispatcher, stopped (not restarted) on failure: the coordinator decides. */
    static ActorRef<WorkerTask> spawnLocal(ActorContext<?> context, Behavior<ComputeWorker.Command> worker) {
        return context.<ComputeWorker.Command>spawnAnonymous(Behaviors.supervise(worker).onFailure(SupervisorStrategy.stop()),
                DispatcherSelector.fromConfig("qlora4j.compute-dispatcher")).narrow();
    }
}
