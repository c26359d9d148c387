package io.qlora4j.actors.data;

import io.qlora4j.actors.data.DataStreamer.BatchReply;
import io.qlora4j.actors.data.DataStreamer.Command;
import io.qlora4j.actors.data.DataStreamer.RequestBatch;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The {@link DataStreamer} once its data is done ({@link DataStreamer.EpochEnd}) or failed
 * ({@link DataStreamer.DataFailed}): every request gets that same final answer. No stream runs any more.
 */
final class DrainedDataStreamer extends AbstractBehavior<Command> {

    private final BatchReply finalReply;

    private DrainedDataStreamer(ActorContext<Command> context, BatchReply finalReply) {
        super(context);
        this.finalReply = finalReply;
    }

    static Behavior<Command> create(BatchReply finalReply) {
        return Behaviors.setup(context -> new DrainedDataStreamer(context, finalReply));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder().onMessage(RequestBatch.class, this::onRequestBatch).build();
    }

    private Behavior<Command> onRequestBatch(RequestBatch request) {
        request.replyTo().tell(finalReply);
        return this;
    }
}
