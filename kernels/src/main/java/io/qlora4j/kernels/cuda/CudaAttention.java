package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.Attention;
import io.qlora4j.kernels.AttentionShape;
import io.qlora4j.kernels.cpu.ReferenceAttention;

/**
 * {@link Attention} on the GPU: one block per query row for the forward pass and the query half of the backward pass,
 * one thread per dk/dv element for the key/value half (kernels {@code attention_*}). Dot products and weighted sums run
 * in the reference's order (sequential fmaf); the softmax uses {@code expf} and a float64 normaliser, so the forward pass
 * agrees with the reference within the contract's fp32 tolerance; given the same probabilities the backward pass is
 * bit-identical. Deterministic. The probabilities always live on the device during the call (copied back only when the
 * caller keeps them). Naive: no tiling, no flash-attention; operands are copied per call (see {@link CudaMatmul}).
 */
public final class CudaAttention implements Attention {

    private final CudaDevice device;

    public CudaAttention(CudaDevice device) {
        this.device = device;
    }

    @Override
    public void attentionForward(float[] out, float[] probs, float[] q, float[] k, float[] v, AttentionShape shape) {
        ReferenceAttention.checkForward(out, probs, q, k, v, shape);
        device.makeCurrent();
        try (DeviceBuffer dq = DeviceBuffer.of("q", q, 0, shape.querySize());
             DeviceBuffer dk = DeviceBuffer.of("k", k, 0, shape.keySize());
             DeviceBuffer dv = DeviceBuffer.of("v", v, 0, shape.keySize());
             DeviceBuffer dOut = DeviceBuffer.floats("out", shape.querySize());
             DeviceBuffer dProbs = DeviceBuffer.floats("probs", shape.probsSize())) {
            dims(Launch.of(CudaKernel.ATTENTION_FORWARD, shape.toString())
                    .buffer(dOut).buffer(dProbs).buffer(dq).buffer(dk).buffer(dv), shape)
                    .f32(ReferenceAttention.scale(shape.headSize()))
                    .run(device, rows(shape));
            dOut.download(out);
            if (probs != null) dProbs.download(probs);
        }
    }

    @Override
    public void attentionBackward(float[] dq, float[] dk, float[] dv, float[] dOut, float[] q, float[] k, float[] v,
                                  float[] probs, AttentionShape shape) {
        ReferenceAttention.checkBackward(dq, dk, dv, dOut, q, k, v, probs, shape);
        device.makeCurrent();
        try (DeviceBuffer gOut = DeviceBuffer.of("dOut", dOut, 0, shape.querySize());
             DeviceBuffer x = DeviceBuffer.of("q", q, 0, shape.querySize());
             DeviceBuffer keys = DeviceBuffer.of("k", k, 0, shape.keySize());
             DeviceBuffer values = DeviceBuffer.of("v", v, 0, shape.keySize());
             DeviceBuffer p = DeviceBuffer.of("probs", probs, 0, shape.probsSize());
             DeviceBuffer dS = DeviceBuffer.floats("dS", shape.probsSize());
             DeviceBuffer gq = DeviceBuffer.floats("dq", shape.querySize());
             DeviceBuffer gk = DeviceBuffer.floats("dk", shape.keySize());
             DeviceBuffer gv = DeviceBuffer.floats("dv", shape.keySize())) {
            dims(Launch.of(CudaKernel.ATTENTION_BACKWARD_QUERY, shape.toString())
                    .buffer(gq).buffer(dS).buffer(gOut).buffer(x).buffer(keys).buffer(values).buffer(p), shape)
                    .f32(ReferenceAttention.scale(shape.headSize()))
                    .run(device, rows(shape));
            dims(Launch.of(CudaKernel.ATTENTION_BACKWARD_KV, shape.toString())
                    .buffer(gk).buffer(gv).buffer(gOut).buffer(x).buffer(p).buffer(dS), shape)
                    .perElement(device, shape.keySize());
            gq.download(dq);
            gk.download(dk);
            gv.download(dv);
        }
    }

    /** Blocks of the row-per-block kernels: one per (b, h, t), i.e. per row of the probabilities. */
    private static int rows(AttentionShape s) {
        return s.batch() * s.heads() * s.queryLength();
    }

    /** Appends B, Tq, Tk, offset, NH, NKV, HS. */
    private static Launch dims(Launch launch, AttentionShape s) {
        return launch.i32(s.batch()).i32(s.queryLength()).i32(s.keyLength()).i32(s.queryOffset()).i32(s.heads())
                .i32(s.kvHeads()).i32(s.headSize());
    }
}
