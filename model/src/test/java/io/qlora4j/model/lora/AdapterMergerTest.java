package io.qlora4j.model.lora;

import com.fasterxml.jackson.databind.JsonNode;
import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.QuantizedWeight;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelConfigException;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.io.DType;
import io.qlora4j.testing.SharedData;
import io.qlora4j.testing.Tolerance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

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
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Merging: the merged model alone computes what the base plus the adapter computed (≤ 1e-4), over an NF4 base
 * (W' = dequant(W) + s·B·A) and an fp32 base, from a Hugging Face folder and from a llama2.c file; a re-quantized
 * merge loads; a non-finite merge is refused.
 */
class AdapterMergerTest {

    private static final double LOGIT_TOLERANCE = 1e-4;
    private static final int[] IDS = {1, 5, 9, 20, 7, 3, 64, 100, 127, 2};

    private static Path tinyBase() {
        return SharedData.require("fixtures/tiny_llama_base");
    }

    private static Path merge(Path base, Path adapter, WeightFormat baseFormat, Path out, Optional<WeightFormat.Quantized> requantize) {
        try (ModelFiles files = ModelFiles.open(base)) {
            LoraAdapters a = PeftAdapter.load(adapter, files.config(), files.tensors().ropeLayout());
            AdapterMerger.merge(files, baseFormat, a, out, DType.F32, requantize);
        }
        return out;
    }

    @ParameterizedTest(name = "base {0}")
    @ValueSource(strings = {"nf4", "fp32"})
    void mergedModelComputesWhatBasePlusAdapterComputed(String dtype, @TempDir Path tmp) {
        WeightFormat format = WeightFormat.parse(dtype);
        Path adapterDir = resource("adapters/tiny_lora_adapter_trained");
        LlamaModel base = load(tinyBase(), format);
        LoraAdapters adapter = PeftAdapter.load(adapterDir, base.config(), base.ropeLayout());
        float[] expected = logits(base, AdapterContext.inference(adapter), IDS);

        Path merged = merge(tinyBase(), adapterDir, format, tmp.resolve("merged"), Optional.empty());
        LlamaModel m = load(merged, new WeightFormat.Fp32());
        float[] actual = logits(m, AdapterContext.NONE, IDS);
        System.out.printf("merge over a %s base: max |merged - (base + adapter)| = %.2e (adapter moves logits by %.2f)%n",
                dtype, maxAbsDiff(expected, actual), maxAbsDiff(logits(base, AdapterContext.NONE, IDS), expected));
        Tolerance.assertClose("merged (" + dtype + " base)", expected, actual, LOGIT_TOLERANCE, 0);
        if (format instanceof WeightFormat.Fp32) {
            JsonNode golden = json(resource("golden/peft_trained_adapter_logits.json")).get("tiny");
            Tolerance.assertClose("merged vs peft", matrix(golden.get("adapted_logits")), actual, LOGIT_TOLERANCE, 0);
        }
        assertTrue(Files.exists(merged.resolve("generation_config.json")), "tokenizer/generation files travel along");
        assertFalse(json(merged.resolve("config.json")).has("quantization_config"));
    }

    /** A llama2.c base is merged into a Hugging Face folder (q/k rows and the adapter's rows permuted alike). */
    @ParameterizedTest(name = "base {0}")
    @ValueSource(strings = {"nf4", "fp32"})
    void mergingIntoALlama2cFileWritesAnEquivalentHfFolder(String dtype, @TempDir Path tmp) {
        WeightFormat format = WeightFormat.parse(dtype);
        Path bin = SharedData.require("models/stories260K/stories260K.bin");
        Path adapterDir = resource("adapters/stories260K_hf_lora");
        JsonNode golden = json(resource("golden/peft_trained_adapter_logits.json")).get("stories260K");
        int[] ids = ints(golden.get("ids"));
        LlamaModel base = load(bin, format);
        float[] expected = logits(base, AdapterContext.inference(PeftAdapter.load(adapterDir, base.config(), base.ropeLayout())), ids);

        Path merged = merge(bin, adapterDir, format, tmp.resolve("merged"), Optional.empty());
        assertTrue(Files.exists(merged.resolve("config.json")) && Files.exists(merged.resolve("tok512.bin")));
        LlamaModel m = load(merged, new WeightFormat.Fp32());
        float[] actual = logits(m, AdapterContext.NONE, ids);
        System.out.printf("merge of stories260K.bin (%s) into an HF folder: max |merged - (base + adapter)| = %.2e%n", dtype,
                maxAbsDiff(expected, actual));
        Tolerance.assertClose("merged stories260K (" + dtype + ")", expected, actual, LOGIT_TOLERANCE, 0);
        if (format instanceof WeightFormat.Fp32) {
            Tolerance.assertClose("merged vs peft", matrix(golden.get("adapted_logits")), actual, LOGIT_TOLERANCE, 0);
        }
    }

    /** --requantize nf4: the output is a bitsandbytes 4-bit folder; loaded 4-bit it is exactly the merged fp32 model quantized. */
    @Test
    void requantizedMergeLoads(@TempDir Path tmp) {
        Path adapterDir = resource("adapters/tiny_lora_adapter_trained");
        Path plain = merge(tinyBase(), adapterDir, WeightFormat.qlora(), tmp.resolve("plain"), Optional.empty());
        Path requantized = merge(tinyBase(), adapterDir, WeightFormat.qlora(), tmp.resolve("nf4"),
                AdapterMerger.requantizeOption("nf4"));
        JsonNode q = json(requantized.resolve("config.json")).get("quantization_config");
        assertEquals("nf4", q.get("bnb_4bit_quant_type").asText());
        assertTrue(q.get("bnb_4bit_use_double_quant").asBoolean());

        LlamaModel stored = load(requantized, WeightFormat.qlora());
        assertInstanceOf(QuantizedWeight.class, stored.weights().layers()[0].linear(LinearLayerName.DOWN_PROJ));
        LlamaModel onTheFly = load(plain, WeightFormat.qlora());
        assertArrayEquals(logits(onTheFly, AdapterContext.NONE, IDS), logits(stored, AdapterContext.NONE, IDS),
                "the stored 4-bit weights are the on-the-fly quantization of the merged weights");
        LlamaModel dequantized = load(requantized, new WeightFormat.Fp32());
        assertInstanceOf(DenseWeight.class, dequantized.weights().layers()[0].linear(LinearLayerName.DOWN_PROJ));
        // 4-bit rounding of the merged weights costs what 4-bit rounding of the base costs (PEFT warns of it)
        double requantizationError = maxAbsDiff(logits(load(plain, new WeightFormat.Fp32()), AdapterContext.NONE, IDS),
                logits(dequantized, AdapterContext.NONE, IDS));
        double baseQuantizationError = maxAbsDiff(logits(load(tinyBase(), new WeightFormat.Fp32()), AdapterContext.NONE, IDS),
                logits(load(tinyBase(), WeightFormat.qlora()), AdapterContext.NONE, IDS));
        System.out.printf("re-quantized merge vs fp32 merge: max |logit diff| = %.3f; NF4 base vs fp32 base: %.3f%n",
                requantizationError, baseQuantizationError);
        assertTrue(requantizationError < 2 * baseQuantizationError, requantizationError + " vs " + baseQuantizationError);
    }

    @Test
    void mergeRefusesNonFiniteResults(@TempDir Path tmp) {
        Path out = tmp.resolve("merged");
        try (ModelFiles files = ModelFiles.open(tinyBase())) {
            LoraAdapters a = PeftAdapter.load(resource("adapters/tiny_lora_adapter_trained"), files.config(),
                    files.tensors().ropeLayout());
            LoraAdapter up = a.get(1, LinearLayerName.UP_PROJ);
            Arrays.fill(up.a(), 3e38f);   // finite, but s·B·A overflows float32
            Arrays.fill(up.b(), 3e38f);
            ModelConfigException e = assertThrows(ModelConfigException.class,
                    () -> AdapterMerger.merge(files, new WeightFormat.Fp32(), a, out, DType.F32, Optional.empty()));
            assertTrue(e.getMessage().contains("model.layers.1.mlp.up_proj.weight gives Infinity")
                    && e.getMessage().contains("refusing to write a broken model"), e.getMessage());
        }
        assertFalse(Files.exists(out.resolve("model.safetensors")), "nothing written");
    }
}
