package io.qlora4j.actors.train;

/**
 * Marker of the all-reduce's chunk messages; bound to {@link GradientChunkSerializer} (raw little-endian floats) in
 * {@code qlora4j-cluster.conf}.
 */
public sealed interface GradientChunk permits GradientExchange.Contribution, GradientExchange.ReducedChunk {

    /** Floats in the chunk. */
    int length();
}
