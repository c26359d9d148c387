package io.qlora4j.kernels.cuda;

/**
 * The kernels of src/main/cuda/qlora4j_kernels.cu, by their extern "C" symbol and parameter kinds: the one list the Java
 * side launches from. A test checks both against the .cu source, and {@link Launch} checks every launch's arguments
 * against the kinds, so a Java/C signature mismatch is a Java error rather than a kernel reading garbage.
 * Each kernel is named like the Java contract method it implements.
 *
 * <p>Parameter kinds, one character each: {@code p} a device pointer, {@code i} int, {@code l} int64_t, {@code f} float.
 */
enum CudaKernel {
    DEQUANTIZE_BLOCKWISE("dequantize_blockwise", "pll" + CudaKernel.QUANTIZED),
    MATMUL_FORWARD_DENSE("matmul_forward_dense", "ppiiiip"),
    MATMUL_FORWARD_QUANTIZED("matmul_forward_quantized", "ppiiii" + CudaKernel.QUANTIZED),
    MATMUL_BACKWARD_INPUT_DENSE("matmul_backward_input_dense", "ppiiiip"),
    MATMUL_BACKWARD_INPUT_QUANTIZED("matmul_backward_input_quantized", "ppiiii" + CudaKernel.QUANTIZED),
    MATMUL_BACKWARD_WEIGHT("matmul_backward_weight", "pppiii"),
    RMSNORM_FORWARD("rmsnorm_forward", "ppppiif"),
    RMSNORM_BACKWARD_INPUT("rmsnorm_backward_input", "pppppiii"),
    RMSNORM_BACKWARD_WEIGHT("rmsnorm_backward_weight", "ppppii"),
    ROPE_ROTATE("rope_rotate", "pppiiiif"),
    ATTENTION_FORWARD("attention_forward", "pppppiiiiiiif"),
    ATTENTION_BACKWARD_QUERY("attention_backward_query", "pppppppiiiiiiif"),
    ATTENTION_BACKWARD_KV("attention_backward_kv", "ppppppiiiiiii"),
    SWIGLU_FORWARD("swiglu_forward", "pppi"),
    SWIGLU_BACKWARD("swiglu_backward", "pppppi"),
    CROSS_ENTROPY_FORWARD("cross_entropy_forward", "pppppii"),
    CROSS_ENTROPY_BACKWARD("cross_entropy_backward", "ppppiif"),
    ADAMW32BIT("adamw32bit", "ppppiffffffiff"),
    ADAMW8BIT("adamw8bit", "ppppppipppp" + "fffffffiff"),
    SUM_OF_SQUARES("sum_of_squares", "ppii");

    /** The .cu macro QUANTIZED_PARAMS: codes, table, bits, blocksize, absmax, codes2, absmax2, table2, offset. */
    static final String QUANTIZED = "ppiippppf";

    private final String symbol;
    private final String params;

    CudaKernel(String symbol, String params) {
        this.symbol = symbol;
        this.params = params;
    }

    String symbol() {
        return symbol;
    }

    /** The parameter kinds in order, e.g. "pppi" for {@code swiglu_forward(float*, const float*, const float*, int)}. */
    String params() {
        return params;
    }
}
