package io.qlora4j.model.infer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.kernels.Backend;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.InferenceSession;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * stories260K with a 32-bit base reproduces llama2.c: logits against reference_vectors.json (an independent float64
 * re-implementation; ≤ 1e-4) and greedy generation against llama2.c run.c's own output, token for token, from the
 * llama2.c file (interleaved RoPE) and from the Hugging Face folder (rotate_half RoPE on permuted rows).
 */
class Stories260KGoldenTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static LlamaModel load(String which, Backend backend) {
        Path p = SharedData.require(which.equals("bin") ? "models/stories260K/stories260K.bin" : "models/stories260K-hf");
        try (ModelFiles files = ModelFiles.open(p)) {
            return ModelLoader.load(files, new WeightFormat.Fp32()).model().withBackend(backend);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bin", "hf"})
    void logitsMatchTheFloat64Reference(String which) throws IOException {
        JsonNode ref = JSON.readTree(SharedData.require("models/stories260K/reference_vectors.json").toFile())
                .get("logits_prompt_once_upon_a_time");
        int[] ids = JSON.convertValue(ref.get("ids"), int[].class);
        for (Backend backend : new Backend[]{Backend.reference(), Backend.cpu()}) {
            LlamaModel model = load(which, backend);
            InferenceSession s = new InferenceSession(model, AdapterContext.NONE, 16);
            float[] lse = new float[ids.length];
            float[] logits = null;
            for (int i = 0; i < ids.length; i++) {
                logits = s.append(new int[]{ids[i]});
                lse[i] = (float) logSumExp(logits);
            }
            double[] first16 = JSON.convertValue(ref.get("last_position_first16"), double[].class);
            for (int i = 0; i < 16; i++) assertEquals(first16[i], logits[i], 1e-4, backend + " logit " + i);
            assertEquals(ref.get("last_position_argmax").asInt(), Sampler.argmax(logits));
            assertEquals(ref.get("last_position_max").asDouble(), logits[Sampler.argmax(logits)], 1e-4);
            double[] refLse = JSON.convertValue(ref.get("per_position_logsumexp"), double[].class);
            for (int i = 0; i < ids.length; i++) assertEquals(refLse[i], lse[i], 1e-4, "logsumexp at " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bin", "hf"})
    void greedyGenerationReproducesLlama2c(String which) throws IOException {
        JsonNode golden = JSON.readTree(SharedData.require("golden/stories260K_greedy.json").toFile());
        Tokenizer tok = Tokenizers.load(SharedData.require("models/stories260K/tok512.bin"));
        LlamaModel model = load(which, Backend.cpu());
        for (JsonNode c : golden.get("cases")) {
            int[] expected = JSON.convertValue(c.get("tokens"), int[].class);
            int[] prompt = tok.encode(c.get("prompt").asText(), true);
            Generator.Result r = new Generator(model, tok, AdapterContext.NONE)
                    .generate(prompt, SamplingOptions.greedy(expected.length - prompt.length), piece -> {
                    });
            assertArrayEquals(expected, r.tokens(), c.get("prompt").asText());
        }
    }

    private static double logSumExp(float[] l) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : l) max = Math.max(max, v);
        double s = 0;
        for (float v : l) s += Math.exp(v - max);
        return max + Math.log(s);
    }
}
