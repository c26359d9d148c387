package io.qlora4j.cli;

import io.qlora4j.actors.cluster.ClusterNode;
import io.qlora4j.actors.cluster.ClusterSettings;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.cluster.Cluster;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code node}: a member of a qlora4j Pekko Cluster. A trainer node loads a job's model when a job submitted with
 * {@code finetune --cluster} asks it to, and trains its share of every step; a data node is a member that serves a data
 * folder over gRPC when given one. Runs until Ctrl-C (which leaves the cluster gracefully).
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = {"Join (or start) a qlora4j cluster: Pekko Cluster over Artery TCP, keep-majority split-brain resolver,",
                "bound to 127.0.0.1 unless --host or a --config overlay (deploy/*.conf) says otherwise. Runs until Ctrl-C.",
                "The first node lists itself as seed: `node --port 2552 --seed-nodes 127.0.0.1:2552`."})
final class NodeCommand implements Callable<Integer> {

    @Option(names = "--port", required = true, paramLabel = "P", description = "Artery TCP port of this node.")
    int port;

    @Option(names = "--seed-nodes", paramLabel = "HOST:PORT,…",
            description = "Nodes to join through (this node's own HOST:PORT to start a cluster); none: the --config overlay's.")
    String seedNodes;

    @Option(names = "--role", defaultValue = "trainer", paramLabel = "trainer|data", description = "What the node does (default: ${DEFAULT-VALUE}).")
    ClusterNode.Role role;

    @Option(names = "--host", paramLabel = "ADDRESS", description = "Address to bind and announce (default: 127.0.0.1, or the overlay's).")
    String host;

    @Option(names = "--config", paramLabel = "FILE", description = "HOCON overlay, e.g. deploy/local-cluster.conf or deploy/kubernetes.conf.")
    Path config;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Trainer: folder for the replicas' paging files (default: qlora4j.cluster.work-dir).")
    Path workDir;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Data role: serve this folder's datasets over gRPC (as serve-data).")
    Path dataDir;

    @Option(names = "--data-port", defaultValue = "7070", paramLabel = "PORT", description = "Data role: gRPC port (default: ${DEFAULT-VALUE}).")
    int dataPort;

    @Override
    public Integer call() throws InterruptedException {
        if (dataDir != null && role != ClusterNode.Role.DATA) throw new IllegalArgumentException("--data-dir is for --role data");
        var settings = new ClusterSettings(Optional.ofNullable(host), port,
                seedNodes == null ? List.of() : ClusterSettings.parseSeeds(seedNodes), List.of(role.label()), Optional.ofNullable(config));
        var nodeConfig = settings.toConfig();
        Path work = workDir != null ? workDir : Path.of(nodeConfig.getString("qlora4j.cluster.work-dir"));
        if (nodeConfig.getStringList("pekko.cluster.seed-nodes").isEmpty() && !nodeConfig.hasPath("pekko.management")) {
            throw new IllegalArgumentException("no seed nodes: pass --seed-nodes HOST:PORT (this node's own to start a cluster)"
                    + " or a --config overlay that sets pekko.cluster.seed-nodes");
        }
        ClusterNode node = ClusterNode.start(settings, role, work, Optional.ofNullable(dataDir), dataPort);
        System.out.println("node " + node.address() + " (role " + role.label() + ") joining through "
                + nodeConfig.getStringList("pekko.cluster.seed-nodes"));
        node.dataServer().ifPresent(s -> System.out.println("serving " + dataDir + " on " + s.address() + "/NAME"));
        Cluster.get(Adapter.toClassic(node.system())).registerOnMemberUp(() -> System.out.println("node " + node.address() + " is Up"));
        Runtime.getRuntime().addShutdownHook(new Thread(node::close, "node-shutdown"));
        node.awaitTermination();
        return 0;
    }
}
