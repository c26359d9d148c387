package io.qlora4j.actors.train;

import io.qlora4j.actors.cluster.ClusterNode;
import io.qlora4j.actors.cluster.ClusterSettings;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * {@code finetune --cluster HOST:PORT --nodes N}: the submitting process joins the cluster (role {@code submitter}),
 * waits until N−1 trainer nodes are members (saying so loudly; failing or waiting on per {@code --wait-for-nodes}),
 * then runs the usual {@link Coordinator} with a {@link DataParallelWorker} as its compute: it trains as rank 0 and
 * writes the same run folder as a single-node run.
 */
public final class ClusterFinetuneJob {

    private ClusterFinetuneJob() {
    }

    public static FinetuneSummary run(FinetuneConfig config, String configText, boolean resume, TrainingListener listener,
                                      ClusterJobSettings cluster, ClusterSettings node) {
        if (cluster.nodes() > config.gradAccum()) {
            throw new IllegalArgumentException("--nodes " + cluster.nodes() + " > --grad-accum " + config.gradAccum() + ": a step is dealt"
                    + " to the nodes by micro-batch, so each node needs at least one; raise --grad-accum to at least --nodes"
                    + " (the global batch is batch x grad-accum, whatever the number of nodes)");
        }
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), ClusterSettings.SYSTEM, node.toConfig());
        try {
            ClusterNode.awaitUp(system, cluster.joinTimeout());
            awaitTrainers(system, cluster, listener);
        } catch (RuntimeException e) {
            system.terminate();
            throw e;
        }
        try (TrainingSession session = TrainingSession.open(config, configText, resume, listener::info)) {
            CompletableFuture<FinetuneSummary> result = new CompletableFuture<>();
            system.systemActorOf(Coordinator.create(session, listener, result, DataParallelWorker.spawner(cluster, listener::info)),
                    "finetune", Props.empty());
            return FinetuneJob.await(system, result);
        } finally {
            system.terminate();
        }
    }

    /** Blocks until {@code nodes − 1} other trainer nodes are registered, or fails per the wait policy. */
    private static void awaitTrainers(ActorSystem<Void> system, ClusterJobSettings cluster, TrainingListener listener) {
        int others = cluster.nodes() - 1;
        long start = System.nanoTime();
        long lastReport = 0;
        while (true) {
            List<String> trainers = trainers(system);
            if (trainers.size() >= others) {
                listener.info("cluster " + cluster.seed() + ": " + (trainers.size() + 1) + " trainer nodes available, "
                        + cluster.nodes() + " requested (this one and " + trainers + ")");
                return;
            }
            long waited = System.nanoTime() - start;
            String missing = "WARNING: the cluster at " + cluster.seed() + " has " + (trainers.size() + 1) + " of the " + cluster.nodes()
                    + " trainer nodes --nodes asks for (this one and " + trainers + "); start more with"
                    + " `./qlora4j node --port P --seed-nodes " + cluster.seed() + " --role trainer`";
            if (cluster.waitPolicy() == ClusterJobSettings.WaitPolicy.FAIL && waited > cluster.waitTimeout().toNanos()) {
                throw new TrainingFailedException(missing + ", or pass --wait-for-nodes=wait; gave up after "
                        + cluster.waitTimeout().toSeconds() + " s (--wait-for-nodes=fail)");
            }
            if (waited - lastReport >= TimeUnit.SECONDS.toNanos(10) || lastReport == 0) {
                listener.info(missing + (cluster.waitPolicy() == ClusterJobSettings.WaitPolicy.WAIT ? "; waiting"
                        : "; failing in " + Math.max(0, cluster.waitTimeout().minusNanos(waited).toSeconds()) + " s"));
                lastReport = Math.max(waited, 1);
            }
            sleep(500);
        }
    }

    private static List<String> trainers(ActorSystem<Void> system) {
        try {
            Receptionist.Listing listing = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
                    replyTo -> Receptionist.find(TrainerNode.KEY, replyTo), Duration.ofSeconds(5), system.scheduler())
                    .toCompletableFuture().get();
            String self = system.address().toString();
            return listing.getServiceInstances(TrainerNode.KEY).stream().map(r -> r.path().address().toString())
                    .filter(a -> !a.equals(self)).sorted().toList();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TrainingFailedException("interrupted while waiting for trainer nodes");
        } catch (ExecutionException e) {
            throw new TrainingFailedException("cannot ask the cluster's receptionist for trainer nodes: " + e.getCause());
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TrainingFailedException("interrupted while waiting for trainer nodes");
        }
    }

    /** A job id (the submission time in base 36): names the job in every node's logs and replica folders. */
    public static String newJobId() {
        return Long.toString(System.currentTimeMillis(), 36);
    }
}
