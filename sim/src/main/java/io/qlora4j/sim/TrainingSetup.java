package io.qlora4j.sim;

import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;

import java.util.EnumSet;
import java.util.Set;

/**
 * What is trained and how: everything the memory of a fine-tuning run depends on except the sequence lengths.
 *
 * @param modelName     for reports
 * @param model         the decoder's shape
 * @param profile       whose buffers are accounted (a bf16 GPU run, or our CPU trainer)
 * @param quant         storage of the frozen linear projections ({@link BaseQuant#BF16} in full fine-tuning)
 * @param fullFinetune  every weight trains (the paper's 16-bit full fine-tuning baseline) instead of LoRA adapters
 * @param rank          LoRA r (ignored in full fine-tuning)
 * @param targets       projections with adapters (the paper: all seven)
 * @param loraDropout   LoRA dropout probability; above 0 every adapter keeps its own dropped copy of its input
 * @param checkpointing gradient checkpointing (keep block inputs, recompute each block in backward)
 * @param optimizer     AdamW variant (32-bit or 8-bit state, paged or resident)
 * @param batch         sequences per micro-batch
 * @param gradAccum     micro-batches per optimizer step
 */
public record TrainingSetup(String modelName, LlamaConfig model, Profile profile, BaseQuant quant, boolean fullFinetune,
                            int rank, Set<LinearLayerName> targets, double loraDropout, boolean checkpointing,
                            OptimizerKind optimizer, int batch, int gradAccum) {

    public TrainingSetup {
        targets = Set.copyOf(targets);
        if (!fullFinetune && rank < 1) throw new SimulationException("LoRA rank must be >= 1, got " + rank);
        if (!fullFinetune && targets.isEmpty()) throw new SimulationException("LoRA needs at least one target projection");
        if (!(loraDropout >= 0 && loraDropout < 1)) throw new SimulationException("LoRA dropout must be in [0, 1), got " + loraDropout);
        if (batch < 1) throw new SimulationException("--batch must be >= 1, got " + batch);
        if (gradAccum < 1) throw new SimulationException("--grad-accum must be >= 1, got " + gradAccum);
        if (fullFinetune && quant != BaseQuant.BF16) {
            throw new SimulationException("full fine-tuning trains 16-bit weights; --quant " + quant.cliName()
                    + " cannot be combined with --full-finetune (use --quant bf16 or leave it out)");
        }
    }

    /**
     * The paper's recipe (QLORA-REFERENCE §5.2, §9): NF4 + double quantization, LoRA r 64 on all seven projections with
     * dropout 0.1, gradient checkpointing, paged 32-bit AdamW, batch 1 without accumulation.
     */
    public static TrainingSetup qlora(String modelName, LlamaConfig model, Profile profile) {
        return new TrainingSetup(modelName, model, profile, BaseQuant.NF4_DQ, false, 64,
                EnumSet.allOf(LinearLayerName.class), 0.1, true, OptimizerKind.PAGED_ADAMW_32BIT, 1, 1);
    }

    /** 16-bit full fine-tuning of every weight with 32-bit AdamW: the paper's baseline. */
    public static TrainingSetup fullFinetune(String modelName, LlamaConfig model, Profile profile) {
        return new TrainingSetup(modelName, model, profile, BaseQuant.BF16, true, 64,
                EnumSet.allOf(LinearLayerName.class), 0, true, OptimizerKind.PAGED_ADAMW_32BIT, 1, 1);
    }

    public TrainingSetup withQuant(BaseQuant q) {
        return new TrainingSetup(modelName, model, profile, q, fullFinetune, rank, targets, loraDropout, checkpointing, optimizer, batch, gradAccum);
    }

    public TrainingSetup withLora(int r, Set<LinearLayerName> t) {
        return new TrainingSetup(modelName, model, profile, quant, fullFinetune, r, t, loraDropout, checkpointing, optimizer, batch, gradAccum);
    }

    public TrainingSetup withCheckpointing(boolean on) {
        return new TrainingSetup(modelName, model, profile, quant, fullFinetune, rank, targets, loraDropout, on, optimizer, batch, gradAccum);
    }

    public TrainingSetup withOptimizer(OptimizerKind kind) {
        return new TrainingSetup(modelName, model, profile, quant, fullFinetune, rank, targets, loraDropout, checkpointing, kind, batch, gradAccum);
    }

    public TrainingSetup withBatch(int b, int accum) {
        return new TrainingSetup(modelName, model, profile, quant, fullFinetune, rank, targets, loraDropout, checkpointing, optimizer, b, accum);
    }

    /** One line for reports: "LLaMA-65B · QLoRA nf4-dq r=64 on 7 projections · paged_adamw_32bit · batch 1×1 · checkpointing". */
    public String describe() {
        String training = fullFinetune ? "full fine-tuning (16-bit)"
                : "LoRA r=" + rank + " on " + targets.size() + " projection" + (targets.size() == 1 ? "" : "s") + ", base " + quant.cliName();
        return modelName + " · " + training + " · " + optimizer.cliName() + " · batch " + batch + "×" + gradAccum
                + " · checkpointing " + (checkpointing ? "on" : "off") + " · profile " + profile.cliName();
    }
}
