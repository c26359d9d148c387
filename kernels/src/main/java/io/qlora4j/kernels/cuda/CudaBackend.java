package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.Backend;

/**
 * The GPU backend: CUDA kernels for the families that have them, the CPU backend's kernels for the rest, and a
 * description that says which is which (so the mix is visible in logs and benchmark output). Families on the GPU:
 * matmul (dense and quantized, forward and both backward products), rmsnorm, rope, attention, swiglu, cross-entropy,
 * adamw (32-bit, 8-bit, sum of squares). On the CPU: the embedding lookup, a row gather for which copying the whole
 * table to the device on every call (as the other families copy their operands) would cost far more than the lookup.
 */
public final class CudaBackend {

    private CudaBackend() {
    }

    /** The backend on {@code device}, the remaining families from {@link Backend#cpu()}. */
    public static Backend create(CudaDevice device) {
        Backend cpu = Backend.cpu();
        return new Backend("cuda: " + device.description() + " (matmul, rmsnorm, rope, attention, swiglu,"
                + " cross-entropy, adamw; operands copied to and from the device on every call); " + cpu.description()
                + " for embedding", new CudaMatmul(device), new CudaRmsNorm(device), new CudaRope(device),
                new CudaAttention(device), new CudaSwiGlu(device), new CudaCrossEntropy(device), cpu.embedding(),
                new CudaAdamW(device));
    }
}
