package io.qlora4j.actors.train;

/**
 * Marker of the control messages of a data-parallel job that cross the network; bound to Pekko's {@code jackson-cbor}
 * serializer in {@code qlora4j-cluster.conf}. The gradient itself travels as {@link GradientChunk}s, which have their own
 * serializer.
 */
public interface ClusterMessage {
}
