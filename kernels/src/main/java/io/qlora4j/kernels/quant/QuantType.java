package io.qlora4j.kernels.quant;

import java.util.Locale;
import java.util.Optional;

/**
 * The storage types of a frozen base weight. NF4 is QLoRA's; FP4 and INT4 are the paper's 4-bit baselines (Table 2);
 * INT8 is blockwise absmax 8-bit. Every type is blockwise: codes plus one absmax per block (optionally double-quantized).
 */
public enum QuantType {
    NF4(Codebook.NF4),
    FP4(Codebook.FP4),
    INT4(Codebook.INT4),
    INT8(Codebook.INT8);

    /** bitsandbytes' allowed block sizes for blockwise quantization (32 is accepted by newer versions). */
    public static final int MIN_BLOCKSIZE = 32;
    public static final int MAX_BLOCKSIZE = 4096;
    /** QLoRA's block size for the 4-bit weights. */
    public static final int DEFAULT_BLOCKSIZE = 64;

    private final Codebook codebook;

    QuantType(Codebook codebook) {
        this.codebook = codebook;
    }

    public Codebook codebook() {
        return codebook;
    }

    /** Bits per stored code: 4 or 8. */
    public int bits() {
        return codebook.bits();
    }

    /** The name bitsandbytes uses ({@code quant_type} "nf4" / "fp4"); empty for types bitsandbytes has no 4-bit format for. */
    public Optional<String> bitsandbytesName() {
        return switch (this) {
            case NF4, FP4 -> Optional.of(name().toLowerCase(Locale.ROOT));
            case INT4, INT8 -> Optional.empty();
        };
    }

    /** Lower-case name as written on the command line and in files ("nf4"). */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Storage bits per parameter for a large tensor (the paper's formula, partial blocks ignored): the code bits plus
     * the constants: 32/blocksize for fp32 absmax, or with double quantization 8/blocksize + 32/(blocksize·256).
     * NF4, blocksize 64: 4.5 without and 4 + 8/64 + 32/16384 = 4.126953125 with double quantization.
     */
    public double nominalBitsPerParameter(int blocksize, boolean doubleQuant) {
        checkBlocksize(blocksize);
        double constants = doubleQuant
                ? 8.0 / blocksize + 32.0 / ((double) blocksize * DoubleQuantScales.BLOCKSIZE)
                : 32.0 / blocksize;
        return bits() + constants;
    }

    /** Parses "nf4", "FP4", ... with an error that lists the valid names. */
    public static QuantType parse(String name) {
        for (QuantType t : values()) {
            if (t.name().equalsIgnoreCase(name)) return t;
        }
        throw new IllegalArgumentException("unknown quantization type '" + name + "': expected one of nf4, fp4, int4, int8");
    }

    /** Validates a block size: a power of two in [32, 4096]. */
    public static int checkBlocksize(int blocksize) {
        if (blocksize < MIN_BLOCKSIZE || blocksize > MAX_BLOCKSIZE || Integer.bitCount(blocksize) != 1) {
            throw new IllegalArgumentException("blocksize " + blocksize
                    + " is not supported: use a power of two from " + MIN_BLOCKSIZE + " to " + MAX_BLOCKSIZE
                    + " (bitsandbytes' sizes; QLoRA uses 64)");
        }
        return blocksize;
    }
}
