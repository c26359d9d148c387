package io.qlora4j.model.compute;

import io.qlora4j.model.LinearLayerName;

/**
 * Where backward puts the gradients of base-model weights: nowhere for QLoRA/LoRA (the base is frozen; only adapters
 * learn), dense arrays for full fine-tuning. A null array means "frozen: compute no gradient".
 */
public interface Gradients {

    /** No base-model gradients (QLoRA, LoRA). */
    Gradients FROZEN = new Gradients() {
    };

    /** (out, in) gradient of a linear weight, or null. */
    default float[] linear(int layer, LinearLayerName name) {
        return null;
    }

    /** (out) gradient of a q/k/v bias (Qwen2), or null. */
    default float[] bias(int layer, LinearLayerName name) {
        return null;
    }

    default float[] attnNorm(int layer) {
        return null;
    }

    default float[] mlpNorm(int layer) {
        return null;
    }

    default float[] finalNorm() {
        return null;
    }

    /** (V, C) gradient of the token embedding (and of lm_head when tied), or null. */
    default float[] embedding() {
        return null;
    }

    /** (V, C) gradient of an untied lm_head, or null. */
    default float[] lmHead() {
        return null;
    }
}
