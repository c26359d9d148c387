package io.qlora4j.model.compute;

import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.model.DecoderLayerWeights;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.RopeConfig;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.lora.LoraAdapter;
import io.qlora4j.model.lora.LoraAdapters;

/**
 * The whole LLaMA forward pass with LoRA, written naively in float64 from HF's {@code modeling_llama.py}: the oracle of
 * the model-level gradient checks. One sequence at a time; LoRA dropout off. Parameters are read from the model and
 * adapters each call, element by element, so a test can replace one element of any parameter array (a LoRA matrix, a
 * dense base weight, a norm, a bias, the embedding, lm_head) by a float64 value ({@link #override}) for finite
 * differences. RoPE frequencies follow config.json's scaling (none, linear, llama3) computed here in float64 from
 * transformers' {@code modeling_rope_utils}.
 */
public final class NaiveLlama {
    private final LlamaModel model;
    private final LlamaConfig c;
    private final LoraAdapters adapters;
    private float[] overrideArray;
    private int overrideIndex = -1;
    private double overrideValue;

    public NaiveLlama(LlamaModel model, LoraAdapters adapters) {
        this.model = model;
        this.c = model.config();
        this.adapters = adapters;
    }

    /** Uses {@code value} for element {@code index} of the parameter array {@code array} (compared by identity). */
    public void override(float[] array, int index, double value) {
        overrideArray = array;
        overrideIndex = index;
        overrideValue = value;
    }

    public void clearOverride() {
        overrideIndex = -1;
    }

    /** Summed cross-entropy over the batch's target labels. */
    public double loss(Batch batch) {
        double total = 0;
        int t = batch.seqLen();
        for (int b = 0; b < batch.batchSize(); b++) {
            double[][] logits = sequenceLogits(java.util.Arrays.copyOfRange(batch.inputs(), b * t, (b + 1) * t));
            for (int p = 0; p < t; p++) {
                int label = batch.labels()[b * t + p];
                if (label == Batch.IGNORE_INDEX) continue;
                double max = Double.NEGATIVE_INFINITY;
                for (double v : logits[p]) max = Math.max(max, v);
                double s = 0;
                for (double v : logits[p]) s += Math.exp(v - max);
                total += max + Math.log(s) - logits[p][label];
            }
        }
        return total;
    }

    public double[][] sequenceLogits(int[] tokens) {
        int n = tokens.length, hidden = c.hiddenSize();
        double[][] x = new double[n][hidden];
        float[] emb = model.weights().embedding();
        for (int p = 0; p < n; p++) for (int j = 0; j < hidden; j++) x[p][j] = param(emb, tokens[p] * hidden + j);
        for (int l = 0; l < c.numLayers(); l++) x = layer(l, x);
        double[][] logits = new double[n][];
        for (int p = 0; p < n; p++) {
            logits[p] = matvec(model.weights().lmHead(), rmsnorm(x[p], model.weights().finalNorm()));
        }
        return logits;
    }

    private double[][] layer(int l, double[][] x) {
        DecoderLayerWeights w = model.weights().layers()[l];
        int n = x.length, hs = c.headDim(), nh = c.numHeads(), group = nh / c.numKvHeads();
        double[][] q = new double[n][], k = new double[n][], v = new double[n][], att = new double[n][c.qDim()];
        for (int p = 0; p < n; p++) {
            double[] xa = rmsnorm(x[p], w.attnNorm());
            q[p] = rope(linear(l, LinearLayerName.Q_PROJ, w.q(), w.qBias(), xa), p, nh);
            k[p] = rope(linear(l, LinearLayerName.K_PROJ, w.k(), w.kBias(), xa), p, c.numKvHeads());
            v[p] = linear(l, LinearLayerName.V_PROJ, w.v(), w.vBias(), xa);
        }
        for (int p = 0; p < n; p++) {
            for (int h = 0; h < nh; h++) {
                int kvh = h / group;
                double[] scores = new double[p + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int s = 0; s <= p; s++) {
                    double d = 0;
                    for (int i = 0; i < hs; i++) d += q[p][h * hs + i] * k[s][kvh * hs + i];
                    scores[s] = d / Math.sqrt(hs);
                    max = Math.max(max, scores[s]);
                }
                double sum = 0;
                for (int s = 0; s <= p; s++) sum += scores[s] = Math.exp(scores[s] - max);
                for (int s = 0; s <= p; s++) for (int i = 0; i < hs; i++) att[p][h * hs + i] += scores[s] / sum * v[s][kvh * hs + i];
            }
        }
        double[][] out = new double[n][];
        for (int p = 0; p < n; p++) {
            double[] h = add(x[p], linear(l, LinearLayerName.O_PROJ, w.o(), null, att[p]));
            double[] xf = rmsnorm(h, w.ffnNorm());
            double[] g = linear(l, LinearLayerName.GATE_PROJ, w.gate(), null, xf);
            double[] u = linear(l, LinearLayerName.UP_PROJ, w.up(), null, xf);
            double[] act = new double[g.length];
            for (int i = 0; i < g.length; i++) act[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
            out[p] = add(h, linear(l, LinearLayerName.DOWN_PROJ, w.down(), null, act));
        }
        return out;
    }

    private double[] linear(int l, LinearLayerName name, LinearWeight w, float[] bias, double[] x) {
        double[] y = matvec(w, x);
        if (bias != null) for (int i = 0; i < y.length; i++) y[i] += param(bias, i);
        LoraAdapter a = adapters == null ? null : adapters.get(l, name);
        if (a == null) return y;
        double s = adapters.config().alpha() / adapters.config().rank();
        double[] z = new double[a.rank()];
        for (int r = 0; r < a.rank(); r++) {
            for (int j = 0; j < a.in(); j++) z[r] += param(a.a(), r * a.in() + j) * x[j];
        }
        for (int i = 0; i < a.out(); i++) {
            double d = 0;
            for (int r = 0; r < a.rank(); r++) d += param(a.b(), i * a.rank() + r) * z[r];
            y[i] += s * d;
        }
        return y;
    }

    private double param(float[] values, int index) {
        return overrideIndex == index && values == overrideArray ? overrideValue : values[index];
    }

    private double[] rope(double[] x, int pos, int heads) {
        int hs = c.headDim();
        double[] y = x.clone();
        RopeLayout layout = model.ropeLayout();
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < hs / 2; j++) {
                double angle = pos * inverseFrequency(j);
                int a = h * hs + layout.first(j, hs), b = h * hs + layout.second(j, hs);
                y[a] = x[a] * Math.cos(angle) - x[b] * Math.sin(angle);
                y[b] = x[b] * Math.cos(angle) + x[a] * Math.sin(angle);
            }
        }
        return y;
    }

    /** inv_freq[j] = θ^(−2j/HS), scaled as transformers' {@code _compute_linear/llama3_parameters} do. */
    private double inverseFrequency(int j) {
        RopeConfig r = c.rope();
        double f = Math.pow(r.theta(), -2.0 * j / c.headDim());
        return switch (r.type()) {
            case NONE -> f;
            case LINEAR -> f / r.factor();
            case LLAMA3 -> {
                double wavelength = 2 * Math.PI / f;
                double lowFreqWavelength = r.originalMaxPositions() / r.lowFreqFactor();
                double highFreqWavelength = r.originalMaxPositions() / r.highFreqFactor();
                if (wavelength < highFreqWavelength) yield f;
                if (wavelength > lowFreqWavelength) yield f / r.factor();
                double smooth = (r.originalMaxPositions() / wavelength - r.lowFreqFactor()) / (r.highFreqFactor() - r.lowFreqFactor());
                yield (1 - smooth) * f / r.factor() + smooth * f;
            }
        };
    }

    private double[] rmsnorm(double[] x, float[] weight) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double r = 1 / Math.sqrt(ss / x.length + c.rmsNormEps());
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * r * param(weight, i);
        return y;
    }

    private double[] matvec(LinearWeight w, double[] x) {
        double[] y = new double[w.rows()];
        if (w instanceof DenseWeight dense) {
            float[] data = dense.data();
            for (int i = 0; i < w.rows(); i++) {
                double d = 0;
                for (int j = 0; j < w.cols(); j++) d += param(data, i * w.cols() + j) * x[j];
                y[i] = d;
            }
            return y;
        }
        float[] row = new float[w.cols()];
        for (int i = 0; i < w.rows(); i++) {
            w.decode(i, 0, w.cols(), row, 0);
            double d = 0;
            for (int j = 0; j < row.length; j++) d += row[j] * x[j];
            y[i] = d;
        }
        return y;
    }

    private static double[] add(double[] a, double[] b) {
        double[] y = new double[a.length];
        for (int i = 0; i < a.length; i++) y[i] = a[i] + b[i];
        return y;
    }
}
