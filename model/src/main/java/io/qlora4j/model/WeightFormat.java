package io.qlora4j.model;

import io.qlora4j.kernels.quant.QuantType;

/**
 * How the frozen linear weights of a loaded model are held in memory: quantized blockwise (QLoRA's NF4 + double
 * quantization by default, or the paper's FP4/Int4/Int8 baselines), or dense fp32 (the 16/32-bit base the paper compares
 * against, and the base of full fine-tuning). Embeddings, norms and lm_head are always fp32.
 */
public sealed interface WeightFormat {

    /** Dense fp32 linear weights. */
    record Fp32() implements WeightFormat {
    }

    /** Blockwise-quantized linear weights, decoded on the fly by the kernels. */
    record Quantized(QuantType type, boolean doubleQuant, int blocksize) implements WeightFormat {
        public Quantized {
            QuantType.checkBlocksize(blocksize);
        }
    }

    /** QLoRA's storage: NF4, double quantization, blocksize 64. */
    static WeightFormat qlora() {
        return new Quantized(QuantType.NF4, true, QuantType.DEFAULT_BLOCKSIZE);
    }

    /** From the command line's {@code --dtype nf4|fp4|int8|int4|fp32} (4-bit types double-quantized, as QLoRA). */
    static WeightFormat parse(String dtype) {
        if (dtype.equalsIgnoreCase("fp32") || dtype.equalsIgnoreCase("float32")) return new Fp32();
        QuantType t = QuantType.parse(dtype);
        return new Quantized(t, true, QuantType.DEFAULT_BLOCKSIZE);
    }

    /** A short name for reports ("nf4+dq", "fp32"). */
    default String label() {
        return switch (this) {
            case Fp32 f -> "fp32";
            case Quantized q -> q.type().cliName() + (q.doubleQuant() ? "+dq" : "");
        };
    }
}
