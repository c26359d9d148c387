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
 */
final class ComputeWorker extends AbstractBehavior<ComputeWorker.Command> {

    sealed interface Command permits RunStep, Evaluate, TakeSnapshot, RoomAnswer, ReleasedAnswer, StatsAnswer {
    }

    /** Runs one optimizer step over {@code microBatches}. */
    record RunStep(List<Batch> microBatches, ActorRef<StepReply> replyTo) implements Command {
    }

    /** Held-out loss over {@code batches}, and multiple-choice accuracy when questions are given. */
    record Evaluate(List<Batch> batches, List<MultipleChoice.Question> questions, ActorRef<EvalDone> replyTo) implements Command {
    }

    record TakeSnapshot(ActorRef<TrainingSnapshot> replyTo) implements Command {
    }

    private record RoomAnswer(MemoryManagerActor.RoomReply reply) implements Command {
    }

    private record ReleasedAnswer(MemoryManagerActor.Released released) implements Command {
    }

    private record StatsAnswer(PagingStats stats) implements Command {
    }

    sealed interface StepReply permits StepDone, StepFailed {
    }

    record StepDone(TrainStep.Result result, PagingStats paging) implements StepReply {
    }

    record StepFailed(int step, String reason) implements StepReply {
    }

    record EvalDone(int step, Transformer.Loss loss, Optional<MultipleChoice.Result> mmlu, double seconds) {
    }

    /** The step in flight: what to reply to, and what has been computed so far. */
    private record InFlight(List<Batch> batches, ActorRef<StepReply> replyTo, TrainStep.Gradient gradient,
                            TrainStep.Result result) {
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
                .onMessage(RoomAnswer.class, this::onRoom)
                .onMessage(ReleasedAnswer.class, this::onReleased)
                .onMessage(StatsAnswer.class, this::onStats)
                .onMessage(Evaluate.class, this::onEvaluate)
                .onMessage(TakeSnapshot.class, this::onSnapshot)
                .build();
    }

    private Behavior<Command> onRunStep(RunStep r) {
        if (inFlight != null) throw new IllegalStateException("step requested while step " + inFlightStep() + " runs");
        TrainStep step = session.trainStep;
        inFlight = new InFlight(r.microBatches(), r.replyTo(), null, null);
        long bytes = step.activationBytes(r.microBatches());
        memory.tell(new MemoryManagerActor.RequestRoom(Category.ACTIVATIONS, bytes, "activations of step "
                + (step.completedSteps() + 1) + " (" + r.microBatches().size() + " micro-batches, longest "
                + r.microBatches().stream().mapToInt(Batch::seqLen).max().orElse(0) + " positions)", roomAdapter));
        return this;
    }

    private Behavior<Command> onRoom(RoomAnswer a) {
        switch (a.reply()) {
            case MemoryManagerActor.Denied d -> fail(d.refusal().message());
            case MemoryManagerActor.Granted g -> {
                try {
                    TrainStep.Gradient gradient = session.trainStep.computeGradients(inFlight.batches());
                    inFlight = new InFlight(inFlight.batches(), inFlight.replyTo(), gradient, null);
                } catch (NonFiniteGradientException e) {
                    memory.tell(new MemoryManagerActor.Release(g.lease(), releasedAdapter));
                    inFlight = new InFlight(inFlight.batches(), inFlight.replyTo(), null, null);
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
        try {
            TrainStep.Result result = session.trainStep.applyUpdate(inFlight.gradient());
            inFlight = new InFlight(inFlight.batches(), inFlight.replyTo(), inFlight.gradient(), result);
            memory.tell(new MemoryManagerActor.EndStep(result.step(), statsAdapter));
        } catch (DeviceOutOfMemoryException e) {
            fail(e.getMessage());
        }
        return this;
    }

    private Behavior<Command> onStats(StatsAnswer a) {
        InFlight done = inFlight;
        inFlight = null;
        done.replyTo().tell(new StepDone(done.result(), a.stats()));
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
        failed.replyTo().tell(new StepFailed(session.trainStep.completedSteps() + 1, reason));
    }

    private int inFlightStep() {
        return session.trainStep.completedSteps() + 1;
    }
}
