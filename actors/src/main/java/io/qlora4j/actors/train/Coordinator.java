package io.qlora4j.actors.train;

import io.qlora4j.actors.data.DataPosition;
import io.qlora4j.actors.data.DataStreamer;
import io.qlora4j.actors.data.DataStreamerConfig;
import io.qlora4j.actors.memory.MemoryManagerActor;
import io.qlora4j.memory.PagingStats;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.lora.PeftAdapter;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.ChildFailed;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The job actor of a fine-tuning run. It spawns the data streamer, the compute worker, the memory-manager actor and the
 * run writer, and drives the run: gather {@code grad-accum} batches → one optimizer step on the worker (the next step's
 * batches are gathered meanwhile) → log the step → every {@code eval-every} steps the held-out loss (and multiple-choice
 * accuracy) → every {@code save-every} steps a checkpoint (a snapshot taken between steps, written while training goes
 * on) → at the end a last evaluation, checkpoint and the final adapter, the loss plot and the summary.
 *
 * <p>Supervision: the compute worker is watched; if it fails (a bug, not a refusal) the run is restored from the last
 * checkpoint — trainables, optimizer state, data position, logs — and the worker restarted, with a line that says so
 * (at most {@value #MAX_RESTARTS} times). Refusals (out of device memory, non-finite gradients, unreadable data) end the
 * run with their message; the last checkpoint stays valid.
 */
final class Coordinator extends AbstractBehavior<Coordinator.Command> {

    static final int MAX_RESTARTS = 2;

    sealed interface Command permits FromData, FromEvalData, FromWorker, FromEval, FromSnapshot, FromWriter {
    }

    private record FromData(DataStreamer.BatchReply reply) implements Command {
    }

    private record FromEvalData(DataStreamer.BatchReply reply) implements Command {
    }

    private record FromWorker(ComputeWorker.StepReply reply) implements Command {
    }

    private record FromEval(ComputeWorker.EvalDone done) implements Command {
    }

    private record FromSnapshot(TrainingSnapshot snapshot) implements Command {
    }

    private record FromWriter(RunWriter.CheckpointReply reply) implements Command {
    }

    private enum Phase {GATHERING_EVAL, TRAINING, EVALUATING, SNAPSHOTTING, FINISHING, DONE}

    private final TrainingSession session;
    private final TrainingListener listener;
    private final CompletableFuture<FinetuneSummary> result;
    private final RunFiles files;
    private final ActorRef<MemoryManagerActor.Command> memory;
    private final ActorRef<RunWriter.Command> writer;
    private final ActorRef<DataStreamer.BatchReply> dataReplies;
    private final ActorRef<ComputeWorker.StepReply> stepReplies;
    private final ActorRef<ComputeWorker.EvalDone> evalReplies;
    private final ActorRef<TrainingSnapshot> snapshotReplies;
    private final ActorRef<RunWriter.CheckpointReply> writerReplies;
    private final WorkerTask.Spawner workers;
    private ActorRef<WorkerTask> worker;
    private ActorRef<DataStreamer.Command> data;
    private int dataGeneration;

    private Phase phase = Phase.GATHERING_EVAL;
    private final List<Batch> evalBatches = new ArrayList<>();
    private final List<Batch> gathered = new ArrayList<>();     // batches of the next step
    private DataPosition gatheredPosition;                      // data position after the last gathered batch
    private boolean requestOutstanding;
    private boolean stepRunning;
    private DataPosition runningPosition;                       // data position after the running step's batches
    private List<long[]> runningOffsets = List.of();
    private DataPosition lastStepPosition;                      // data position after the last completed step
    private final int firstStep;
    private int completed;
    private int restarts;
    private boolean finalCheckpointPending;
    private int pendingCheckpoints;

    private Optional<Double> initialEval = Optional.empty();
    private Optional<Double> lastEval = Optional.empty();
    private Optional<Double> initialMmlu = Optional.empty();
    private Optional<Double> lastMmlu = Optional.empty();
    private int lastEvalStep = -1;
    private double lastTrainLoss = Double.NaN;
    private long trainTokens;
    private long peakDevice;
    private long pagedBytes;
    private final long startNanos = System.nanoTime();

    private Coordinator(ActorContext<Command> context, TrainingSession session, TrainingListener listener,
                        CompletableFuture<FinetuneSummary> result, WorkerTask.Spawner workers) {
        super(context);
        this.session = session;
        this.workers = workers;
        this.listener = listener;
        this.result = result;
        this.firstStep = session.trainStep.completedSteps();
        this.completed = firstStep;
        this.lastStepPosition = session.startPosition();
        this.files = new RunFiles(session.config.out(), firstStep);
        this.memory = context.spawn(MemoryManagerActor.create(session.memory), "memory");
        this.writer = context.spawn(RunWriter.create(session, files), "writer", DispatcherSelector.blocking());
        this.dataReplies = context.messageAdapter(DataStreamer.BatchReply.class, FromData::new);
        this.stepReplies = context.messageAdapter(ComputeWorker.StepReply.class, FromWorker::new);
        this.evalReplies = context.messageAdapter(ComputeWorker.EvalDone.class, FromEval::new);
        this.snapshotReplies = context.messageAdapter(TrainingSnapshot.class, FromSnapshot::new);
        this.writerReplies = context.messageAdapter(RunWriter.CheckpointReply.class, FromWriter::new);
        spawnWorker();
        listener.started(firstStep, session.config.steps(), describe());
        if (firstStep >= session.config.steps()) {
            listener.info("the checkpoint is already at step " + firstStep + " of " + session.config.steps() + ": nothing to train");
        }
        if (session.config.evalSplit() > 0) {
            evalStreamer = context.spawn(DataStreamer.create(DataStreamerConfig.eval(session.source, session.split,
                    session.config.batch(), session.tokenizer.batchPadId())), "eval-data");
            requestEvalBatch();
        } else {
            startTraining();
        }
    }

    /** Held-out batches are asked for one at a time (a message adapter serves one reply type: the training stream's). */
    private void requestEvalBatch() {
        getContext().ask(DataStreamer.BatchReply.class, evalStreamer, EVAL_DATA_TIMEOUT, DataStreamer.RequestBatch::new,
                (reply, failure) -> new FromEvalData(reply != null ? reply
                        : new DataStreamer.DataFailed("no answer from the held-out data stream: " + failure)));
    }

    private static final java.time.Duration EVAL_DATA_TIMEOUT = java.time.Duration.ofMinutes(10);
    private ActorRef<DataStreamer.Command> evalStreamer;

    static Behavior<Command> create(TrainingSession session, TrainingListener listener, CompletableFuture<FinetuneSummary> result,
                                    WorkerTask.Spawner workers) {
        return Behaviors.setup(context -> new Coordinator(context, session, listener, result, workers));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(FromEvalData.class, this::onEvalData)
                .onMessage(FromData.class, this::onData)
                .onMessage(FromWorker.class, this::onStep)
                .onMessage(FromEval.class, this::onEvaluated)
                .onMessage(FromSnapshot.class, this::onSnapshot)
                .onMessage(FromWriter.class, this::onWritten)
                .onSignal(ChildFailed.class, this::onChildFailed)
                .build();
    }

    // ---- held-out batches, gathered once ----

    private Behavior<Command> onEvalData(FromEvalData m) {
        if (phase != Phase.GATHERING_EVAL) return this;   // a reply that crossed the streamer's stop
        switch (m.reply()) {
            case DataStreamer.BatchReady ready -> {
                evalBatches.add(ready.batch());
                int limit = session.config.evalBatches();
                if (limit == 0 || evalBatches.size() < limit) requestEvalBatch();
                else evalGathered();
            }
            case DataStreamer.EpochEnd end -> evalGathered();
            case DataStreamer.DataFailed f -> fail("cannot read the held-out data: " + f.reason());
        }
        return this;
    }

    private void evalGathered() {
        phase = Phase.TRAINING;
        getContext().stop(evalStreamer);
        if (evalBatches.isEmpty()) listener.info("no held-out examples (eval-split " + session.config.evalSplit() + "): no evaluation");
        if (firstStep == 0 && !evalBatches.isEmpty()) {
            phase = Phase.EVALUATING;
            worker.tell(new ComputeWorker.Evaluate(evalBatches, session.mmlu, evalReplies));
        } else {
            startTraining();
        }
    }

    private void startTraining() {
        phase = Phase.TRAINING;
        if (completed >= session.config.steps()) {
            finish();
            return;
        }
        spawnData(lastStepPosition);
        requestBatch();
    }

    // ---- training loop ----

    private Behavior<Command> onData(FromData m) {
        requestOutstanding = false;
        if (phase == Phase.DONE) return this;
        switch (m.reply()) {
            case DataStreamer.BatchReady ready -> {
                gathered.add(ready.batch());
                gatheredPosition = ready.resumeFrom();
                if (gathered.size() < session.config.gradAccum()) requestBatch();
                maybeDispatch();
            }
            case DataStreamer.EpochEnd end -> {
                if (!gathered.isEmpty()) {
                    maybeDispatch();
                } else if (!stepRunning && completed == firstStep) {
                    fail("the training data has no example with a target token (after the held-out split and truncation"
                            + " to max-len " + session.config.maxLength() + "): " + end.stats());
                }
            }
            case DataStreamer.DataFailed f -> fail("training data failed: " + f.reason());
        }
        return this;
    }

    private void requestBatch() {
        if (requestOutstanding || data == null) return;
        requestOutstanding = true;
        data.tell(new DataStreamer.RequestBatch(dataReplies));
    }

    /** Starts the next step when its batches are gathered and no step, evaluation or snapshot is in progress. */
    private void maybeDispatch() {
        if (phase != Phase.TRAINING || stepRunning || gathered.isEmpty()) return;
        if (completed >= session.config.steps()) return;
        if (gathered.size() < session.config.gradAccum() && requestOutstanding) return;
        List<Batch> batches = List.copyOf(gathered);
        gathered.clear();
        runningPosition = gatheredPosition;
        runningOffsets = batches.stream().map(Batch::offsets).toList();
        stepRunning = true;
        worker.tell(new ComputeWorker.RunStep(batches, stepReplies));
        if (completed + 1 < session.config.steps()) requestBatch();   // gather the next step meanwhile
    }

    private Behavior<Command> onStep(FromWorker m) {
        stepRunning = false;
        switch (m.reply()) {
            case ComputeWorker.StepFailed f -> fail("step " + f.step() + " failed: " + f.reason());
            case ComputeWorker.StepDone done -> {
                var r = done.result();
                completed = r.step();
                lastStepPosition = runningPosition;
                lastTrainLoss = r.loss();
                trainTokens += r.targetTokens();
                PagingStats p = done.paging();
                peakDevice = Math.max(peakDevice, p.peakTotalBytes());
                pagedBytes += p.pagedOutBytes() + p.pagedInBytes();
                writer.tell(new RunWriter.Metrics(String.format(Locale.ROOT,
                        "{\"step\":%d,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6f,\"clipped\":%b,\"target_tokens\":%d,"
                                + "\"tokens_per_s\":%.1f,\"seconds\":%.4f,\"activation_bytes\":%d%s}",
                        r.step(), r.loss(), r.lr(), r.gradNorm(), r.clipped(), r.targetTokens(),
                        r.targetTokens() / Math.max(r.seconds(), 1e-9), r.seconds(), r.activationBytes(),
                        done.parallel().map(DataParallelStep::metricsJson).orElse(""))));
                writer.tell(new RunWriter.Paging(p.toJson()));
                writer.tell(new RunWriter.Offsets(offsetsJson(r.step(), runningOffsets, done.parallel())));
                listener.stepDone(r, p);
                afterStep();
            }
        }
        return this;
    }

    private void afterStep() {
        FinetuneConfig c = session.config;
        boolean last = completed >= c.steps();
        if (!evalBatches.isEmpty() && (last || (c.evalEvery() > 0 && completed % c.evalEvery() == 0))) {
            phase = Phase.EVALUATING;
            worker.tell(new ComputeWorker.Evaluate(evalBatches, session.mmlu, evalReplies));
            return;
        }
        afterEvaluation();
    }

    private Behavior<Command> onEvaluated(FromEval m) {
        var e = m.done();
        double loss = e.loss().mean();
        lastEvalStep = e.step();
        lastEval = Optional.of(loss);
        if (initialEval.isEmpty()) initialEval = lastEval;
        Double accuracy = e.mmlu().map(r -> r.accuracy()).orElse(null);
        if (accuracy != null) {
            lastMmlu = Optional.of(accuracy);
            if (initialMmlu.isEmpty()) initialMmlu = lastMmlu;
        }
        writer.tell(new RunWriter.Metrics(String.format(Locale.ROOT, "{\"step\":%d,\"eval_loss\":%.6f,\"eval_ppl\":%.6f,"
                + "\"eval_tokens\":%d%s,\"eval_seconds\":%.3f}", e.step(), loss, Math.exp(loss), e.loss().tokens(),
                accuracy == null ? "" : String.format(Locale.ROOT, ",\"mmlu_accuracy\":%.6f", accuracy), e.seconds())));
        listener.evaluated(e.step(), loss, Math.exp(loss), accuracy);
        if (phase == Phase.EVALUATING && e.step() == firstStep && completed == firstStep) {
            startTraining();
            return this;
        }
        afterEvaluation();
        return this;
    }

    private void afterEvaluation() {
        FinetuneConfig c = session.config;
        boolean last = completed >= c.steps();
        if (last || (c.saveEvery() > 0 && completed % c.saveEvery() == 0)) {
            phase = Phase.SNAPSHOTTING;
            finalCheckpointPending = last;
            worker.tell(new ComputeWorker.TakeSnapshot(snapshotReplies));
            return;
        }
        phase = Phase.TRAINING;
        maybeDispatch();
    }

    private Behavior<Command> onSnapshot(FromSnapshot m) {
        pendingCheckpoints++;
        writer.tell(new RunWriter.WriteCheckpoint(m.snapshot(), lastStepPosition, writerReplies));
        if (finalCheckpointPending) {
            phase = Phase.FINISHING;
            try {
                saveFinal(m.snapshot());
            } catch (RuntimeException e) {
                fail("the final adapter was not saved: " + e.getMessage());
            }
        } else {
            phase = Phase.TRAINING;
            maybeDispatch();
        }
        return this;
    }

    private Behavior<Command> onWritten(FromWriter m) {
        pendingCheckpoints--;
        switch (m.reply()) {
            case RunWriter.CheckpointWritten w -> listener.checkpointed(w.step(), w.dir());
            case RunWriter.CheckpointFailed f -> fail("checkpoint of step " + f.step() + " failed: " + f.reason());
        }
        if (phase == Phase.FINISHING && pendingCheckpoints == 0) finish();
        return this;
    }

    // ---- the end ----

    private void saveFinal(TrainingSnapshot s) {
        Path out = session.config.out();
        if (s.adapters() != null) {
            PeftAdapter.save(s.adapters(), session.model.config(), session.model.ropeLayout(), out.resolve("adapter"),
                    session.config.model().toString(), completed > 0);
        }
    }

    private void finish() {
        if (phase == Phase.DONE) return;
        phase = Phase.DONE;
        Path plot = session.config.out().resolve("loss.png");
        try {
            LossPlot.write(files.readMetrics(), plot, "qlora4j fine-tune: " + session.config.model().getFileName());
        } catch (RuntimeException e) {
            listener.info("the loss plot could not be written: " + e.getMessage());
        }
        files.close();
        result.complete(new FinetuneSummary(firstStep, completed, initialEval, lastEval, initialMmlu, lastMmlu, lastTrainLoss,
                trainTokens, (System.nanoTime() - startNanos) * 1e-9, peakDevice, pagedBytes,
                session.config.out().resolve(session.adapters != null ? "adapter" : CheckpointStore.WEIGHTS),
                session.config.out().resolve(RunFiles.METRICS), plot));
        getContext().getSystem().terminate();
    }

    private void fail(String reason) {
        if (phase == Phase.DONE) return;
        phase = Phase.DONE;
        files.close();
        result.completeExceptionally(new TrainingFailedException(reason));
        getContext().getSystem().terminate();
    }

    // ---- supervision ----

    private Behavior<Command> onChildFailed(ChildFailed f) {
        if (!f.getRef().equals(worker)) {
            fail("actor " + f.getRef().path().name() + " failed: " + f.cause());
            return this;
        }
        if (restarts >= MAX_RESTARTS) {
            fail("the compute worker failed " + (restarts + 1) + " times; last: " + f.cause());
            return this;
        }
        restarts++;
        var checkpoint = session.checkpoints.latestValid(session.config.trainingHash(), session.model.config(),
                session.model.ropeLayout(), listener::info);
        if (checkpoint.isEmpty()) {
            fail("the compute worker failed at step " + (completed + 1) + " (" + f.cause() + ") and there is no checkpoint to restart from");
            return this;
        }
        var c = checkpoint.get();
        listener.info("the compute worker failed at step " + (completed + 1) + " (" + f.cause() + "); restarting it from "
                + c.dir().getFileName() + " (step " + c.step() + ")");
        TrainingSession.restore(c, session.adapters, session.trainStep);
        files.rewindTo(c.step());
        completed = c.step();
        lastStepPosition = c.position();
        gathered.clear();
        stepRunning = false;
        requestOutstanding = false;
        if (data != null) getContext().stop(data);
        spawnWorker();
        phase = Phase.TRAINING;
        spawnData(lastStepPosition);
        requestBatch();
        return this;
    }

    private void spawnWorker() {
        worker = workers.spawn(getContext(), session, memory);
        getContext().watch(worker);
    }

    private void spawnData(DataPosition from) {
        dataGeneration++;
        data = getContext().spawn(DataStreamer.create(DataStreamerConfig.train(session.source, session.split,
                session.config.batch(), session.config.seed(), DataStreamerConfig.UNLIMITED_EPOCHS, session.tokenizer.batchPadId())
                .withWindowExamples(session.config.shuffleWindow()), from), "train-data-" + dataGeneration);
    }

    private String describe() {
        FinetuneConfig c = session.config;
        return String.format(Locale.ROOT, "%s on %s: %s base, %s, batch %d x %d, lr %.3g (%s), %s", c.full() ? "full fine-tuning"
                        : "QLoRA r=" + c.lora().rank(), c.data(), c.weightFormat().label(), c.optimizer().cliName(), c.batch(),
                c.gradAccum(), c.schedule().peakLr(), c.schedule().type().name().toLowerCase(Locale.ROOT),
                session.loadReport);
    }

    private static String offsetsJson(int step, List<long[]> batches, Optional<DataParallelStep> parallel) {
        StringBuilder sb = new StringBuilder("{\"step\":").append(step).append(",\"offsets\":[");
        boolean first = true;
        for (long[] b : batches) {
            for (long o : b) {
                sb.append(first ? "" : ",").append(o);
                first = false;
            }
        }
        return sb.append("]").append(parallel.map(DataParallelStep::ledgerJson).orElse("")).append("}").toString();
    }
}
