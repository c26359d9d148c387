package io.qlora4j.actors.train;

import io.qlora4j.actors.memory.MemoryManagerActor;
import io.qlora4j.memory.PagingStats;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.train.TrainStep;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The cluster job actor: the compute of a data-parallel run, on the submitting node (the leader). To the
 * {@link Coordinator} it is a compute worker ({@link WorkerTask}); behind that it deals every step over the trainer
 * nodes of a Pekko Cluster, each holding the whole 4-bit base and one {@link ReplicaTrainer}.
 *
 * <h2>Design</h2>
 * <ul>
 *   <li><b>One data order, dealt by micro-batch.</b> The coordinator streams the data exactly as on one node (same seed,
 *   shuffle windows, length grouping) and gathers a step's {@code grad-accum} micro-batches. This actor cuts them into P
 *   contiguous shares, one per replica in rank order (rank r gets micro-batches {@code [r·G/P, (r+1)·G/P)}); the shares
 *   are disjoint and together are the step. So an N-node run trains on the same examples per step as a single-node run
 *   with the same global batch, and a lost node's share is simply dealt to the others. Sharding records across nodes
 *   (the data server's shard index/count) would change which examples meet in a step, so it could never equal the
 *   single-node run; a micro-batch is small (token ids), so sending it costs far less than the gradient.</li>
 *   <li><b>Gradient.</b> Each replica normalises its share's gradient by the target tokens of the whole step
 *   ({@link TrainStep#computeGradients(List, int)}), so the sum over replicas is the step's gradient. The sum is a
 *   chunked reduce-scatter + all-gather ({@link GradientExchange}) with a fixed summation order, so every replica holds
 *   the same bits; only LoRA gradients cross the network, as raw floats ({@link GradientChunkSerializer}).</li>
 *   <li><b>Two-phase step.</b> A replica applies AdamW only after the leader has heard from every replica that it
 *   holds the sum ({@link ShareReduced} → {@link ReplicaTrainer.Commit}). A replica lost before the commit aborts the
 *   round everywhere (nobody has applied it) and the same micro-batches are re-dealt to the survivors; a replica lost
 *   after the commit does not matter (every survivor applies the same sum). So every step is applied by all live
 *   replicas or by none, and the last consistent step is always the last committed one.</li>
 *   <li><b>Membership at step boundaries.</b> Trainer nodes announce themselves with the receptionist
 *   ({@link TrainerNode#KEY}); a node that is downed (the split-brain resolver downs an unreachable one) or stops ends
 *   its replica's death watch. A node that joins while fewer than {@code nodes} replicas train gets a replica, and
 *   between two steps the leader's adapter and optimizer state ({@link ReplicaState}, in bounded chunks); it trains from
 *   the next step. Every change is logged loudly with the new count.</li>
 *   <li><b>Batch and learning-rate rule.</b> The global batch stays {@code batch × grad-accum} whatever the number of
 *   nodes (fewer nodes each take more micro-batches) and the learning rate and schedule are unchanged, so a membership
 *   change changes speed, never the optimisation. A job asks for at most {@code grad-accum} nodes (each needs a
 *   micro-batch); the last step of a finite data stream may still leave a replica an empty share, which contributes a
 *   zero gradient.</li>
 *   <li><b>Checks.</b> After each update every replica reports a CRC-32C of its adapter; they must all be equal or the
 *   step fails ("replicas diverged").</li>
 * </ul>
 * The leader's own replica shares the run's session; evaluation and snapshots run on it alone.
 */
final class DataParallelWorker extends AbstractBehavior<DataParallelWorker.Command> {

    sealed interface Command permits WorkerTask, ReplicaOpened, ReplicaRefused, StateInstalled, ShareReduced, ShareApplied,
            ShareFailed, Listed, ReplicaLeft, TrainerNodeGone, Snapshotted {
    }

    /** A trainer node opened a replica for this job. */
    record ReplicaOpened(String node, ActorRef<ReplicaTrainer.Command> replica, ActorRef<GradientExchange.Command> exchange)
            implements Command, ClusterMessage {
    }

    /** A trainer node cannot take part (busy with another job, model missing there, ...). */
    record ReplicaRefused(String node, String reason) implements Command, ClusterMessage {
    }

    record StateInstalled(ActorRef<ReplicaTrainer.Command> replica, String node, int step, long stateChecksum)
            implements Command, ClusterMessage {
    }

    record ShareReduced(long round, int rank, double lossSum, long bytesSent, int chunksSent, int maxChunkBytes,
                        double exchangeSeconds) implements Command, ClusterMessage {
    }

    record ShareApplied(long round, int rank, long stateChecksum, TrainStep.Result result, PagingStats paging)
            implements Command, ClusterMessage {
    }

    record ShareFailed(long round, String node, String reason) implements Command, ClusterMessage {
    }

    private record Listed(Receptionist.Listing listing) implements Command {
    }

    private record ReplicaLeft(ActorRef<ReplicaTrainer.Command> replica) implements Command {
    }

    private record TrainerNodeGone(ActorRef<TrainerNode.Command> node) implements Command {
    }

    private record Snapshotted(TrainingSnapshot snapshot) implements Command {
    }

    /** A replica of the job. */
    private record Member(String node, ActorRef<ReplicaTrainer.Command> replica, ActorRef<GradientExchange.Command> exchange) {
    }

    /** The step in flight: its micro-batches, who computes which share, and what they answered. */
    private static final class Round {
        final long id;
        final ComputeWorker.RunStep step;
        final List<Member> members;
        final List<List<Batch>> shares;
        final int targetTokens;
        final ShareReduced[] reduced;
        final ShareApplied[] applied;
        final boolean[] left;
        final long startNanos = System.nanoTime();
        boolean committed;

        Round(long id, ComputeWorker.RunStep step, List<Member> members) {
            this.id = id;
            this.step = step;
            this.members = List.copyOf(members);
            int g = step.microBatches().size();
            int p = members.size();
            this.shares = new ArrayList<>(p);
            for (int r = 0; r < p; r++) shares.add(step.microBatches().subList(g * r / p, g * (r + 1) / p));
            this.targetTokens = step.microBatches().stream().mapToInt(Batch::targetTokens).sum();
            this.reduced = new ShareReduced[p];
            this.applied = new ShareApplied[p];
            this.left = new boolean[p];
        }

        boolean all(Object[] answers) {
            for (int r = 0; r < answers.length; r++) if (answers[r] == null && !left[r]) return false;
            return true;
        }
    }

    private final TrainingSession session;
    private final ClusterJobSettings settings;
    private final Consumer<String> log;
    private final String jobId;
    private final String self;
    private final ActorRef<ComputeWorker.Command> localWorker;
    private final List<Member> members = new ArrayList<>();               // rank order; the leader's replica first
    private final Map<String, Member> opened = new LinkedHashMap<>();     // opened, waiting for the state
    private final Set<String> installing = new HashSet<>();               // sent the state, not installed yet
    private Set<ActorRef<TrainerNode.Command>> trainerNodes = Set.of();   // the receptionist's latest listing
    private final Set<ActorRef<TrainerNode.Command>> asked = new HashSet<>();      // asked for a replica (never twice)
    private final Set<ActorRef<TrainerNode.Command>> finished = new HashSet<>();   // refused, or stopped/downed since
    private final ActorRef<TrainingSnapshot> snapshotReplies;
    private ComputeWorker.RunStep pendingStep;        // the coordinator's step, waiting for members or a state transfer
    private Round round;
    private long rounds;
    private long transfers;
    private long expectedChecksum;                    // of the state sent to joiners: what they must report installed
    private int expectedStep;
    private boolean snapshotForJoinPending;
    private boolean started;                          // the first step was dispatched
    private String refusedBeforeStart;                // why fewer than the requested nodes can start, if so

    private DataParallelWorker(ActorContext<Command> context, TrainingSession session, ActorRef<MemoryManagerActor.Command> memory,
                               ClusterJobSettings settings, Consumer<String> log) {
        super(context);
        this.session = session;
        this.settings = settings;
        this.log = log;
        this.jobId = settings.jobId();
        this.self = context.getSystem().address().toString();
        ReplicaTrainer.Parts local = ReplicaTrainer.spawn(context, "leader", session, memory, settings.chunkFloats(), self);
        this.localWorker = local.worker();
        context.watch(local.worker());   // the leader's compute failing fails this actor: the coordinator restarts from a checkpoint
        members.add(new Member(self, local.replica(), local.exchange()));
        this.snapshotReplies = context.messageAdapter(TrainingSnapshot.class, Snapshotted::new);
        context.getSystem().receptionist().tell(Receptionist.subscribe(TrainerNode.KEY,
                context.messageAdapter(Receptionist.Listing.class, Listed::new)));
        log.accept(String.format(Locale.ROOT, "data-parallel job %s on %d trainer nodes (this one is rank 0): global batch %d x %d"
                        + " = %d examples per step whatever the number of nodes, learning rate %.3g unchanged",
                jobId, settings.nodes(), session.config.batch(), session.config.gradAccum(), session.config.effectiveBatch(),
                session.config.schedule().peakLr()));
    }

    /** The {@link WorkerTask.Spawner} of a data-parallel run. */
    static WorkerTask.Spawner spawner(ClusterJobSettings settings, Consumer<String> log) {
        return (context, session, memory) -> context.<Command>spawn(
                Behaviors.setup(c -> new DataParallelWorker(c, session, memory, settings, log)), "data-parallel").narrow();
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(ComputeWorker.RunStep.class, this::onRunStep)
                .onMessage(ComputeWorker.Evaluate.class, e -> forward(e))
                .onMessage(ComputeWorker.TakeSnapshot.class, s -> forward(s))
                .onMessage(Listed.class, this::onListed)
                .onMessage(ReplicaOpened.class, this::onOpened)
                .onMessage(ReplicaRefused.class, this::onRefused)
                .onMessage(Snapshotted.class, this::onSnapshotForJoin)
                .onMessage(StateInstalled.class, this::onInstalled)
                .onMessage(ShareReduced.class, this::onReduced)
                .onMessage(ShareApplied.class, this::onApplied)
                .onMessage(ShareFailed.class, this::onShareFailed)
                .onMessage(ReplicaLeft.class, this::onLeft)
                .onMessage(TrainerNodeGone.class, this::onTrainerNodeGone)
                .build();
    }

    private Behavior<Command> forward(WorkerTask task) {
        localWorker.tell(task);   // evaluation and checkpoint snapshots run on the leader's replica alone
        return this;
    }

    // ---- membership ----

    private Behavior<Command> onListed(Listed m) {
        trainerNodes = m.listing().getServiceInstances(TrainerNode.KEY);
        enroll();
        return this;
    }

    /**
     * Asks trainer nodes not yet in the job for a replica, while fewer than wanted train or are on their way. Nodes are
     * told apart by their actor reference, which includes the incarnation: a node restarted at the same address is a new
     * candidate, a node that refused or died is never asked again.
     */
    private void enroll() {
        for (ActorRef<TrainerNode.Command> node : trainerNodes) {
            if (node.path().address().toString().equals(self) || asked.contains(node)) continue;
            if (members.size() + opened.size() + pendingOpens() >= wanted()) break;
            asked.add(node);
            getContext().watchWith(node, new TrainerNodeGone(node));
            node.tell(new TrainerNode.OpenReplica(jobId, session.configText, settings.chunkFloats(), getContext().getSelf()));
        }
    }


    /** Nodes asked for a replica that has neither opened nor been refused, and that are still alive. */
    private int pendingOpens() {
        return (int) asked.stream().filter(n -> !finished.contains(n)).map(n -> n.path().address().toString())
                .filter(a -> !opened.containsKey(a) && members.stream().noneMatch(mb -> mb.node().equals(a))).count();
    }

    private Behavior<Command> onTrainerNodeGone(TrainerNodeGone m) {
        finished.add(m.node());
        if (!started) refusedBeforeStart = "WARNING: trainer node " + m.node().path().address() + " stopped before job " + jobId + " started";
        enroll();
        maybeDispatch();
        return this;
    }

    private int wanted() {
        return settings.nodes();   // at most grad-accum: ClusterFinetuneJob refuses more
    }

    private Behavior<Command> onOpened(ReplicaOpened m) {
        getContext().watchWith(m.replica(), new ReplicaLeft(m.replica()));
        opened.put(m.node(), new Member(m.node(), m.replica(), m.exchange()));
        maybeSendState();
        return this;
    }

    private Behavior<Command> onRefused(ReplicaRefused m) {
        asked.stream().filter(n -> n.path().address().toString().equals(m.node())).forEach(finished::add);
        String line = "WARNING: trainer node " + m.node() + " refused to join job " + jobId + ": " + m.reason();
        log.accept(line);
        getContext().getLog().warn(line);
        if (!started) refusedBeforeStart = line;
        maybeDispatch();
        return this;
    }

    /** Between steps, snapshots the leader's state for the replicas that opened since the last transfer. */
    private void maybeSendState() {
        if (round != null || snapshotForJoinPending || installing.containsAll(opened.keySet())) return;
        snapshotForJoinPending = true;
        localWorker.tell(new ComputeWorker.TakeSnapshot(snapshotReplies));
    }

    private Behavior<Command> onSnapshotForJoin(Snapshotted m) {
        snapshotForJoinPending = false;
        byte[] state = ReplicaState.encode(ReplicaState.trainables(m.snapshot(), session.trainStep.trainables()), m.snapshot().optimizer());
        List<byte[]> chunks = ReplicaState.chunks(state);
        List<Member> joiners = opened.values().stream().filter(j -> !installing.contains(j.node())).toList();
        for (Member joiner : joiners) {
            long transfer = ++transfers;
            for (int i = 0; i < chunks.size(); i++) {
                joiner.replica().tell(new ReplicaTrainer.InstallState(transfer, i, chunks.size(), chunks.get(i), getContext().getSelf()));
            }
        }
        expectedChecksum = ReplicaState.checksum(ReplicaState.trainables(m.snapshot(), session.trainStep.trainables()));
        expectedStep = m.snapshot().step();
        joiners.forEach(j -> installing.add(j.node()));
        log.accept(String.format(Locale.ROOT, "sending the adapter and optimizer state of step %d (%d bytes in %d chunks) to %s",
                m.snapshot().step(), state.length, chunks.size(), joiners.stream().map(Member::node).toList()));
        return this;
    }


    private Behavior<Command> onInstalled(StateInstalled m) {
        Member joiner = opened.remove(m.node());
        installing.remove(m.node());
        if (joiner == null) return this;   // left meanwhile
        if (m.step() != expectedStep || m.stateChecksum() != expectedChecksum) {
            throw new IllegalStateException("replica " + m.node() + " installed step " + m.step() + " with checksum " + m.stateChecksum()
                    + ", the leader sent step " + expectedStep + " with checksum " + expectedChecksum);
        }
        members.add(joiner);
        String line = String.format(Locale.ROOT, "trainer node %s joined at step %d: %d of %d trainer nodes now train", m.node(),
                m.step(), members.size(), settings.nodes());
        log.accept(line);
        getContext().getLog().info(line);
        maybeDispatch();
        return this;
    }

    private Behavior<Command> onLeft(ReplicaLeft m) {
        if (Cluster.get(getContext().getSystem()).selfMember().status() != MemberStatus.up()) {
            return this;   // this node is leaving (the job is over): every remote replica looks gone
        }
        Member member = members.stream().filter(mb -> mb.replica().equals(m.replica())).findFirst()
                .orElseGet(() -> opened.values().stream().filter(mb -> mb.replica().equals(m.replica())).findFirst().orElse(null));
        if (member == null) return this;
        members.remove(member);
        opened.remove(member.node());
        installing.remove(member.node());
        String line = String.format(Locale.ROOT, "WARNING: trainer node %s left (downed or stopped) after step %d: %d of %d trainer"
                        + " nodes continue; the global batch stays %d examples (the others take its micro-batches), learning rate unchanged",
                member.node(), session.trainStep.completedSteps(), members.size(), settings.nodes(), session.config.effectiveBatch());
        log.accept(line);
        getContext().getLog().warn(line);
        if (round != null) {
            int rank = round.members.indexOf(member);
            if (rank >= 0) {
                round.left[rank] = true;
                if (!round.committed) {
                    log.accept("step " + (session.trainStep.completedSteps() + 1) + " was not committed: it is aborted on every"
                            + " replica and its micro-batches are dealt again to the " + members.size() + " remaining");
                    abortAndRerun();
                } else {
                    maybeFinishRound();
                }
            }
        }
        enroll();   // a replacement may already be waiting
        maybeDispatch();
        return this;
    }

    // ---- steps ----

    private Behavior<Command> onRunStep(ComputeWorker.RunStep r) {
        if (pendingStep != null || round != null) throw new IllegalStateException("a step was requested while one runs");
        pendingStep = r;
        maybeDispatch();
        return this;
    }

    private void maybeDispatch() {
        if (pendingStep == null || round != null || !opened.isEmpty() || snapshotForJoinPending) {
            if (round == null) maybeSendState();
            return;
        }
        if (!started && members.size() < wanted()) {
            if (refusedBeforeStart != null && members.size() + opened.size() + pendingOpens() < wanted()) {
                ComputeWorker.RunStep failed = pendingStep;
                pendingStep = null;
                failed.replyTo().tell(new ComputeWorker.StepFailed(session.trainStep.completedSteps() + 1,
                        "fewer than the " + wanted() + " trainer nodes requested can train: " + refusedBeforeStart));
            }
            return;
        }
        started = true;
        ComputeWorker.RunStep step = pendingStep;
        pendingStep = null;
        dispatch(step);
    }

    private void dispatch(ComputeWorker.RunStep step) {
        round = new Round(++rounds, step, members);
        List<ActorRef<GradientExchange.Command>> exchanges = round.members.stream().map(Member::exchange).toList();
        for (int rank = 0; rank < round.members.size(); rank++) {
            round.members.get(rank).replica().tell(new ReplicaTrainer.TrainShare(round.id, rank, round.shares.get(rank),
                    round.targetTokens, exchanges, getContext().getSelf()));
        }
    }

    private void abortAndRerun() {
        Round aborted = round;
        round = null;
        for (int rank = 0; rank < aborted.members.size(); rank++) {
            if (!aborted.left[rank]) aborted.members.get(rank).replica().tell(new ReplicaTrainer.Abort(aborted.id));
        }
        dispatch(aborted.step);
    }

    private Behavior<Command> onReduced(ShareReduced m) {
        if (round == null || m.round() != round.id) return this;
        round.reduced[m.rank()] = m;
        if (!round.committed && round.all(round.reduced)) {
            round.committed = true;
            for (int rank = 0; rank < round.members.size(); rank++) {
                if (!round.left[rank]) round.members.get(rank).replica().tell(new ReplicaTrainer.Commit(round.id));
            }
        }
        return this;
    }

    private Behavior<Command> onApplied(ShareApplied m) {
        if (round == null || m.round() != round.id) return this;
        round.applied[m.rank()] = m;
        maybeFinishRound();
        return this;
    }

    private void maybeFinishRound() {
        if (!round.committed || !round.all(round.applied)) return;
        Round done = round;
        round = null;
        ShareApplied leader = done.applied[0];
        double lossSum = 0;
        long bytes = 0;
        int chunks = 0;
        int maxChunk = 0;
        double exchangeSeconds = 0;
        List<DataParallelStep.ReplicaShare> shares = new ArrayList<>();
        Set<Long> checksums = new HashSet<>();
        for (int rank = 0; rank < done.members.size(); rank++) {
            ShareReduced r = done.reduced[rank];
            lossSum += r.lossSum();
            bytes += r.bytesSent();
            chunks += r.chunksSent();
            maxChunk = Math.max(maxChunk, r.maxChunkBytes());
            exchangeSeconds = Math.max(exchangeSeconds, r.exchangeSeconds());
            ShareApplied a = done.applied[rank];
            if (a != null) checksums.add(a.stateChecksum());
            long[] offsets = done.shares.get(rank).stream().flatMapToLong(b -> java.util.Arrays.stream(b.offsets())).toArray();
            shares.add(new DataParallelStep.ReplicaShare(rank, done.members.get(rank).node() + (done.left[rank] ? " (left after the commit)" : ""),
                    offsets, a == null ? -1 : a.stateChecksum()));
        }
        TrainStep.Result local = leader.result();
        if (checksums.size() != 1) {
            done.step.replyTo().tell(new ComputeWorker.StepFailed(local.step(), "the replicas diverged at step " + local.step()
                    + ": adapter checksums " + shares.stream().map(s -> s.node() + "=" + s.stateChecksum()).toList()));
            return;
        }
        TrainStep.Result result = new TrainStep.Result(local.step(), lossSum, done.targetTokens, local.gradNorm(), local.lr(),
                local.clipped(), local.activationBytes(), (System.nanoTime() - done.startNanos) * 1e-9);
        done.step.replyTo().tell(new ComputeWorker.StepDone(result, leader.paging(),
                Optional.of(new DataParallelStep(shares, bytes, chunks, maxChunk, exchangeSeconds))));
        maybeSendState();
        maybeDispatch();
    }

    private Behavior<Command> onShareFailed(ShareFailed m) {
        if (round == null || m.round() != round.id) return this;
        Round failed = round;
        round = null;
        for (Member member : failed.members) member.replica().tell(new ReplicaTrainer.Abort(failed.id));
        failed.step.replyTo().tell(new ComputeWorker.StepFailed(session.trainStep.completedSteps() + 1,
                "on trainer node " + m.node() + ": " + m.reason()));
        return this;
    }
}
