package io.qlora4j.model.lora;

import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.TrainableTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The LoRA adapters of a whole model: one per (layer, targeted projection), in PEFT's naming
 * ({@code base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight}).
 */
public final class LoraAdapters {

    private final LoraConfig config;
    private final LoraAdapter[][] adapters;   // [layer][LinearLayerName.ordinal()], null where not targeted

    private LoraAdapters(LoraConfig config, LoraAdapter[][] adapters) {
        this.config = config;
        this.adapters = adapters;
    }

    /** Fresh adapters for a model: A Kaiming-uniform from {@code seed}, B zero (an exact no-op until trained). */
    public static LoraAdapters create(LlamaConfig model, LoraConfig config, long seed) {
        LoraAdapters a = zeros(model, config);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (LoraAdapter[] layer : a.adapters) {
            for (LoraAdapter adapter : layer) {
                if (adapter != null) adapter.initialize(rnd.split());
            }
        }
        return a;
    }

    /** All-zero adapters of the right shapes (to be filled from a saved adapter). */
    public static LoraAdapters zeros(LlamaConfig model, LoraConfig config) {
        LoraAdapter[][] adapters = new LoraAdapter[model.numLayers()][LinearLayerName.values().length];
        for (int l = 0; l < model.numLayers(); l++) {
            for (LinearLayerName n : config.targets()) {
                adapters[l][n.ordinal()] = LoraAdapter.zeros(config.rank(), inFeatures(model, n), outFeatures(model, n));
            }
        }
        return new LoraAdapters(config, adapters);
    }

    /** A deep copy of the adapter values (gradients zero): a consistent snapshot for a checkpoint. */
    public LoraAdapters copy() {
        LoraAdapter[][] copy = new LoraAdapter[adapters.length][];
        for (int l = 0; l < adapters.length; l++) {
            copy[l] = new LoraAdapter[adapters[l].length];
            for (int n = 0; n < adapters[l].length; n++) {
                LoraAdapter a = adapters[l][n];
                if (a != null) {
                    copy[l][n] = new LoraAdapter(a.rank(), a.in(), a.out(), a.a().clone(), a.b().clone(),
                            new float[a.gradA().length], new float[a.gradB().length]);
                }
            }
        }
        return new LoraAdapters(config, copy);
    }

    /** Overwrites these adapters' values with {@code other}'s (same config and shapes), e.g. when resuming. */
    public void copyValuesFrom(LoraAdapters other) {
        if (!other.config.equals(config) || other.adapters.length != adapters.length) {
            throw new IllegalArgumentException("adapter shapes differ: " + other.config + " vs " + config);
        }
        for (int l = 0; l < adapters.length; l++) {
            for (int n = 0; n < adapters[l].length; n++) {
                LoraAdapter a = adapters[l][n];
                if (a == null) continue;
                System.arraycopy(other.adapters[l][n].a(), 0, a.a(), 0, a.a().length);
                System.arraycopy(other.adapters[l][n].b(), 0, a.b(), 0, a.b().length);
            }
        }
    }

    public LoraConfig config() {
        return config;
    }

    public int layers() {
        return adapters.length;
    }

    /** The adapter on a projection, or null when it is not targeted. */
    public LoraAdapter get(int layer, LinearLayerName name) {
        return adapters[layer][name.ordinal()];
    }

    /** PEFT's saved key of an adapter matrix: {@code base_model.model.model.layers.3.mlp.up_proj.lora_B.weight}. */
    public static String peftKey(int layer, LinearLayerName name, boolean b) {
        return "base_model.model." + name.modulePath(layer) + (b ? ".lora_B.weight" : ".lora_A.weight");
    }

    /** Every adapter matrix as a trainable tensor, in a fixed order (layer, projection, A then B). */
    public List<TrainableTensor> trainables() {
        List<TrainableTensor> out = new ArrayList<>();
        for (int l = 0; l < adapters.length; l++) {
            for (LinearLayerName n : LinearLayerName.values()) {
                LoraAdapter a = adapters[l][n.ordinal()];
                if (a == null) continue;
                out.add(new TrainableTensor(peftKey(l, n, false), a.a(), a.gradA()));
                out.add(new TrainableTensor(peftKey(l, n, true), a.b(), a.gradB()));
            }
        }
        return out;
    }

    public long parameters() {
        long n = 0;
        for (LoraAdapter[] layer : adapters) for (LoraAdapter a : layer) if (a != null) n += a.parameters();
        return n;
    }

    /** Input width of a projection: the columns of its weight and of its adapter's A. */
    public static int inFeatures(LlamaConfig c, LinearLayerName n) {
        return switch (n) {
            case Q_PROJ, K_PROJ, V_PROJ, GATE_PROJ, UP_PROJ -> c.hiddenSize();
            case O_PROJ -> c.qDim();
            case DOWN_PROJ -> c.intermediateSize();
        };
    }

    /** Output width of a projection: the rows of its weight and of its adapter's B. */
    public static int outFeatures(LlamaConfig c, LinearLayerName n) {
        return switch (n) {
            case Q_PROJ -> c.qDim();
            case K_PROJ, V_PROJ -> c.kvDim();
            case O_PROJ, DOWN_PROJ -> c.hiddenSize();
            case GATE_PROJ, UP_PROJ -> c.intermediateSize();
        };
    }
}
