package io.qlora4j.actors.cluster;

import io.qlora4j.actors.grpc.DatasetServer;
import io.qlora4j.actors.grpc.DatasetServerConfig;
import io.qlora4j.actors.train.TrainerNode;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A running member of a qlora4j cluster ({@code qlora4j node}): an actor system on Artery TCP that joins through the
 * seed nodes, with a {@link TrainerNode} when it has the {@code trainer} role and, with the {@code data} role and a data
 * folder, the gRPC dataset server of {@code serve-data} beside it.
 */
public final class ClusterNode implements AutoCloseable {

    /** What this node does besides being a member. */
    public enum Role {
        TRAINER, DATA;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final ActorSystem<Void> system;
    private final Optional<DatasetServer> dataServer;

    private ClusterNode(ActorSystem<Void> system, Optional<DatasetServer> dataServer) {
        this.system = system;
        this.dataServer = dataServer;
    }

    /**
     * Starts a node.
     *
     * @param workDir  trainer role: where replicas keep their paging files
     * @param dataDir  data role: the folder to serve (empty: the node is only a member)
     * @param dataPort data role: the gRPC port
     */
    public static ClusterNode start(ClusterSettings settings, Role role, Path workDir, Optional<Path> dataDir, int dataPort) {
        Behavior<Void> guardian = Behaviors.setup(context -> {
            if (role == Role.TRAINER) context.spawn(TrainerNode.create(workDir), "trainer");
            return Behaviors.empty();
        });
        ActorSystem<Void> system = ActorSystem.create(guardian, ClusterSettings.SYSTEM, settings.toConfig());
        Optional<DatasetServer> server = Optional.empty();
        try {
            if (role == Role.DATA && dataDir.isPresent()) server = Optional.of(DatasetServer.start(DatasetServerConfig.of(dataDir.get(), dataPort)));
        } catch (RuntimeException e) {
            system.terminate();
            throw e;
        }
        return new ClusterNode(system, server);
    }

    /**
     * Waits until this node is an Up member; otherwise an error that says which seed nodes were tried and how to fix it.
     */
    public static void awaitUp(ActorSystem<?> system, Duration timeout) {
        Cluster cluster = Cluster.get(system);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (cluster.selfMember().status() != MemberStatus.up()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("could not join the qlora4j cluster through "
                        + system.settings().config().getStringList("pekko.cluster.seed-nodes") + " within " + timeout.toSeconds()
                        + " s: is a node running there? Start the first one with `./qlora4j node --port P --seed-nodes HOST:P`");
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while joining the cluster");
            }
        }
    }

    public ActorSystem<Void> system() {
        return system;
    }

    public Optional<DatasetServer> dataServer() {
        return dataServer;
    }

    /** This node's address, {@code pekko://qlora4j@HOST:PORT}. */
    public String address() {
        return system.address().toString();
    }

    /** Blocks until the node's actor system has terminated (Ctrl-C, or downed by the cluster). */
    public void awaitTermination() throws InterruptedException {
        try {
            system.getWhenTerminated().toCompletableFuture().get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("the node stopped: " + e.getCause(), e.getCause());
        }
    }

    /** Leaves the cluster gracefully and stops. */
    @Override
    public void close() {
        dataServer.ifPresent(DatasetServer::close);
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("node " + address() + " did not stop cleanly: " + e, e);
        }
    }
}
