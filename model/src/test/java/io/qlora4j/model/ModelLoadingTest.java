package io.qlora4j.model;

import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.QuantizedWeight;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.NaiveLlama;
import io.qlora4j.model.compute.TinyModels;
import io.qlora4j.model.compute.Transformer;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.infer.Generator;
import io.qlora4j.model.infer.Perplexity;
import io.qlora4j.model.infer.SamplingOptions;
import io.qlora4j.model.io.DType;
import io.qlora4j.model.io.SafetensorsWriter;
import io.qlora4j.model.io.ShardedSafetensors;
import io.qlora4j.model.io.TensorInfo;
import io.qlora4j.model.io.TensorSpec;
import io.qlora4j.model.quant.CheckpointQuantizer;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.testing.SharedData;
import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static io.qlora4j.model.ModelFixtures.load;
import static io.qlora4j.model.ModelFixtures.logits;
import static io.qlora4j.model.ModelFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Loading (issue 3): sharded safetensors, bitsandbytes 4-bit checkpoints written by {@code quantize}, the Qwen2 and
 * Mistral variants and Llama 3 RoPE scaling (synthetic tiny checkpoints written here, checked against the float64
 * {@link NaiveLlama}), the context limit, clear errors for broken checkpoints, and the load report.
 */
class ModelLoadingTest {

    private static final int[] STORY = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315};

    private static Path stories() {
        return SharedData.require("models/stories260K-hf");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"fp32", "nf4"})
    void shardedSafetensorsLoadLikeOneFile(String dtype, @TempDir Path tmp) throws IOException {
        Path sharded = tmp.resolve("sharded");
        Files.createDirectories(sharded);
        List<Path> written;
        try (ModelFiles f = ModelFiles.open(stories())) {
            SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt"));
            for (String name : f.tensors().names()) {
                TensorInfo info = f.tensors().info(name);
                w.put(new TensorSpec(name, info.dtype(), info.shape()), () -> f.tensors().bytes(name));
            }
            written = w.writeSharded(sharded, SafetensorsWriter.DEFAULT_WEIGHTS_NAME, 300_000);
        }
        Files.copy(stories().resolve("config.json"), sharded.resolve("config.json"));
        assertTrue(written.size() >= 4, "several shards and an index: " + written);
        assertTrue(Files.exists(sharded.resolve("model.safetensors" + ShardedSafetensors.INDEX_SUFFIX)));
        assertFalse(Files.exists(sharded.resolve("model.safetensors")));
        WeightFormat format = WeightFormat.parse(dtype);
        assertArrayEquals(logits(load(stories(), format), AdapterContext.NONE, STORY),
                logits(load(sharded, format), AdapterContext.NONE, STORY));
    }

    /**
     * {@code quantize --type nf4 --double-quant} then {@code --dtype nf4}: the stored 4-bit tensors are used as they are,
     * bit-identical to quantizing on load; {@code --dtype fp32} dequantizes them.
     */
    @Test
    void bitsandbytesCheckpointLoadsAsQuantizingOnTheFly(@TempDir Path tmp) {
        Path out = tmp.resolve("nf4");
        try (ModelFiles f = ModelFiles.open(stories())) {
            CheckpointQuantizer.quantize(f, new CheckpointQuantizer.Options(QuantType.NF4, true, 64), out, (i, n, name, q) -> {
            });
        }
        LlamaModel onTheFly = load(stories(), WeightFormat.qlora());
        LlamaModel stored = load(out, WeightFormat.qlora());
        LlamaModel dequantized = load(out, new WeightFormat.Fp32());
        for (int l = 0; l < onTheFly.config().numLayers(); l++) {
            for (LinearLayerName n : LinearLayerName.values()) {
                QuantizedWeight expected = (QuantizedWeight) onTheFly.weights().layers()[l].linear(n);
                QuantizedWeight actual = assertInstanceOf(QuantizedWeight.class, stored.weights().layers()[l].linear(n));
                assertArrayEquals(expected.tensor().codes(), actual.tensor().codes(), n.weightName(l));
                assertTrue(actual.tensor().doubleQuantized());
                DenseWeight dense = assertInstanceOf(DenseWeight.class, dequantized.weights().layers()[l].linear(n));
                assertArrayEquals(expected.tensor().dequantize(), dense.data(), n.weightName(l));
            }
        }
        float[] expected = logits(onTheFly, AdapterContext.NONE, STORY);
        assertArrayEquals(expected, logits(stored, AdapterContext.NONE, STORY));
        Tolerance.assertClose("fp32 over dequantized weights", expected, logits(dequantized, AdapterContext.NONE, STORY), 1e-5, 0);
    }

    /** Qwen2: q/k/v biases, as Qwen2.5's config.json describes it (no attention_bias key: Qwen2 always has them). */
    @Test
    void qwen2WithAttentionBiasesLoads(@TempDir Path tmp) {
        LlamaConfig c = TinyModels.config(true, true);
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 101, false);
        Path dir = write(tensors(model), tmp.resolve("qwen2"), """
                {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16, "intermediate_size": 24,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32,
                 "max_position_embeddings": 64, "max_window_layers": 2, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
                 "sliding_window": 64, "use_sliding_window": false, "tie_word_embeddings": true, "hidden_act": "silu",
                 "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}""");
        LlamaModel loaded = load(dir, new WeightFormat.Fp32());
        assertEquals(Architecture.QWEN2, loaded.config().architecture());
        assertTrue(loaded.config().attentionBias());
        assertEquals(64, loaded.config().contextLength(), "use_sliding_window false: no window");
        assertArrayEquals(model.weights().layers()[1].kBias(), loaded.weights().layers()[1].kBias());
        int[] ids = {1, 5, 9, 20, 7, 3, 31, 12};
        float[] actual = logits(loaded, AdapterContext.NONE, ids);
        assertArrayEquals(logits(model, AdapterContext.NONE, ids), actual);
        assertCloseToOracle("qwen2", loaded, ids, actual);

        Map<String, Tensor> noBias = tensors(model);
        noBias.remove("model.layers.0.self_attn.q_proj.bias");
        Path broken = write(noBias, tmp.resolve("qwen2-no-bias"), read(dir.resolve("config.json")));
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> load(broken, new WeightFormat.Fp32()));
        assertTrue(e.getMessage().contains(broken + ": missing tensor model.layers.0.self_attn.q_proj.bias"), e.getMessage());
    }

    /**
     * Mistral: the LLaMA block with a sliding attention window. A window at least the context changes nothing; a window
     * shorter than max_position_embeddings becomes the context limit (qlora4j has no windowed attention, and transformers
     * masks keys beyond the window), refused with an error naming it.
     */
    @Test
    void mistralLoadsAndItsSlidingWindowLimitsTheContext(@TempDir Path tmp) {
        LlamaConfig c = TinyModels.config(false, false);
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 103, false);
        String shape = "\"hidden_size\": 16, \"intermediate_size\": 24, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
                + " \"num_key_value_heads\": 2, \"vocab_size\": 32, \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-05,"
                + " \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, \"bos_token_id\": 1, \"eos_token_id\": 2";
        Path llama = write(tensors(model), tmp.resolve("llama"), "{\"architectures\": [\"LlamaForCausalLM\"], " + shape + "}");
        Path mistral = write(tensors(model), tmp.resolve("mistral"),
                "{\"architectures\": [\"MistralForCausalLM\"], \"model_type\": \"mistral\", \"sliding_window\": 4096, " + shape + "}");
        Path windowed = write(tensors(model), tmp.resolve("mistral-window-8"),
                "{\"architectures\": [\"MistralForCausalLM\"], \"model_type\": \"mistral\", \"sliding_window\": 8, " + shape + "}");
        int[] ids = {1, 5, 9, 20, 7, 3, 31, 12};
        LlamaModel m = load(mistral, new WeightFormat.Fp32());
        assertEquals(Architecture.MISTRAL, m.config().architecture());
        assertEquals(64, m.config().contextLength());
        float[] expected = logits(load(llama, new WeightFormat.Fp32()), AdapterContext.NONE, ids);
        assertArrayEquals(expected, logits(m, AdapterContext.NONE, ids));
        assertCloseToOracle("mistral", m, ids, logits(m, AdapterContext.NONE, ids));

        LlamaModel w = load(windowed, new WeightFormat.Fp32());
        assertEquals(8, w.config().contextLength());
        assertArrayEquals(expected, logits(w, AdapterContext.NONE, ids), "within the window: plain causal attention");
        int[] nine = Arrays.copyOf(ids, 9);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> logits(w, AdapterContext.NONE, nine));
        assertTrue(e.getMessage().contains("batch of 9 positions exceeds the model's context of 8 tokens (sliding_window"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Generator(w, Tokenizers.load(
                SharedData.require("models/stories260K/tok512.bin")), AdapterContext.NONE).generate(nine, SamplingOptions.greedy(4), s -> {
        }));
        assertTrue(e.getMessage().contains("the prompt has 9 tokens but the model's context is 8 tokens (sliding_window"),
                e.getMessage());
    }

    /** Llama 3.1's rope_scaling (and transformers v5's rope_parameters spelling) against the float64 oracle. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"rope_scaling", "rope_parameters"})
    void llama3RopeScalingFollowsTransformers(String spelling, @TempDir Path tmp) {
        // head_dim 8, θ 10000: wavelengths 2π·{1, 10, 100, 1000}; with original context 64, low 1 and high 4 the first
        // is kept (< 16), the second blended (between 16 and 64), the last two divided by the factor (> 64)
        LlamaConfig c = new LlamaConfig(Architecture.LLAMA, 16, 24, 2, 2, 1, 8, 32, 256, 1e-5,
                new RopeConfig(10000, RopeConfig.Scaling.LLAMA3, 8, 1, 4, 64), false, false, false, 0, 1, new int[]{2}, "float32");
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 107, false);
        String scaling = "\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                + " \"original_max_position_embeddings\": 64";
        String rope = spelling.equals("rope_scaling") ? "\"rope_theta\": 10000.0, \"rope_scaling\": {" + scaling + "}"
                : "\"rope_parameters\": {\"rope_theta\": 10000.0, " + scaling + "}";
        Path dir = write(tensors(model), tmp.resolve("llama3"), "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 16,"
                + " \"intermediate_size\": 24, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
                + " \"head_dim\": 8, \"vocab_size\": 32, \"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-05, " + rope + "}");
        LlamaModel loaded = load(dir, new WeightFormat.Fp32());
        assertEquals(c.rope(), loaded.config().rope());
        int[] ids = new SplittableRandom(3).ints(40, 0, 32).toArray();
        float[] actual = logits(loaded, AdapterContext.NONE, ids);
        assertCloseToOracle("llama3 rope", loaded, ids, actual);
        LlamaConfig unscaled = new LlamaConfig(Architecture.LLAMA, 16, 24, 2, 2, 1, 8, 32, 256, 1e-5, RopeConfig.unscaled(10000),
                false, false, false, 0, 1, new int[]{2}, "float32");
        LlamaModel plain = new LlamaModel(unscaled, loaded.weights(), RopeLayout.HALF_SPLIT);
        assertTrue(maxAbsDiff(logits(plain, AdapterContext.NONE, ids), actual) > 1e-3, "the scaling changes the logits");
    }

    @Test
    void promptLongerThanTheContextIsAClearError() {
        LlamaModel model = load(stories(), WeightFormat.qlora());
        int[] prompt = new int[600];
        Arrays.fill(prompt, 300);
        prompt[0] = 1;
        var tok = Tokenizers.load(SharedData.require("models/stories260K/tok512.bin"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Generator(model, tok, AdapterContext.NONE).generate(prompt, SamplingOptions.greedy(5), s -> {
                }));
        assertEquals("the prompt has 600 tokens but the model's context is 512 tokens (max_position_embeddings): shorten"
                + " the prompt", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Perplexity.evaluate(model, AdapterContext.NONE,
                List.of(prompt), 600, 300, d -> {
                }));
        assertTrue(e.getMessage().contains("window 600 must be in [2, 512]"), e.getMessage());
        int[] labels = new int[600];
        Arrays.fill(labels, Batch.IGNORE_INDEX);
        e = assertThrows(IllegalArgumentException.class, () -> new Transformer(model).forwardLoss(
                new Batch(1, 600, prompt, labels, new long[]{0}, 0), AdapterContext.NONE));
        assertTrue(e.getMessage().contains("batch of 600 positions exceeds the model's context of 512 tokens"), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"wrong shape", "missing tensor", "unsupported architecture", "mlp bias", "missing field"})
    void brokenCheckpointsAreClearErrorsNamingFileAndTensor(String defect, @TempDir Path tmp) {
        LlamaModel model = TinyModels.model(TinyModels.config(false, false), RopeLayout.HALF_SPLIT, 109, false);
        Map<String, Tensor> t = tensors(model);
        String config = "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 16, \"intermediate_size\": 24,"
                + " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 32%s}";
        String extra = "";
        Path dir = tmp.resolve("model");
        String expected = switch (defect) {
            case "wrong shape" -> {
                Tensor k = t.get("model.layers.1.self_attn.k_proj.weight");
                t.put("model.layers.1.self_attn.k_proj.weight", new Tensor(k.values(), 16, 8));
                yield dir + ": tensor model.layers.1.self_attn.k_proj.weight has shape [16, 8] but config.json implies [8, 16]";
            }
            case "missing tensor" -> {
                t.remove("model.layers.1.mlp.down_proj.weight");
                yield dir + ": missing tensor model.layers.1.mlp.down_proj.weight";
            }
            case "unsupported architecture" -> {
                config = config.replace("LlamaForCausalLM", "GPT2LMHeadModel");
                yield dir.resolve("config.json") + ": unsupported architecture 'GPT2LMHeadModel'; qlora4j runs LlamaForCausalLM";
            }
            case "mlp bias" -> {
                extra = ", \"mlp_bias\": true";
                yield dir + ": config.json sets mlp_bias true";
            }
            case "missing field" -> {
                config = config.replace("\"intermediate_size\": 24,", "");
                yield dir.resolve("config.json") + ": missing required field 'intermediate_size'";
            }
            default -> throw new IllegalArgumentException(defect);
        };
        write(t, dir, String.format(config, extra));
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> load(dir, WeightFormat.qlora()));
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
    }

    /** The load report: weight memory of the 4-bit and the 32-bit base, and the peak heap while loading. */
    @Test
    void loadReportsWeightMemoryAndPeakHeap() {
        ModelLoader.LoadReport nf4, fp32;
        try (ModelFiles f = ModelFiles.open(stories())) {
            nf4 = ModelLoader.load(f, WeightFormat.qlora()).report();
            fp32 = ModelLoader.load(f, new WeightFormat.Fp32()).report();
        }
        System.out.println(nf4);
        System.out.println(fp32);
        assertTrue(nf4.toString().contains("peak heap during load") && nf4.peakHeapBytes() > 0, nf4.toString());
        assertTrue(fp32.peakHeapBytes() > 0);
        double linearRatio = (double) nf4.linearBytes() / fp32.linearBytes();
        // NF4 + double quantization: 4 bits + 8/64 for the block constants + 32/(64·256) for theirs ≈ 4.127 of 32 bits
        assertEquals(4.127 / 32, linearRatio, 0.005, "linear weights in 4-bit: " + linearRatio);
        assertEquals(fp32.weightBytes() - fp32.linearBytes(), nf4.weightBytes() - nf4.linearBytes(),
                "embedding and norms stay fp32");
    }

    private static void assertCloseToOracle(String what, LlamaModel model, int[] ids, float[] actual) {
        double[][] ref = new NaiveLlama(model, null).sequenceLogits(ids);
        double[] flat = Arrays.stream(ref).flatMapToDouble(Arrays::stream).toArray();
        Tolerance.assertClose(what + " vs float64 oracle", flat, actual, 2e-5, 1e-5);
    }

    /** (rows, cols) or (n) fp32 values. */
    record Tensor(float[] values, long... shape) {
    }

    /** The model's tensors under Hugging Face names, in an order a test may edit. */
    static Map<String, Tensor> tensors(LlamaModel m) {
        LlamaConfig c = m.config();
        LlamaWeights w = m.weights();
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", new Tensor(w.embedding(), c.vocabSize(), c.hiddenSize()));
        for (int l = 0; l < c.numLayers(); l++) {
            DecoderLayerWeights d = w.layers()[l];
            String p = "model.layers." + l + ".";
            t.put(p + "input_layernorm.weight", new Tensor(d.attnNorm(), c.hiddenSize()));
            t.put(p + "post_attention_layernorm.weight", new Tensor(d.ffnNorm(), c.hiddenSize()));
            for (LinearLayerName n : LinearLayerName.values()) {
                LinearWeight lw = d.linear(n);
                t.put(n.weightName(l), new Tensor(((DenseWeight) lw).data(), lw.rows(), lw.cols()));
            }
            if (d.qBias() != null) {
                t.put(p + "self_attn.q_proj.bias", new Tensor(d.qBias(), d.qBias().length));
                t.put(p + "self_attn.k_proj.bias", new Tensor(d.kBias(), d.kBias().length));
                t.put(p + "self_attn.v_proj.bias", new Tensor(d.vBias(), d.vBias().length));
            }
        }
        t.put("model.norm.weight", new Tensor(w.finalNorm(), c.hiddenSize()));
        if (!w.tied()) t.put("lm_head.weight", new Tensor(((DenseWeight) w.lmHead()).data(), c.vocabSize(), c.hiddenSize()));
        return t;
    }

    /** A Hugging Face folder: config.json as given, model.safetensors with these tensors. */
    static Path write(Map<String, Tensor> tensors, Path dir, String configJson) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), configJson);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt"));
        tensors.forEach((name, t) -> w.put(new TensorSpec(name, DType.F32, t.shape()), t.values()));
        w.write(dir.resolve(SafetensorsWriter.DEFAULT_WEIGHTS_NAME));
        return dir;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
