package io.qlora4j.sim;

import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.model.Architecture;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.ModelLoader;
import io.qlora4j.model.RopeConfig;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.Transformer;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.lora.LoraConfig;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The qlora4j-cpu profile equals the trainer's own accounting, byte for byte. */
class CpuMemoryModelTest {

    /** stories260K's shape (GQA), a Qwen2-style shape with q/k/v biases and an explicit head_dim, and stories15M's. */
    private static final List<LlamaConfig> SHAPES = List.of(
            LlamaConfig.llama(64, 172, 5, 8, 4, 512, 512, 1e-5, 10000, true),
            new LlamaConfig(Architecture.QWEN2, 48, 80, 3, 6, 2, 10, 97, 128, 1e-6, RopeConfig.unscaled(1e6), false, true,
                    false, 0, 1, new int[]{2}, "float32"),
            LlamaConfig.llama(288, 768, 6, 6, 6, 32000, 256, 1e-5, 10000, true));

    private static TrainingSetup setup(LlamaConfig c, boolean full, int rank, Set<LinearLayerName> targets, boolean ckpt) {
        return new TrainingSetup("shape", c, Profile.QLORA4J_CPU, full ? BaseQuant.BF16 : BaseQuant.NF4_DQ, full, rank, targets,
                0.1, ckpt, OptimizerKind.PAGED_ADAMW_8BIT, 1, 1);
    }

    @Test
    void activationsEqualTheTrainersLease() {
        Set<LinearLayerName> qv = EnumSet.of(LinearLayerName.Q_PROJ, LinearLayerName.V_PROJ);
        for (LlamaConfig c : SHAPES) {
            for (boolean ckpt : new boolean[]{true, false}) {
                for (int[] bt : new int[][]{{1, 1}, {2, 37}, {3, 64}}) {
                    for (Set<LinearLayerName> targets : List.of(EnumSet.allOf(LinearLayerName.class), qv)) {
                        AdapterContext ctx = AdapterContext.inference(LoraAdapters.zeros(c, new LoraConfig(8, 16, 0, targets)));
                        assertEquals(Transformer.activationBytes(c, bt[0], bt[1], ctx, ckpt),
                                MemoryModel.of(setup(c, false, 8, targets, ckpt)).activations(bt[0], bt[1]).total(),
                                c + " LoRA " + targets + " ckpt " + ckpt + " B×T " + bt[0] + "×" + bt[1]);
                    }
                    assertEquals(Transformer.activationBytes(c, bt[0], bt[1], AdapterContext.NONE, ckpt),
                            MemoryModel.of(setup(c, true, 8, Set.of(), ckpt)).activations(bt[0], bt[1]).total(),
                            c + " full fine-tuning ckpt " + ckpt);
                }
            }
        }
    }

    @Test
    void weightsEqualTheLoadedModelsStorage() {
        LlamaModel synthetic = Calibration.syntheticStories15M(1);
        assertWeights(synthetic);
        try (ModelFiles files = ModelFiles.open(SharedData.require("models/stories260K/stories260K.bin"))) {
            for (WeightFormat f : List.of(WeightFormat.qlora(), BaseQuant.NF4.cpuFormat(), BaseQuant.INT8.cpuFormat(), new WeightFormat.Fp32())) {
                LlamaModel m = ModelLoader.load(files, f).model();
                BaseQuant q = switch (f.label()) {
                    case "nf4+dq" -> BaseQuant.NF4_DQ;
                    case "nf4" -> BaseQuant.NF4;
                    case "fp32" -> BaseQuant.BF16;
                    default -> BaseQuant.INT8;
                };
                Footprint p = MemoryModel.of(setup(m.config(), false, 8, EnumSet.allOf(LinearLayerName.class), true).withQuant(q)).persistent();
                assertEquals(m.weights().storageBytes(), p.of(Component.BASE_WEIGHTS) + p.of(Component.EMBEDDINGS_AND_NORMS), f.label());
            }
        }
    }

    private static void assertWeights(LlamaModel m) {
        Footprint p = MemoryModel.of(setup(m.config(), false, 8, EnumSet.allOf(LinearLayerName.class), true)).persistent();
        assertEquals(m.weights().storageBytes(), p.of(Component.BASE_WEIGHTS) + p.of(Component.EMBEDDINGS_AND_NORMS));
        LoraAdapters adapters = LoraAdapters.zeros(m.config(), new LoraConfig(8, 16, 0, EnumSet.allOf(LinearLayerName.class)));
        assertEquals(4 * adapters.parameters(), p.of(Component.LORA_PARAMETERS));
        assertEquals(4 * adapters.parameters(), p.of(Component.GRADIENTS));
    }
}
