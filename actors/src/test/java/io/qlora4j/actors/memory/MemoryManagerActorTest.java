package io.qlora4j.actors.memory;

import io.qlora4j.memory.Category;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.PagingStats;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The memory-manager actor over a real manager (arena + Chronicle Map in a temp folder), driven by test probes. */
class MemoryManagerActorTest {

    private static ActorTestKit kit;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create();
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    void grantsDeniesReleasesAndPublishesStatistics(@TempDir Path dir) {
        long budget = 4L << 20;
        try (MemoryManager manager = MemoryManager.openRunDirectory(dir, PagingConfig.of(budget), 1 << 20)) {
            ActorRef<MemoryManagerActor.Command> actor = kit.spawn(MemoryManagerActor.create(manager));
            TestProbe<MemoryManagerActor.RoomReply> room = kit.createTestProbe();
            TestProbe<MemoryManagerActor.Released> released = kit.createTestProbe();
            TestProbe<PagingStats> stats = kit.createTestProbe();
            TestProbe<PagingStats> subscriber = kit.createTestProbe();
            actor.tell(new MemoryManagerActor.Subscribe(subscriber.getRef()));

            actor.tell(new MemoryManagerActor.RequestRoom(Category.ACTIVATIONS, 3L << 20, "step 1", room.getRef()));
            var granted = assertInstanceOf(MemoryManagerActor.Granted.class, room.receiveMessage());
            assertEquals(3L << 20, granted.lease().bytes());

            actor.tell(new MemoryManagerActor.RequestRoom(Category.ACTIVATIONS, 2L << 20, "step 2", room.getRef()));
            var denied = assertInstanceOf(MemoryManagerActor.Denied.class, room.receiveMessage());
            assertTrue(denied.refusal().message().contains("out of device memory") && denied.refusal().message().contains("step 2"),
                    denied.refusal().message());

            actor.tell(new MemoryManagerActor.Release(granted.lease(), released.getRef()));
            assertEquals(granted.lease(), released.receiveMessage().lease());
            actor.tell(new MemoryManagerActor.RequestRoom(Category.ACTIVATIONS, 2L << 20, "step 2 again", room.getRef()));
            assertInstanceOf(MemoryManagerActor.Granted.class, room.receiveMessage());

            actor.tell(new MemoryManagerActor.EndStep(1, stats.getRef()));
            PagingStats s = stats.receiveMessage();
            assertEquals(1, s.step());
            assertEquals(1, s.refusals());
            assertEquals(3L << 20, s.peakBytes().get(Category.ACTIVATIONS));
            assertEquals(s, subscriber.receiveMessage(), "subscribers get every step's statistics");
            kit.stop(actor);
        }
    }
}
