package io.qlora4j.actors.train;

import org.apache.pekko.actor.typed.ActorSystem;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;

/**
 * Runs one fine-tuning job in-process: assembles the {@link TrainingSession} (model, tokenizer, paging, data,
 * checkpoint), starts an actor system around the {@link Coordinator}, and waits for the run to finish.
 */
public final class FinetuneJob {

    private FinetuneJob() {
    }

    /**
     * @param configText the effective configuration (saved in every checkpoint)
     * @param resume     continue from the newest valid checkpoint in the output folder
     * @throws TrainingFailedException when the run stops on a refusal or error (the message says why)
     */
    public static FinetuneSummary run(FinetuneConfig config, String configText, boolean resume, TrainingListener listener) {
        return run(config, configText, resume, listener, WorkerTask.LOCAL);
    }

    /** The same with the compute spawned by {@code workers} (the supervision test wraps the real worker in a fault). */
    static FinetuneSummary run(FinetuneConfig config, String configText, boolean resume, TrainingListener listener,
                               WorkerTask.Spawner workers) {
        Consumer<String> log = listener::info;
        try (TrainingSession session = TrainingSession.open(config, configText, resume, log)) {
            CompletableFuture<FinetuneSummary> result = new CompletableFuture<>();
            ActorSystem<Coordinator.Command> system = ActorSystem.create(
                    Coordinator.create(session, listener, result, workers), "qlora4j-finetune");
            return await(system, result);
        }
    }

    /** Waits for the run's result, then for the actor system to stop (the coordinator terminates it at the end). */
    static FinetuneSummary await(ActorSystem<?> system, CompletableFuture<FinetuneSummary> result) {
        system.getWhenTerminated().whenComplete((done, error) -> result.completeExceptionally(
                new TrainingFailedException("the trainer stopped unexpectedly" + (error != null ? ": " + error : ""))));
        try {
            return result.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            system.terminate();
            throw new TrainingFailedException("interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new TrainingFailedException(String.valueOf(e.getCause()));
        } finally {
            system.terminate();
            try {
                system.getWhenTerminated().toCompletableFuture().get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException alreadyReported) {
                // the run's own result (or failure) has been returned above
            }
        }
    }
}
