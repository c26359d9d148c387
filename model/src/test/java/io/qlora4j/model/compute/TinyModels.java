package io.qlora4j.model.compute;

import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.QuantizedWeight;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;
import io.qlora4j.model.Architecture;
import io.qlora4j.model.DecoderLayerWeights;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.LlamaWeights;
import io.qlora4j.model.RopeConfig;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.lora.LoraAdapter;
import io.qlora4j.model.lora.LoraAdapters;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Small random models and batches for gradient checks: every dimension tiny, GQA on, biases optional. */
public final class TinyModels {
    private TinyModels() {
    }

    public static LlamaConfig config(boolean tied, boolean bias) {
        return new LlamaConfig(bias ? Architecture.QWEN2 : Architecture.LLAMA, 16, 24, 2, 4, 2, 4, 32, 64, 1e-5,
                RopeConfig.unscaled(10000), tied, bias, false, 0, 1, new int[]{2}, "float32");
    }

    public static LlamaModel model(LlamaConfig c, RopeLayout layout, long seed, boolean quantized) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] emb = gaussian(rnd, c.vocabSize() * c.hiddenSize(), 0.5);
        DecoderLayerWeights[] layers = new DecoderLayerWeights[c.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new DecoderLayerWeights(
                    norm(rnd, c.hiddenSize()),
                    linear(rnd, c.qDim(), c.hiddenSize(), quantized), linear(rnd, c.kvDim(), c.hiddenSize(), quantized),
                    linear(rnd, c.kvDim(), c.hiddenSize(), quantized), linear(rnd, c.hiddenSize(), c.qDim(), quantized),
                    c.attentionBias() ? gaussian(rnd, c.qDim(), 0.1) : null,
                    c.attentionBias() ? gaussian(rnd, c.kvDim(), 0.1) : null,
                    c.attentionBias() ? gaussian(rnd, c.kvDim(), 0.1) : null,
                    norm(rnd, c.hiddenSize()),
                    linear(rnd, c.intermediateSize(), c.hiddenSize(), quantized),
                    linear(rnd, c.intermediateSize(), c.hiddenSize(), quantized),
                    linear(rnd, c.hiddenSize(), c.intermediateSize(), quantized));
        }
        LinearWeight head = c.tieWordEmbeddings() ? new DenseWeight(emb, c.vocabSize(), c.hiddenSize())
                : new DenseWeight(gaussian(rnd, c.vocabSize() * c.hiddenSize(), 0.3), c.vocabSize(), c.hiddenSize());
        return new LlamaModel(c, new LlamaWeights(emb, layers, norm(rnd, c.hiddenSize()), head, c.tieWordEmbeddings()), layout);
    }

    /** The same model with every quantized weight replaced by its dequantized dense copy. */
    public static LlamaModel dequantized(LlamaModel m) {
        DecoderLayerWeights[] layers = m.weights().layers().clone();
        for (int l = 0; l < layers.length; l++) {
            DecoderLayerWeights w = layers[l];
            layers[l] = new DecoderLayerWeights(w.attnNorm(), dense(w.q()), dense(w.k()), dense(w.v()), dense(w.o()),
                    w.qBias(), w.kBias(), w.vBias(), w.ffnNorm(), dense(w.gate()), dense(w.up()), dense(w.down()));
        }
        LlamaWeights ws = m.weights();
        return new LlamaModel(m.config(), new LlamaWeights(ws.embedding(), layers, ws.finalNorm(), ws.lmHead(), ws.tied()),
                m.ropeLayout()).withBackend(m.backend());
    }

    private static LinearWeight dense(LinearWeight w) {
        if (w instanceof QuantizedWeight q) return new DenseWeight(q.tensor().dequantize(), w.rows(), w.cols());
        return w;
    }

    /** Adapters with random B too, so that every gradient is non-trivial. */
    public static LoraAdapters adapters(LlamaConfig c, io.qlora4j.model.lora.LoraConfig lc, long seed) {
        LoraAdapters a = LoraAdapters.create(c, lc, seed);
        SplittableRandom rnd = new SplittableRandom(seed + 1);
        for (int l = 0; l < c.numLayers(); l++) {
            for (var n : lc.targets()) {
                LoraAdapter ad = a.get(l, n);
                for (int i = 0; i < ad.b().length; i++) ad.b()[i] = (float) (rnd.nextGaussian() * 0.2);
            }
        }
        return a;
    }

    public static Batch batch(LlamaConfig c, long seed, int... lengths) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<TokenizedExample> ex = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            int[] t = new int[lengths[i]];
            boolean[] m = new boolean[lengths[i]];
            for (int j = 0; j < t.length; j++) {
                t[j] = rnd.nextInt(c.vocabSize());
                m[j] = j >= t.length / 3;   // the first third is "prompt"
            }
            ex.add(new TokenizedExample(100 + i, t, m));
        }
        return Batch.pack(ex, 0);
    }

    private static LinearWeight linear(SplittableRandom rnd, int rows, int cols, boolean quantized) {
        float[] w = gaussian(rnd, rows * cols, 0.3);
        if (!quantized) return new DenseWeight(w, rows, cols);
        return new QuantizedWeight(QuantizedTensor.quantize(w, new int[]{rows, cols}, QuantType.NF4, 32, true));
    }

    private static float[] norm(SplittableRandom rnd, int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) (1 + rnd.nextGaussian() * 0.1);
        return w;
    }

    public static float[] gaussian(SplittableRandom rnd, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * std);
        return v;
    }
}
