package io.qlora4j.actors.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.lora.LoraConfig;
import io.qlora4j.model.train.LrSchedule;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Everything a fine-tuning run is configured with, read from HOCON: the defaults in {@code reference.conf}
 * ({@code qlora4j.finetune}), a run file ({@code --config run.conf}) and the command line's flags, in increasing
 * precedence. Validated once here; {@link #trainingHash()} fingerprints the settings that decide the trained result, so
 * that a checkpoint is resumed only under the configuration that produced it.
 */
public record FinetuneConfig(
        Path model, Optional<Path> tokenizer, String data, Optional<DataFormat> format, boolean trainOnSource,
        boolean failOnMalformed, Path out, long seed, int steps, int batch, int gradAccum, int maxLength, int shuffleWindow,
        double evalSplit, int evalEvery, int evalBatches, int saveEvery, WeightFormat weightFormat, boolean full,
        boolean gradientCheckpointing, int threads, LoraConfig lora, OptimizerKind optimizer, LrSchedule schedule,
        float maxGradNorm, float weightDecay, long deviceMemoryBytes, boolean paging, int pageBytes,
        Optional<Path> mmluFile, int mmluLimit) {

    /** Budget used when {@code memory.device} is 0: effectively unlimited (accounting still runs). */
    public static final long UNLIMITED_DEVICE_BYTES = 1L << 40;
    private static final String ROOT = "qlora4j.finetune";

    public FinetuneConfig {
        positive("steps", steps);
        positive("batch", batch);
        positive("grad-accum", gradAccum);
        if (maxLength < 2) throw new IllegalArgumentException("max-len must be at least 2 tokens, got " + maxLength);
        if (shuffleWindow == 0) shuffleWindow = io.qlora4j.model.data.LengthGrouping.WINDOW_BATCHES * batch;
        if (shuffleWindow < batch) {
            throw new IllegalArgumentException("shuffle-window " + shuffleWindow + " must hold at least one batch (" + batch + " examples)");
        }
        if (!(evalSplit >= 0 && evalSplit < 1)) throw new IllegalArgumentException("eval-split must be in [0, 1), got " + evalSplit);
        if (evalEvery < 0 || saveEvery < 0 || evalBatches < 0) {
            throw new IllegalArgumentException("eval-every, save-every and eval-batches must be >= 0");
        }
        if (full && weightFormat instanceof WeightFormat.Quantized) {
            throw new IllegalArgumentException("full fine-tuning trains every weight, which needs a 32-bit base: use --dtype fp32 with --full");
        }
        if (deviceMemoryBytes <= 0) throw new IllegalArgumentException("device memory must be positive");
    }

    /** The defaults, overlaid with a run file (if any) and then with the flags given as HOCON paths under qlora4j.finetune. */
    public static FinetuneConfig load(Optional<Path> runFile, Map<String, Object> flags) {
        Config config = ConfigFactory.parseMap(prefixed(flags));
        if (runFile.isPresent()) {
            if (!Files.isRegularFile(runFile.get())) throw new IllegalArgumentException("--config " + runFile.get() + ": no such file");
            try {
                config = config.withFallback(ConfigFactory.parseFile(runFile.get().toFile()));
            } catch (ConfigException e) {
                throw new IllegalArgumentException("--config " + runFile.get() + ": " + e.getMessage(), e);
            }
        }
        config = config.withFallback(ConfigFactory.defaultReference()).resolve();
        try {
            return from(config.getConfig(ROOT));
        } catch (ConfigException e) {
            throw new IllegalArgumentException("run configuration: " + e.getMessage(), e);
        }
    }

    static FinetuneConfig from(Config c) {
        if (c.getIsNull("model")) throw new IllegalArgumentException("no model: pass --model PATH (or set model in the run file)");
        if (c.getIsNull("data")) throw new IllegalArgumentException("no training data: pass --data FILE or grpc://HOST:PORT/NAME");
        Set<LinearLayerName> targets = EnumSet.noneOf(LinearLayerName.class);
        for (String t : c.getStringList("lora.targets")) {
            targets.add(LinearLayerName.fromShortName(t).orElseThrow(() -> new IllegalArgumentException(
                    "lora.targets: '" + t + "' is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")));
        }
        int steps = c.getInt("steps");
        LrSchedule schedule = new LrSchedule(LrSchedule.Type.parse(c.getString("optim.schedule")), c.getDouble("optim.lr"),
                c.getInt("optim.warmup-steps"), Math.max(1, steps));
        long device = c.getBytes("memory.device");
        String malformed = c.getString("malformed");
        if (!malformed.equals("skip") && !malformed.equals("fail")) {
            throw new IllegalArgumentException("malformed must be skip or fail, got '" + malformed + "'");
        }
        return new FinetuneConfig(
                Path.of(c.getString("model")), optionalPath(c, "tokenizer"), c.getString("data"),
                c.getIsNull("format") ? Optional.empty() : Optional.of(DataFormat.parse(c.getString("format"))),
                c.getBoolean("train-on-source"), malformed.equals("fail"), Path.of(c.getString("out")), c.getLong("seed"),
                steps, c.getInt("batch"), c.getInt("grad-accum"), c.getInt("max-len"), c.getInt("shuffle-window"),
                c.getDouble("eval-split"),
                c.getInt("eval-every"), c.getInt("eval-batches"), c.getInt("save-every"),
                WeightFormat.parse(c.getString("dtype")), c.getBoolean("full"), c.getBoolean("gradient-checkpointing"),
                c.getInt("threads"),
                new LoraConfig(c.getInt("lora.r"), c.getDouble("lora.alpha"), c.getDouble("lora.dropout"), targets),
                OptimizerKind.parse(c.getString("optim.name")), schedule, (float) c.getDouble("optim.max-grad-norm"),
                (float) c.getDouble("optim.weight-decay"), device == 0 ? UNLIMITED_DEVICE_BYTES : device,
                c.getBoolean("memory.paging"), c.getInt("memory.page-bytes"), optionalPath(c, "mmlu.file"),
                c.getInt("mmlu.limit"));
    }

    /** Examples per optimizer step. */
    public int effectiveBatch() {
        return batch * gradAccum;
    }

    /**
     * SHA-256 of the settings that determine the trained result (model, data, tokenization, seed, batching, LoRA,
     * optimizer, schedule, base storage): a checkpoint written under another hash is not resumed. Output folder,
     * threads, evaluation and checkpoint frequency, and the step count (a run may be extended) are not part of it.
     */
    public String trainingHash() {
        Map<String, Object> m = new TreeMap<>();
        m.put("model", model.toAbsolutePath().normalize().toString());
        m.put("tokenizer", tokenizer.map(p -> p.toAbsolutePath().normalize().toString()).orElse(""));
        m.put("data", data.startsWith("grpc") ? data : Path.of(data).toAbsolutePath().normalize().toString());
        m.put("format", format.map(DataFormat::cliName).orElse("auto"));
        m.put("trainOnSource", trainOnSource);
        m.put("seed", seed);
        m.put("batch", batch);
        m.put("gradAccum", gradAccum);
        m.put("maxLength", maxLength);
        m.put("shuffleWindow", shuffleWindow);
        m.put("evalSplit", evalSplit);
        m.put("weights", weightFormat.label());
        m.put("full", full);
        m.put("checkpointing", gradientCheckpointing);
        m.put("lora", lora.rank() + "/" + lora.alpha() + "/" + lora.dropout() + "/"
                + lora.targets().stream().map(LinearLayerName::shortName).sorted().toList());
        m.put("optimizer", optimizer.cliName());
        m.put("schedule", schedule.type() + "/" + schedule.peakLr() + "/" + schedule.warmupSteps());
        m.put("maxGradNorm", maxGradNorm);
        m.put("weightDecay", weightDecay);
        try {
            byte[] canonical = new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).writeValueAsBytes(m);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canonical));
        } catch (NoSuchAlgorithmException | com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The effective configuration as HOCON text (saved in the run folder and in every checkpoint). */
    public static String render(Optional<Path> runFile, Map<String, Object> flags) {
        Config config = ConfigFactory.parseMap(prefixed(flags));
        if (runFile.isPresent()) config = config.withFallback(ConfigFactory.parseFile(runFile.get().toFile()));
        config = config.withFallback(ConfigFactory.defaultReference()).resolve().getConfig(ROOT);
        return config.root().render(ConfigRenderOptions.defaults().setOriginComments(false).setJson(false));
    }

    private static Map<String, Object> prefixed(Map<String, Object> flags) {
        Map<String, Object> m = new TreeMap<>();
        flags.forEach((k, v) -> m.put(ROOT + "." + k, v));
        return m;
    }

    private static Optional<Path> optionalPath(Config c, String key) {
        return c.getIsNull(key) ? Optional.empty() : Optional.of(Path.of(c.getString(key)));
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be positive, got " + v);
    }
}
