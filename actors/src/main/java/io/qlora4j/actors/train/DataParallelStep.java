package io.qlora4j.actors.train;

import java.util.List;
import java.util.Locale;

/**
 * What one data-parallel step did across the cluster, for the run's logs: each replica's share of the step (the
 * dataset offsets it trained on, and a checksum of its adapter after the update, which must be the same on every
 * replica) and the cost of the gradient all-reduce.
 *
 * @param replicas        in rank order
 * @param exchangeBytes   gradient bytes all replicas together sent over the network (payload and chunk headers)
 * @param chunks          chunk messages sent
 * @param maxChunkBytes   the largest chunk message (bounded by {@code qlora4j.cluster.chunk-floats})
 * @param exchangeSeconds wall time from the first share computed to the last replica holding the summed gradient
 */
record DataParallelStep(List<ReplicaShare> replicas, long exchangeBytes, int chunks, int maxChunkBytes, double exchangeSeconds) {

    /** One replica's part of a step. */
    record ReplicaShare(int rank, String node, long[] offsets, long stateChecksum) {
    }

    /** Fields appended to the step's line in metrics.jsonl. */
    String metricsJson() {
        return String.format(Locale.ROOT, ",\"nodes\":%d,\"exchange_bytes\":%d,\"exchange_chunks\":%d,\"max_chunk_bytes\":%d,"
                + "\"exchange_seconds\":%.4f", replicas.size(), exchangeBytes, chunks, maxChunkBytes, exchangeSeconds);
    }

    /** Fields appended to the step's line in offsets.jsonl: which node trained on which offsets. */
    String ledgerJson() {
        StringBuilder sb = new StringBuilder(",\"replicas\":[");
        for (int i = 0; i < replicas.size(); i++) {
            ReplicaShare r = replicas.get(i);
            sb.append(i == 0 ? "" : ",").append("{\"rank\":").append(r.rank()).append(",\"node\":\"").append(r.node())
                    .append("\",\"state_crc\":").append(r.stateChecksum()).append(",\"offsets\":[");
            for (int j = 0; j < r.offsets().length; j++) sb.append(j == 0 ? "" : ",").append(r.offsets()[j]);
            sb.append("]}");
        }
        return sb.append("]").toString();
    }
}
