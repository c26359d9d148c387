package io.qlora4j.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.OptionalInt;

/**
 * The shape and numerics of a LLaMA-family decoder, as Hugging Face's config.json describes it
 * (transformers {@code LlamaConfig}, {@code MistralConfig}, {@code Qwen2Config}; QLORA-REFERENCE.md §8.1).
 * Parsing validates every field once, here, with messages that name the file, the field and the expectation, so the
 * model code can trust it.
 *
 * @param architecture      decoder variant
 * @param hiddenSize        C: width of the residual stream
 * @param intermediateSize  H: width of the SwiGLU MLP
 * @param numLayers         decoder blocks
 * @param numHeads          NH: query heads
 * @param numKvHeads        NKV: key/value heads (GQA when smaller than NH; NH divisible by it)
 * @param headDim           HS: per-head width (hidden/heads unless config.json says otherwise)
 * @param vocabSize         V
 * @param maxPositions      the context limit (max_position_embeddings)
 * @param rmsNormEps        RMSNorm epsilon
 * @param rope              rotary embedding base and scaling
 * @param tieWordEmbeddings whether lm_head shares the embedding matrix
 * @param attentionBias     q/k/v projections carry biases (Qwen2 always; LLaMA when attention_bias)
 * @param mlpBias           MLP projections carry biases (only validated: no released checkpoint uses it)
 * @param slidingWindow     Mistral's attention window (Qwen2's with use_sliding_window), or 0 for none: it limits the
 *                          context ({@link #contextLength()})
 * @param bosTokenId        begin-of-sequence id (-1 when absent)
 * @param eosTokenIds       end-of-sequence ids (Llama 3 lists several)
 * @param torchDtype        dtype the checkpoint was saved in ("float32", "bfloat16", ...), informative
 */
public record LlamaConfig(Architecture architecture, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
                          int numKvHeads, int headDim, int vocabSize, int maxPositions, double rmsNormEps,
                          RopeConfig rope, boolean tieWordEmbeddings, boolean attentionBias, boolean mlpBias,
                          int slidingWindow, int bosTokenId, int[] eosTokenIds, String torchDtype) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public LlamaConfig {
        String where = "model config";
        positive(where, "hidden_size", hiddenSize);
        positive(where, "intermediate_size", intermediateSize);
        positive(where, "num_hidden_layers", numLayers);
        positive(where, "num_attention_heads", numHeads);
        positive(where, "num_key_value_heads", numKvHeads);
        positive(where, "head_dim", headDim);
        positive(where, "vocab_size", vocabSize);
        positive(where, "max_position_embeddings", maxPositions);
        if (numHeads % numKvHeads != 0) {
            throw new ModelConfigException(where + ": num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads + " (grouped-query attention needs it)");
        }
        if (headDim % 2 != 0) {
            throw new ModelConfigException(where + ": head_dim " + headDim + " must be even (RoPE rotates pairs)");
        }
        if (!(rmsNormEps > 0) || !Double.isFinite(rmsNormEps)) {
            throw new ModelConfigException(where + ": rms_norm_eps must be a positive number, got " + rmsNormEps);
        }
        if (!(rope.theta() > 0)) throw new ModelConfigException(where + ": rope_theta must be positive, got " + rope.theta());
        eosTokenIds = eosTokenIds.clone();
    }

    /** Query width NH·HS (equals hidden_size unless head_dim is set explicitly). */
    public int qDim() {
        return numHeads * headDim;
    }

    /**
     * The longest sequence this model computes exactly: max_position_embeddings, or a smaller sliding_window. Within the
     * window, sliding-window attention is plain causal attention; beyond it transformers masks the keys that fell out
     * of the window, which qlora4j's attention kernels do not do, so longer sequences are refused rather than computed
     * differently.
     */
    public int contextLength() {
        return slidingWindow > 0 ? Math.min(maxPositions, slidingWindow) : maxPositions;
    }

    /** Where {@link #contextLength()} comes from, for error messages: "512 tokens (max_position_embeddings)". */
    public String contextDescription() {
        return contextLength() + " tokens (" + (contextLength() < maxPositions
                ? "sliding_window: attention beyond the window is not supported" : "max_position_embeddings") + ")";
    }

    /** Key/value width NKV·HS. */
    public int kvDim() {
        return numKvHeads * headDim;
    }

    @Override
    public int[] eosTokenIds() {
        return eosTokenIds.clone();
    }

    /** Reads and validates {@code config.json}. */
    public static LlamaConfig read(Path configJson) {
        String where = configJson.toString();
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(configJson));
        } catch (JsonProcessingException e) {
            throw new ModelConfigException(where + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        } catch (IOException e) {
            throw new ModelConfigException(where + ": cannot read (" + e.getMessage() + ")", e);
        }
        return parse(root, where);
    }

    /** Parses a config.json tree; {@code where} names its origin in error messages. */
    public static LlamaConfig parse(JsonNode root, String where) {
        if (root == null || !root.isObject()) throw new ModelConfigException(where + ": config.json must be a JSON object");
        Architecture arch = architecture(root, where);
        int hidden = requiredInt(root, where, "hidden_size");
        int heads = requiredInt(root, where, "num_attention_heads");
        int kvHeads = root.hasNonNull("num_key_value_heads") ? requiredInt(root, where, "num_key_value_heads") : heads;
        int headDim;
        if (root.hasNonNull("head_dim")) {
            headDim = requiredInt(root, where, "head_dim");
        } else {
            if (hidden % heads != 0) {
                throw new ModelConfigException(where + ": hidden_size " + hidden + " is not divisible by num_attention_heads "
                        + heads + " and no head_dim is given");
            }
            headDim = hidden / heads;
        }
        String act = root.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new ModelConfigException(where + ": hidden_act '" + act + "' is not supported (LLaMA-family models use silu)");
        }
        if (root.path("pretraining_tp").asInt(1) != 1) {
            throw new ModelConfigException(where + ": pretraining_tp " + root.get("pretraining_tp") + " is not supported (use 1)");
        }
        boolean attentionBias = arch == Architecture.QWEN2 || root.path("attention_bias").asBoolean(false);
        int sliding = arch == Architecture.MISTRAL && root.hasNonNull("sliding_window")
                ? requiredInt(root, where, "sliding_window") : 0;
        if (arch == Architecture.QWEN2 && root.path("use_sliding_window").asBoolean(false)) {
            sliding = requiredInt(root, where, "sliding_window");
        }
        try {
            return new LlamaConfig(arch, hidden, requiredInt(root, where, "intermediate_size"),
                requiredInt(root, where, "num_hidden_layers"), heads, kvHeads, headDim,
                requiredInt(root, where, "vocab_size"),
                root.hasNonNull("max_position_embeddings") ? requiredInt(root, where, "max_position_embeddings") : 2048,
                number(root, where, "rms_norm_eps", 1e-6),
                rope(root, where), root.path("tie_word_embeddings").asBoolean(false), attentionBias,
                root.path("mlp_bias").asBoolean(false), sliding,
                root.hasNonNull("bos_token_id") ? requiredInt(root, where, "bos_token_id") : -1,
                eos(root, where), dtype(root));
        } catch (ModelConfigException e) {
            if (e.getMessage().startsWith(where)) throw e;
            throw new ModelConfigException(where + e.getMessage().substring("model config".length()), e);
        }
    }

    /** config.json as transformers would write it for this config (used when converting llama2.c checkpoints). */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add(architecture.className());
        o.put("model_type", architecture.modelType());
        o.put("hidden_size", hiddenSize);
        o.put("intermediate_size", intermediateSize);
        o.put("num_hidden_layers", numLayers);
        o.put("num_attention_heads", numHeads);
        o.put("num_key_value_heads", numKvHeads);
        o.put("head_dim", headDim);
        o.put("vocab_size", vocabSize);
        o.put("max_position_embeddings", maxPositions);
        o.put("rms_norm_eps", rmsNormEps);
        o.put("rope_theta", rope.theta());
        if (rope.type() != RopeConfig.Scaling.NONE) {
            ObjectNode s = o.putObject("rope_scaling");
            s.put("rope_type", rope.type().name().toLowerCase(Locale.ROOT));
            s.put("factor", rope.factor());
            if (rope.type() == RopeConfig.Scaling.LLAMA3) {
                s.put("low_freq_factor", rope.lowFreqFactor());
                s.put("high_freq_factor", rope.highFreqFactor());
                s.put("original_max_position_embeddings", rope.originalMaxPositions());
            }
        }
        o.put("hidden_act", "silu");
        o.put("tie_word_embeddings", tieWordEmbeddings);
        o.put("attention_bias", attentionBias);
        o.put("mlp_bias", mlpBias);
        if (bosTokenId >= 0) o.put("bos_token_id", bosTokenId);
        if (eosTokenIds.length == 1) o.put("eos_token_id", eosTokenIds[0]);
        else if (eosTokenIds.length > 1) {
            ArrayNode a = o.putArray("eos_token_id");
            for (int id : eosTokenIds) a.add(id);
        }
        o.put("torch_dtype", torchDtype);
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LlamaConfig c && c.toJson().equals(toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return String.format("%s: %d layers, hidden %d, MLP %d, %d heads (%d KV, head dim %d), vocab %d, context %d",
                architecture.className(), numLayers, hiddenSize, intermediateSize, numHeads, numKvHeads, headDim,
                vocabSize, maxPositions) + (eosTokenIds.length == 0 ? "" : ", eos " + Arrays.toString(eosTokenIds));
    }

    private static Architecture architecture(JsonNode root, String where) {
        JsonNode archs = root.get("architectures");
        if (archs != null && archs.isArray() && !archs.isEmpty()) {
            return Architecture.fromClassName(archs.get(0).asText(), where);
        }
        String type = root.path("model_type").asText("");
        for (Architecture a : Architecture.values()) {
            if (a.modelType().equals(type)) return a;
        }
        throw new ModelConfigException(where + ": neither 'architectures' nor a known 'model_type' (llama, mistral, qwen2)"
                + " says which model this is");
    }

    private static RopeConfig rope(JsonNode root, String where) {
        JsonNode params = root.get("rope_parameters");   // transformers v5 layout
        JsonNode scaling = root.get("rope_scaling");
        double theta = params != null && params.has("rope_theta") ? number(params, where, "rope_parameters.rope_theta", 10000)
                : number(root, where, "rope_theta", 10000);
        JsonNode s = scaling != null && !scaling.isNull() ? scaling : params;
        if (s == null || s.isNull()) return RopeConfig.unscaled(theta);
        String type = s.has("rope_type") ? s.get("rope_type").asText() : s.path("type").asText("default");
        return switch (type) {
            case "default" -> RopeConfig.unscaled(theta);
            case "linear" -> new RopeConfig(theta, RopeConfig.Scaling.LINEAR, number(s, where, "rope_scaling.factor", Double.NaN), 0, 0, 0);
            case "llama3" -> new RopeConfig(theta, RopeConfig.Scaling.LLAMA3,
                    number(s, where, "rope_scaling.factor", Double.NaN),
                    number(s, where, "rope_scaling.low_freq_factor", Double.NaN),
                    number(s, where, "rope_scaling.high_freq_factor", Double.NaN),
                    requiredInt(s, where, "original_max_position_embeddings"));
            default -> throw new ModelConfigException(where + ": rope scaling type '" + type
                    + "' is not supported (supported: default, linear, llama3)");
        };
    }

    private static int[] eos(JsonNode root, String where) {
        JsonNode e = root.get("eos_token_id");
        if (e == null || e.isNull()) return new int[0];
        if (e.isArray()) {
            int[] ids = new int[e.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!e.get(i).canConvertToInt()) throw new ModelConfigException(where + ": eos_token_id entries must be integers");
                ids[i] = e.get(i).asInt();
            }
            return ids;
        }
        return new int[]{requiredInt(root, where, "eos_token_id")};
    }

    private static String dtype(JsonNode root) {
        if (root.hasNonNull("torch_dtype")) return root.get("torch_dtype").asText();
        return root.path("dtype").asText("float32");
    }

    private static int requiredInt(JsonNode node, String where, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) throw new ModelConfigException(where + ": missing required field '" + field + "'");
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new ModelConfigException(where + ": field '" + field + "' must be an integer, got " + v);
        }
        return v.asInt();
    }

    private static double number(JsonNode node, String where, String field, double defaultValue) {
        String key = field.substring(field.lastIndexOf('.') + 1);
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            if (Double.isNaN(defaultValue)) throw new ModelConfigException(where + ": missing required field '" + field + "'");
            return defaultValue;
        }
        if (!v.isNumber()) throw new ModelConfigException(where + ": field '" + field + "' must be a number, got " + v);
        return v.asDouble();
    }

    private static void positive(String where, String field, int value) {
        if (value <= 0) throw new ModelConfigException(where + ": " + field + " must be positive, got " + value);
    }

    /** For configs not read from a file: a config with the given values and every default transformers uses. */
    public static LlamaConfig llama(int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab,
                                    int maxPositions, double eps, double theta, boolean tied) {
        return new LlamaConfig(Architecture.LLAMA, hidden, intermediate, layers, heads, kvHeads, hidden / heads, vocab,
                maxPositions, eps, RopeConfig.unscaled(theta), tied, false, false, 0, 1, new int[]{2}, "float32");
    }

    /** An OptionalInt view of the BOS id. */
    public OptionalInt bos() {
        return bosTokenId >= 0 ? OptionalInt.of(bosTokenId) : OptionalInt.empty();
    }
}
