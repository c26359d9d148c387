package io.qlora4j.actors.train;

import java.time.Duration;
import java.util.Locale;

/**
 * How {@code finetune --cluster} runs a job on a cluster.
 *
 * @param seed        {@code HOST:PORT} of a node of the cluster to join through
 * @param nodes       trainer replicas the job trains on, the submitting process (rank 0, which writes the run folder) included
 * @param waitPolicy  what to do while fewer than {@code nodes} trainers are in the cluster
 * @param waitTimeout how long {@link WaitPolicy#FAIL} waits before failing
 * @param joinTimeout how long to wait to become a member through {@code seed}
 * @param chunkFloats floats per all-reduce message
 * @param jobId       names the job on every node (its replicas' folders, its log lines)
 */
public record ClusterJobSettings(String seed, int nodes, WaitPolicy waitPolicy, Duration waitTimeout, Duration joinTimeout,
                                 int chunkFloats, String jobId) {

    /** {@code --wait-for-nodes}: fail after the timeout, or wait (saying so) until the nodes are there. */
    public enum WaitPolicy {
        FAIL, WAIT;

        public static WaitPolicy parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "fail" -> FAIL;
                case "wait" -> WAIT;
                default -> throw new IllegalArgumentException("--wait-for-nodes '" + s + "': expected fail or wait");
            };
        }
    }

    /** A job's settings with the timeouts and chunk size of a node configuration's {@code qlora4j.cluster} section. */
    public static ClusterJobSettings of(com.typesafe.config.Config node, String seed, int nodes, WaitPolicy waitPolicy, String jobId) {
        var c = node.getConfig("qlora4j.cluster");
        return new ClusterJobSettings(seed, nodes, waitPolicy, c.getDuration("wait-for-nodes-timeout"), c.getDuration("join-timeout"),
                c.getInt("chunk-floats"), jobId);
    }

    public ClusterJobSettings {
        if (nodes < 1) throw new IllegalArgumentException("--nodes must be at least 1 (the submitting process trains too), got " + nodes);
        if (chunkFloats < 1) throw new IllegalArgumentException("qlora4j.cluster.chunk-floats must be >= 1, got " + chunkFloats);
    }
}
