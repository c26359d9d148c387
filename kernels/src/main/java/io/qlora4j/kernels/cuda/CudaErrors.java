package io.qlora4j.kernels.cuda;

import jcuda.driver.CUresult;

/** Turns driver result codes into {@link CudaException}s that say which call failed and how. */
final class CudaErrors {

    private CudaErrors() {
    }

    /** "CUDA_ERROR_OUT_OF_MEMORY (2)". */
    static String name(int result) {
        return CUresult.stringFor(result) + " (" + result + ")";
    }

    /** Throws unless {@code result} is CUDA_SUCCESS; {@code call} says what was called with which arguments. */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) throw new CudaException(call + " failed: " + name(result), result);
    }
}
