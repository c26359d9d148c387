package io.qlora4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LlamaConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void readsRealConfigs() {
        LlamaConfig s = LlamaConfig.read(SharedData.require("models/stories260K-hf/config.json"));
        assertEquals(Architecture.LLAMA, s.architecture());
        assertEquals(8, s.headDim());
        assertEquals(1e-5, s.rmsNormEps());
        LlamaConfig tiny = LlamaConfig.read(SharedData.require("fixtures/tiny_llama_base/config.json"));
        assertEquals(16, tiny.headDim());
        assertEquals(10000.0, tiny.rope().theta(), "transformers v5 rope_parameters");
        LlamaConfig smol = LlamaConfig.read(SharedData.require("tokenizers/smollm2-135m-instruct/config.json"));
        assertEquals(100000, smol.rope().theta());
        assertEquals(3, smol.numKvHeads());
        assertEquals(64, smol.headDim());
    }

    @Test
    void llama3RopeScalingAndEosList() {
        ObjectNode c = base();
        c.put("rope_theta", 500000.0);
        ObjectNode s = c.putObject("rope_scaling");
        s.put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 1.0).put("high_freq_factor", 4.0)
                .put("original_max_position_embeddings", 8192);
        c.putArray("eos_token_id").add(128001).add(128009);
        LlamaConfig cfg = LlamaConfig.parse(c, "test");
        assertEquals(RopeConfig.Scaling.LLAMA3, cfg.rope().type());
        assertEquals(8192, cfg.rope().originalMaxPositions());
        assertArrayEquals(new int[]{128001, 128009}, cfg.eosTokenIds());
        assertEquals(cfg, LlamaConfig.parse(cfg.toJson(), "round trip"));
    }

    @Test
    void qwen2HasAttentionBias() {
        ObjectNode c = base();
        c.putArray("architectures").add("Qwen2ForCausalLM");
        assertTrue(LlamaConfig.parse(c, "test").attentionBias());
    }

    @Test
    void badConfigsAreClearErrors(@TempDir Path tmp) throws IOException {
        ObjectNode missing = base();
        missing.remove("intermediate_size");
        assertMessage(missing, "missing required field 'intermediate_size'");
        ObjectNode gqa = base();
        gqa.put("num_key_value_heads", 3);
        assertMessage(gqa, "not a multiple of num_key_value_heads 3");
        ObjectNode arch = base();
        arch.putArray("architectures").add("GPT2LMHeadModel");
        assertMessage(arch, "unsupported architecture 'GPT2LMHeadModel'");
        ObjectNode typed = base();
        typed.put("hidden_size", "64");
        assertMessage(typed, "'hidden_size' must be an integer");
        ObjectNode neg = base();
        neg.put("num_hidden_layers", 0);
        assertMessage(neg, "num_hidden_layers must be positive");
        Path broken = tmp.resolve("config.json");
        Files.writeString(broken, "{\"hidden_size\": 64,");
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> LlamaConfig.read(broken));
        assertTrue(e.getMessage().startsWith(broken.toString()) && e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    private static void assertMessage(ObjectNode config, String expected) {
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> LlamaConfig.parse(config, "cfg.json"));
        assertTrue(e.getMessage().startsWith("cfg.json") && e.getMessage().contains(expected), e.getMessage());
    }

    private static ObjectNode base() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("hidden_size", 64).put("intermediate_size", 176).put("num_hidden_layers", 2)
                .put("num_attention_heads", 4).put("num_key_value_heads", 2).put("vocab_size", 128)
                .put("max_position_embeddings", 256).put("rms_norm_eps", 1e-6);
        return c;
    }
}
