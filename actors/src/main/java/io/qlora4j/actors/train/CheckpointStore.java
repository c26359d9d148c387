package io.qlora4j.actors.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.actors.data.DataPosition;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.memory.optim.OptimizerState;
import io.qlora4j.memory.optim.StateFormat;
import io.qlora4j.memory.optim.TensorState;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.io.AtomicFiles;
import io.qlora4j.model.io.DType;
import io.qlora4j.model.io.SafetensorsFile;
import io.qlora4j.model.io.SafetensorsWriter;
import io.qlora4j.model.io.TensorSpec;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.lora.PeftAdapter;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The checkpoints of a run, one folder each under {@code <run>/checkpoints/step-NNNNNN}: the adapter in PEFT format
 * ({@code adapter/}; full fine-tuning: {@code weights.safetensors}), the optimizer state ({@code optimizer.safetensors},
 * bit for bit), {@code trainer_state.json} (step, data position, seed, the configuration's training hash, metrics lines
 * written so far), the effective configuration ({@code run.conf}) and {@code checksums.sha256} over all of them.
 * A checkpoint is assembled in a temporary folder and renamed into place, so a killed run leaves either the previous
 * set or the complete new one; resuming verifies the checksums and the configuration hash and falls back to the
 * previous checkpoint when the latest is broken, saying so.
 */
final class CheckpointStore {

    static final String ADAPTER = "adapter";
    static final String WEIGHTS = "weights.safetensors";
    static final String OPTIMIZER = "optimizer.safetensors";
    static final String STATE = "trainer_state.json";
    static final String CONFIG = "run.conf";
    static final String CHECKSUMS = "checksums.sha256";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int KEEP = 3;

    /** What resuming needs from a checkpoint. */
    record Loaded(Path dir, int step, DataPosition position, long metricsLines, OptimizerState optimizer,
                  Optional<LoraAdapters> adapters, Map<String, float[]> weights) {
    }

    private final Path root;

    CheckpointStore(Path runDirectory) {
        this.root = runDirectory.resolve("checkpoints");
    }

    Path root() {
        return root;
    }

    /** Writes a checkpoint atomically and keeps the newest {@value #KEEP}; returns its folder. */
    Path write(TrainingSnapshot s, DataPosition position, long metricsLines, String trainingHash, String configText,
               long seed, LlamaConfig model, RopeLayout layout) {
        Path target = root.resolve(name(s.step()));
        Path tmp = root.resolve("." + name(s.step()) + ".tmp-" + System.nanoTime());
        try {
            Files.createDirectories(tmp);
            if (s.adapters() != null) {
                PeftAdapter.save(s.adapters(), model, layout, tmp.resolve(ADAPTER), "", false);
            } else {
                SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt"));
                s.weights().forEach((name, values) -> w.put(new TensorSpec(name, DType.F32, values.length), values));
                w.write(tmp.resolve(WEIGHTS));
            }
            writeOptimizer(s.optimizer(), tmp.resolve(OPTIMIZER));
            ObjectNode state = JSON.createObjectNode();
            state.put("step", s.step());
            ObjectNode pos = state.putObject("data_position");
            pos.put("epoch", position.epoch());
            pos.put("window_start_offset", position.windowStartOffset());
            pos.put("batches_emitted_in_window", position.batchesEmittedInWindow());
            state.put("seed", seed);
            state.put("training_hash", trainingHash);
            state.put("metrics_lines", metricsLines);
            AtomicFiles.writeString(tmp.resolve(STATE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state) + "\n");
            AtomicFiles.writeString(tmp.resolve(CONFIG), configText);
            AtomicFiles.writeString(tmp.resolve(CHECKSUMS), checksums(tmp));
            if (Files.exists(target)) AtomicFiles.deleteTree(target);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            prune();
            return target;
        } catch (IOException e) {
            AtomicFiles.deleteTree(tmp);
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            AtomicFiles.deleteTree(tmp);
            throw e;
        }
    }

    /** Checkpoint folders, newest first. */
    List<Path> list() {
        if (!Files.isDirectory(root)) return List.of();
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d+") && Files.isDirectory(p))
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root, e);
        }
    }

    /**
     * The newest checkpoint that verifies (checksums, state, configuration hash); each refused one is reported to
     * {@code log} with the reason.
     */
    Optional<Loaded> latestValid(String trainingHash, LlamaConfig model, RopeLayout layout, Consumer<String> log) {
        for (Path dir : list()) {
            try {
                return Optional.of(read(dir, trainingHash, model, layout));
            } catch (RuntimeException e) {
                log.accept("checkpoint " + dir + " refused: " + e.getMessage() + "; trying the previous one");
            }
        }
        return Optional.empty();
    }

    /** Reads and verifies one checkpoint. */
    Loaded read(Path dir, String trainingHash, LlamaConfig model, RopeLayout layout) {
        verifyChecksums(dir);
        JsonNode state;
        try {
            state = JSON.readTree(dir.resolve(STATE).toFile());
        } catch (IOException e) {
            throw new IllegalStateException(STATE + " unreadable: " + e.getMessage(), e);
        }
        String hash = state.path("training_hash").asText();
        if (!hash.equals(trainingHash)) {
            throw new IllegalStateException("it was written under another configuration (training hash " + abbreviate(hash)
                    + ", this run " + abbreviate(trainingHash) + "): model, data, seed, batching, LoRA, optimizer and"
                    + " schedule must match the run being resumed (see its " + CONFIG + ")");
        }
        JsonNode pos = state.path("data_position");
        DataPosition position = new DataPosition(pos.path("epoch").asInt(), pos.path("window_start_offset").asLong(),
                pos.path("batches_emitted_in_window").asInt());
        OptimizerState optimizer = readOptimizer(dir.resolve(OPTIMIZER));
        int step = state.path("step").asInt();
        if (optimizer.step() != step) {
            throw new IllegalStateException("optimizer state is at step " + optimizer.step() + " but the checkpoint says " + step);
        }
        Optional<LoraAdapters> adapters = Optional.empty();
        Map<String, float[]> weights = Map.of();
        if (Files.isDirectory(dir.resolve(ADAPTER))) {
            adapters = Optional.of(PeftAdapter.load(dir.resolve(ADAPTER), model, layout));
        } else {
            weights = new LinkedHashMap<>();
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(WEIGHTS))) {
                for (String name : f.names()) weights.put(name, f.readFloats(name));
            }
        }
        return new Loaded(dir, step, position, state.path("metrics_lines").asLong(), optimizer, adapters, weights);
    }

    private void prune() throws IOException {
        List<Path> all = list();
        for (int i = KEEP; i < all.size(); i++) AtomicFiles.deleteTree(all.get(i));
    }

    static String name(int step) {
        return String.format("step-%06d", step);
    }

    private static void writeOptimizer(OptimizerState state, Path file) {
        ObjectNode meta = JSON.createObjectNode();
        meta.put("step", state.step());
        ArrayNode tensors = meta.putArray("tensors");
        for (TensorState t : state.tensors()) {
            tensors.addObject().put("name", t.name()).put("elements", t.elements()).put("format", t.format().name());
        }
        SafetensorsWriter w = new SafetensorsWriter(Map.of("qlora4j_optimizer", meta.toString()));
        List<TensorState> list = state.tensors();
        for (int i = 0; i < list.size(); i++) {
            w.put(new TensorSpec(String.format("state.%06d", i), DType.U8, list.get(i).bytes().length), list.get(i).bytes());
        }
        w.write(file);
    }

    private static OptimizerState readOptimizer(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            JsonNode meta = JSON.readTree(f.metadata().getOrDefault("qlora4j_optimizer", "{}"));
            List<TensorState> tensors = new ArrayList<>();
            JsonNode list = meta.path("tensors");
            for (int i = 0; i < list.size(); i++) {
                JsonNode t = list.get(i);
                byte[] bytes = f.bytes(String.format("state.%06d", i)).toArray(ValueLayout.JAVA_BYTE);
                tensors.add(new TensorState(t.path("name").asText(), t.path("elements").asInt(),
                        StateFormat.valueOf(t.path("format").asText()), bytes));
            }
            return new OptimizerState(meta.path("step").asLong(), tensors);
        } catch (IOException e) {
            throw new IllegalStateException(OPTIMIZER + " unreadable: " + e.getMessage(), e);
        }
    }

    /** sha256sum-style lines for every file under {@code dir} except the checksum file itself. */
    static String checksums(Path dir) throws IOException {
        Map<String, String> sums = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                String rel = dir.relativize(p).toString().replace('\\', '/');
                if (!rel.equals(CHECKSUMS)) sums.put(rel, sha256(p));
            }
        }
        StringBuilder sb = new StringBuilder();
        sums.forEach((f, h) -> sb.append(h).append("  ").append(f).append('\n'));
        return sb.toString();
    }

    private static void verifyChecksums(Path dir) {
        Path file = dir.resolve(CHECKSUMS);
        if (!Files.isRegularFile(file)) throw new IllegalStateException("no " + CHECKSUMS + " (incomplete checkpoint)");
        try {
            String expected = Files.readString(file);
            String actual = checksums(dir);
            if (!expected.equals(actual)) {
                throw new IllegalStateException("checksums do not match (a file was changed or truncated after it was written)");
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot verify checksums: " + e.getMessage(), e);
        }
    }

    private static String sha256(Path p) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(p), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String abbreviate(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }
}
