package io.qlora4j.actors.train;

import io.qlora4j.memory.optim.OptimizerState;
import io.qlora4j.model.lora.LoraAdapters;

import java.util.Map;

/**
 * A consistent copy of everything a training step changes, taken between steps by the compute worker (which does no
 * I/O) and written by the run writer: the trainable values (LoRA adapters, or every weight in full fine-tuning) and the
 * optimizer state, bit for bit.
 *
 * @param step      optimizer steps completed
 * @param adapters  a copy of the adapters (LoRA), or null in full fine-tuning
 * @param weights   copies of every trainable weight by Hugging Face name (full fine-tuning), or empty
 * @param optimizer the optimizer state
 */
public record TrainingSnapshot(int step, LoraAdapters adapters, Map<String, float[]> weights, OptimizerState optimizer) {
}
