package io.qlora4j.actors.train;

import io.qlora4j.actors.memory.MemoryManagerActor;
import io.qlora4j.memory.Category;
import io.qlora4j.memory.PagingStats;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.Transformer;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.infer.MultipleChoice;
import io.qlora4j.model.train.DeviceOutOfMemoryException;
import io.qlora4j.model.train.NonFiniteGradientException;
import io.qlora4j.model.train.TrainStep;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.List;
import java.util.Optional;

/**
 * The compute actor: owns the {@link TrainStep} and runs it, one message at a time, on its own dispatcher (the work is
 * long and CPU-bound). Never does I/O: checkpoints leave it as an in-memory {@link TrainingSnapshot}.
 *
 * <p>A step: ask the memory-manager actor for the step's activation memory (it may page optimizer state out to make
 * room) → forward and backward over the micro-batches → give the memory back and wait for the acknowledgement (so the
 * optimizer's pages can come back into it) → AdamW → close the step's paging statistics → reply {@link StepDone}.
 * A refusal (out of device memory, non-finite gradients) is a {@link StepFailed} reply, with parameters untouched.
 *
 * <p>Data-parallel replicas split that step in two around the all-reduce: {@link ComputeShare} runs the first half on
 * this replica's share and replies the flat local gradient ({@link ShareComputed}); {@link ApplySummed} takes the sum
 * over all replicas and runs the second half (AdamW); {@link DropShare} forgets a share whose step was aborted.
 */
final class ComputeWorker extends AbstractBehavior<ComputeWorker.Command> {

    sealed interface Command permits WorkerTask, ComputeShare, ApplySummed, DropShare, RoomAnswer, ReleasedAnswer, StatsAnswer {
    }

    /** Runs one optimizer step over {@code microBatches}. */
    record RunStep(List<Batch> microBatches, ActorRef<StepReply> replyTo) implements WorkerTask {
    }

    /** Held-out loss over {@code batches}, and multiple-choice accuracy when questions are given. */
    record Evaluate(List<Batch> batches, List<MultipleChoice.Question> questions, ActorRef<EvalDone> replyTo) implements WorkerTask {
    }

    record TakeSnapshot(ActorRef<TrainingSnapshot> replyTo) implements WorkerTask {
    }

    /** Forward and backward over this replica's {@code share} of a step whose micro-batches hold {@code stepTargetTokens}. */
    record ComputeShare(List<Batch> share, int stepTargetTokens, ActorRef<ShareReply> replyTo) implements Command {
    }

    /** The second half of the shared step: AdamW with {@code summed}, the all-reduced gradient. */
    record ApplySummed(float[] summed, ActorRef<StepReply> replyTo) implements Command {
    }

    /** The step of the computed share was aborted (a replica left): forget its gradient. */
    record DropShare() implements Command {
    }

    private record RoomAnswer(MemoryManagerActor.RoomReply reply) implements Command {
    }

    private record ReleasedAnswer(MemoryManagerActor.Released released) implements Command {
    }

    private record StatsAnswer(PagingStats stats) implements Command {
    }

    sealed interface StepReply permits StepDone, StepFailed {
    }

    sealed interface ShareReply permits ShareComputed, StepFailed {
    }

    /**
     * @param parallel in a data-parallel run, who trained on what and what the gradient exchange cost; empty on one node
     */
    record StepDone(TrainStep.Result result, PagingStats paging, Optional<DataParallelStep> parallel) implements StepReply {
    }

    record StepFailed(int step, String reason) implements StepReply, ShareReply {
    }

    /** A replica's share of a step: its loss sum and its gradient, flat in {@link TrainStep#copyGradientsTo} layout. */
    record ShareComputed(int step, double lossSum, float[] gradient) implements ShareReply {
    }

    record EvalDone(int step, Transformer.Loss loss, Optional<MultipleChoice.Result> mmlu, double seconds) {
    }

    /**
     * The step in flight: its batches (the whole step, or this replica's share of a step of {@code stepTargetTokens}),
     * who waits for the gradient ({@code shareReplyTo}, data-parallel) or the result ({@code replyTo}), and what has been
     * computed so far.
     */
    private record InFlight(List<Batch> batches, int stepTargetTokens, ActorRef<ShareReply> shareReplyTo,
                            ActorRef<StepReply> replyTo, TrainStep.Gradient gradient, TrainStep.Result result) {
        InFlight withGradient(TrainStep.Gradient g) {
            return new InFlight(batches, stepTargetTokens, shareReplyTo, replyTo, g, result);
        }

        InFlight withReplyTo(ActorRef<StepReply> r) {
            return new InFlight(batches, stepTargetTokens, shareReplyTo, r, gradient, result);
        }

        InFlight withResult(TrainStep.Result r) {
            return new InFlight(batches, stepTargetTokens, shareReplyTo, replyTo, gradient, r);
        }
    }

    private final TrainingSession session;
    private final ActorRef<MemoryManagerActor.Command> memory;
    private final ActorRef<MemoryManagerActor.RoomReply> roomAdapter;
    private final ActorRef<MemoryManagerActor.Released> releasedAdapter;
    private final ActorRef<PagingStats> statsAdapter;
    private InFlight inFlight;

    private ComputeWorker(ActorContext<Command> context, TrainingSession session, ActorRef<MemoryManagerActor.Command> memory) {
        super(context);
        this.session = session;
        this.memory = memory;
        this.roomAdapter = context.messageAdapter(MemoryManagerActor.RoomReply.class, RoomAnswer::new);
        this.releasedAdapter = context.messageAdapter(MemoryManagerActor.Released.class, ReleasedAnswer::new);
        this.statsAdapter = context.messageAdapter(PagingStats.class, StatsAnswer::new);
    }

    static Behavior<Command> create(TrainingSession session, ActorRef<MemoryManagerActor.Command> memory) {
        return Behaviors.setup(context -> new ComputeWorker(context, session, memory));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(RunStep.class, this::onRunStep)
                .onMessage(ComputeShare.class, this::onComputeShare)
                .onMessage(ApplySummed.class, this::onApplySummed)
                .onMessage(DropShare.class, d -> {
                    inFlight = null;
                    return this;
                })
                .onMessage(RoomAnswer.class, this::onRoom)
                .onMessage(ReleasedAnswer.class, this::onReleased)
                .onMessage(StatsAnswer.class, this::onStats)
                .onMessage(Evaluate.class, this::onEvaluate)
                .onMessage(TakeSnapshot.class, this::onSnapshot)
                .build();
    }

    private Behavior<Command> onRunStep(RunStep r) {
        int tokens = r.microBatches().stream().mapToInt(Batch::targetTokens).sum();
        return start(new InFlight(r.microBatches(), tokens, null, r.replyTo(), null, null));
    }

    private Behavior<Command> onComputeShare(ComputeShare c) {
        return start(new InFlight(c.share(), c.stepTargetTokens(), c.replyTo(), null, null, null));
    }

    private Behavior<Command> start(InFlight step) {
        if (inFlight != null) throw new IllegalStateException("step requested while step " + inFlightStep() + " runs");
        inFlight = step;
        long bytes = session.trainStep.activationBytes(step.batches());
        memory.tell(new MemoryManagerActor.RequestRoom(Category.ACTIVATIONS, bytes, "activations of step "
                + inFlightStep() + " (" + step.batches().size() + " micro-batches, longest "
                + step.batches().stream().mapToInt(Batch::seqLen).max().orElse(0) + " positions)", roomAdapter));
        return this;
    }

    private Behavior<Command> onRoom(RoomAnswer a) {
        switch (a.reply()) {
            case MemoryManagerActor.Denied d -> fail(d.refusal().message());
            case MemoryManagerActor.Granted g -> {
                try {
                    inFlight = inFlight.withGradient(session.trainStep.computeGradients(inFlight.batches(), inFlight.stepTargetTokens()));
                } catch (NonFiniteGradientException e) {
                    memory.tell(new MemoryManagerActor.Release(g.lease(), releasedAdapter));
                    fail(e.getMessage());
                    return this;
                }
                memory.tell(new MemoryManagerActor.Release(g.lease(), releasedAdapter));
            }
        }
        return this;
    }

    private Behavior<Command> onReleased(ReleasedAnswer a) {
        if (inFlight == null || inFlight.gradient() == null) return this;   // the release of a failed step
        if (inFlight.shareReplyTo() != null) {
            float[] flat = new float[session.trainStep.gradientElements()];
            session.trainStep.copyGradientsTo(flat);
            inFlight.shareReplyTo().tell(new ShareComputed(inFlight.gradient().step(), inFlight.gradient().lossSum(), flat));
            return this;   // AdamW waits for the sum over the replicas: ApplySummed
        }
        applyUpdate(inFlight.gradient());
        return this;
    }

    private Behavior<Command> onApplySummed(ApplySummed a) {
        if (inFlight == null || inFlight.gradient() == null || inFlight.shareReplyTo() == null) {
            throw new IllegalStateException("a summed gradient arrived with no computed share waiting for it");
        }
        inFlight = inFlight.withReplyTo(a.replyTo());
        try {
            applyUpdate(session.trainStep.withSummedGradients(inFlight.gradient(), a.summed()));
        } catch (NonFiniteGradientException e) {
            fail(e.getMessage());
        }
        return this;
    }

    private void applyUpdate(TrainStep.Gradient gradient) {
        try {
            TrainStep.Result result = session.trainStep.applyUpdate(gradient);
            inFlight = inFlight.withResult(result);
            memory.tell(new MemoryManagerActor.EndStep(result.step(), statsAdapter));
        } catch (DeviceOutOfMemoryException e) {
            fail(e.getMessage());
        }
    }

    private Behavior<Command> onStats(StatsAnswer a) {
        InFlight done = inFlight;
        inFlight = null;
        done.replyTo().tell(new StepDone(done.result(), a.stats(), Optional.empty()));
        return this;
    }

    private Behavior<Command> onEvaluate(Evaluate e) {
        long start = System.nanoTime();
        Transformer.Loss loss = session.trainStep.evaluate(e.batches());
        Optional<MultipleChoice.Result> mmlu = e.questions().isEmpty() ? Optional.empty()
                : Optional.of(MultipleChoice.evaluate(session.model,
                session.adapters == null ? AdapterContext.NONE : AdapterContext.inference(session.adapters),
                session.tokenizer, e.questions()));
        e.replyTo().tell(new EvalDone(session.trainStep.completedSteps(), loss, mmlu, (System.nanoTime() - start) * 1e-9));
        return this;
    }

    private Behavior<Command> onSnapshot(TakeSnapshot s) {
        s.replyTo().tell(session.snapshot());
        return this;
    }

    private void fail(String reason) {
        InFlight failed = inFlight;
        inFlight = null;
        StepFailed reply = new StepFailed(session.trainStep.completedSteps() + 1, reason);
        if (failed.replyTo() != null) failed.replyTo().tell(reply);
        else failed.shareReplyTo().tell(reply);
    }

    private int inFlightStep() {
        return session.trainStep.completedSteps() + 1;
    }
}
