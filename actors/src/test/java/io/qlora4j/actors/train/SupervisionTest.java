package io.qlora4j.actors.train;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The coordinator's supervision on a real run: the real compute worker, made to crash (a bug, not a refusal) when its
 * {@code failures} first steps from the fifth arrive, is restarted from the last complete checkpoint (step 4, or step
 * 2 while step 4's is still being written) with a line that says so, and the run ends bit-identical to an undisturbed
 * one; a worker that keeps crashing ends the run with a clear error.
 */
class SupervisionTest {
    private static final int FAIL_AT_STEP_MESSAGE = 5;

    @Test
    void aCrashedWorkerIsRestartedFromTheLastCheckpointAndChangesNothing(@TempDir Path tmp) throws IOException {
        String data = Runs.guanaco().toString();
        Runs.run(Runs.flags(data, tmp.resolve("straight")));
        List<String> infos = new ArrayList<>();
        FinetuneSummary s = run(Runs.flags(data, tmp.resolve("crashing")), 1, infos);
        assertEquals(Runs.STEPS, s.steps());
        assertTrue(infos.stream().anyMatch(m -> m.contains("the compute worker failed at step 5")
                && m.contains("injected fault") && m.matches(".*restarting it from step-00000[24] \\(step [24]\\).*")), infos.toString());
        assertArrayEquals(Runs.adapter(tmp.resolve("straight")), Runs.adapter(tmp.resolve("crashing")), "bit-identical to the undisturbed run");
        assertEquals(Runs.offsets(tmp.resolve("straight")), Runs.offsets(tmp.resolve("crashing")), "no example lost or repeated");
    }

    @Test
    void aWorkerThatKeepsCrashingEndsTheRunClearly(@TempDir Path tmp) {
        TrainingFailedException e = org.junit.jupiter.api.Assertions.assertThrows(TrainingFailedException.class,
                () -> run(Runs.flags(Runs.guanaco().toString(), tmp.resolve("run")), Integer.MAX_VALUE, new ArrayList<>()));
        assertTrue(e.getMessage().contains("the compute worker failed " + (Coordinator.MAX_RESTARTS + 1) + " times")
                && e.getMessage().contains("injected fault"), e.getMessage());
    }

    /** Runs with the real compute worker, whose step messages from the fifth on crash it, {@code failures} times. */
    private static FinetuneSummary run(Map<String, Object> flags, int failures, List<String> infos) {
        AtomicInteger stepMessages = new AtomicInteger();
        AtomicInteger crashes = new AtomicInteger();
        WorkerTask.Spawner crashing = (context, session, memory) -> WorkerTask.spawnLocal(context,
                Behaviors.intercept(() -> new BehaviorInterceptor<ComputeWorker.Command, ComputeWorker.Command>(ComputeWorker.Command.class) {
                    @Override
                    public Behavior<ComputeWorker.Command> aroundReceive(TypedActorContext<ComputeWorker.Command> ctx, ComputeWorker.Command msg,
                                                                         ReceiveTarget<ComputeWorker.Command> target) {
                        if (msg instanceof ComputeWorker.RunStep && stepMessages.incrementAndGet() >= FAIL_AT_STEP_MESSAGE
                                && crashes.getAndIncrement() < failures) {
                            throw new IllegalStateException("injected fault");
                        }
                        return target.apply(ctx, msg);
                    }
                }, ComputeWorker.create(session, memory)));
        FinetuneConfig config = FinetuneConfig.load(Optional.empty(), flags);
        return FinetuneJob.run(config, FinetuneConfig.render(Optional.empty(), flags), false, new TrainingListener() {
            @Override
            public void info(String message) {
                infos.add(message);
            }
        }, crashing);
    }
}
