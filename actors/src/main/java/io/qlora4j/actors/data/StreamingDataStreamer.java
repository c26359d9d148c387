package io.qlora4j.actors.data;

import io.qlora4j.actors.data.DataStreamer.BatchReady;
import io.qlora4j.actors.data.DataStreamer.BatchReply;
import io.qlora4j.actors.data.DataStreamer.Command;
import io.qlora4j.actors.data.DataStreamer.DataFailed;
import io.qlora4j.actors.data.DataStreamer.EpochEnd;
import io.qlora4j.actors.data.DataStreamer.Pulled;
import io.qlora4j.actors.data.DataStreamer.RequestBatch;
import io.qlora4j.actors.data.WindowBatcher.PositionedBatch;
import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.tokenizer.TokenizerException;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.apache.pekko.stream.javadsl.Source;

import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletionException;

/**
 * The {@link DataStreamer} while batches flow. It owns one materialized pass of the pipeline (one epoch, or the rest of
 * one when resuming) ending in a {@link Sink#queue()} of one element, and pulls that queue once per waiting request via
 * {@code pipeToSelf}: the stream is driven by demand and nothing blocks the actor. At the end of a pass it starts the
 * next epoch or, when the epochs are done, answers {@link EpochEnd} and becomes {@link DrainedDataStreamer}.
 */
final class StreamingDataStreamer extends AbstractBehavior<Command> {

    private final DataStreamerConfig config;
    private final Materializer materializer;
    private final WindowBatcher batcher;
    private final DataStats stats = new DataStats();
    private final ArrayDeque<ActorRef<BatchReply>> waiting = new ArrayDeque<>();

    private SinkQueueWithCancel<PositionedBatch> queue;
    private int epoch;
    private boolean passFromEpochStart;
    private long batchesThisPass;
    private boolean pulling;

    StreamingDataStreamer(ActorContext<Command> context, DataStreamerConfig config, DataPosition from) {
        super(context);
        this.config = config;
        this.materializer = Materializer.createMaterializer(context);
        this.batcher = new WindowBatcher(config.batching(), config.batchSize(), config.seed(), config.padId());
        context.getLog().info("streaming the {} side of {} from {} (batch {}, window {}, seed {}, {} epoch(s))",
                config.side(), config.source(), from, config.batchSize(), config.windowExamples(), config.seed(),
                config.epochs() == DataStreamerConfig.UNLIMITED_EPOCHS ? "unlimited" : config.epochs());
        startPass(from);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(RequestBatch.class, this::onRequestBatch)
                .onMessage(Pulled.class, this::onPulled)
                .build();
    }

    private Behavior<Command> onRequestBatch(RequestBatch request) {
        waiting.add(request.replyTo());
        pullIfWaiting();
        return this;
    }

    private Behavior<Command> onPulled(Pulled pulled) {
        pulling = false;
        if (pulled.failure() != null) return fail(pulled.failure());
        if (pulled.batch().isPresent()) {
            PositionedBatch next = pulled.batch().get();
            batchesThisPass++;
            waiting.remove().tell(new BatchReady(next.batch(), next.after()));
            pullIfWaiting();
            return this;
        }
        if (passFromEpochStart && batchesThisPass == 0) {
            return fail(new DataException("no " + config.side().name().toLowerCase() + " examples in " + config.source()
                    + " (" + stats.snapshot() + "): check the eval fraction, the shard and the records' target tokens"));
        }
        if (epoch + 1 < config.epochs()) {
            startPass(DataPosition.startOf(epoch + 1));
            pullIfWaiting();
            return this;
        }
        EpochEnd end = new EpochEnd(epoch + 1, stats.snapshot());
        getContext().getLog().info("data done after {} epoch(s): {}", end.epochs(), end.stats());
        return drain(end);
    }

    private void startPass(DataPosition from) {
        epoch = from.epoch();
        passFromEpochStart = from.atEpochStart();
        batchesThisPass = 0;
        queue = pass(from).runWith(Sink.<PositionedBatch>queue().addAttributes(Attributes.inputBuffer(1, 1)), materializer);
    }

    /** One pass of the pipeline from {@code from} to the end of the data. */
    private Source<PositionedBatch, NotUsed> pass(DataPosition from) {
        int passEpoch = from.epoch();
        boolean keepEval = config.side() == Side.EVAL;
        return config.source().examples(from.windowStartOffset(), stats)
                .filter(e -> config.split().isEval(e.offset()) == keepEval)
                .filter(this::hasTargets)
                .grouped(config.windowExamples())
                .statefulMapConcat(() -> {
                    boolean[] firstWindow = {true};
                    return window -> {
                        List<PositionedBatch> batches = batcher.batches(passEpoch, window);
                        if (firstWindow[0]) {
                            firstWindow[0] = false;
                            checkResumable(from, window, batches.size());
                        }
                        return batches;
                    };
                })
                .drop(from.batchesEmittedInWindow());
    }

    /** Runs in the stream: counts, never touches actor state. */
    private boolean hasTargets(TokenizedExample example) {
        if (example.targetCount() > 0) return true;
        stats.noTargetDropped();
        return false;
    }

    /** A resumed pass must rebuild the window the position names, or the batches after resuming would differ. */
    private void checkResumable(DataPosition from, List<TokenizedExample> firstWindow, int batches) {
        if (from.batchesEmittedInWindow() == 0) return;
        long start = firstWindow.getFirst().offset();
        if (start != from.windowStartOffset() || batches < from.batchesEmittedInWindow()) {
            throw new DataException("cannot resume at " + from + " of " + config.source() + ": the data there is a window at"
                    + " offset " + start + " with " + batches + " batches; the dataset, tokenizer, max length, eval split,"
                    + " batch size or window size differ from the run that saved this position");
        }
    }

    private void pullIfWaiting() {
        if (pulling || waiting.isEmpty()) return;
        pulling = true;
        getContext().pipeToSelf(queue.pull(), Pulled::new);
    }

    private Behavior<Command> fail(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (!(cause instanceof DataException || cause instanceof TokenizerException || cause instanceof UncheckedIOException)) {
            throw new IllegalStateException("data pipeline of " + config.source() + " crashed", cause);
        }
        getContext().getLog().error("data failed: {}", cause.getMessage());
        queue.cancel();
        return drain(new DataFailed(cause.getMessage()));
    }

    private Behavior<Command> drain(BatchReply finalReply) {
        waiting.forEach(r -> r.tell(finalReply));
        waiting.clear();
        return DrainedDataStreamer.create(finalReply);
    }
}
