package io.qlora4j.model.compute;

import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;

/**
 * The intermediate values of one decoder block for R = B·T rows, kept from forward to backward (or recomputed there
 * under gradient checkpointing). Q = NH·HS, KV = NKV·HS, C = hidden, H = intermediate, r = LoRA rank.
 */
final class LayerActivations {
    final float[] attnIn;    // (R, C) input_layernorm output
    final float[] attnRstd;  // (R)
    final float[] q;         // (R, Q) after RoPE
    final float[] k;         // (R, KV) after RoPE
    final float[] v;         // (R, KV)
    final float[] probs;     // (B, NH, T, T) attention probabilities, or null when no backward follows
    final float[] att;       // (R, Q) attention output (o_proj input)
    final float[] h;         // (R, C) residual stream after attention
    final float[] mlpIn;     // (R, C) post_attention_layernorm output
    final float[] mlpRstd;   // (R)
    final float[] gate;      // (R, H)
    final float[] up;        // (R, H)
    final float[] act;       // (R, H) silu(gate)·up (down_proj input)
    final float[][] lora;    // per projection: (R, r) scaled adapter activations s·A·dropout(x), or null

    LayerActivations(LlamaConfig c, int batch, int length, int loraRank, boolean[] adapted, boolean keepProbs) {
        int rows = batch * length;
        attnIn = new float[rows * c.hiddenSize()];
        attnRstd = new float[rows];
        q = new float[rows * c.qDim()];
        k = new float[rows * c.kvDim()];
        v = new float[rows * c.kvDim()];
        probs = keepProbs ? new float[batch * c.numHeads() * length * length] : null;
        att = new float[rows * c.qDim()];
        h = new float[rows * c.hiddenSize()];
        mlpIn = new float[rows * c.hiddenSize()];
        mlpRstd = new float[rows];
        gate = new float[rows * c.intermediateSize()];
        up = new float[rows * c.intermediateSize()];
        act = new float[rows * c.intermediateSize()];
        lora = new float[LinearLayerName.values().length][];
        for (LinearLayerName n : LinearLayerName.values()) {
            if (adapted[n.ordinal()]) lora[n.ordinal()] = new float[rows * loraRank];
        }
    }

    /** Bytes held (the activation-memory term of one block). */
    long bytes() {
        long f = (long) attnIn.length + attnRstd.length + q.length + k.length + v.length + (probs == null ? 0 : probs.length)
                + att.length + h.length + mlpIn.length + mlpRstd.length + gate.length + up.length + act.length;
        for (float[] z : lora) if (z != null) f += z.length;
        return 4 * f;
    }

    /** The input of a projection: the tensor its weight multiplies. */
    float[] inputOf(LinearLayerName n) {
        return switch (n) {
            case Q_PROJ, K_PROJ, V_PROJ -> attnIn;
            case O_PROJ -> att;
            case GATE_PROJ, UP_PROJ -> mlpIn;
            case DOWN_PROJ -> act;
        };
    }
}
