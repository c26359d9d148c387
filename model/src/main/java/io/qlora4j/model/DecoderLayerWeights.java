package io.qlora4j.model;

import io.qlora4j.kernels.LinearWeight;

/**
 * The weights of one decoder block (HF {@code LlamaDecoderLayer}). C = hidden, QD = NH·HS, KVD = NKV·HS,
 * H = intermediate.
 *
 * @param attnNorm (C) input_layernorm
 * @param q        (QD, C)
 * @param k        (KVD, C)
 * @param v        (KVD, C)
 * @param o        (C, QD)
 * @param qBias    (QD) or null (Qwen2 only)
 * @param kBias    (KVD) or null
 * @param vBias    (KVD) or null
 * @param ffnNorm  (C) post_attention_layernorm
 * @param gate     (H, C)
 * @param up       (H, C)
 * @param down     (C, H)
 */
public record DecoderLayerWeights(float[] attnNorm, LinearWeight q, LinearWeight k, LinearWeight v, LinearWeight o,
                                  float[] qBias, float[] kBias, float[] vBias,
                                  float[] ffnNorm, LinearWeight gate, LinearWeight up, LinearWeight down) {

    /** The weight of one projection. */
    public LinearWeight linear(LinearLayerName name) {
        return switch (name) {
            case Q_PROJ -> q;
            case K_PROJ -> k;
            case V_PROJ -> v;
            case O_PROJ -> o;
            case GATE_PROJ -> gate;
            case UP_PROJ -> up;
            case DOWN_PROJ -> down;
        };
    }

    /** Bytes of the linear weights as stored (4-bit codes and constants for a quantized base). */
    public long linearStorageBytes() {
        long b = 0;
        for (LinearLayerName n : LinearLayerName.values()) b += linear(n).storageBytes();
        return b;
    }
}
