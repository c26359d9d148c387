package io.qlora4j.memory.optim;

/** How Adam's two moments are stored. */
public enum StateFormat {
    /** m and v as float32: bitsandbytes {@code optim_bits=32} ({@code kOptimizer32bit2State}). */
    FP32,
    /**
     * m and v as 8-bit codes of the dynamic maps (m signed, v unsigned) with one float32 absmax per block of 256
     * elements: bitsandbytes {@code optim_bits=8}, blockwise ({@code kOptimizerStatic8bit2StateBlockwise}). Tensors
     * under 4096 elements keep {@link #FP32} state, as bitsandbytes' {@code min_8bit_size}.
     */
    DYNAMIC_8BIT
}
