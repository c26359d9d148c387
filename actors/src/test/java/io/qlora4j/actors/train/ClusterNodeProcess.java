package io.qlora4j.actors.train;

import io.qlora4j.actors.cluster.ClusterNode;
import io.qlora4j.actors.cluster.ClusterSettings;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A trainer node in a child JVM, started by {@link ClusterFinetuneTest} the way {@code qlora4j node --role trainer}
 * starts one (and killed by it with SIGKILL). Arguments: port, seed HOST:PORT, work folder.
 */
public final class ClusterNodeProcess {
    private ClusterNodeProcess() {
    }

    public static void main(String[] args) throws InterruptedException {
        var settings = new ClusterSettings(Optional.of("127.0.0.1"), Integer.parseInt(args[0]), List.of(args[1]), List.of("trainer"),
                Optional.empty());
        ClusterNode node = ClusterNode.start(settings, ClusterNode.Role.TRAINER, Path.of(args[2]), Optional.empty(), 0);
        ClusterNode.awaitUp(node.system(), Duration.ofSeconds(60));
        System.out.println("node up: " + node.address());
        node.awaitTermination();
    }
}
