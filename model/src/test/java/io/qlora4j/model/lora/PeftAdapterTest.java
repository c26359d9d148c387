package io.qlora4j.model.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.io.DType;
import io.qlora4j.model.io.SafetensorsFile;
import io.qlora4j.model.io.SafetensorsWriter;
import io.qlora4j.model.io.TensorInfo;
import io.qlora4j.model.io.TensorSpec;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.model.train.LrSchedule;
import io.qlora4j.model.train.TrainStep;
import io.qlora4j.testing.SharedData;
import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

import static io.qlora4j.model.ModelFixtures.ints;
import static io.qlora4j.model.ModelFixtures.json;
import static io.qlora4j.model.ModelFixtures.load;
import static io.qlora4j.model.ModelFixtures.logits;
import static io.qlora4j.model.ModelFixtures.matrix;
import static io.qlora4j.model.ModelFixtures.maxAbsDiff;
import static io.qlora4j.model.ModelFixtures.resource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PEFT adapters against Hugging Face peft itself: logits of real peft adapters (goldens by
 * {@code tools/reference/peft_tiny_logits.py} and {@code peft_trained_adapter_logits.py}), the exact file layout peft
 * writes, the refusals on save and load, and the q/k {@code lora_B} row permutation between a llama2.c file
 * (interleaved RoPE rows) and its Hugging Face conversion.
 */
class PeftAdapterTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final double LOGIT_TOLERANCE = 1e-4;
    /** The keys of a peft 0.4.0 adapter_config.json (QLORA-REFERENCE.md §6.2), plus the variant switches a reader checks. */
    private static final Set<String> PEFT_CORE_KEYS = Set.of("base_model_name_or_path", "bias", "fan_in_fan_out",
            "inference_mode", "init_lora_weights", "layers_pattern", "layers_to_transform", "lora_alpha", "lora_dropout",
            "modules_to_save", "peft_type", "r", "revision", "target_modules", "task_type", "use_dora", "use_rslora");

    private static Path tinyBase() {
        return SharedData.require("fixtures/tiny_llama_base");
    }

    private static Path freshAdapter() {
        return SharedData.require("fixtures/tiny_lora_adapter");
    }

    private static Path trainedAdapter() {
        return resource("adapters/tiny_lora_adapter_trained");
    }

    private static JsonNode golden() {
        return json(resource("golden/peft_trained_adapter_logits.json"));
    }

    @Test
    void adaptersReproduceTransformersPeftLogits() {
        JsonNode fixtureGolden = json(resource("golden/tiny_llama_peft_logits.json"));
        LlamaModel base = load(tinyBase(), new WeightFormat.Fp32());
        int[] ids = ints(fixtureGolden.get("ids"));
        float[] baseLogits = logits(base, AdapterContext.NONE, ids);
        Tolerance.assertClose("base logits", matrix(fixtureGolden.get("base_logits")), baseLogits, LOGIT_TOLERANCE, 0);

        // the fixture is a fresh peft adapter (B = 0): an exact no-op, as peft's own logits say
        LoraAdapters fresh = PeftAdapter.load(freshAdapter(), base.config(), base.ropeLayout());
        assertEquals(new LoraConfig(8, 16, 0.1, EnumSet.allOf(LinearLayerName.class)), fresh.config());
        assertArrayEquals(baseLogits, logits(base, AdapterContext.inference(fresh), ids));
        Tolerance.assertClose("fresh adapter logits", matrix(fixtureGolden.get("adapted_logits")),
                logits(base, AdapterContext.inference(fresh), ids), LOGIT_TOLERANCE, 0);

        // the same adapter with Gaussian lora_B, saved by peft: changes the logits by up to 0.47
        JsonNode tiny = golden().get("tiny");
        assertArrayEquals(ids, ints(tiny.get("ids")));
        LoraAdapters trained = PeftAdapter.load(trainedAdapter(), base.config(), base.ropeLayout());
        float[] adapted = logits(base, AdapterContext.inference(trained), ids);
        double[] expected = matrix(tiny.get("adapted_logits"));
        Tolerance.assertClose("adapted logits", expected, adapted, LOGIT_TOLERANCE, 0);
        System.out.printf("tiny_llama_base + peft adapter: max |logit - peft| = %.2e (adapter moves logits by %.2f)%n",
                maxAbsDiff(expected, adapted), maxAbsDiff(baseLogits, adapted));
        assertTrue(maxAbsDiff(baseLogits, adapted) > 0.1, "the trained adapter is not a no-op");
    }

    @Test
    void saveThenLoadRoundTripsWithPeftsKeysShapesDtypeAndConfig(@TempDir Path tmp) throws IOException {
        LlamaModel base = load(tinyBase(), new WeightFormat.Fp32());
        LoraAdapters loaded = PeftAdapter.load(trainedAdapter(), base.config(), base.ropeLayout());
        Path out = tmp.resolve("adapter");
        PeftAdapter.save(loaded, base.config(), base.ropeLayout(), out, "fixtures/tiny_llama_base", true);
        assertEquals(Set.of(PeftAdapter.CONFIG, PeftAdapter.WEIGHTS), Set.of(Files.list(out).map(p -> p.getFileName().toString()).toArray()));

        LoraAdapters again = PeftAdapter.load(out, base.config(), base.ropeLayout());
        int[] ids = {1, 5, 9, 20, 7, 3, 64, 100, 127, 2};
        assertArrayEquals(logits(base, AdapterContext.inference(loaded), ids), logits(base, AdapterContext.inference(again), ids));
        assertEquals(loaded.config(), again.config());

        // the weights file: exactly peft's tensor names, shapes, dtype, metadata and values
        try (SafetensorsFile ours = SafetensorsFile.open(out.resolve(PeftAdapter.WEIGHTS));
             SafetensorsFile peft = SafetensorsFile.open(trainedAdapter().resolve(PeftAdapter.WEIGHTS))) {
            assertEquals(Set.copyOf(peft.names()), Set.copyOf(ours.names()));
            assertEquals(28, ours.names().size());
            assertEquals(peft.metadata(), ours.metadata());
            assertEquals(Map.of("format", "pt"), ours.metadata());
            for (String name : peft.names()) {
                assertArrayEquals(peft.info(name).shape(), ours.info(name).shape(), name);
                assertEquals(DType.F32, ours.info(name).dtype(), name);
                assertArrayEquals(peft.readBytes(name), ours.readBytes(name), name);
            }
            assertTrue(ours.names().contains("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight"));
            assertArrayEquals(new long[]{32, 8}, ours.info("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight").shape());
            assertArrayEquals(new long[]{8, 176}, ours.info("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight").shape());
        }

        // adapter_config.json: peft's core keys, sorted and indented by 2 as json.dumps(indent=2, sort_keys=True)
        String text = Files.readString(out.resolve(PeftAdapter.CONFIG));
        JsonNode config = JSON.readTree(text);
        List<String> keys = new ArrayList<>();
        config.fieldNames().forEachRemaining(keys::add);
        assertTrue(keys.containsAll(PEFT_CORE_KEYS), "missing keys: " + PEFT_CORE_KEYS.stream().filter(k -> !keys.contains(k)).toList());
        assertEquals(keys.stream().sorted().toList(), keys, "keys sorted");
        assertTrue(text.contains("\n  \"r\" : 8") || text.contains("\n  \"r\": 8"), text);
        assertEquals(8, config.get("r").asInt());
        assertTrue(config.get("lora_alpha").isInt(), "an integral alpha is written as an int, as peft does");
        assertEquals(16, config.get("lora_alpha").asInt());
        assertEquals(0.1, config.get("lora_dropout").asDouble());
        assertEquals("LORA", config.get("peft_type").asText());
        assertEquals("CAUSAL_LM", config.get("task_type").asText());
        assertEquals("none", config.get("bias").asText());
        assertEquals("fixtures/tiny_llama_base", config.get("base_model_name_or_path").asText());
        assertEquals(List.of("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"),
                JSON.convertValue(config.get("target_modules"), List.class));
    }

    @Test
    void savingRefusesNonFiniteWrongTensorCountAndUntrainedAdapters(@TempDir Path tmp) {
        LlamaModel base = load(tinyBase(), new WeightFormat.Fp32());
        LlamaConfig c = base.config();
        Path out = tmp.resolve("adapter");

        LoraAdapters nan = PeftAdapter.load(trainedAdapter(), c, base.ropeLayout());
        nan.get(1, LinearLayerName.UP_PROJ).a()[17] = Float.NaN;
        LoraException e = assertThrows(LoraException.class, () -> PeftAdapter.save(nan, c, base.ropeLayout(), out, "x", true));
        assertTrue(e.getMessage().contains("base_model.model.model.layers.1.mlp.up_proj.lora_A.weight holds NaN at index 17"), e.getMessage());

        LoraAdapters infinite = PeftAdapter.load(trainedAdapter(), c, base.ropeLayout());
        infinite.get(0, LinearLayerName.K_PROJ).b()[3] = Float.POSITIVE_INFINITY;
        e = assertThrows(LoraException.class, () -> PeftAdapter.save(infinite, c, base.ropeLayout(), out, "x", true));
        assertTrue(e.getMessage().contains("k_proj.lora_B.weight holds Infinity"), e.getMessage());

        // adapters of a one-layer model saved as if they belonged to the two-layer model
        LlamaConfig oneLayer = new LlamaConfig(c.architecture(), c.hiddenSize(), c.intermediateSize(), 1, c.numHeads(),
                c.numKvHeads(), c.headDim(), c.vocabSize(), c.maxPositions(), c.rmsNormEps(), c.rope(),
                c.tieWordEmbeddings(), c.attentionBias(), c.mlpBias(), 0, 1, new int[]{2}, "float32");
        LoraAdapters short1 = LoraAdapters.create(oneLayer, new LoraConfig(8, 16, 0, EnumSet.allOf(LinearLayerName.class)), 1);
        short1.get(0, LinearLayerName.Q_PROJ).b()[0] = 1f;
        e = assertThrows(LoraException.class, () -> PeftAdapter.save(short1, c, base.ropeLayout(), out, "x", true));
        assertTrue(e.getMessage().contains("has 14 tensors") && e.getMessage().contains("has 28"), e.getMessage());

        LoraAdapters fresh = PeftAdapter.load(freshAdapter(), c, base.ropeLayout());
        e = assertThrows(LoraException.class, () -> PeftAdapter.save(fresh, c, base.ropeLayout(), out, "x", true));
        assertTrue(e.getMessage().contains("untrained adapter: every lora_B matrix is zero"), e.getMessage());
        assertFalse(Files.exists(out), "nothing written by a refused save");
        PeftAdapter.save(fresh, c, base.ropeLayout(), out, "x", false);   // a fresh adapter is fine when asked for
        assertTrue(Files.exists(out.resolve(PeftAdapter.WEIGHTS)));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"dora", "bias", "modules_to_save", "unknown target", "wrong shape", "missing tensor", "extra tensor"})
    void loadingRefusesWhatCannotBeApplied(String defect, @TempDir Path tmp) throws IOException {
        LlamaModel base = load(tinyBase(), new WeightFormat.Fp32());
        Path dir = tmp.resolve("adapter");
        Files.createDirectories(dir);
        ObjectNode config = (ObjectNode) JSON.readTree(freshAdapter().resolve(PeftAdapter.CONFIG).toFile());
        Path weights = freshAdapter().resolve(PeftAdapter.WEIGHTS);
        String k1 = "base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight";
        String expected = switch (defect) {
            case "dora" -> {
                config.put("use_dora", true);
                yield "DoRA adapters are not supported";
            }
            case "bias" -> {
                config.put("bias", "all");
                yield "bias 'all' is not supported";
            }
            case "modules_to_save" -> {
                config.putArray("modules_to_save").add("lm_head");
                yield "modules_to_save [\"lm_head\"] is not supported";
            }
            case "unknown target" -> {
                ((ArrayNode) config.get("target_modules")).add("c_attn");
                yield "target module 'c_attn' is not one of q_proj";
            }
            case "wrong shape" -> {
                weights = rewrite(weights, tmp, w -> w.replace(k1, new float[8 * 31], 31, 8));
                yield "tensor " + k1 + " has shape [31, 8], expected [32, 8]";
            }
            case "missing tensor" -> {
                weights = rewrite(weights, tmp, w -> w.remove(k1));
                yield "missing tensor " + k1;
            }
            case "extra tensor" -> {
                weights = rewrite(weights, tmp, w -> w.replace("base_model.model.lm_head.lora_A.weight", new float[8 * 64], 8, 64));
                yield "unexpected tensor base_model.model.lm_head.lora_A.weight";
            }
            default -> throw new IllegalArgumentException(defect);
        };
        Files.writeString(dir.resolve(PeftAdapter.CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        Files.copy(weights, dir.resolve(PeftAdapter.WEIGHTS));
        LoraException e = assertThrows(LoraException.class, () -> PeftAdapter.load(dir, base.config(), base.ropeLayout()));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(e.getMessage().contains(dir.toString()), "names the file: " + e.getMessage());
    }

    /** The peft adapter of stories260K-hf (rows in HF order) on the llama2.c file gives peft's logits too. */
    @Test
    void huggingFaceAdapterAppliesToTheLlama2cFileAndSavesBackIdentically(@TempDir Path tmp) {
        JsonNode stories = golden().get("stories260K");
        int[] ids = ints(stories.get("ids"));
        double[] expected = matrix(stories.get("adapted_logits"));
        Path adapter = resource("adapters/stories260K_hf_lora");
        for (String which : List.of("models/stories260K-hf", "models/stories260K/stories260K.bin")) {
            LlamaModel model = load(SharedData.require(which), new WeightFormat.Fp32());
            LoraAdapters a = PeftAdapter.load(adapter, model.config(), model.ropeLayout());
            float[] actual = logits(model, AdapterContext.inference(a), ids);
            Tolerance.assertClose(which + " + peft adapter", expected, actual, LOGIT_TOLERANCE, 0);
            System.out.printf("%s (%s) + peft adapter: max |logit - peft| = %.2e%n", which, model.ropeLayout(), maxAbsDiff(expected, actual));
            if (model.ropeLayout() == RopeLayout.INTERLEAVED) {
                LinearLayerName q = LinearLayerName.Q_PROJ;
                try (SafetensorsFile f = SafetensorsFile.open(adapter.resolve(PeftAdapter.WEIGHTS))) {
                    assertFalse(Arrays.equals(f.readFloats(LoraAdapters.peftKey(0, q, true)), a.get(0, q).b()),
                            "q lora_B rows are permuted into the file's interleaved order");
                }
                Path out = tmp.resolve("saved-from-llama2c");
                PeftAdapter.save(a, model.config(), model.ropeLayout(), out, "stories260K", true);
                assertSameTensors(adapter.resolve(PeftAdapter.WEIGHTS), out.resolve(PeftAdapter.WEIGHTS));
            }
        }
    }

    /** An adapter trained on the llama2.c file, saved, and applied to the HF conversion gives the same logits. */
    @Test
    void adapterTrainedOnTheLlama2cFileGivesTheSameLogitsOnTheHfFolder(@TempDir Path tmp) {
        LlamaModel bin = load(SharedData.require("models/stories260K/stories260K.bin"), new WeightFormat.Fp32());
        LlamaModel hf = load(SharedData.require("models/stories260K-hf"), new WeightFormat.Fp32());
        assertEquals(RopeLayout.INTERLEAVED, bin.ropeLayout());
        assertEquals(RopeLayout.HALF_SPLIT, hf.ropeLayout());
        int[] story = Tokenizers.load(SharedData.require("models/stories260K/tok512.bin"))
                .encode("Once upon a time, there was a big red ball. Tom liked to kick the ball in the park.", true);
        boolean[] targets = new boolean[story.length];
        Arrays.fill(targets, true);
        Batch batch = Batch.pack(List.of(new TokenizedExample(0, story, targets)), 0);
        LoraAdapters adapters = LoraAdapters.create(bin.config(), new LoraConfig(4, 8, 0, EnumSet.allOf(LinearLayerName.class)), 3);
        try (MemoryManager memory = MemoryManager.openRunDirectory(tmp.resolve("run"), PagingConfig.of(64L << 20), 1 << 20);
             TrainStep step = TrainStep.lora(bin, adapters, memory, OptimizerKind.PAGED_ADAMW_32BIT.options(),
                     new TrainStep.Options(false, 0.3f, LrSchedule.constant(1e-2), 0))) {
            for (int s = 0; s < 5; s++) step.step(List.of(batch));
        }
        Path saved = tmp.resolve("adapter");
        PeftAdapter.save(adapters, bin.config(), bin.ropeLayout(), saved, "stories260K", true);
        LoraAdapters onHf = PeftAdapter.load(saved, hf.config(), hf.ropeLayout());
        int[] ids = Arrays.copyOf(story, 12);
        float[] trainedOnBin = logits(bin, AdapterContext.inference(adapters), ids);
        float[] appliedToHf = logits(hf, AdapterContext.inference(onHf), ids);
        System.out.printf("adapter trained on stories260K.bin, applied to stories260K-hf: max |logit diff| = %.2e"
                + " (the adapter moves logits by %.2f)%n", maxAbsDiff(trainedOnBin, appliedToHf),
                maxAbsDiff(logits(bin, AdapterContext.NONE, ids), trainedOnBin));
        Tolerance.assertClose("llama2.c-trained adapter on the HF folder", trainedOnBin, appliedToHf, LOGIT_TOLERANCE, 0);
        assertTrue(maxAbsDiff(logits(bin, AdapterContext.NONE, ids), trainedOnBin) > 1e-2, "training changed the adapter");
    }

    private static void assertSameTensors(Path expected, Path actual) {
        try (SafetensorsFile e = SafetensorsFile.open(expected); SafetensorsFile a = SafetensorsFile.open(actual)) {
            assertEquals(Set.copyOf(e.names()), Set.copyOf(a.names()));
            for (String name : e.names()) {
                TensorInfo info = e.info(name);
                assertArrayEquals(info.shape(), a.info(name).shape(), name);
                assertArrayEquals(e.readBytes(name), a.readBytes(name), name);
            }
        }
    }

    /** A copy of a safetensors file with tensors replaced, added or removed. */
    private static Path rewrite(Path file, Path tmp, Consumer<Tensors> edit) {
        Tensors t = new Tensors();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.names()) {
                long[] shape = f.info(name).shape();
                t.replace(name, f.readFloats(name), Math.toIntExact(shape[0]), Math.toIntExact(shape[1]));
            }
        }
        edit.accept(t);
        SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt"));
        t.tensors.forEach((name, m) -> w.put(new TensorSpec(name, DType.F32, m.rows(), m.cols()), m.values()));
        Path out = tmp.resolve("edited.safetensors");
        w.write(out);
        return out;
    }

    /** (rows, cols) row-major. */
    private record Matrix(float[] values, int rows, int cols) {
    }

    /** Named matrices to write, in order. */
    private static final class Tensors {
        final Map<String, Matrix> tensors = new LinkedHashMap<>();

        void replace(String name, float[] values, int rows, int cols) {
            tensors.put(name, new Matrix(values, rows, cols));
        }

        void remove(String name) {
            tensors.remove(name);
        }
    }
}
