package io.qlora4j.model.train;

import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.model.DecoderLayerWeights;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.LlamaWeights;
import io.qlora4j.model.ModelConfigException;
import io.qlora4j.model.TrainableTensor;
import io.qlora4j.model.compute.Gradients;

import java.util.ArrayList;
import java.util.List;

/**
 * Full fine-tuning, the paper's 16-bit baseline: every weight of an fp32 model is trainable, with a gradient array of
 * its own. The same training pass computes them ({@link Gradients}); the optimizer updates the weights in place.
 */
public final class FullFineTune implements Gradients {

    private final LlamaModel model;
    private final float[][][] linear;   // [layer][projection] (out, in)
    private final float[][][] bias;     // [layer][projection] (out) q/k/v only, or null
    private final float[][] attnNorm;
    private final float[][] mlpNorm;
    private final float[] finalNorm;
    private final float[] embedding;
    private final float[] lmHead;       // null when tied
    private final List<TrainableTensor> trainables = new ArrayList<>();

    public FullFineTune(LlamaModel model) {
        this.model = model;
        LlamaWeights w = model.weights();
        int layers = w.layers().length;
        linear = new float[layers][LinearLayerName.values().length][];
        bias = new float[layers][LinearLayerName.values().length][];
        attnNorm = new float[layers][];
        mlpNorm = new float[layers][];
        embedding = add("model.embed_tokens.weight", w.embedding());
        for (int l = 0; l < layers; l++) {
            DecoderLayerWeights d = w.layers()[l];
            attnNorm[l] = add("model.layers." + l + ".input_layernorm.weight", d.attnNorm());
            for (LinearLayerName n : LinearLayerName.values()) {
                linear[l][n.ordinal()] = add(n.weightName(l), dense(d.linear(n), n.weightName(l)));
            }
            if (d.qBias() != null) {
                bias[l][LinearLayerName.Q_PROJ.ordinal()] = add(LinearLayerName.Q_PROJ.modulePath(l) + ".bias", d.qBias());
                bias[l][LinearLayerName.K_PROJ.ordinal()] = add(LinearLayerName.K_PROJ.modulePath(l) + ".bias", d.kBias());
                bias[l][LinearLayerName.V_PROJ.ordinal()] = add(LinearLayerName.V_PROJ.modulePath(l) + ".bias", d.vBias());
            }
            mlpNorm[l] = add("model.layers." + l + ".post_attention_layernorm.weight", d.ffnNorm());
        }
        finalNorm = add("model.norm.weight", w.finalNorm());
        lmHead = w.tied() ? null : add("lm_head.weight", dense(w.lmHead(), "lm_head.weight"));
    }

    /** Every weight with its gradient, in a fixed order. */
    public List<TrainableTensor> trainables() {
        return trainables;
    }

    public LlamaModel model() {
        return model;
    }

    private float[] add(String name, float[] value) {
        float[] grad = new float[value.length];
        trainables.add(new TrainableTensor(name, value, grad));
        return grad;
    }

    private static float[] dense(LinearWeight w, String name) {
        if (w instanceof DenseWeight d) return d.data();
        throw new ModelConfigException("full fine-tuning needs a 32-bit base, but " + name + " is stored "
                + w.getClass().getSimpleName() + ": load the model with --dtype fp32");
    }

    @Override
    public float[] linear(int layer, LinearLayerName name) {
        return linear[layer][name.ordinal()];
    }

    @Override
    public float[] bias(int layer, LinearLayerName name) {
        return bias[layer][name.ordinal()];
    }

    @Override
    public float[] attnNorm(int layer) {
        return attnNorm[layer];
    }

    @Override
    public float[] mlpNorm(int layer) {
        return mlpNorm[layer];
    }

    @Override
    public float[] finalNorm() {
        return finalNorm;
    }

    @Override
    public float[] embedding() {
        return embedding;
    }

    @Override
    public float[] lmHead() {
        return lmHead;
    }
}
