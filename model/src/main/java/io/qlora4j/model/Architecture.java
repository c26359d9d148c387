package io.qlora4j.model;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The decoder architectures qlora4j runs. All three are the LLaMA block (pre-norm RMSNorm, RoPE attention with GQA,
 * SwiGLU MLP); they differ in details read from config.json: Qwen2 adds q/k/v biases, Mistral a sliding attention window.
 */
public enum Architecture {
    LLAMA("LlamaForCausalLM", "llama"),
    MISTRAL("MistralForCausalLM", "mistral"),
    QWEN2("Qwen2ForCausalLM", "qwen2");

    private final String className;
    private final String modelType;

    Architecture(String className, String modelType) {
        this.className = className;
        this.modelType = modelType;
    }

    /** The transformers class name in config.json's {@code architectures}. */
    public String className() {
        return className;
    }

    /** config.json's {@code model_type}. */
    public String modelType() {
        return modelType;
    }

    public static Architecture fromClassName(String name, String where) {
        for (Architecture a : values()) {
            if (a.className.equals(name)) return a;
        }
        throw new ModelConfigException(where + ": unsupported architecture '" + name + "'; qlora4j runs "
                + Arrays.stream(values()).map(Architecture::className).collect(Collectors.joining(", ")));
    }
}
