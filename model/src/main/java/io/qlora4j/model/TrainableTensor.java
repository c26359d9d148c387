package io.qlora4j.model;

/**
 * A parameter the optimizer updates, with its gradient: a LoRA matrix, or in full fine-tuning any weight.
 *
 * @param name  the Hugging Face / PEFT name ({@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight})
 * @param value the parameter, updated in place by the optimizer
 * @param grad  its gradient (same length), accumulated by backward and cleared after each optimizer step
 */
public record TrainableTensor(String name, float[] value, float[] grad) {
    public TrainableTensor {
        if (value.length != grad.length) {
            throw new IllegalArgumentException(name + ": value has " + value.length + " elements, gradient " + grad.length);
        }
    }

    public void zeroGrad() {
        java.util.Arrays.fill(grad, 0f);
    }
}
