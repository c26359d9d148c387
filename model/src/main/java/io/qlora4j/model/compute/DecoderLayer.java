package io.qlora4j.model.compute;

import io.qlora4j.kernels.AttentionShape;
import io.qlora4j.kernels.Backend;
import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.model.DecoderLayerWeights;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.lora.LoraAdapter;

/**
 * Forward and backward of one LLaMA decoder block (HF {@code LlamaDecoderLayer}), llm.c style, over R = B·T rows:
 * <pre>
 *   h   = x + o_proj(attention(rope(q_proj(norm₁(x))), rope(k_proj(norm₁(x))), v_proj(norm₁(x))))
 *   out = h + down_proj(silu(gate_proj(norm₂(h))) ⊙ up_proj(norm₂(h)))
 * </pre>
 * where every projection is the QLoRA linear {@code y = x·Wᵀ (+ b) + s·(dropout(x)·Aᵀ)·Bᵀ} with W frozen (decoded on
 * the fly when 4-bit) and s = alpha/r. Backward gives the input gradient through W, the adapters' gradients, and, in full
 * fine-tuning, the base weights' gradients ({@link Gradients}).
 */
final class DecoderLayer {

    private final LlamaConfig c;
    private final Backend be;
    private final LlamaModel model;

    DecoderLayer(LlamaModel model) {
        this.model = model;
        this.c = model.config();
        this.be = model.backend();
    }

    /**
     * @param x         (R, C) block input
     * @param out       (R, C) block output, written
     * @param positions (R) absolute position of each row (for RoPE)
     * @param length    T (rows per sequence; row r belongs to sequence r / T)
     * @param scratch   (R, max(C, Q, H)) for dropout inputs; unused without dropout
     */
    void forward(int l, float[] x, float[] out, LayerActivations a, int rows, int length, int[] positions,
                 AdapterContext ctx, KvStore kv, float[] scratch) {
        DecoderLayerWeights w = model.weights().layers()[l];
        be.rmsnorm().rmsnormForward(a.attnIn, a.attnRstd, x, w.attnNorm(), rows, c.hiddenSize(), (float) c.rmsNormEps());
        project(LinearLayerName.Q_PROJ, l, a.q, a.attnIn, rows, length, w.q(), w.qBias(), a, ctx, scratch);
        project(LinearLayerName.K_PROJ, l, a.k, a.attnIn, rows, length, w.k(), w.kBias(), a, ctx, scratch);
        project(LinearLayerName.V_PROJ, l, a.v, a.attnIn, rows, length, w.v(), w.vBias(), a, ctx, scratch);
        be.rope().ropeForward(a.q, positions, rows, c.numHeads(), model.rope());
        be.rope().ropeForward(a.k, positions, rows, c.numKvHeads(), model.rope());
        KvStore.Attended kvs = kv.store(l, a.k, a.v);
        be.attention().attentionForward(a.att, a.probs, a.q, kvs.k(), kvs.v(), kvs.shape());
        project(LinearLayerName.O_PROJ, l, a.h, a.att, rows, length, w.o(), null, a, ctx, scratch);
        add(a.h, x, rows * c.hiddenSize());
        be.rmsnorm().rmsnormForward(a.mlpIn, a.mlpRstd, a.h, w.ffnNorm(), rows, c.hiddenSize(), (float) c.rmsNormEps());
        project(LinearLayerName.GATE_PROJ, l, a.gate, a.mlpIn, rows, length, w.gate(), null, a, ctx, scratch);
        project(LinearLayerName.UP_PROJ, l, a.up, a.mlpIn, rows, length, w.up(), null, a, ctx, scratch);
        be.swiglu().swigluForward(a.act, a.gate, a.up, rows, c.intermediateSize());
        project(LinearLayerName.DOWN_PROJ, l, out, a.act, rows, length, w.down(), null, a, ctx, scratch);
        add(out, a.h, rows * c.hiddenSize());
    }

    /**
     * @param dx (R, C) on entry the gradient of the block output, on return the gradient of its input {@code x}
     */
    void backward(int l, float[] x, float[] dx, LayerActivations a, int rows, int length, int[] positions,
                  AttentionShape shape, AdapterContext ctx, Gradients g, BackwardScratch s) {
        DecoderLayerWeights w = model.weights().layers()[l];
        int hidden = c.hiddenSize();
        // out = h + down(act): dx is d(out) = d(h) through the residual
        projectBackward(LinearLayerName.DOWN_PROJ, l, s.dAct, false, dx, a, rows, length, w.down(), ctx, g, s);
        be.swiglu().swigluBackward(s.dGate, s.dUp, s.dAct, a.gate, a.up, rows, c.intermediateSize());
        projectBackward(LinearLayerName.GATE_PROJ, l, s.dNorm, false, s.dGate, a, rows, length, w.gate(), ctx, g, s);
        projectBackward(LinearLayerName.UP_PROJ, l, s.dNorm, true, s.dUp, a, rows, length, w.up(), ctx, g, s);
        be.rmsnorm().rmsnormBackward(dx, g.mlpNorm(l), s.dNorm, a.h, w.ffnNorm(), a.mlpRstd, rows, hidden, true);
        // h = x + o(att): dx is now d(h)
        projectBackward(LinearLayerName.O_PROJ, l, s.dAtt, false, dx, a, rows, length, w.o(), ctx, g, s);
        be.attention().attentionBackward(s.dq, s.dk, s.dv, s.dAtt, a.q, a.k, a.v, a.probs, shape);
        be.rope().ropeBackward(s.dq, positions, rows, c.numHeads(), model.rope());
        be.rope().ropeBackward(s.dk, positions, rows, c.numKvHeads(), model.rope());
        projectBackward(LinearLayerName.Q_PROJ, l, s.dNorm, false, s.dq, a, rows, length, w.q(), ctx, g, s);
        projectBackward(LinearLayerName.K_PROJ, l, s.dNorm, true, s.dk, a, rows, length, w.k(), ctx, g, s);
        projectBackward(LinearLayerName.V_PROJ, l, s.dNorm, true, s.dv, a, rows, length, w.v(), ctx, g, s);
        be.rmsnorm().rmsnormBackward(dx, g.attnNorm(l), s.dNorm, x, w.attnNorm(), a.attnRstd, rows, hidden, true);
    }

    /** out (R, outF) = in·Wᵀ + bias + s·(dropout(in)·Aᵀ)·Bᵀ, saving s·dropout(in)·Aᵀ for backward. */
    private void project(LinearLayerName n, int l, float[] out, float[] in, int rows, int length, LinearWeight w,
                         float[] bias, LayerActivations a, AdapterContext ctx, float[] scratch) {
        be.matmul().forward(out, in, w, rows, false);
        if (bias != null) addRowwise(out, bias, rows);
        LoraAdapter ad = ctx.adapter(l, n);
        if (ad == null) return;
        float[] u = ctx.dropped(in, scratch, rows, ad.in(), length, l, n);
        float[] z = a.lora[n.ordinal()];
        be.matmul().forward(z, u, new DenseWeight(ad.a(), ad.rank(), ad.in()), rows, false);
        scale(z, ctx.scaling(), rows * ad.rank());
        be.matmul().forward(out, z, new DenseWeight(ad.b(), ad.out(), ad.rank()), rows, true);
    }

    /**
     * dIn (R, inF) (+)= dOut·W + (the adapter path); adapter gradients dA, dB accumulated; in full fine-tuning dW and
     * the bias gradient too.
     */
    private void projectBackward(LinearLayerName n, int l, float[] dIn, boolean accumulate, float[] dOut,
                                 LayerActivations a, int rows, int length, LinearWeight w, AdapterContext ctx,
                                 Gradients g, BackwardScratch s) {
        float[] in = a.inputOf(n);
        be.matmul().backwardInput(dIn, dOut, w, rows, accumulate);
        float[] dW = g.linear(l, n);
        if (dW != null) be.matmul().backwardWeight(dW, dOut, in, rows, w.rows(), w.cols());
        float[] dBias = g.bias(l, n);
        if (dBias != null) addColumnSums(dBias, dOut, rows);
        LoraAdapter ad = ctx.adapter(l, n);
        if (ad == null) return;
        int r = ad.rank();
        float[] z = a.lora[n.ordinal()];
        // z = s·u·Aᵀ and y += z·Bᵀ:  dB += dyᵀ·z,  dz = dy·B,  dA += (s·dz)ᵀ·u,  du = s·dz·A
        be.matmul().backwardInput(s.dLora, dOut, new DenseWeight(ad.b(), ad.out(), r), rows, false);
        be.matmul().backwardWeight(ad.gradB(), dOut, z, rows, ad.out(), r);
        scale(s.dLora, ctx.scaling(), rows * r);
        float[] u = ctx.dropped(in, s.wide, rows, ad.in(), length, l, n);
        be.matmul().backwardWeight(ad.gradA(), s.dLora, u, rows, r, ad.in());
        DenseWeight aw = new DenseWeight(ad.a(), r, ad.in());
        if (!ctx.dropout().active()) {
            be.matmul().backwardInput(dIn, s.dLora, aw, rows, true);
        } else {
            be.matmul().backwardInput(s.wide, s.dLora, aw, rows, false);
            ctx.addDropoutBackward(dIn, s.wide, rows, ad.in(), length, l, n);
        }
    }

    static void add(float[] y, float[] x, int n) {
        for (int i = 0; i < n; i++) y[i] += x[i];
    }

    private static void scale(float[] y, float s, int n) {
        for (int i = 0; i < n; i++) y[i] *= s;
    }

    private static void addRowwise(float[] y, float[] bias, int rows) {
        int width = bias.length;
        for (int r = 0; r < rows; r++) for (int j = 0; j < width; j++) y[r * width + j] += bias[j];
    }

    private static void addColumnSums(float[] dBias, float[] dy, int rows) {
        int width = dBias.length;
        for (int r = 0; r < rows; r++) for (int j = 0; j < width; j++) dBias[j] += dy[r * width + j];
    }
}
