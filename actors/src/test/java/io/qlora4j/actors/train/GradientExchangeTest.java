package io.qlora4j.actors.train;

import io.qlora4j.actors.cluster.ClusterNode;
import io.qlora4j.actors.cluster.ClusterSettings;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The chunked all-reduce on a real three-node Pekko Cluster on 127.0.0.1 (three actor systems in this JVM, talking
 * over Artery TCP through the raw-float chunk serializer): every node ends with the same bits, which are the rank-order
 * float sum; no chunk exceeds its bound; a later round's chunks that arrive early are kept, an aborted round's dropped.
 */
class GradientExchangeTest {

    private static final int NODES = 3;
    private static final int CHUNK_FLOATS = 1000;
    private static final List<ActorSystem<Void>> systems = new ArrayList<>();

    @BeforeAll
    static void formCluster() {
        for (int i = 0; i < NODES; i++) {
            String seed = i == 0 ? null : systems.getFirst().address().getHost().get() + ":" + systems.getFirst().address().getPort().get();
            var settings = new ClusterSettings(Optional.of("127.0.0.1"), 0, seed == null ? List.of() : List.of(seed), List.of("trainer"),
                    Optional.empty());
            ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), ClusterSettings.SYSTEM, settings.toConfig());
            if (seed == null) {   // the first node is its own seed; its port was picked at bind time
                var cluster = org.apache.pekko.cluster.typed.Cluster.get(system);
                cluster.manager().tell(new org.apache.pekko.cluster.typed.Join(system.address()));
            }
            systems.add(system);
        }
        for (ActorSystem<Void> s : systems) ClusterNode.awaitUp(s, Duration.ofSeconds(30));
    }

    @AfterAll
    static void stop() {
        systems.forEach(ActorSystem::terminate);
    }

    @Test
    void everyNodeGetsTheSameRankOrderSumInBoundedChunks() {
        int length = 100_003;   // not a multiple of the nodes or the chunk: uneven segments, short last chunks
        Random random = new Random(7);
        float[][] local = new float[NODES][length];
        for (float[] g : local) for (int i = 0; i < length; i++) g[i] = (float) random.nextGaussian() * (random.nextInt(4) == 0 ? 1e4f : 1e-3f);
        float[] expected = new float[length];
        for (int i = 0; i < length; i++) expected[i] = (local[0][i] + local[1][i]) + local[2][i];

        List<ActorRef<GradientExchange.Command>> exchanges = new ArrayList<>();
        for (int i = 0; i < NODES; i++) {
            exchanges.add(systems.get(i).systemActorOf(GradientExchange.create(CHUNK_FLOATS), "exchange-" + i, Props.empty()));
        }
        // each node addresses the others through Artery, as the leader's serialized references do in a real job
        List<TestProbe<GradientExchange.Reduced>> probes = new ArrayList<>();
        for (int rank = NODES - 1; rank >= 0; rank--) {   // ranks start in reverse: early chunks must be held
            ActorSystem<Void> system = systems.get(rank);
            List<ActorRef<GradientExchange.Command>> peers = new ArrayList<>();
            for (int owner = 0; owner < NODES; owner++) peers.add(remote(exchanges.get(owner), systems.get(owner), system));
            TestProbe<GradientExchange.Reduced> probe = TestProbe.create(system);
            probes.addFirst(probe);
            exchanges.get(rank).tell(new GradientExchange.Reduce(1, rank, peers, local[rank], probe.getRef()));
        }
        List<Long> bytes = new ArrayList<>();
        for (int rank = 0; rank < NODES; rank++) {
            GradientExchange.Reduced r = probes.get(rank).expectMessageClass(GradientExchange.Reduced.class, Duration.ofSeconds(30));
            assertArrayEquals(expected, r.sum(), "node " + rank + " holds the rank-order sum, bit for bit");
            assertTrue(r.maxChunkBytes() <= GradientChunkSerializer.HEADER_BYTES + 4 * CHUNK_FLOATS, "bounded chunks: " + r.maxChunkBytes());
            bytes.add(r.bytesSent());
        }
        // each node sends the (P-1)/P of its gradient it does not own and its own summed segment to the P-1 others
        long payload = bytes.stream().mapToLong(Long::longValue).sum() - (long) GradientChunkSerializer.HEADER_BYTES * totalChunks(length);
        assertEquals(2L * (NODES - 1) * length * 4, payload, "2(P-1)/P of the gradient per node, as a ring all-reduce");
    }

    /** Chunk messages crossing the network: every chunk goes to P-1 owners' peers twice (contribution and sum). */
    private static long totalChunks(int length) {
        long chunks = 0;
        for (int owner = 0; owner < NODES; owner++) {
            int size = GradientExchange.segmentStart(length, NODES, owner + 1) - GradientExchange.segmentStart(length, NODES, owner);
            chunks += (size + CHUNK_FLOATS - 1) / CHUNK_FLOATS;
        }
        return chunks * 2 * (NODES - 1);
    }

    @Test
    void serializerIsBitExact() throws Exception {
        var serializer = new GradientChunkSerializer(null);
        float[] values = {1.5f, -0f, Float.MIN_VALUE, Float.NaN, Float.MAX_VALUE, 3e-39f};
        var chunk = new GradientExchange.Contribution(42, 2, 1000, values);
        byte[] bytes = serializer.toBinary(chunk);
        assertEquals(GradientChunkSerializer.encodedBytes(chunk), bytes.length);
        var back = (GradientExchange.Contribution) serializer.fromBinary(bytes, serializer.manifest(chunk));
        assertEquals(42, back.round());
        assertEquals(2, back.fromRank());
        assertEquals(1000, back.offset());
        for (int i = 0; i < values.length; i++) assertEquals(Float.floatToRawIntBits(values[i]), Float.floatToRawIntBits(back.values()[i]));
        var reduced = new GradientExchange.ReducedChunk(7, 0, Arrays.copyOf(values, 2));
        var r = (GradientExchange.ReducedChunk) serializer.fromBinary(serializer.toBinary(reduced), serializer.manifest(reduced));
        assertArrayEquals(reduced.values(), r.values());
    }

    /** {@code ref} of {@code owner} as {@code from} sees it: a remote reference when they differ. */
    private static <T> ActorRef<T> remote(ActorRef<T> ref, ActorSystem<?> owner, ActorSystem<?> from) {
        return ActorRefResolver.get(from).resolveActorRef(ActorRefResolver.get(owner).toSerializationFormat(ref));
    }
}
