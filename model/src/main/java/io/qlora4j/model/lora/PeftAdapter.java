package io.qlora4j.model.lora;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.io.AtomicFiles;
import io.qlora4j.model.io.DType;
import io.qlora4j.model.io.RopePermutation;
import io.qlora4j.model.io.SafetensorsException;
import io.qlora4j.model.io.SafetensorsFile;
import io.qlora4j.model.io.SafetensorsWriter;
import io.qlora4j.model.io.TensorInfo;
import io.qlora4j.model.io.TensorSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * LoRA adapters in the Hugging Face PEFT format (QLORA-REFERENCE.md §6): a folder with {@code adapter_config.json}
 * ({@code json.dumps(indent=2, sort_keys=True)} of PEFT's {@code LoraConfig}) and {@code adapter_model.safetensors}
 * (metadata {@code format: pt}) holding {@code base_model.model.model.layers.{i}.{self_attn|mlp}.{proj}.lora_A.weight}
 * [r, in] and {@code .lora_B.weight} [out, r], no adapter name in the keys. Saving validates (tensor count, shapes, finite
 * values, and optionally that B is not all zero, the "empty adapter" failure of QLoRA's issue #38) and writes the folder
 * atomically; loading accepts what PEFT writes (unknown config keys ignored) and refuses what qlora4j cannot apply
 * (DoRA, biases, modules_to_save, fan_in_fan_out) with a clear error.
 */
public final class PeftAdapter {

    public static final String CONFIG = "adapter_config.json";
    public static final String WEIGHTS = "adapter_model.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    private PeftAdapter() {
    }

    /**
     * Writes {@code adapters} to {@code dir} (replaced atomically: a crash leaves the old adapter or the new one).
     * PEFT adapters follow Hugging Face's q/k row order (rotate_half): adapters of a model loaded from a llama2.c file
     * (interleaved RoPE rows) have their q/k {@code lora_B} rows permuted on the way out, so the saved adapter applies
     * to the Hugging Face conversion of the same model.
     *
     * @param model          the model the adapters belong to (shapes, heads)
     * @param layout         the RoPE row layout of that model's q/k weights
     * @param requireTrained refuse to save an adapter whose B matrices are all zero (an untrained, no-op adapter)
     */
    public static void save(LoraAdapters adapters, LlamaConfig model, RopeLayout layout, Path dir, String baseModel,
                            boolean requireTrained) {
        validate(adapters, model, requireTrained);
        Path parent = dir.toAbsolutePath().getParent();
        Path tmp = parent.resolve("." + dir.getFileName() + ".tmp-" + System.nanoTime());
        try {
            Files.createDirectories(tmp);
            SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt"));
            for (int l = 0; l < adapters.layers(); l++) {
                for (LinearLayerName n : LinearLayerName.values()) {
                    LoraAdapter a = adapters.get(l, n);
                    if (a == null) continue;
                    w.put(new TensorSpec(LoraAdapters.peftKey(l, n, false), DType.F32, a.rank(), a.in()), a.a());
                    w.put(new TensorSpec(LoraAdapters.peftKey(l, n, true), DType.F32, a.out(), a.rank()),
                            toHfRows(a.b(), n, model, layout, a.rank(), true));
                }
            }
            w.write(tmp.resolve(WEIGHTS));
            AtomicFiles.writeString(tmp.resolve(CONFIG), configJson(adapters.config(), baseModel));
            replaceDirectory(tmp, dir);
        } catch (IOException e) {
            AtomicFiles.deleteTree(tmp);
            throw new UncheckedIOException("cannot save adapter to " + dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            AtomicFiles.deleteTree(tmp);
            throw e;
        }
    }

    /** Reads an adapter folder for a model with config {@code model} whose q/k rows follow {@code layout}. */
    public static LoraAdapters load(Path dir, LlamaConfig model, RopeLayout layout) {
        Path configFile = dir.resolve(CONFIG);
        Path weights = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(configFile)) {
            throw new LoraException(dir + ": no " + CONFIG + " (a PEFT adapter folder has " + CONFIG + " and " + WEIGHTS + ")");
        }
        if (!Files.isRegularFile(weights)) {
            throw new LoraException(dir + ": no " + WEIGHTS + (Files.exists(dir.resolve("adapter_model.bin"))
                    ? " (adapter_model.bin is a pickle from PEFT < 0.7: re-save it with safe_serialization=True)" : ""));
        }
        LoraConfig config = parseConfig(configFile);
        LoraAdapters adapters = LoraAdapters.zeros(model, config);
        Set<String> expected = new HashSet<>();
        try (SafetensorsFile f = SafetensorsFile.open(weights)) {
            for (int l = 0; l < model.numLayers(); l++) {
                for (LinearLayerName n : config.targets()) {
                    LoraAdapter a = adapters.get(l, n);
                    read(f, LoraAdapters.peftKey(l, n, false), a.a(), a.rank(), a.in(), expected);
                    read(f, LoraAdapters.peftKey(l, n, true), a.b(), a.out(), a.rank(), expected);
                    System.arraycopy(toHfRows(a.b(), n, model, layout, a.rank(), false), 0, a.b(), 0, a.b().length);
                }
            }
            for (String name : f.names()) {
                if (!expected.contains(name)) {
                    throw new LoraException(weights + ": unexpected tensor " + name + " (only lora_A/lora_B of "
                            + config.targets() + " in " + model.numLayers() + " layers are understood)");
                }
            }
        } catch (SafetensorsException e) {
            throw new LoraException(weights + ": " + e.getMessage(), e);
        }
        return adapters;
    }

    /** q/k lora_B rows between the model's layout and Hugging Face's (identity for other projections or HF models). */
    private static float[] toHfRows(float[] b, LinearLayerName n, LlamaConfig c, RopeLayout layout, int rank, boolean toHf) {
        if (layout == RopeLayout.HALF_SPLIT || (n != LinearLayerName.Q_PROJ && n != LinearLayerName.K_PROJ)) return b;
        int heads = n == LinearLayerName.Q_PROJ ? c.numHeads() : c.numKvHeads();
        return toHf ? RopePermutation.interleavedToHalfSplit(b, heads, c.headDim(), rank)
                : RopePermutation.halfSplitToInterleaved(b, heads, c.headDim(), rank);
    }

    private static void read(SafetensorsFile f, String key, float[] into, int rows, int cols, Set<String> expected) {
        expected.add(key);
        if (!f.names().contains(key)) throw new LoraException(f.path() + ": missing tensor " + key);
        TensorInfo info = f.info(key);
        long[] shape = info.shape();
        if (shape.length != 2 || shape[0] != rows || shape[1] != cols) {
            throw new LoraException(f.path() + ": tensor " + key + " has shape " + java.util.Arrays.toString(shape)
                    + ", expected [" + rows + ", " + cols + "] for this model and rank");
        }
        if (!info.dtype().isFloat()) throw new LoraException(f.path() + ": tensor " + key + " has dtype " + info.dtype());
        float[] v = f.readFloats(key);
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) throw new LoraException(f.path() + ": tensor " + key + " holds " + v[i] + " at " + i);
        }
        System.arraycopy(v, 0, into, 0, v.length);
    }

    static LoraConfig parseConfig(Path file) {
        JsonNode c;
        try {
            c = JSON.readTree(Files.readString(file));
        } catch (JsonProcessingException e) {
            throw new LoraException(file + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        String type = c.path("peft_type").asText("LORA");
        if (!type.equals("LORA")) throw new LoraException(file + ": peft_type " + type + " is not supported (only LORA)");
        refuseIfSet(file, c, "use_dora", "DoRA adapters are not supported");
        refuseIfSet(file, c, "fan_in_fan_out", "fan_in_fan_out (GPT-2 Conv1D) adapters do not apply to LLaMA");
        if (!c.path("bias").asText("none").equals("none")) throw new LoraException(file + ": bias '" + c.get("bias").asText() + "' is not supported (use none)");
        if (c.hasNonNull("modules_to_save") && !c.get("modules_to_save").isEmpty()) {
            throw new LoraException(file + ": modules_to_save " + c.get("modules_to_save") + " is not supported");
        }
        if (c.path("use_rslora").asBoolean(false)) throw new LoraException(file + ": rsLoRA scaling is not supported");
        if (!c.path("rank_pattern").isEmpty() || !c.path("alpha_pattern").isEmpty()) {
            throw new LoraException(file + ": per-module rank_pattern/alpha_pattern are not supported");
        }
        int r = c.path("r").asInt(8);
        double alpha = c.path("lora_alpha").asDouble(8);
        double dropout = c.path("lora_dropout").asDouble(0);
        JsonNode t = c.get("target_modules");
        Set<LinearLayerName> targets = EnumSet.noneOf(LinearLayerName.class);
        if (t != null && t.isTextual() && t.asText().equals("all-linear")) {
            targets = EnumSet.allOf(LinearLayerName.class);
        } else if (t != null && t.isArray()) {
            for (JsonNode m : t) {
                targets.add(LinearLayerName.fromShortName(m.asText()).orElseThrow(() -> new LoraException(file
                        + ": target module '" + m.asText() + "' is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")));
            }
        } else {
            throw new LoraException(file + ": target_modules must be a list of module names or \"all-linear\", got " + t);
        }
        try {
            return new LoraConfig(r, alpha, dropout, targets);
        } catch (IllegalArgumentException e) {
            throw new LoraException(file + ": " + e.getMessage(), e);
        }
    }

    private static void refuseIfSet(Path file, JsonNode c, String key, String why) {
        if (c.path(key).asBoolean(false)) throw new LoraException(file + ": " + why + " (" + key + " is true)");
    }

    static String configJson(LoraConfig config, String baseModel) {
        Map<String, Object> m = new TreeMap<>();
        m.put("base_model_name_or_path", baseModel);
        m.put("bias", "none");
        m.put("fan_in_fan_out", false);
        m.put("inference_mode", true);
        m.put("init_lora_weights", true);
        m.put("layers_pattern", null);
        m.put("layers_to_transform", null);
        m.put("lora_alpha", config.alpha() == Math.rint(config.alpha()) ? (Object) (int) config.alpha() : config.alpha());
        m.put("lora_dropout", config.dropout());
        m.put("modules_to_save", null);
        m.put("peft_type", "LORA");
        m.put("r", config.rank());
        m.put("revision", null);
        m.put("target_modules", config.targets().stream().map(LinearLayerName::shortName).sorted().toList());
        m.put("task_type", "CAUSAL_LM");
        m.put("use_dora", false);
        m.put("use_rslora", false);
        try {
            ObjectNode node = JSON.valueToTree(m);
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Checks the adapters against the model they are saved for: one A and one B per target projection and layer of the
     * model, each of the shape the model implies, all finite.
     */
    private static void validate(LoraAdapters adapters, LlamaConfig model, boolean requireTrained) {
        LoraConfig config = adapters.config();
        int expected = 2 * model.numLayers() * config.targets().size();
        int tensors = 0;
        for (int l = 0; l < adapters.layers(); l++) {
            for (LinearLayerName n : LinearLayerName.values()) if (adapters.get(l, n) != null) tensors += 2;
        }
        if (tensors != expected) {
            throw new LoraException("refusing to save: the adapter has " + tensors + " tensors (" + adapters.layers()
                    + " layers), but a rank-" + config.rank() + " adapter on " + config.targets().size()
                    + " target modules of this " + model.numLayers() + "-layer model has " + expected
                    + ": the adapter belongs to another model");
        }
        boolean anyB = false;
        for (int l = 0; l < model.numLayers(); l++) {
            for (LinearLayerName n : config.targets()) {
                LoraAdapter a = adapters.get(l, n);
                if (a == null) throw new LoraException("refusing to save: layer " + l + " has no " + n.shortName() + " adapter although it is a target");
                int in = LoraAdapters.inFeatures(model, n), out = LoraAdapters.outFeatures(model, n);
                if (a.rank() != config.rank() || a.in() != in || a.out() != out) {
                    throw new LoraException("refusing to save: " + LoraAdapters.peftKey(l, n, false) + " is ["
                            + a.rank() + ", " + a.in() + "] and lora_B [" + a.out() + ", " + a.rank() + "], but this model"
                            + " and rank need [" + config.rank() + ", " + in + "] and [" + out + ", " + config.rank() + "]");
                }
                checkFinite(a.a(), LoraAdapters.peftKey(l, n, false));
                checkFinite(a.b(), LoraAdapters.peftKey(l, n, true));
                for (float v : a.b()) anyB |= v != 0f;
            }
        }
        if (requireTrained && !anyB) {
            throw new LoraException("refusing to save an untrained adapter: every lora_B matrix is zero, so it would be a"
                    + " no-op (did the optimizer run?)");
        }
    }

    private static void checkFinite(float[] v, String name) {
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new LoraException("refusing to save: " + name + " holds " + v[i] + " at index " + i
                        + " (training diverged; lower the learning rate or check the data)");
            }
        }
    }

    /** Moves {@code tmp} to {@code dir}, replacing an existing {@code dir} with at most a moment without either. */
    private static void replaceDirectory(Path tmp, Path dir) throws IOException {
        Path old = null;
        if (Files.exists(dir)) {
            old = dir.toAbsolutePath().getParent().resolve("." + dir.getFileName() + ".old-" + System.nanoTime());
            Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        if (old != null) AtomicFiles.deleteTree(old);
    }
}
