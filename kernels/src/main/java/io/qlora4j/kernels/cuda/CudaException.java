package io.qlora4j.kernels.cuda;

/** A CUDA driver call failed: the message names the call (or kernel and launch shape) and the driver's error. */
public final class CudaException extends RuntimeException {

    private final int result;

    CudaException(String message, int result) {
        super(message);
        this.result = result;
    }

    /** The driver's {@code CUresult} code. */
    public int result() {
        return result;
    }
}
