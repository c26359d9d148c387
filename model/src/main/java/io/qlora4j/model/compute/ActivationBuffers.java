package io.qlora4j.model.compute;

import io.qlora4j.model.LlamaConfig;

/**
 * Every activation of a training pass over B sequences of T positions (R = B·T rows). Without gradient checkpointing
 * each block keeps its own {@link LayerActivations}; with it only each block's input survives the forward pass and one
 * shared set of block activations is recomputed, block by block, inside backward.
 */
final class ActivationBuffers {
    final int batch;
    final int length;
    final int rows;
    final boolean checkpointing;
    final float[][] layerInputs;        // (L+1) × (R, C): input of each block; [L] is the input of the final norm
    final LayerActivations[] layers;    // L, or 1 shared under checkpointing
    final float[] finalOut;             // (R, C) final norm output
    final float[] finalRstd;            // (R)
    final float[] logits;               // (R, V), turned into dLogits in place by backward
    final float[] losses;               // (R)
    final float[] logSumExp;            // (R)
    final BackwardScratch scratch;      // null when no backward follows

    ActivationBuffers(LlamaConfig c, int batch, int length, int loraRank, boolean[] adapted, boolean checkpointing,
                      boolean backward) {
        this.batch = batch;
        this.length = length;
        this.rows = batch * length;
        this.checkpointing = checkpointing;
        layerInputs = new float[c.numLayers() + 1][rows * c.hiddenSize()];
        layers = new LayerActivations[checkpointing || !backward ? 1 : c.numLayers()];
        for (int i = 0; i < layers.length; i++) layers[i] = new LayerActivations(c, batch, length, loraRank, adapted, backward);
        finalOut = new float[rows * c.hiddenSize()];
        finalRstd = new float[rows];
        logits = new float[rows * c.vocabSize()];
        losses = new float[rows];
        logSumExp = new float[rows];
        scratch = backward ? new BackwardScratch(c, rows, loraRank) : null;
    }

    LayerActivations layer(int l) {
        return layers[layers.length == 1 ? 0 : l];
    }

    /** Bytes of every buffer of this pass: what the memory manager is asked for before the step. */
    long bytes() {
        long f = 0;
        for (float[] x : layerInputs) f += x.length;
        f += finalOut.length + finalRstd.length + logits.length + losses.length + logSumExp.length;
        long b = 4 * f;
        for (LayerActivations a : layers) b += a.bytes();
        return b + (scratch == null ? 0 : scratch.bytes());
    }
}
