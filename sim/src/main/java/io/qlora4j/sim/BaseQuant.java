package io.qlora4j.sim;

import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.model.WeightFormat;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How the frozen base's seven linear projections are stored ({@code --quant}). Embeddings, norms and lm_head are never
 * quantized (bitsandbytes replaces only {@code nn.Linear} modules other than lm_head, QLORA-REFERENCE §5.3).
 */
public enum BaseQuant {
    /** 16-bit weights: the paper's 16-bit LoRA baseline (our CPU trainer holds them in fp32). */
    BF16("bf16"),
    /** NF4 codes with one fp32 absmax per block of 64 (4.5 bits per parameter). */
    NF4("nf4"),
    /** NF4 with double quantization of the absmax: 4 + 8/64 + 32/(64·256) = 4.127 bits per parameter (QLoRA's default). */
    NF4_DQ("nf4-dq"),
    /**
     * 8-bit: on the GPU, bitsandbytes' LLM.int8() {@code Int8Params} (one int8 per weight plus one fp32 scale per output
     * row); on our CPU trainer, blockwise absmax Int8 as {@code --dtype int8} loads it.
     */
    INT8("int8");

    private final String cliName;

    BaseQuant(String cliName) {
        this.cliName = cliName;
    }

    public String cliName() {
        return cliName;
    }

    /** Whether the base is stored quantized (and dequantized on the fly by every matmul). */
    public boolean quantized() {
        return this != BF16;
    }

    /**
     * The storage our CPU trainer uses for this choice: BF16 → dense fp32 (the CPU has no 16-bit storage path), NF4 with or
     * without double quantization at blocksize 64, INT8 as {@link WeightFormat#parse} gives {@code --dtype int8}.
     */
    public WeightFormat cpuFormat() {
        return switch (this) {
            case BF16 -> new WeightFormat.Fp32();
            case NF4 -> new WeightFormat.Quantized(QuantType.NF4, false, QuantType.DEFAULT_BLOCKSIZE);
            case NF4_DQ -> WeightFormat.qlora();
            case INT8 -> WeightFormat.parse("int8");
        };
    }

    public static BaseQuant parse(String name) {
        for (BaseQuant q : values()) {
            if (q.cliName.equals(name.toLowerCase(Locale.ROOT))) return q;
        }
        throw new SimulationException("unknown --quant '" + name + "': expected one of "
                + Arrays.stream(values()).map(BaseQuant::cliName).collect(Collectors.joining(", ")));
    }
}
