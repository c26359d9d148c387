package io.qlora4j.sim;

import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The paper's memory numbers (QLORA-SPEC §12; Dettmers et al. 2023 §2 and §4) from the GPU profile of the memory model
 * and the simulation. Each test states the paper's number and the tolerance it allows, and prints what we get.
 */
class PaperNumbersTest {
    private static final double MB = 1e6;
    private static final double GB = 1e9;
    private static final Set<LinearLayerName> ALL = EnumSet.allOf(LinearLayerName.class);

    private static TrainingSetup qlora(ModelPreset p) {
        return TrainingSetup.qlora(p.displayName(), p.config(), Profile.GPU);
    }

    private static void within(String what, double paper, double ours, double relativeTolerance) {
        double deviation = (ours - paper) / paper;
        System.out.printf(Locale.ROOT, "%s: paper %.4g, ours %.4g (%+.1f%%, tolerance ±%.0f%%)%n", what, paper, ours,
                100 * deviation, 100 * relativeTolerance);
        assertTrue(Math.abs(deviation) <= relativeTolerance, what + ": " + ours + " vs the paper's " + paper);
    }

    /** Paper §1/§4: "finetune a 65B parameter model on a single 48GB GPU" with the recipe (batch 1, seq 512 as in Figure 6). */
    @Test
    void qlora65BFitsIn48GB() {
        SimulationResult r = Simulation.run(SimulationConfig.of(qlora(ModelPreset.LLAMA_65B), GpuSpec.parse("48GB"), true),
                SequenceTrace.sample(new LengthDistribution.Fixed(512), 20, 1, 1, 0));
        Verdict v = Verdict.of(r);
        System.out.println(SimulationReport.render(r, v));
        assertEquals(Verdict.Kind.FITS, v.kind(), v.summary());
        assertTrue(r.peakBytes() <= 48 * GB, "peak " + r.peakBytes());
        // tolerance: it must fit, with nothing to spare beyond the budget (the paper gives no exact figure)
    }

    /** Paper §1: "regular 16-bit finetuning of a LLaMA 65B parameter model requires more than 780 GB of GPU memory". */
    @Test
    void fullFinetune65BNeedsMoreThan780GB() {
        ModelPreset p = ModelPreset.LLAMA_65B;
        TrainingSetup full = TrainingSetup.fullFinetune(p.displayName(), p.config(), Profile.GPU);
        MemoryModel model = MemoryModel.of(full);
        long need = model.persistent().total() + model.activations(1, 512).total();
        System.out.printf(Locale.ROOT, "65B 16-bit full fine-tuning: %.1f GB (12 bytes × %,d parameters + activations)%n",
                need / GB, ParameterCounts.total(p.config()));
        assertTrue(need > 780 * GB, "needs " + need);
        within("65B full fine-tuning need (GB)", 780, need / GB, 0.05);
        // "regular" fine-tuning: optimizer state on the device (paged state could live in host RAM and the device need 262 GB)
        Verdict v = Verdict.of(Simulation.run(SimulationConfig.of(full, GpuSpec.parse("48GB"), false),
                SequenceTrace.sample(new LengthDistribution.Fixed(512), 2, 1, 1, 0)));
        assertEquals(Verdict.Kind.DOES_NOT_FIT, v.kind());
        assertTrue(v.peakBytes() > 780 * GB, v.line());
    }

    /**
     * Paper §2: "the 4-bit base model consumes 5,048 MB" (7B); Guanaco 7B "5 GB". Ours counts the bytes bitsandbytes
     * stores: NF4 + DQ codes and constants of the linear layers (3.34 GB) plus the bf16 embedding and lm_head (0.52 GB)
     * and fp32 norms. The paper's figures are about 20% above that at every size (13B 10 GB vs our 7.2, 65B 41 vs 34.5):
     * they are measured footprints (fp32 copies of embedding and lm_head made by prepare_model_for_kbit_training,
     * allocator overhead), so the tolerance is 25%.
     */
    @Test
    void sevenB4BitBaseIsAbout5GB() {
        Footprint p = MemoryModel.of(qlora(ModelPreset.LLAMA_7B)).persistent();
        long base = p.of(Component.BASE_WEIGHTS) + p.of(Component.EMBEDDINGS_AND_NORMS);
        within("7B 4-bit base (MB)", 5048, base / MB, 0.25);
    }

    /**
     * Paper §2: "LoRA weights equivalent to commonly used 0.2% of the original model weights ... the LoRA parameters take
     * up only 26 MB". That is not the training recipe: r = 64 on all seven projections is 159,907,840 parameters
     * (QLORA-REFERENCE §5.3), 320 MB in bf16. 0.2% of LLaMA-7B's 6.74 B parameters is 13.5 M, 26.95 MB in bf16; the LoRA
     * setting of that size is r = 13 on q/k/v/o (equivalently r = 26 on q/v): 13,631,488 parameters, 27,262,976 bytes,
     * exactly 26.0 MiB. Tolerance 5%.
     */
    @Test
    void loraParameters26MBIsAPointTwoPercentAdapter() {
        LlamaConfig c = ModelPreset.LLAMA_7B.config();
        assertEquals(159_907_840L, ParameterCounts.lora(c, 64, ALL));
        long recipeBytes = MemoryModel.of(qlora(ModelPreset.LLAMA_7B)).persistent().of(Component.LORA_PARAMETERS);
        assertEquals(2 * 159_907_840L, recipeBytes);
        within("0.2% of 7B's parameters in bf16 (MB)", 26, 0.002 * ParameterCounts.total(c) * 2 / MB, 0.05);
        Set<LinearLayerName> attention = EnumSet.of(LinearLayerName.Q_PROJ, LinearLayerName.K_PROJ, LinearLayerName.V_PROJ,
                LinearLayerName.O_PROJ);
        long small = MemoryModel.of(qlora(ModelPreset.LLAMA_7B).withLora(13, attention)).persistent().of(Component.LORA_PARAMETERS);
        assertEquals(26L << 20, small);
        assertEquals(small, 2 * ParameterCounts.lora(c, 26, EnumSet.of(LinearLayerName.Q_PROJ, LinearLayerName.V_PROJ)));
        within("LoRA r=13 on q,k,v,o in bf16 (MB)", 26, small / MB, 0.05);
    }

    /** Paper §3 / QLORA-SPEC §5: double quantization saves 0.373 bits per parameter, about 3 GB on 65B. Tolerances 1%, 5%. */
    @Test
    void doubleQuantizationSaves037BitsPerParameter() {
        for (ModelPreset p : new ModelPreset[]{ModelPreset.LLAMA_7B, ModelPreset.LLAMA_65B}) {
            TrainingSetup dq = qlora(p);
            long saved = MemoryModel.of(dq.withQuant(BaseQuant.NF4)).persistent().of(Component.BASE_WEIGHTS)
                    - MemoryModel.of(dq).persistent().of(Component.BASE_WEIGHTS);
            within(p.displayName() + " bits saved per parameter", 0.373, 8.0 * saved / ParameterCounts.linear(p.config()), 0.01);
            if (p == ModelPreset.LLAMA_65B) within("65B bytes saved (GB)", 3, saved / GB, 0.05);
        }
    }

    /**
     * Paper §2: for 7B on FLAN v2 at batch 1 "the LoRA input gradients have a memory footprint of 567 MB ... with gradient
     * checkpointing ... an average of 18 MB per sequence". Both follow from 2·(6C + H) bytes per token and block at
     * T = 249 (the FLAN v2 mean length they imply): 32 blocks without checkpointing, one with it. Tolerance 5%.
     */
    @Test
    void loraInputGradientsAreTensOfMBPerSequenceWithCheckpointing() {
        TrainingSetup s = qlora(ModelPreset.LLAMA_7B);
        long with = MemoryModel.of(s).activations(1, 249).of(Component.LORA_ACTIVATIONS);
        long without = MemoryModel.of(s.withCheckpointing(false)).activations(1, 249).of(Component.LORA_ACTIVATIONS);
        within("7B LoRA input gradients with checkpointing (MB)", 18, with / MB, 0.05);
        within("7B LoRA input gradients without checkpointing (MB)", 567, without / MB, 0.05);
        assertTrue(with >= 10 * MB && with < 100 * MB, "tens of MB: " + with);
    }
}
