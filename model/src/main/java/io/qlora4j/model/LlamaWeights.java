package io.qlora4j.model;

import io.qlora4j.kernels.LinearWeight;

/**
 * All weights of a LLaMA-family decoder, as held in memory.
 *
 * @param embedding (V, C) token embedding, fp32
 * @param layers    the decoder blocks
 * @param finalNorm (C) model.norm
 * @param lmHead    (V, C) the classifier; when tied, a dense view of {@code embedding} (same array)
 * @param tied      whether lm_head shares the embedding
 */
public record LlamaWeights(float[] embedding, DecoderLayerWeights[] layers, float[] finalNorm, LinearWeight lmHead,
                           boolean tied) {

    /** Bytes of every weight as stored: the base model's memory footprint. */
    public long storageBytes() {
        long b = 4L * embedding.length + 4L * finalNorm.length + (tied ? 0 : lmHead.storageBytes());
        for (DecoderLayerWeights l : layers) {
            b += l.linearStorageBytes() + 4L * (l.attnNorm().length + l.ffnNorm().length);
            if (l.qBias() != null) b += 4L * (l.qBias().length + l.kBias().length + l.vBias().length);
        }
        return b;
    }

    /** Bytes of the linear projections only (the part QLoRA quantizes). */
    public long linearStorageBytes() {
        long b = 0;
        for (DecoderLayerWeights l : layers) b += l.linearStorageBytes();
        return b;
    }
}
