package io.qlora4j.actors.train;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One replica's end of the gradient all-reduce of a data-parallel job: a reduce-scatter followed by an all-gather, in
 * chunks of at most {@code chunkFloats} floats, so no message and no mailbox ever holds the whole gradient.
 *
 * <p>The flat gradient of length L is cut into P contiguous segments, one per replica (segment r is
 * {@code [r·L/P, (r+1)·L/P)}), and each segment into chunks. Reduce-scatter: every replica sends each chunk of segment r
 * to replica r ({@link Contribution}). Replica r sums the P contributions of a chunk in rank order
 * {@code ((c0 + c1) + c2) + …} — a fixed order, so the sum does not depend on arrival order — and all-gathers the sum to
 * every replica ({@link ReducedChunk}). Every replica ends with the same bits, which is what keeps their optimizer
 * states identical. Each replica sends 2·(P−1)/P of the gradient per step, as a ring all-reduce does.
 *
 * <p>A reduction is a numbered round (the leader numbers them; an aborted step's retry is a new round). Chunks of a later
 * round that arrive before this replica's own {@link Reduce} are held; chunks of an earlier or aborted round are dropped.
 */
public final class GradientExchange extends AbstractBehavior<GradientExchange.Command> {

    public sealed interface Command permits Reduce, Contribution, ReducedChunk, Abort {
    }

    /**
     * Sums {@code local} with the other replicas' gradients of {@code round}.
     *
     * @param peers the exchanges of all replicas of the round, in rank order ({@code peers.get(rank)} is this one)
     */
    record Reduce(long round, int rank, List<ActorRef<Command>> peers, float[] local, ActorRef<Reduced> replyTo) implements Command {
    }

    /** A replica's values of one chunk of the receiver's segment. */
    public record Contribution(long round, int fromRank, int offset, float[] values) implements Command, GradientChunk {
        @Override
        public int length() {
            return values.length;
        }
    }

    /** The summed values of one chunk, from the chunk's owner. */
    public record ReducedChunk(long round, int offset, float[] values) implements Command, GradientChunk {
        @Override
        public int length() {
            return values.length;
        }
    }

    /** Forgets {@code round} (a replica left during it). */
    record Abort(long round) implements Command {
    }

    /**
     * The sum over all replicas, and what this replica sent for it.
     *
     * @param bytesSent     chunk bytes sent to other replicas ({@link GradientChunkSerializer#encodedBytes})
     * @param chunksSent    chunk messages sent to other replicas
     * @param maxChunkBytes the largest of them
     */
    record Reduced(long round, float[] sum, long bytesSent, int chunksSent, int maxChunkBytes) {
    }

    /** The reduction in progress. */
    private static final class Round {
        final Reduce request;
        final float[] sum;
        final Map<Integer, float[][]> contributions = new HashMap<>();   // by chunk offset: values by rank
        int gathered;
        long bytesSent;
        int chunksSent;
        int maxChunkBytes;

        Round(Reduce request) {
            this.request = request;
            this.sum = new float[request.local().length];
        }
    }

    private final int chunkFloats;
    private final List<Command> early = new ArrayList<>();   // chunks of a round this replica has not started yet
    private long lastRound = -1;
    private Round round;

    private GradientExchange(ActorContext<Command> context, int chunkFloats) {
        super(context);
        if (chunkFloats < 1) throw new IllegalArgumentException("qlora4j.cluster.chunk-floats must be >= 1, got " + chunkFloats);
        this.chunkFloats = chunkFloats;
    }

    static Behavior<Command> create(int chunkFloats) {
        return Behaviors.setup(context -> new GradientExchange(context, chunkFloats));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Reduce.class, this::onReduce)
                .onMessage(Contribution.class, this::onContribution)
                .onMessage(ReducedChunk.class, this::onReducedChunk)
                .onMessage(Abort.class, this::onAbort)
                .build();
    }

    private Behavior<Command> onReduce(Reduce r) {
        if (round != null) throw new IllegalStateException("round " + r.round() + " started while round " + round.request.round() + " runs");
        round = new Round(r);
        lastRound = r.round();
        int parts = r.peers().size();
        int length = r.local().length;
        for (int owner = 0; owner < parts; owner++) {
            int end = segmentStart(length, parts, owner + 1);
            for (int at = segmentStart(length, parts, owner); at < end; at += chunkFloats) {
                var chunk = new Contribution(r.round(), r.rank(), at, Arrays.copyOfRange(r.local(), at, Math.min(end, at + chunkFloats)));
                if (owner == r.rank()) onContribution(chunk);
                else send(r.peers().get(owner), chunk);
            }
        }
        List<Command> held = List.copyOf(early);
        early.clear();
        for (Command c : held) {
            switch (c) {
                case Contribution k when k.round() == r.round() -> onContribution(k);
                case ReducedChunk k when k.round() == r.round() -> onReducedChunk(k);
                case Contribution k when k.round() > r.round() -> early.add(k);
                case ReducedChunk k when k.round() > r.round() -> early.add(k);
                default -> {
                    // a chunk of an aborted round
                }
            }
        }
        return this;
    }

    private Behavior<Command> onContribution(Contribution c) {
        if (!current(c.round(), c)) return this;
        int parts = round.request.peers().size();
        float[][] byRank = round.contributions.computeIfAbsent(c.offset(), o -> new float[parts][]);
        byRank[c.fromRank()] = c.values();
        for (float[] v : byRank) if (v == null) return this;
        round.contributions.remove(c.offset());
        float[] sum = byRank[0].clone();
        for (int rank = 1; rank < parts; rank++) {   // rank order: the same bits whatever the arrival order
            float[] v = byRank[rank];
            for (int i = 0; i < sum.length; i++) sum[i] += v[i];
        }
        var reduced = new ReducedChunk(c.round(), c.offset(), sum);
        for (int rank = 0; rank < parts; rank++) {
            if (rank != round.request.rank()) send(round.request.peers().get(rank), reduced);
        }
        return onReducedChunk(reduced);   // last: it may complete the round
    }

    private Behavior<Command> onReducedChunk(ReducedChunk c) {
        if (!current(c.round(), c)) return this;
        System.arraycopy(c.values(), 0, round.sum, c.offset(), c.values().length);
        round.gathered += c.values().length;
        if (round.gathered == round.sum.length) {
            Round done = round;
            round = null;
            done.request.replyTo().tell(new Reduced(done.request.round(), done.sum, done.bytesSent, done.chunksSent, done.maxChunkBytes));
        }
        return this;
    }

    private Behavior<Command> onAbort(Abort a) {
        if (round != null && round.request.round() == a.round()) round = null;
        lastRound = Math.max(lastRound, a.round());
        early.removeIf(c -> roundOf(c) <= a.round());
        return this;
    }

    /** Whether {@code c} belongs to the round in progress; a chunk of a round not started yet is held for it. */
    private boolean current(long chunkRound, Command c) {
        if (round != null && round.request.round() == chunkRound) return true;
        if (chunkRound > lastRound) early.add(c);
        return false;
    }

    private void send(ActorRef<Command> peer, GradientChunk chunk) {
        int bytes = GradientChunkSerializer.encodedBytes(chunk);
        round.bytesSent += bytes;
        round.chunksSent++;
        round.maxChunkBytes = Math.max(round.maxChunkBytes, bytes);
        peer.tell((Command) chunk);
    }

    private static long roundOf(Command c) {
        return switch (c) {
            case Contribution k -> k.round();
            case ReducedChunk k -> k.round();
            case Reduce r -> r.round();
            case Abort a -> a.round();
        };
    }

    /** First element of segment {@code owner} of {@code parts} over {@code length} elements. */
    static int segmentStart(int length, int parts, int owner) {
        return (int) ((long) length * owner / parts);
    }
}
