package io.qlora4j.kernels.cuda;

/**
 * The kernels of src/main/cuda/qlora4j_kernels.cu, by their extern "C" symbol: the one list the Java side launches from
 * (a test checks it against the .cu source). Each kernel is named like the Java contract method it implements.
 */
enum CudaKernel {
    DEQUANTIZE_BLOCKWISE("dequantize_blockwise"),
    MATMUL_FORWARD_DENSE("matmul_forward_dense"),
    MATMUL_FORWARD_QUANTIZED("matmul_forward_quantized"),
    MATMUL_BACKWARD_INPUT_DENSE("matmul_backward_input_dense"),
    MATMUL_BACKWARD_INPUT_QUANTIZED("matmul_backward_input_quantized"),
    MATMUL_BACKWARD_WEIGHT("matmul_backward_weight"),
    RMSNORM_FORWARD("rmsnorm_forward"),
    RMSNORM_BACKWARD_INPUT("rmsnorm_backward_input"),
    RMSNORM_BACKWARD_WEIGHT("rmsnorm_backward_weight"),
    SWIGLU_FORWARD("swiglu_forward"),
    SWIGLU_BACKWARD("swiglu_backward"),
    CROSS_ENTROPY_FORWARD("cross_entropy_forward"),
    CROSS_ENTROPY_BACKWARD("cross_entropy_backward"),
    ADAMW32BIT("adamw32bit");

    private final String symbol;

    CudaKernel(String symbol) {
        this.symbol = symbol;
    }

    String symbol() {
        return symbol;
    }
}
