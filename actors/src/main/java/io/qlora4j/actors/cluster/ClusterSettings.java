package io.qlora4j.actors.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Where a qlora4j cluster node lives and whom it joins: its host and port (Artery TCP), the seed nodes, its roles and
 * an optional HOCON overlay ({@code deploy/*.conf}). Builds the node's Pekko configuration: these values over the
 * overlay over {@code qlora4j-cluster.conf} over the defaults.
 *
 * @param host      the address the node binds and announces; empty: the overlay's, else 127.0.0.1
 * @param port      Artery port; 0 picks a free one (a job's submitting process)
 * @param seedNodes {@code HOST:PORT} of the seed nodes; empty: the node is its own seed (the first node of a cluster)
 * @param roles     cluster roles: {@code trainer}, {@code data}, {@code submitter}
 */
public record ClusterSettings(Optional<String> host, int port, List<String> seedNodes, List<String> roles, Optional<Path> overlay) {

    /** The actor system name every node of a qlora4j cluster uses (part of every node address). */
    public static final String SYSTEM = "qlora4j";

    public ClusterSettings {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port " + port + ": a TCP port is 0..65535 (0: any free port)");
        seedNodes = List.copyOf(seedNodes);
        roles = List.copyOf(roles);
        for (String seed : seedNodes) parseSeed(seed);
        overlay.ifPresent(p -> {
            if (!Files.isRegularFile(p)) throw new IllegalArgumentException("--config " + p + ": no such file");
        });
    }

    /** Parses a comma-separated {@code HOST:PORT,…} list, refusing anything else with a hint. */
    public static List<String> parseSeeds(String commaSeparated) {
        List<String> seeds = List.of(commaSeparated.split(",")).stream().map(String::trim).filter(s -> !s.isEmpty()).toList();
        if (seeds.isEmpty()) throw new IllegalArgumentException("--seed-nodes '" + commaSeparated + "': expected HOST:PORT[,HOST:PORT…]");
        seeds.forEach(ClusterSettings::parseSeed);
        return seeds;
    }

    private static void parseSeed(String seed) {
        int colon = seed.lastIndexOf(':');
        boolean ok = colon > 0 && colon < seed.length() - 1;
        if (ok) {
            try {
                int p = Integer.parseInt(seed.substring(colon + 1));
                ok = p > 0 && p <= 65535;
            } catch (NumberFormatException e) {
                ok = false;
            }
        }
        if (!ok) throw new IllegalArgumentException("seed node '" + seed + "' is not HOST:PORT (for example 127.0.0.1:2552)");
    }

    /** The address of a seed {@code HOST:PORT} as Pekko writes it. */
    public static String seedAddress(String hostPort) {
        return "pekko://" + SYSTEM + "@" + hostPort;
    }

    public Config toConfig() {
        Config base = ConfigFactory.parseResources("qlora4j-cluster.conf");
        if (overlay.isPresent()) {
            try {
                base = ConfigFactory.parseFile(overlay.get().toFile()).withFallback(base);
            } catch (ConfigException e) {
                throw new IllegalArgumentException("--config " + overlay.get() + ": " + e.getMessage(), e);
            }
        }
        Config own = ConfigFactory.empty()
                .withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(port))
                .withValue("pekko.cluster.roles", ConfigValueFactory.fromIterable(roles));
        if (host.isPresent()) own = own.withValue("pekko.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(host.get()));
        if (!seedNodes.isEmpty()) {   // none: the overlay's seeds, or Pekko Management's cluster bootstrap
            own = own.withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(
                    seedNodes.stream().map(ClusterSettings::seedAddress).toList()));
        }
        return own.withFallback(base)
                .withFallback(ConfigFactory.load())
                .resolve();
    }
}
