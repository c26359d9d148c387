package io.qlora4j.memory.optim;

import java.util.Arrays;
import java.util.stream.Collectors;

/** The {@code --optim} choices, named as Hugging Face's {@code TrainingArguments.optim} names them. */
public enum OptimizerKind {
    /** AdamW with 32-bit state that stays resident (still accounted against the device budget). */
    ADAMW_32BIT("adamw_32bit", StateFormat.FP32, false),
    /** AdamW with 32-bit paged state: the QLoRA default. */
    PAGED_ADAMW_32BIT("paged_adamw_32bit", StateFormat.FP32, true),
    /** AdamW with 8-bit blockwise paged state. */
    PAGED_ADAMW_8BIT("paged_adamw_8bit", StateFormat.DYNAMIC_8BIT, true);

    private final String cliName;
    private final StateFormat format;
    private final boolean paged;

    OptimizerKind(String cliName, StateFormat format, boolean paged) {
        this.cliName = cliName;
        this.format = format;
        this.paged = paged;
    }

    public String cliName() {
        return cliName;
    }

    /** This kind with qlora.py's hyperparameters ({@link AdamWOptions#defaults}). */
    public AdamWOptions options() {
        return AdamWOptions.defaults(format, paged);
    }

    public static OptimizerKind parse(String name) {
        for (OptimizerKind k : values()) {
            if (k.cliName.equals(name)) return k;
        }
        throw new IllegalArgumentException("unknown optimizer '" + name + "'; choose one of "
                + Arrays.stream(values()).map(OptimizerKind::cliName).collect(Collectors.joining(", ")));
    }
}
