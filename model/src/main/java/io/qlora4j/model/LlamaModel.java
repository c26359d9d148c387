package io.qlora4j.model;

import io.qlora4j.kernels.Backend;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.kernels.RopeScaling;
import io.qlora4j.kernels.RopeTable;

/**
 * A loaded LLaMA-family decoder: config, weights (linear layers 4-bit or fp32), the RoPE layout its q/k rows follow
 * (HF folders: rotate_half; llama2.c files: interleaved pairs) and the kernels that compute with it. Immutable apart
 * from the weights' contents, which only full fine-tuning changes.
 */
public final class LlamaModel {

    private final LlamaConfig config;
    private final LlamaWeights weights;
    private final RopeLayout ropeLayout;
    private final RopeTable rope;
    private final Backend backend;

    /** A model computing with the fastest CPU kernels. */
    public LlamaModel(LlamaConfig config, LlamaWeights weights, RopeLayout ropeLayout) {
        this(config, weights, ropeLayout, RopeTable.build(config.headDim(), (float) config.rope().theta(),
                scaling(config.rope()), ropeLayout, config.maxPositions()), Backend.cpu());
    }

    private LlamaModel(LlamaConfig config, LlamaWeights weights, RopeLayout ropeLayout, RopeTable rope, Backend backend) {
        this.config = config;
        this.weights = weights;
        this.ropeLayout = ropeLayout;
        this.rope = rope;
        this.backend = backend;
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaWeights weights() {
        return weights;
    }

    public RopeLayout ropeLayout() {
        return ropeLayout;
    }

    /** The cos/sin table for positions [0, max_position_embeddings). */
    public RopeTable rope() {
        return rope;
    }

    public Backend backend() {
        return backend;
    }

    /** The same model (same weight arrays) computing with other kernels, e.g. the reference set in tests. */
    public LlamaModel withBackend(Backend other) {
        return new LlamaModel(config, weights, ropeLayout, rope, other);
    }

    private static RopeScaling scaling(RopeConfig r) {
        return switch (r.type()) {
            case NONE -> new RopeScaling.None();
            case LINEAR -> new RopeScaling.Linear((float) r.factor());
            case LLAMA3 -> new RopeScaling.Llama3((float) r.factor(), (float) r.lowFreqFactor(), (float) r.highFreqFactor(),
                    r.originalMaxPositions());
        };
    }
}
