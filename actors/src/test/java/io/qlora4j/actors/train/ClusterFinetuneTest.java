package io.qlora4j.actors.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.actors.cluster.ClusterSettings;
import io.qlora4j.model.io.SafetensorsFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data-parallel QLoRA on a real Pekko Cluster on 127.0.0.1: trainer nodes are child JVMs (as `qlora4j node` starts
 * them), the test JVM submits the job and trains as rank 0. stories260K + Guanaco-1k, a few steps.
 */
class ClusterFinetuneTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** A small chunk so the stories260K gradient (r=8) crosses the network in many chunks. */
    private static final int CHUNK_FLOATS = 4096;
    private final List<Process> children = new ArrayList<>();
    private final List<Integer> ports = new ArrayList<>();   // Artery port of each child

    @AfterEach
    void killChildren() throws InterruptedException {
        for (Process p : children) p.destroyForcibly().waitFor();
    }

    /**
     * Steps of the cluster runs: a node killed after step 2 is downed in about 6 s (training waits meanwhile), and the
     * spare that replaces it needs about 3 s to load the model while the survivors go on; 24 steps leave room for that.
     */
    static final int STEPS = 24;

    static Map<String, Object> flags(Path out) {
        Map<String, Object> f = Runs.flags(Runs.guanaco().toString(), out);
        f.put("steps", STEPS);
        f.put("eval-every", 12);
        f.put("save-every", 6);
        f.put("grad-accum", 3);   // three micro-batches per step: one per node of a three-node run
        f.put("threads", 1);      // three JVMs share the machine's cores
        return f;
    }

    @TempDir
    static Path shared;
    private static FinetuneSummary single;

    /** The undisturbed single-node run with the same global batch, shared by the tests. */
    static synchronized FinetuneSummary single() {
        if (single == null) single = Runs.run(flags(shared.resolve("single")));
        return single;
    }

    @Test
    void threeNodesEqualOneNodeWithTheSameGlobalBatch(@TempDir Path tmp) throws Exception {
        FinetuneSummary single = single();
        String seed = startNodes(tmp, 2);
        FinetuneSummary cluster = runCluster(flags(tmp.resolve("cluster")), seed, 3, Duration.ofSeconds(60));
        assertEquals(STEPS, cluster.steps());

        List<JsonNode> ledger = ledger(tmp.resolve("cluster"));
        assertEquals(offsetsPerStep(shared.resolve("single")), offsetsPerStep(tmp.resolve("cluster")), "the same examples in every step");
        for (JsonNode step : ledger) {
            assertEquals(3, step.get("replicas").size(), "three replicas trained step " + step.get("step"));
            Set<Long> crcs = new HashSet<>();
            step.get("replicas").forEach(r -> crcs.add(r.get("state_crc").asLong()));
            assertEquals(1, crcs.size(), "bit-identical adapters on every node after step " + step.get("step") + ": " + step);
        }
        for (JsonNode m : metricsSteps(tmp.resolve("cluster"))) {
            assertTrue(m.get("max_chunk_bytes").asInt() <= GradientChunkSerializer.HEADER_BYTES + 4 * CHUNK_FLOATS, m.toString());
            assertTrue(m.get("exchange_chunks").asInt() > 3 * 2, "many bounded chunks, not one message: " + m);
        }
        // float tolerance: the all-reduce sums the three shares' gradients ((g1+g2)+g3) where one node accumulates them
        // inside backward in another order; AdamW then turns those last-bit differences into small update differences
        double maxDiff = maxAbsDifference(shared.resolve("single"), tmp.resolve("cluster"));
        System.out.printf("max |adapter difference| single vs 3 nodes: %.3g%n", maxDiff);
        assertTrue(maxDiff <= 1e-5, "adapters equal within 1e-5, got " + maxDiff);
        assertEquals(single.finalEvalLoss().orElseThrow(), cluster.finalEvalLoss().orElseThrow(), 1e-4);
    }

    @Test
    void killedNodeIsRemovedTheJobGoesOnAndAReplacementJoinsWithTheState(@TempDir Path tmp) throws Exception {
        FinetuneSummary undisturbed = single();
        String seed = startNodes(tmp, 3);   // two for the job, one spare that joins when a member dies
        Path out = tmp.resolve("killed");
        var run = java.util.concurrent.CompletableFuture.supplyAsync(() -> runCluster(flags(out), seed, 3, Duration.ofSeconds(60)));
        long deadline = System.nanoTime() + Duration.ofSeconds(150).toNanos();
        while (System.nanoTime() < deadline && !run.isDone() && !(Files.exists(out.resolve(RunFiles.METRICS))
                && Files.readString(out.resolve(RunFiles.METRICS)).contains("\"step\":2,"))) {
            Thread.sleep(20);
        }
        assertTrue(!run.isDone(), "the job was still running when the node was killed");
        List<String> members = new ArrayList<>();
        ledger(out).getFirst().get("replicas").forEach(r -> members.add(r.get("node").asText()));
        int victim = ports.indexOf(port(members.get(1)));
        int spare = java.util.stream.IntStream.range(0, ports.size())
                .filter(i -> members.stream().noneMatch(m -> port(m) == ports.get(i))).findFirst().orElseThrow();
        node(victim).destroyForcibly().waitFor();   // SIGKILL
        FinetuneSummary s = run.get(180, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(STEPS, s.steps(), "the job completed");

        List<JsonNode> ledger = ledger(out);
        assertEquals(offsetsPerStep(shared.resolve("single")), offsetsPerStep(out), "no example lost or trained twice");
        Set<Long> seen = new HashSet<>();
        for (JsonNode step : ledger) {
            List<Long> trained = new ArrayList<>();
            step.get("replicas").forEach(r -> r.get("offsets").forEach(o -> trained.add(o.asLong())));
            List<Long> offsets = new ArrayList<>();
            step.get("offsets").forEach(o -> offsets.add(o.asLong()));
            assertEquals(offsets, trained, "the replicas' shares are the step's examples, in order: " + step);
            for (long o : trained) assertTrue(seen.add(o), "offset " + o + " trained twice");
            Set<Long> crcs = new HashSet<>();
            step.get("replicas").forEach(r -> crcs.add(r.get("state_crc").asLong()));
            assertEquals(1, crcs.size(), "bit-identical adapters on every node, the joined one too: " + step);
        }
        assertEquals(3, ledger.getFirst().get("replicas").size());
        assertTrue(ledger.stream().anyMatch(step -> step.get("replicas").size() == 2), "steps ran on the two survivors");
        JsonNode last = ledger.getLast().get("replicas");
        assertEquals(3, last.size(), "the replacement joined and trained the last step: " + last);
        assertTrue(last.toString().contains("127.0.0.1:" + ports.get(spare) + "\""), "the spare replaced it: " + last);
        double before = undisturbed.finalEvalLoss().orElseThrow();
        double after = s.finalEvalLoss().orElseThrow();
        System.out.printf("final held-out loss: undisturbed %.6f, with a node killed after step 2 %.6f%n", before, after);
        assertEquals(before, after, 0.01 * before, "final held-out loss within 1% of the undisturbed run");
    }

    @Test
    void fewerNodesThanRequestedFailsOrWaitsPerTheFlag(@TempDir Path tmp) throws Exception {
        String seed = startNodes(tmp, 1);
        TrainingFailedException e = assertThrows(TrainingFailedException.class, () -> runCluster(flags(tmp.resolve("run")), seed, 3,
                ClusterJobSettings.WaitPolicy.FAIL, Duration.ofSeconds(3), line -> { }));
        assertTrue(e.getMessage().contains("has 2 of the 3 trainer nodes") && e.getMessage().contains("--wait-for-nodes=wait"),
                e.getMessage());

        Map<String, Object> twoSteps = flags(tmp.resolve("waited"));
        twoSteps.put("steps", 2);
        var waiting = new java.util.concurrent.CountDownLatch(1);
        var run = java.util.concurrent.CompletableFuture.supplyAsync(() -> runCluster(twoSteps, seed, 3, ClusterJobSettings.WaitPolicy.WAIT,
                Duration.ofSeconds(1), line -> {
                    if (line.contains("has 2 of the 3 trainer nodes") && line.endsWith("; waiting")) waiting.countDown();
                }));
        assertTrue(waiting.await(60, java.util.concurrent.TimeUnit.SECONDS), "says loudly that it waits");
        Thread.sleep(2000);   // past the 1 s timeout: the wait policy keeps waiting
        assertTrue(!run.isDone(), "still waiting for the third node");
        startNodes(tmp, 1, seed);
        FinetuneSummary s = run.get(120, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(2, s.steps());
        assertEquals(3, ledger(tmp.resolve("waited")).getLast().get("replicas").size(), "trained on the three nodes once there");
    }

    static FinetuneSummary runCluster(Map<String, Object> flags, String seed, int nodes, Duration waitTimeout) {
        return runCluster(flags, seed, nodes, ClusterJobSettings.WaitPolicy.FAIL, waitTimeout, line -> { });
    }

    static FinetuneSummary runCluster(Map<String, Object> flags, String seed, int nodes, ClusterJobSettings.WaitPolicy policy,
                                      Duration waitTimeout, java.util.function.Consumer<String> lines) {
        FinetuneConfig config = FinetuneConfig.load(Optional.empty(), flags);
        var job = new ClusterJobSettings(seed, nodes, policy, waitTimeout, Duration.ofSeconds(60), CHUNK_FLOATS, ClusterFinetuneJob.newJobId());
        var node = new ClusterSettings(Optional.of("127.0.0.1"), 0, List.of(seed), List.of("submitter"), Optional.empty());
        return ClusterFinetuneJob.run(config, FinetuneConfig.render(Optional.empty(), flags), false, new TrainingListener() {
            @Override
            public void info(String message) {
                System.out.println("[job] " + message);
                lines.accept(message);
            }
        }, job, node);
    }

    /** Starts {@code count} trainer nodes as child JVMs; the first is the seed. Returns its HOST:PORT. */
    String startNodes(Path tmp, int count) throws IOException {
        return startNodes(tmp, count, null);
    }

    /** Starts {@code count} more trainer nodes joining through {@code seed} (null: the first started is the seed). */
    String startNodes(Path tmp, int count, String seed) throws IOException {
        for (int i = 0; i < count; i++) {
            int port = freePort();
            if (seed == null) seed = "127.0.0.1:" + port;
            ports.add(port);
            int index = children.size();
            children.add(startNode(port, seed, tmp.resolve("node-" + index), tmp.resolve("node-" + index + ".log")));
        }
        return seed;
    }

    Process node(int index) {
        return children.get(index);
    }

    private static int port(String address) {
        return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }

    private static Process startNode(int port, String seed, Path work, Path log) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--") || arg.startsWith("-D") || arg.startsWith("-X")) command.add(arg);
        }
        command.add("-Xmx1g");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(ClusterNodeProcess.class.getName());
        command.add(Integer.toString(port));
        command.add(seed);
        command.add(work.toString());
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static List<JsonNode> ledger(Path out) throws IOException {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve(RunFiles.OFFSETS))) lines.add(JSON.readTree(line));
        return lines;
    }

    static List<String> offsetsPerStep(Path out) throws IOException {
        List<String> steps = new ArrayList<>();
        for (JsonNode n : ledger(out)) steps.add(n.get("step") + ":" + n.get("offsets"));
        return steps;
    }

    static List<JsonNode> metricsSteps(Path out) throws IOException {
        List<JsonNode> steps = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve(RunFiles.METRICS))) {
            JsonNode n = JSON.readTree(line);
            if (n.has("loss")) steps.add(n);
        }
        return steps;
    }

    static double maxAbsDifference(Path a, Path b) {
        try (SafetensorsFile x = SafetensorsFile.open(a.resolve("adapter/adapter_model.safetensors"));
             SafetensorsFile y = SafetensorsFile.open(b.resolve("adapter/adapter_model.safetensors"))) {
            assertEquals(x.names(), y.names());
            double max = 0;
            for (String name : x.names()) {
                float[] u = x.readFloats(name);
                float[] v = y.readFloats(name);
                for (int i = 0; i < u.length; i++) max = Math.max(max, Math.abs(u[i] - v[i]));
            }
            return max;
        }
    }
}
