package io.qlora4j.actors.memory;

import io.qlora4j.memory.AllocationResult;
import io.qlora4j.memory.Category;
import io.qlora4j.memory.Lease;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.OutOfDeviceMemory;
import io.qlora4j.memory.PagingStats;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.ArrayList;
import java.util.List;

/**
 * The memory-manager actor: the one place that grants device memory for a training run. Compute asks it for room
 * before a step ({@link RequestRoom} → {@link Granted} or {@link Denied}) and tells it what it released
 * ({@link Release}); granting room may page optimizer state out to the host tier, releasing it starts the background
 * page-in. At the end of each optimizer step it closes the step's statistics ({@link EndStep}) and publishes them to
 * its subscribers (the run writer appends them to {@code paging.jsonl}, the progress bar shows them).
 *
 * <p>A thin shell around {@link MemoryManager}, which owns the page table and the paging policy; the paged optimizer
 * pins and unpins its pages through the same (thread-safe) manager while it updates. Domain refusals are replies, not
 * failures.
 */
public final class MemoryManagerActor extends AbstractBehavior<MemoryManagerActor.Command> {

    public sealed interface Command permits RequestRoom, Release, EndStep, Subscribe {
    }

    /** Asks for {@code bytes} of device memory for {@code category}. */
    public record RequestRoom(Category category, long bytes, String label, ActorRef<RoomReply> replyTo) implements Command {
    }

    /** Gives a lease back; {@link Released} confirms it (callers that update next wait for it so the room is free). */
    public record Release(Lease lease, ActorRef<Released> replyTo) implements Command {
    }

    /** Closes the statistics of optimizer step {@code step}; they are sent back and published. */
    public record EndStep(long step, ActorRef<PagingStats> replyTo) implements Command {
    }

    /** Receives the statistics of every step from now on. */
    public record Subscribe(ActorRef<PagingStats> subscriber) implements Command {
    }

    public sealed interface RoomReply permits Granted, Denied {
    }

    public record Granted(Lease lease) implements RoomReply {
    }

    /** The request cannot be met even after paging out; {@link OutOfDeviceMemory#message()} says why and what would fit. */
    public record Denied(OutOfDeviceMemory refusal) implements RoomReply {
    }

    public record Released(Lease lease) {
    }

    private final MemoryManager memory;
    private final List<ActorRef<PagingStats>> subscribers = new ArrayList<>();

    private MemoryManagerActor(ActorContext<Command> context, MemoryManager memory) {
        super(context);
        this.memory = memory;
    }

    /** @param memory the run's manager; the actor does not close it (its owner does, after the run) */
    public static Behavior<Command> create(MemoryManager memory) {
        return Behaviors.setup(context -> new MemoryManagerActor(context, memory));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(RequestRoom.class, this::onRequestRoom)
                .onMessage(Release.class, this::onRelease)
                .onMessage(EndStep.class, this::onEndStep)
                .onMessage(Subscribe.class, this::onSubscribe)
                .onSignal(Terminated.class, t -> {
                    subscribers.remove(t.getRef());
                    return this;
                })
                .build();
    }

    private Behavior<Command> onRequestRoom(RequestRoom r) {
        AllocationResult result = memory.allocate(r.category(), r.bytes(), r.label());
        switch (result) {
            case Lease lease -> r.replyTo().tell(new Granted(lease));
            case OutOfDeviceMemory refusal -> r.replyTo().tell(new Denied(refusal));
        }
        return this;
    }

    private Behavior<Command> onRelease(Release r) {
        memory.release(r.lease());
        r.replyTo().tell(new Released(r.lease()));
        return this;
    }

    private Behavior<Command> onEndStep(EndStep e) {
        PagingStats stats = memory.endStep(e.step());
        e.replyTo().tell(stats);
        for (ActorRef<PagingStats> s : subscribers) s.tell(stats);
        return this;
    }

    private Behavior<Command> onSubscribe(Subscribe s) {
        subscribers.add(s.subscriber());
        getContext().watch(s.subscriber());
        return this;
    }
}
