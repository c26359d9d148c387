package io.qlora4j.sim;

import io.qlora4j.memory.optim.ParamSpec;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.lora.LoraAdapters;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Parameter counts of a LLaMA-family decoder and of its LoRA adapters, and the trainable tensors in the order our
 * trainer hands them to the optimizer (the order decides how small tensors share optimizer pages). L = layers,
 * C = hidden, H = intermediate, Q = heads·head_dim, KV = kv_heads·head_dim, V = vocabulary.
 *
 * <p>Projection (in, out): q (C, Q), k and v (C, KV), o (Q, C), gate and up (C, H), down (H, C)
 * ({@link LoraAdapters#inFeatures}, {@link LoraAdapters#outFeatures}).
 */
public final class ParameterCounts {
    private ParameterCounts() {
    }

    /** Weights of one projection of one block: in·out. */
    public static long projection(LlamaConfig c, LinearLayerName n) {
        return (long) LoraAdapters.inFeatures(c, n) * LoraAdapters.outFeatures(c, n);
    }

    /** Weights of all seven projections of all blocks: L·(C·Q + 2·C·KV + Q·C + 3·C·H). What QLoRA quantizes. */
    public static long linear(LlamaConfig c) {
        long perLayer = 0;
        for (LinearLayerName n : LinearLayerName.values()) perLayer += projection(c, n);
        return c.numLayers() * perLayer;
    }

    /** The largest single projection (the biggest dequantization temporary). */
    public static long largestProjection(LlamaConfig c) {
        long max = 0;
        for (LinearLayerName n : LinearLayerName.values()) max = Math.max(max, projection(c, n));
        return max;
    }

    /** V·C for the embedding plus V·C for lm_head unless tied. */
    public static long embeddings(LlamaConfig c) {
        return (long) c.vocabSize() * c.hiddenSize() * (c.tieWordEmbeddings() ? 1 : 2);
    }

    /** RMSNorm weights: two per block and the final one, (2L + 1)·C. */
    public static long norms(LlamaConfig c) {
        return (2L * c.numLayers() + 1) * c.hiddenSize();
    }

    /** q/k/v biases (Qwen2, or LLaMA with attention_bias): L·(Q + 2·KV). */
    public static long biases(LlamaConfig c) {
        return c.attentionBias() ? (long) c.numLayers() * (c.qDim() + 2L * c.kvDim()) : 0;
    }

    /** Every parameter of the model. */
    public static long total(LlamaConfig c) {
        return linear(c) + embeddings(c) + norms(c) + biases(c);
    }

    /** Σ over adapted projections of in: the features entering the adapters of one block (5C + Q + H for all seven). */
    public static long adapterInputs(LlamaConfig c, Set<LinearLayerName> targets) {
        long sum = 0;
        for (LinearLayerName n : targets) sum += LoraAdapters.inFeatures(c, n);
        return sum;
    }

    /**
     * LoRA parameters: L · Σ over adapted projections of r·(in + out). LLaMA-7B with r = 64 on all seven gives
     * 32·[4·64·(4096+4096) + 3·64·(4096+11008)] = 159,907,840 (QLORA-REFERENCE §5.3).
     */
    public static long lora(LlamaConfig c, int rank, Set<LinearLayerName> targets) {
        long perLayer = 0;
        for (LinearLayerName n : targets) perLayer += (long) rank * (LoraAdapters.inFeatures(c, n) + LoraAdapters.outFeatures(c, n));
        return c.numLayers() * perLayer;
    }

    /** The trainable tensors as {@code TrainStep} registers them with the optimizer, in its order. */
    public static List<ParamSpec> trainables(TrainingSetup s) {
        return s.fullFinetune() ? fullTrainables(s.model()) : loraTrainables(s.model(), s.rank(), s.targets());
    }

    /** {@code LoraAdapters.trainables()}: per layer, per projection in enum order, A (r, in) then B (out, r). */
    static List<ParamSpec> loraTrainables(LlamaConfig c, int rank, Set<LinearLayerName> targets) {
        List<ParamSpec> specs = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            for (LinearLayerName n : LinearLayerName.values()) {
                if (!targets.contains(n)) continue;
                specs.add(spec(LoraAdapters.peftKey(l, n, false), (long) rank * LoraAdapters.inFeatures(c, n)));
                specs.add(spec(LoraAdapters.peftKey(l, n, true), (long) LoraAdapters.outFeatures(c, n) * rank));
            }
        }
        return specs;
    }

    /**
     * {@code FullFineTune.trainables()}: embedding; per layer the attention norm, the seven projections, the q/k/v biases
     * if any, the MLP norm; the final norm; lm_head unless tied.
     */
    static List<ParamSpec> fullTrainables(LlamaConfig c) {
        List<ParamSpec> specs = new ArrayList<>();
        specs.add(spec("model.embed_tokens.weight", (long) c.vocabSize() * c.hiddenSize()));
        for (int l = 0; l < c.numLayers(); l++) {
            specs.add(spec("model.layers." + l + ".input_layernorm.weight", c.hiddenSize()));
            for (LinearLayerName n : LinearLayerName.values()) specs.add(spec(n.weightName(l), projection(c, n)));
            if (c.attentionBias()) {
                specs.add(spec(LinearLayerName.Q_PROJ.modulePath(l) + ".bias", c.qDim()));
                specs.add(spec(LinearLayerName.K_PROJ.modulePath(l) + ".bias", c.kvDim()));
                specs.add(spec(LinearLayerName.V_PROJ.modulePath(l) + ".bias", c.kvDim()));
            }
            specs.add(spec("model.layers." + l + ".post_attention_layernorm.weight", c.hiddenSize()));
        }
        specs.add(spec("model.norm.weight", c.hiddenSize()));
        if (!c.tieWordEmbeddings()) specs.add(spec("lm_head.weight", (long) c.vocabSize() * c.hiddenSize()));
        return specs;
    }

    private static ParamSpec spec(String name, long elements) {
        if (elements > Integer.MAX_VALUE) {
            throw new SimulationException("tensor " + name + " has " + elements + " elements; the optimizer state layout"
                    + " (like the trainer's float[] parameters) holds at most " + Integer.MAX_VALUE + " per tensor");
        }
        return new ParamSpec(name, (int) elements);
    }
}
