package io.qlora4j.model;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The names of the seven linear projections of a LLaMA block, as they appear in Hugging Face tensor names
 * ({@code model.layers.3.mlp.gate_proj.weight}). QLoRA quantizes exactly these (lm_head, embeddings and norms stay in
 * 16/32 bits) and puts LoRA adapters on exactly these.
 */
public enum LinearLayerName {
    Q_PROJ("self_attn", "q_proj"),
    K_PROJ("self_attn", "k_proj"),
    V_PROJ("self_attn", "v_proj"),
    O_PROJ("self_attn", "o_proj"),
    GATE_PROJ("mlp", "gate_proj"),
    UP_PROJ("mlp", "up_proj"),
    DOWN_PROJ("mlp", "down_proj");

    private static final Pattern WEIGHT = Pattern.compile("model\\.layers\\.(\\d+)\\.(self_attn|mlp)\\.(\\w+_proj)\\.weight");

    private final String module;
    private final String shortName;

    LinearLayerName(String module, String shortName) {
        this.module = module;
        this.shortName = shortName;
    }

    /** PEFT's target-module name ("q_proj"). */
    public String shortName() {
        return shortName;
    }

    /** The tensor-name prefix of this projection in layer {@code layer}: {@code model.layers.3.mlp.gate_proj}. */
    public String modulePath(int layer) {
        return "model.layers." + layer + "." + module + "." + shortName;
    }

    /** The weight tensor name in layer {@code layer}. */
    public String weightName(int layer) {
        return modulePath(layer) + ".weight";
    }

    /** A tensor name's projection and layer, when it is one of the seven linear weights. */
    public static Optional<Located> parse(String tensorName) {
        Matcher m = WEIGHT.matcher(tensorName);
        if (!m.matches()) return Optional.empty();
        for (LinearLayerName n : values()) {
            if (n.module.equals(m.group(2)) && n.shortName.equals(m.group(3))) {
                return Optional.of(new Located(n, Integer.parseInt(m.group(1))));
            }
        }
        return Optional.empty();
    }

    /** PEFT short name to enum ("q_proj" → Q_PROJ). */
    public static Optional<LinearLayerName> fromShortName(String shortName) {
        for (LinearLayerName n : values()) {
            if (n.shortName.equals(shortName)) return Optional.of(n);
        }
        return Optional.empty();
    }

    public record Located(LinearLayerName name, int layer) {
    }
}
