package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.quant.BlockScales;
import io.qlora4j.kernels.quant.Codebook;

/**
 * Blockwise dequantization on the GPU (kernel {@code dequantize_blockwise}): the dequantize half of
 * {@link io.qlora4j.kernels.quant.BlockwiseKernels}, bit-identical to {@link io.qlora4j.kernels.quant.ReferenceBlockwise}
 * for every codebook (NF4, FP4, INT4, INT8) with plain or double-quantized block constants: the same two fp32 roundings
 * of the double-quant reconstruction and one fp32 multiply. Quantization stays on the CPU (weights are quantized once,
 * at load time), so this is not a {@code BlockwiseKernels} implementation.
 */
public final class CudaBlockwise {

    private final CudaDevice device;

    public CudaBlockwise(CudaDevice device) {
        this.device = device;
    }

    /** As {@code BlockwiseKernels.dequantize}: elements [start, start + len) of the tensor into dst[dstOff ..]. */
    public void dequantize(Codebook code, int blocksize, byte[] codes, BlockScales scales, long start, int len,
                           float[] dst, int dstOff) {
        if (start < 0 || len < 0 || dstOff < 0 || dstOff + (long) len > dst.length) {
            throw new IllegalArgumentException("dequantize: range start " + start + " len " + len + " into dst["
                    + dstOff + " ..] of length " + dst.length + " is out of bounds");
        }
        device.makeCurrent();
        try (DeviceQuantized q = new DeviceQuantized(code, blocksize, codes, scales);
             DeviceBuffer out = DeviceBuffer.floats("dst", len)) {
            Launch launch = Launch.of(CudaKernel.DEQUANTIZE_BLOCKWISE, code + " blocksize=" + blocksize + " start=" + start
                    + " len=" + len).buffer(out).i64(start).i64(len);
            q.appendTo(launch).perElement(device, len);
            out.download(dst, dstOff);
        }
    }
}
