package io.qlora4j.model.compute;

import io.qlora4j.model.LlamaConfig;

/** Gradient buffers of one decoder block's backward pass, shared by all blocks (R rows). */
final class BackwardScratch {
    final float[] dAct;   // (R, H) gradient of down_proj's input
    final float[] dGate;  // (R, H)
    final float[] dUp;    // (R, H)
    final float[] dNorm;  // (R, C) gradient of a norm's output
    final float[] dAtt;   // (R, Q)
    final float[] dq;     // (R, Q)
    final float[] dk;     // (R, KV)
    final float[] dv;     // (R, KV)
    final float[] dLora;  // (R, r) gradient of the scaled adapter activations
    final float[] wide;   // (R, max(C, Q, H)) dropout input / input-gradient scratch of an adapter

    BackwardScratch(LlamaConfig c, int rows, int rank) {
        dAct = new float[rows * c.intermediateSize()];
        dGate = new float[rows * c.intermediateSize()];
        dUp = new float[rows * c.intermediateSize()];
        dNorm = new float[rows * c.hiddenSize()];
        dAtt = new float[rows * c.qDim()];
        dq = new float[rows * c.qDim()];
        dk = new float[rows * c.kvDim()];
        dv = new float[rows * c.kvDim()];
        dLora = new float[rows * Math.max(rank, 1)];
        wide = new float[rows * Math.max(c.hiddenSize(), Math.max(c.qDim(), c.intermediateSize()))];
    }

    long bytes() {
        return 4L * ((long) dAct.length + dGate.length + dUp.length + dNorm.length + dAtt.length + dq.length + dk.length
                + dv.length + dLora.length + wide.length);
    }
}
