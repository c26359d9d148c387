package io.qlora4j.actors.train;

import io.qlora4j.actors.grpc.DatasetServer;
import io.qlora4j.actors.grpc.DatasetServerConfig;
import io.qlora4j.model.data.DataException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The trainer as a user runs it, on stories260K and Guanaco-1k: the same run from a local file and from a data server
 * gives the same adapter; a trainer killed with SIGKILL and resumed ends bit-identical to an uninterrupted run; a data
 * server killed and restarted mid-run loses and repeats no example; bad input and bad checkpoints are clear refusals.
 */
class FinetuneJobTest {

    @Test
    void grpcDataGivesTheSameAdapterAsTheLocalFile(@TempDir Path tmp) throws IOException {
        Path data = Runs.guanaco();
        FinetuneSummary local = Runs.run(Runs.flags(data.toString(), tmp.resolve("local")));
        assertEquals(Runs.STEPS, local.steps());
        assertTrue(local.finalEvalLoss().orElseThrow() < local.initialEvalLoss().orElseThrow(), "training lowers the held-out loss");
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(data.getParent(), 0))) {
            String url = "grpc://127.0.0.1:" + server.port() + "/" + data.getFileName();
            Runs.run(Runs.flags(url, tmp.resolve("grpc")));
        }
        assertArrayEquals(Runs.adapter(tmp.resolve("local")), Runs.adapter(tmp.resolve("grpc")));
        assertEquals(Runs.offsets(tmp.resolve("local")), Runs.offsets(tmp.resolve("grpc")), "the same examples in the same order");
        for (String name : List.of("metrics.jsonl", "paging.jsonl", "offsets.jsonl", "loss.png", "adapter/adapter_config.json")) {
            assertTrue(Files.size(tmp.resolve("local").resolve(name)) > 0, name);
        }
    }

    @Test
    void killedTrainerResumesToTheSameBits(@TempDir Path tmp) throws Exception {
        String data = Runs.guanaco().toString();
        Runs.run(Runs.flags(data, tmp.resolve("straight")));

        Path out = tmp.resolve("killed");
        Path childLog = tmp.resolve("child.log");
        Process child = startChild(data, out, childLog);
        try {
            // kill after the checkpoint of step 4 exists and the child is into step 5 or later
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (System.nanoTime() < deadline && !(Files.isDirectory(out.resolve("checkpoints/step-000004"))
                    && Files.exists(out.resolve(RunFiles.METRICS)) && Files.readString(out.resolve(RunFiles.METRICS)).contains("\"step\":5,"))) {
                Thread.sleep(20);
            }
        } finally {
            child.destroyForcibly().waitFor();
        }
        assertTrue(Files.isDirectory(out.resolve("checkpoints/step-000004")), "the child reached step 4: "
                + Files.readString(childLog));
        assertTrue(Files.notExists(out.resolve("adapter")), "killed before the end");
        List<String> infos = new ArrayList<>();
        FinetuneSummary resumed = Runs.run(Runs.flags(data, out), true, new TrainingListener() {
            @Override
            public void info(String message) {
                infos.add(message);
            }
        });
        assertTrue(resumed.firstStep() >= 4, "resumed from the newest checkpoint: " + infos);
        assertArrayEquals(Runs.adapter(tmp.resolve("straight")), Runs.adapter(out), "bit-identical to the uninterrupted run");
        assertEquals(Runs.offsets(tmp.resolve("straight")), Runs.offsets(out), "no example lost or repeated");
    }

    @Test
    void dataServerRestartedMidRunLosesAndRepeatsNothing(@TempDir Path tmp) throws Exception {
        Path data = Runs.guanaco();
        Runs.run(Runs.flags(data.toString(), tmp.resolve("straight")));
        DatasetServer first = DatasetServer.start(DatasetServerConfig.of(data.getParent(), 0));
        int port = first.port();
        String url = "grpc://127.0.0.1:" + port + "/" + data.getFileName();
        Path out = tmp.resolve("restarted");
        CompletableFuture<FinetuneSummary> run = CompletableFuture.supplyAsync(() -> Runs.run(Runs.flags(url, out)));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline && !(Files.exists(out.resolve(RunFiles.METRICS))
                && Files.readString(out.resolve(RunFiles.METRICS)).contains("\"step\":2,"))) {
            Thread.sleep(20);
        }
        first.stopNow();
        Thread.sleep(1500);
        try (DatasetServer second = DatasetServer.start(DatasetServerConfig.of(data.getParent(), port))) {
            FinetuneSummary s = run.get(180, TimeUnit.SECONDS);
            assertEquals(Runs.STEPS, s.steps());
        }
        assertEquals(Runs.offsets(tmp.resolve("straight")), Runs.offsets(out), "offsets ledger of an uninterrupted run");
        assertArrayEquals(Runs.adapter(tmp.resolve("straight")), Runs.adapter(out));
    }

    @Test
    void badDataIsAClearError(@TempDir Path tmp) throws IOException {
        Path empty = tmp.resolve("empty.jsonl");
        Files.writeString(empty, "\n");
        DataException noExamples = assertThrows(DataException.class, () -> Runs.run(Runs.flags(empty.toString(), tmp.resolve("a"))));
        assertTrue(noExamples.getMessage().contains("empty"), noExamples.getMessage());

        Path broken = tmp.resolve("broken.jsonl");
        List<String> lines = new ArrayList<>(Files.readAllLines(Runs.guanaco()).subList(0, 30));
        lines.set(3, "{\"text\": \"### Human: unterminated");
        Files.write(broken, lines);
        Map<String, Object> failing = Runs.flags(broken.toString(), tmp.resolve("b"));
        failing.put("malformed", "fail");
        RuntimeException e = assertThrows(RuntimeException.class, () -> Runs.run(failing));
        assertTrue(e.getMessage().contains("broken.jsonl:4") && e.getMessage().contains("malformed JSON"), e.getMessage());
        FinetuneSummary skipping = Runs.run(Runs.flags(broken.toString(), tmp.resolve("c")));
        assertEquals(Runs.STEPS, skipping.steps(), "with the default (skip) the malformed line is skipped and counted");
    }

    @Test
    void brokenOrForeignCheckpointsAreRefused(@TempDir Path tmp) throws IOException {
        String data = Runs.guanaco().toString();
        Path out = tmp.resolve("run");
        Map<String, Object> flags = Runs.flags(data, out);
        flags.put("steps", 4);
        Runs.run(flags);
        // a truncated file in the newest checkpoint: resuming falls back to the previous one, saying why
        Path newest = out.resolve("checkpoints/step-000004/optimizer.safetensors");
        Files.write(newest, java.util.Arrays.copyOf(Files.readAllBytes(newest), 100));
        List<String> infos = new ArrayList<>();
        flags.put("steps", 6);
        FinetuneSummary s = Runs.run(flags, true, new TrainingListener() {
            @Override
            public void info(String message) {
                infos.add(message);
            }
        });
        assertEquals(2, s.firstStep(), "the previous checkpoint is used");
        assertTrue(infos.stream().anyMatch(m -> m.contains("step-000004 refused") && m.contains("checksums")), infos.toString());
        // another learning rate is another run: its checkpoints are not resumed
        Map<String, Object> other = Runs.flags(data, out);
        other.put("optim.lr", 5e-4);
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> Runs.run(other, true, new TrainingListener() {
        }));
        assertTrue(refused.getMessage().contains("can be resumed"), refused.getMessage());
        // and a new run does not silently reuse a folder with checkpoints
        IllegalArgumentException reuse = assertThrows(IllegalArgumentException.class, () -> Runs.run(Runs.flags(data, out)));
        assertTrue(reuse.getMessage().contains("--resume"), reuse.getMessage());
    }

    private static Process startChild(String data, Path out, Path log) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--") || arg.startsWith("-D") || arg.startsWith("-X")) command.add(arg);
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(FinetuneProcess.class.getName());
        command.add(data);
        command.add(out.toString());
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }
}
